/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Tests of src/config/log_level.c: level names, RUST_LOG in the forms
 * env_logger users write, the order --log-level > VDV_LOG > RUST_LOG >
 * info, and the JOURNAL_STREAM match.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

static void test_level_names(void **state)
{
	static const char *const ok[] = { "error", "warn", "info", "debug", "trace" };
	enum log_level lv;
	(void)state;

	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(config_log_level_parse(ok[i], &lv), 0);
		assert_int_equal(lv, (enum log_level)i);
	}
	assert_int_equal(config_log_level_parse("DEBUG", &lv), 0);
	assert_int_equal(lv, LOG_DEBUG);
	assert_int_equal(config_log_level_parse("Warn", &lv), 0);
	assert_int_equal(lv, LOG_WARN);
	assert_int_equal(config_log_level_parse("", &lv), -EINVAL);
	assert_int_equal(config_log_level_parse("warning", &lv), -EINVAL);
	assert_int_equal(config_log_level_parse("off", &lv), -EINVAL); /* RUST_LOG only */
	assert_int_equal(config_log_level_parse("info ", &lv), -EINVAL);
	assert_int_equal(config_log_level_parse("3", &lv), -EINVAL);
}

struct rust_row {
	const char *value;
	int result;          /* 1, 0 or -EINVAL */
	enum log_level level; /* when result is 1 */
};

static const struct rust_row rust_rows[] = {
	{ "debug", 1, LOG_DEBUG },
	{ "DEBUG", 1, LOG_DEBUG },
	{ "Trace", 1, LOG_TRACE },
	{ " warn ", 1, LOG_WARN },
	{ "off", 1, LOG_ERROR },
	{ "error,debug", 1, LOG_DEBUG },             /* the last bare level */
	{ "warn,vhost_device_vsock=trace", 1, LOG_TRACE },
	{ "vhost_device_vsock=debug,info", 1, LOG_DEBUG }, /* ours wins over bare */
	{ "vhost-device-vsock=warn", 1, LOG_WARN },
	{ "vhost_device_vsock::vhu_vsock=error", 1, LOG_ERROR },
	{ "vhost_device_vsock", 1, LOG_TRACE },      /* a bare target: all levels */
	{ "info,hyper=trace", 1, LOG_INFO },
	{ "debug/conn.*", 1, LOG_DEBUG },            /* the regex is ignored */
	{ "vhost_device_vsock = Debug ", 1, LOG_DEBUG },
	{ "hyper=debug", 0, LOG_INFO },
	{ "hyper", 0, LOG_INFO },
	{ "vhost_device_vsockx=debug", 0, LOG_INFO },
	{ "vhost_device_vsock:x=debug", 0, LOG_INFO },
	{ "other=loud", 0, LOG_INFO },               /* not ours: not our business */
	{ "", 0, LOG_INFO },
	{ ",,,", 0, LOG_INFO },
	{ "/only-a-regex", 0, LOG_INFO },
	{ "vhost_device_vsock=loud", -EINVAL, LOG_INFO },
	{ "debug,vhost_device_vsock=", -EINVAL, LOG_INFO },
};

static void test_rust_log_row(void **state)
{
	const struct rust_row *row = *state;
	enum log_level lv = (enum log_level)77;
	char warn[256];
	int r = config_rust_log_parse(row->value, &lv, warn, sizeof(warn));

	if (r != row->result)
		fail_msg("RUST_LOG='%s': got %d, want %d (%s)", row->value, r, row->result, warn);
	if (r == 1)
		assert_int_equal(lv, row->level);
	else
		assert_int_equal(lv, 77); /* untouched */
	if (r < 0) {
		assert_non_null(strstr(warn, "RUST_LOG"));
		assert_null(strchr(warn, '\n'));
	} else {
		assert_string_equal(warn, "");
	}
}

static void test_rust_log_too_long(void **state)
{
	char *v = malloc(5000), warn[256];
	enum log_level lv;
	(void)state;

	assert_non_null(v);
	memset(v, 'a', 4999);
	v[4999] = '\0';
	memcpy(v, "debug,", 6);
	assert_int_equal(config_rust_log_parse(v, &lv, warn, sizeof(warn)), -EINVAL);
	assert_non_null(strstr(warn, "4999 bytes"));
	free(v);
}

