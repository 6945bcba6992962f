/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* util/accept_pause: which errors pause, the resume timer, and that a
 * flapping listener does not flood the log. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/accept_pause.h"
#include "util/clock.h"
#include "util/log.h"

static void on_resume(struct ev_loop *loop, void *opaque)
{
	(void)loop;
	(*(int *)opaque)++;
}

static void test_wanted(void **state)
{
	(void)state;
	assert_true(accept_pause_wanted(EMFILE));
	assert_true(accept_pause_wanted(ENFILE));
	assert_true(accept_pause_wanted(ENOBUFS));
	assert_true(accept_pause_wanted(ENOMEM));
	assert_false(accept_pause_wanted(EAGAIN));
	assert_false(accept_pause_wanted(ECONNABORTED));
	assert_false(accept_pause_wanted(EINTR));
}

static void test_resumes_after_pause(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct accept_pause p;
	int resumed = 0;
	int64_t t0, dt;
	(void)state;

	assert_non_null(loop);
	accept_pause_init(&p, on_resume, &resumed);
	t0 = vdv_now_ns();
	assert_int_equal(accept_pause_start(&p, loop, "vm", "test listener", EMFILE), 0);
	while (!resumed && vdv_now_ns() - t0 < 2000000000LL)
		ev_run_once(loop, 500);
	dt = vdv_now_ns() - t0;
	assert_int_equal(resumed, 1);
	assert_true(dt >= ACCEPT_PAUSE_NS - 1000000);
	/* Cancel before the owner goes: nothing fires afterwards. */
	assert_int_equal(accept_pause_start(&p, loop, "vm", "test listener", EMFILE), 0);
	accept_pause_cancel(&p, loop);
	ev_run_once(loop, 200);
	assert_int_equal(resumed, 1);
	ev_loop_free(loop);
}

static void test_flapping_rate_limited(void **state)
{
	char path[] = "/tmp/vdv-apause-XXXXXX", out[16384];
	struct ev_loop *loop = ev_loop_new();
	int fd = mkstemp(path), saved = dup(STDERR_FILENO), resumed = 0;
	struct accept_pause p;
	unsigned warns = 0, infos = 0;
	ssize_t r;
	(void)state;

	assert_true(loop && fd >= 0 && saved >= 0);
	unlink(path);
	log_max_level = LOG_INFO;
	accept_pause_init(&p, on_resume, &resumed);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	/* 30 episodes: EMFILE twice (one warning), then one accept. */
	for (unsigned i = 0; i < 30; i++) {
		accept_pause_start(&p, loop, "vm", "flappy", EMFILE);
		accept_pause_start(&p, loop, "vm", "flappy", EMFILE);
		accept_pause_ok(&p, "vm", "flappy");
	}
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	accept_pause_cancel(&p, loop);
	r = pread(fd, out, sizeof(out) - 1, 0);
	close(fd);
	assert_true(r >= 0);
	out[r] = '\0';
	for (char *s = out; (s = strstr(s, "pausing it")); s++)
		warns++;
	for (char *s = out; (s = strstr(s, "accepting on flappy again")); s++)
		infos++;
	assert_true(warns >= 1);
	assert_true(warns + infos <= LOG_RL_BURST);
	ev_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wanted),
		cmocka_unit_test(test_resumes_after_pause),
		cmocka_unit_test(test_flapping_rate_limited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
