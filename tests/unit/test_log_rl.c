/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The log rate limiter (util/log.c): the decision with an injected clock,
 * and what log_msg_rl writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/log.h"

#define SEC 1000000000LL

static void test_burst_then_suppress(void **state)
{
	struct log_ratelimit rl = { 0 };
	unsigned k = 99;
	int64_t t0 = 5 * SEC;
	(void)state;

	for (unsigned i = 0; i < LOG_RL_BURST; i++) {
		assert_true(log_ratelimit_pass(&rl, t0 + i, &k));
		assert_int_equal(k, 0);
	}
	/* The rest of the window: everything dropped and counted. */
	for (unsigned i = 0; i < 37; i++)
		assert_false(log_ratelimit_pass(&rl, t0 + 1000 + i, &k));
	assert_false(log_ratelimit_pass(&rl, t0 + LOG_RL_WINDOW_NS - 1, &k));
	/* The next window: the first line passes and reports the 38. */
	assert_true(log_ratelimit_pass(&rl, t0 + LOG_RL_WINDOW_NS, &k));
	assert_int_equal(k, 38);
	assert_true(log_ratelimit_pass(&rl, t0 + LOG_RL_WINDOW_NS + 1, &k));
	assert_int_equal(k, 0);
}

static void test_window_starts_at_next_line(void **state)
{
	struct log_ratelimit rl = { 0 };
	unsigned k;
	(void)state;

	/* One line, a long pause, then a burst: the window is the burst's. */
	assert_true(log_ratelimit_pass(&rl, 0, &k));
	for (unsigned i = 0; i < LOG_RL_BURST; i++)
		assert_true(log_ratelimit_pass(&rl, 100 * SEC + i, &k));
	assert_false(log_ratelimit_pass(&rl, 100 * SEC + 10, &k));
	assert_false(log_ratelimit_pass(&rl, 109 * SEC, &k));
	assert_true(log_ratelimit_pass(&rl, 110 * SEC, &k));
	assert_int_equal(k, 2);
}

static void test_clock_going_back(void **state)
{
	struct log_ratelimit rl = { 0 };
	unsigned k;
	(void)state;

	for (unsigned i = 0; i < LOG_RL_BURST; i++)
		assert_true(log_ratelimit_pass(&rl, 50 * SEC, &k));
	assert_false(log_ratelimit_pass(&rl, 50 * SEC, &k));
	/* A clock before the window (a limiter reused with another clock)
	 * starts a new one rather than muting the key for ever. */
	assert_true(log_ratelimit_pass(&rl, 1 * SEC, &k));
	assert_int_equal(k, 1);
}

/* Runs n log_msg_rl calls with stderr in a temp file; returns the text. */
static char *capture(struct log_ratelimit *rl, enum log_level lvl, unsigned n)
{
	char path[] = "/tmp/vdv-logrl-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	static char out[16384];
	ssize_t r;

	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	for (unsigned i = 0; i < n; i++)
		log_msg_rl(rl, lvl, "refused connection %u", i);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	r = pread(fd, out, sizeof(out) - 1, 0);
	close(fd);
	assert_true(r >= 0);
	out[r] = '\0';
	return out;
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_log_msg_rl_output(void **state)
{
	struct log_ratelimit rl = { 0 };
	char *out;
	(void)state;

	log_max_level = LOG_INFO;
	out = capture(&rl, LOG_WARN, 200);
	assert_int_equal(count_lines(out), LOG_RL_BURST);
	assert_non_null(strstr(out, "refused connection 0\n"));
	assert_non_null(strstr(out, "refused connection 4\n"));
	assert_null(strstr(out, "refused connection 5\n"));

	/* Pretend the window ended: the next line carries the count. */
	rl.window_start_ns -= LOG_RL_WINDOW_NS;
	out = capture(&rl, LOG_WARN, 1);
	assert_int_equal(count_lines(out), 2);
	assert_non_null(strstr(out, "suppressed 195 similar messages"));
	assert_non_null(strstr(out, "refused connection 0\n"));
}

static void test_filtered_level_not_counted(void **state)
{
	struct log_ratelimit rl = { 0 };
	char *out;
	(void)state;

	log_max_level = LOG_WARN;
	out = capture(&rl, LOG_INFO, 50);
	assert_int_equal(count_lines(out), 0);
	assert_int_equal(rl.suppressed, 0);
	assert_int_equal(rl.lines, 0);
	log_max_level = LOG_INFO;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_suppress),
		cmocka_unit_test(test_window_starts_at_next_line),
		cmocka_unit_test(test_clock_going_back),
		cmocka_unit_test(test_log_msg_rl_output),
		cmocka_unit_test(test_filtered_level_not_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
