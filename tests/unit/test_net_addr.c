/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* net_addr_parse: the listening addresses --metrics takes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <string.h>

#include "util/net_addr.h"

static void test_unix(void **state)
{
	struct net_addr a;
	char err[256];
	(void)state;

	assert_int_equal(net_addr_parse("unix:/run/vdv/metrics.sock", &a, err, sizeof(err)), 0);
	assert_int_equal(a.family, AF_UNIX);
	assert_string_equal(net_addr_path(&a), "/run/vdv/metrics.sock");
	assert_true(a.len > 0);
}

static void test_ipv4(void **state)
{
	struct net_addr a;
	char err[256];
	const struct sockaddr_in *si = (const struct sockaddr_in *)&a.ss;
	(void)state;

	assert_int_equal(net_addr_parse("127.0.0.1:9100", &a, err, sizeof(err)), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(ntohs(si->sin_port), 9100);
	assert_int_equal(ntohl(si->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(a.len, sizeof(struct sockaddr_in));
	assert_int_equal(net_addr_parse("localhost:65535", &a, err, sizeof(err)), 0);
	assert_int_equal(ntohl(si->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(ntohs(si->sin_port), 65535);
	assert_int_equal(net_addr_parse("0.0.0.0:1", &a, err, sizeof(err)), 0);
}

static void test_ipv6(void **state)
{
	struct net_addr a;
	char err[256];
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a.ss;
	(void)state;

	assert_int_equal(net_addr_parse("[::1]:9100", &a, err, sizeof(err)), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(ntohs(s6->sin6_port), 9100);
	assert_true(IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr));
}

static void test_bad(void **state)
{
	static const char *const bad[] = {
		"", "9100", "unix:", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
		"127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:80x", "300.0.0.1:80", "host:80",
		"[::1]", "[::1]80", "[::1:80", "[]:80", "[127.0.0.1]:80", ":80",
	};
	struct net_addr a;
	char err[256], want[64];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (net_addr_parse(bad[i], &a, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
		snprintf(want, sizeof(want), "'%s'", bad[i]);
		if (!strstr(err, want))
			fail_msg("message \"%s\" does not name '%s'", err, bad[i]);
	}
}

static void test_unix_too_long(void **state)
{
	char s[200], err[256];
	struct net_addr a;
	(void)state;

	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	memcpy(s, "unix:/", 6);
	assert_int_equal(net_addr_parse(s, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too long"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unix),   cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),   cmocka_unit_test(test_bad),
		cmocka_unit_test(test_unix_too_long),
	};

	return cmocka_run_group_tests_name("net_addr", tests, NULL, NULL);
}
