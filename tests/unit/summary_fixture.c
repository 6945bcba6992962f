/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Not a test of its own: test_summary.py runs it to get the installed
 * cmocka's real output for one passing, one skipped and (with "fail") one
 * failing case, so that scripts/summarize.py's patterns are checked against
 * the library CI uses, not only against text copied into the self-test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static int want_fail;

static void case_pass(void **state)
{
	(void)state;
}

static void case_skip(void **state)
{
	(void)state;
	print_message("fixture: skipped on purpose\n");
	skip();
}

static void case_fail(void **state)
{
	(void)state;
	if (want_fail)
		fail_msg("fixture: failed on purpose");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(case_pass),
		cmocka_unit_test(case_skip),
		cmocka_unit_test(case_fail),
	};

	want_fail = argc > 1 && !strcmp(argv[1], "fail");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