static void test_rust_log_warning_is_printable(void **state)
{
	enum log_level lv;
	char warn[256];
	(void)state;

	assert_int_equal(config_rust_log_parse("vhost_device_vsock=\x1b[31mred", &lv, warn,
					       sizeof(warn)),
			 -EINVAL);
	assert_null(strchr(warn, '\x1b'));
	assert_non_null(strstr(warn, "vhost_device_vsock=?[31mred"));
}

static void resolve(const char *cli, const char *vdv, const char *rust, int want_r,
		    enum log_level want, const char *want_source, const char *msg_part)
{
	struct vdv_opts o;
	enum log_level lv;
	const char *source = NULL;
	char msg[256];
	int r;

	config_opts_init(&o);
	if (cli) {
		assert_int_equal(config_log_level_parse(cli, &o.log_level), 0);
		o.has_log_level = true;
	}
	r = config_log_level_resolve(&o, vdv, rust, &lv, &source, msg, sizeof(msg));
	assert_int_equal(r, want_r);
	assert_int_equal(lv, want);
	assert_string_equal(source, want_source);
	if (msg_part)
		assert_non_null(strstr(msg, msg_part));
	else
		assert_string_equal(msg, "");
}

static void test_resolve_order(void **state)
{
	(void)state;
	resolve(NULL, NULL, NULL, 0, LOG_INFO, "default", NULL);
	resolve("trace", "error", "debug", 0, LOG_TRACE, "--log-level", NULL);
	/* --log-level wins even over a broken VDV_LOG: it is never read. */
	resolve("warn", "nonsense", NULL, 0, LOG_WARN, "--log-level", NULL);
	resolve(NULL, "error", "debug", 0, LOG_ERROR, "VDV_LOG", NULL);
	resolve(NULL, "DEBUG", NULL, 0, LOG_DEBUG, "VDV_LOG", NULL);
	resolve(NULL, NULL, "debug", 0, LOG_DEBUG, "RUST_LOG", NULL);
	resolve(NULL, NULL, "hyper=trace", 0, LOG_INFO, "default", NULL);
}

static void test_resolve_errors(void **state)
{
	(void)state;
	/* VDV_LOG is ours: a typo is an error naming the value. */
	resolve(NULL, "verbose", "debug", -EINVAL, LOG_INFO, "default", "VDV_LOG='verbose'");
	resolve(NULL, "", NULL, -EINVAL, LOG_INFO, "default", "VDV_LOG=''");
	/* RUST_LOG is shared with other programs: a warning, then info. */
	resolve(NULL, NULL, "vhost_device_vsock=loud", 0, LOG_INFO, "default",
		"'vhost_device_vsock=loud'");
}

static void test_journal_stream(void **state)
{
	(void)state;
	assert_true(config_journal_stream_matches("8:12345", 8, 12345));
	assert_true(config_journal_stream_matches("0:1", 0, 1));
	assert_false(config_journal_stream_matches("8:12345", 8, 12346));
	assert_false(config_journal_stream_matches("9:12345", 8, 12345));
	assert_false(config_journal_stream_matches(NULL, 8, 12345));
	assert_false(config_journal_stream_matches("", 8, 12345));
	assert_false(config_journal_stream_matches("8", 8, 12345));
	assert_false(config_journal_stream_matches(":12345", 8, 12345));
	assert_false(config_journal_stream_matches("8:", 8, 12345));
	assert_false(config_journal_stream_matches("0x8:12345", 8, 12345));
	assert_false(config_journal_stream_matches("8:0x3039", 8, 12345));
	assert_false(config_journal_stream_matches("8:12345x", 8, 12345));
	assert_false(config_journal_stream_matches("-8:12345", 8, 12345));
	assert_false(config_journal_stream_matches("8:12345:1", 8, 12345));
	assert_false(config_journal_stream_matches("99999999999999999999999:1", 8, 1));
}

int main(void)
{
	struct CMUnitTest tests[64];
	size_t n = 0;

	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_level_names);
	for (size_t i = 0; i < sizeof(rust_rows) / sizeof(rust_rows[0]); i++) {
		static char names[32][64];

		snprintf(names[i], sizeof(names[i]), "rust_log '%s'", rust_rows[i].value);
		tests[n++] = (struct CMUnitTest){ names[i], test_rust_log_row, NULL, NULL,
						  (void *)&rust_rows[i] };
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_rust_log_too_long);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_rust_log_warning_is_printable);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_resolve_order);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_resolve_errors);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_journal_stream);
	return _cmocka_run_group_tests("log_level", tests, n, NULL, NULL);
}
