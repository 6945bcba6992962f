/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The hybrid vsock "CONNECT <port>" line parser. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "backend/uds.h"

static int parse(const char *s, uint32_t *port)
{
	return uds_parse_connect(s, strlen(s), port);
}

static void test_valid_lines(void **state)
{
	uint32_t port = 0;
	(void)state;

	assert_int_equal(parse("CONNECT 1234", &port), 0);
	assert_int_equal(port, 1234);
	assert_int_equal(parse("connect 5", &port), 0);
	assert_int_equal(port, 5);
	assert_int_equal(parse("CoNnEcT 0", &port), 0);
	assert_int_equal(port, 0);
	assert_int_equal(parse("CONNECT 4294967294", &port), 0);
	assert_int_equal(port, 4294967294u);
	/* CRLF from interactive tools. */
	assert_int_equal(parse("CONNECT 52\r", &port), 0);
	assert_int_equal(port, 52);
}

static void test_invalid_lines(void **state)
{
	static const char *const bad[] = {
		"", "CONNECT", "CONNECT ", "CONNECT abc", "CONNECT 12a", "CONNECT -1",
		"CONNECT +1", "CONNECT 1 2", "CONNECT 1 ", "CONNECTX 1", "CONNECT\t1",
		"CONNEC 1", "OK 1", " CONNECT 1", "CONNECT 0x10",
	};
	uint32_t port = 77;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], &port), -EINVAL);
		assert_int_equal(port, 77); /* untouched on failure */
	}
}

static void test_out_of_range(void **state)
{
	uint32_t port = 77;
	(void)state;

	assert_int_equal(parse("CONNECT 99999999999", &port), -ERANGE);
	assert_int_equal(parse("CONNECT 4294967296", &port), -ERANGE);
	/* VMADDR_PORT_ANY cannot be connected to. */
	assert_int_equal(parse("CONNECT 4294967295", &port), -ERANGE);
	assert_int_equal(parse("CONNECT 00000000000000001", &port), -ERANGE);
	assert_int_equal(port, 77);
}

static void test_embedded_nul(void **state)
{
	uint32_t port = 77;
	static const char line[] = "CONNECT 1\0" "2";
	(void)state;

	assert_int_equal(uds_parse_connect(line, sizeof(line) - 1, &port), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_lines),
		cmocka_unit_test(test_invalid_lines),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_embedded_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
