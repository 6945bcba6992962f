/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The event loop's adaptive polling: when a window opens, what it calls,
 * how it ends (work found by the poll hook, by end(), or an fd event), and
 * how the window grows after short sleeps and collapses after long ones,
 * so that an idle loop never spins.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/clock.h"
#include "util/event_loop.h"

struct probe {
	unsigned polls, begins, ends;
	unsigned poll_hit_at;   /* poll() returns true on this call (1-based), 0 = never */
	bool end_finds;         /* end() reports work */
	unsigned fd_events;
};

static bool p_poll(void *opaque)
{
	struct probe *p = opaque;

	p->polls++;
	return p->poll_hit_at && p->polls >= p->poll_hit_at;
}

static void p_begin(void *opaque)
{
	((struct probe *)opaque)->begins++;
}

static bool p_end(void *opaque)
{
	struct probe *p = opaque;

	p->ends++;
	return p->end_finds;
}

static const struct ev_poll_ops probe_ops = { .poll = p_poll, .begin = p_begin, .end = p_end };

static void on_fd(struct ev_loop *loop, int fd, uint32_t events, void *opaque)
{
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));

	(void)loop, (void)events, (void)r;
	((struct probe *)opaque)->fd_events++;
}

static uint32_t window(struct ev_loop *loop)
{
	struct ev_poll_stats st;

	ev_get_poll_stats(loop, &st);
	return st.window_ns;
}

static void test_off_by_default(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct ev_poll_stats st;

	(void)state;
	assert_non_null(loop);
	assert_int_equal(ev_run_once(loop, 1), 0);
	ev_get_poll_stats(loop, &st);
	assert_int_equal(st.polls + st.hits + st.sleeps, 0);
	ev_loop_free(loop);
}

static void test_max_zero_is_off(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct probe p = { 0 };
	struct ev_poll_stats st;

	(void)state;
	ev_set_poll(loop, &probe_ops, &p, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ev_run_once(loop, 1), 0);
	ev_get_poll_stats(loop, &st);
	assert_int_equal(st.polls + st.sleeps, 0);
	assert_int_equal(p.polls + p.begins + p.ends, 0);
	ev_loop_free(loop);
}

/* A 1 ms sleep is short next to a 50 ms maximum: each one doubles the
 * window (starting at 4 us), up to the maximum. Each window calls begin()
 * and end() once and poll() at least once. */
static void test_grows_after_short_sleeps(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct probe p = { 0 };
	struct ev_poll_stats st;

	(void)state;
	ev_set_poll(loop, &probe_ops, &p, 50 * 1000 * 1000);
	assert_int_equal(window(loop), 0);
	assert_int_equal(ev_run_once(loop, 1), 0);
	assert_int_equal(p.begins, 0); /* no window yet: slept at once */
	assert_int_equal(window(loop), 4000);
	assert_int_equal(ev_run_once(loop, 1), 0);
	assert_int_equal(p.begins, 1);
	assert_int_equal(p.ends, 1);
	assert_true(p.polls >= 1);
	assert_int_equal(window(loop), 8000);
	assert_int_equal(ev_run_once(loop, 1), 0);
	assert_int_equal(window(loop), 16000);
	ev_get_poll_stats(loop, &st);
	assert_int_equal(st.polls, 2);
	assert_int_equal(st.sleeps, 3);
	assert_int_equal(st.hits, 0);
	ev_loop_free(loop);
}

static void test_no_growth_when_events_come_late(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct probe p = { 0 };

	(void)state;
	ev_set_poll(loop, &probe_ops, &p, 10000);
	/* 1 ms sleeps are longer than a 10 us maximum: never grows. */
	for (int i = 0; i < 3; i++)
		ev_run_once(loop, 1);
	assert_int_equal(window(loop), 0);
	assert_int_equal(p.begins, 0);
	ev_loop_free(loop);
}

/* Doubling stops at the maximum: 4 us * 2^15 = 131 ms, then 200 ms. */
static void test_capped_at_max(void **state)
{
	const uint32_t max = 200u * 1000 * 1000;
	struct ev_loop *loop = ev_loop_new();
	struct probe p = { 0 };
	bool reached = false;

	(void)state;
	ev_set_poll(loop, &probe_ops, &p, max);
	for (int i = 0; i < 17 && !reached; i++) {
		ev_run_once(loop, 1);
		assert_true(window(loop) <= max);
		reached = window(loop) == max;
	}
	assert_true(reached);
	ev_loop_free(loop);
}

/* Once the loop is idle (a sleep longer than the maximum), the window is
 * gone: the next turn sleeps at once. */
static void test_collapses_when_idle(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct probe p = { 0 };

	(void)state;
	ev_set_poll(loop, &probe_ops, &p, 20 * 1000 * 1000);
	ev_run_once(loop, 1);
	ev_run_once(loop, 1);
	assert_int_equal(window(loop), 8000);
	ev_run_once(loop, 30); /* 30 ms > 20 ms */
	assert_int_equal(window(loop), 0);
	p.begins = 0;
	ev_run_once(loop, 30);
	assert_int_equal(p.begins, 0);
	ev_loop_free(loop);
}

static void grow_once(struct ev_loop *loop)
{
	ev_run_once(loop, 1);
	assert_int_equal(window(loop), 4000);
}

/* Work seen by poll() ends the window without sleeping (the timeout is
 * 2 s: a sleep would show), keeps the window, and counts as a hit. */
static void test_poll_hit_does_not_sleep(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct probe p = { 0 };
	struct ev_poll_stats st;
	int64_t t0;

	(void)state;
	ev_set_poll(loop, &probe_ops, &p, 50 * 1000 * 1000);
	grow_once(loop);
	p.poll_hit_at = 1;
	t0 = vdv_now_ns();
	assert_int_equal(ev_run_once(loop, 2000), 1);
	assert_true(vdv_now_ns() - t0 < 1000 * 1000 * 1000);
	assert_int_equal(p.polls, 1);
	assert_int_equal(p.ends, 1); /* notifications are always switched back on */
	ev_get_poll_stats(loop, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.sleeps, 1); /* only grow_once's */
	assert_int_equal(window(loop), 4000);
	ev_loop_free(loop);
}

/* Work that end()'s re-check finds (it raced with switching notifications
 * back on) also prevents the sleep. */
static void test_end_finds_work(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct probe p = { 0 };
	int64_t t0;

	(void)state;
	ev_set_poll(loop, &probe_ops, &p, 50 * 1000 * 1000);
	grow_once(loop);
	p.end_finds = true;
	t0 = vdv_now_ns();
	assert_int_equal(ev_run_once(loop, 2000), 1);
	assert_true(vdv_now_ns() - t0 < 1000 * 1000 * 1000);
	assert_int_equal(p.ends, 1);
	ev_loop_free(loop);
}

/* An fd that becomes ready is served from inside the window. */
static void test_fd_event_in_window(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct probe p = { 0 };
	struct ev_poll_stats st;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	uint64_t one = 1;

	(void)state;
	assert_true(efd >= 0);
	assert_int_equal(ev_add(loop, efd, EPOLLIN, on_fd, &p), 0);
	ev_set_poll(loop, &probe_ops, &p, 50 * 1000 * 1000);
	grow_once(loop);
	assert_int_equal(write(efd, &one, sizeof(one)), (ssize_t)sizeof(one));
	assert_int_equal(ev_run_once(loop, 2000), 1);
	assert_int_equal(p.fd_events, 1);
	assert_int_equal(p.begins, 1);
	assert_int_equal(p.ends, 1);
	ev_get_poll_stats(loop, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.sleeps, 1);
	ev_loop_free(loop);
	close(efd);
}

/* Left-over work from the before-sleep hook means no window at all: the
 * loop goes round without blocking and without spinning. */
static bool more_work(struct ev_loop *loop, void *opaque)
{
	(void)loop;
	return (*(int *)opaque)-- > 0;
}

static void test_pending_work_skips_window(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct probe p = { 0 };
	int turns = 1;

	(void)state;
	ev_set_poll(loop, &probe_ops, &p, 50 * 1000 * 1000);
	grow_once(loop);
	ev_set_before_sleep(loop, more_work, &turns);
	ev_run_once(loop, 2000);
	assert_int_equal(p.begins, 0);
	assert_int_equal(window(loop), 4000);
	ev_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off_by_default),
		cmocka_unit_test(test_max_zero_is_off),
		cmocka_unit_test(test_grows_after_short_sleeps),
		cmocka_unit_test(test_no_growth_when_events_come_late),
		cmocka_unit_test(test_capped_at_max),
		cmocka_unit_test(test_collapses_when_idle),
		cmocka_unit_test(test_poll_hit_does_not_sleep),
		cmocka_unit_test(test_end_finds_work),
		cmocka_unit_test(test_fd_event_in_window),
		cmocka_unit_test(test_pending_work_skips_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
