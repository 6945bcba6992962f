/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The event loop's adaptive polling: when a window opens, what it calls,
 * how it ends (work found by the poll hook, by end(), or an fd event), and
 * how the window grows after short sleeps and collapses after long ones,
 * so that an idle loop never spins.
 *
 * Its timers: when they fire (not before their deadline, in deadline
 * order, once), cancel and re-arm from anywhere including callbacks, how
 * they bound the loop's sleep and polling window, and a heap of many.
 * Every wait that a timer should end is bounded: by the caller's timeout,
 * or under a SIGALRM deadline (its handler only interrupts epoll_wait) of
 * 2 s at most per test step, so a broken timer fails a test instead of
 * hanging it.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/time.h>
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

/* ---- timers ---- */

#define MS 1000000LL

struct rec {
	struct ev_timer t;
	int id;
	int fired;
	int64_t fired_at;
	/* Shared by the timers of one test: the order they fired in. */
	int *log;
	int *nlog;
	/* Cancelled from the callback, when set. */
	struct ev_timer *victim;
	/* Re-arm from the callback: 1 for its old deadline, 2 for "now". */
	int rearm;
};

static void on_timer(struct ev_loop *loop, void *opaque)
{
	struct rec *r = opaque;

	r->fired++;
	r->fired_at = vdv_now_ns();
	/* Disarmed before the call. */
	assert_false(ev_timer_armed(&r->t));
	if (r->log)
		r->log[(*r->nlog)++] = r->id;
	if (r->victim)
		ev_timer_cancel(loop, r->victim);
	/* Bounded, so that a loop that keeps firing it fails an assertion
	 * instead of hanging. */
	if (r->rearm && r->fired < 100)
		assert_int_equal(ev_timer_arm(loop, &r->t, r->rearm == 1 ?
					      r->t.deadline_ns : vdv_now_ns()), 0);
}

static void rec_init(struct rec *r, int id)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	ev_timer_init(&r->t, on_timer, r);
}

/* Interrupts epoll_wait (no SA_RESTART): ev_run_once then returns 0. */
static void on_alarm(int sig)
{
	(void)sig;
}

static void set_alarm(int64_t ns)
{
	struct itimerval it = { 0 };

	it.it_value.tv_sec = ns / 1000000000;
	it.it_value.tv_usec = ns % 1000000000 / 1000;
	setitimer(ITIMER_REAL, &it, NULL);
}

/* ev_run_once(loop, -1), cut short at end: then it returns 0 (EINTR),
 * or -ETIMEDOUT when end has already passed. */
static int turn(struct ev_loop *loop, int64_t end)
{
	int64_t left = end - vdv_now_ns();
	int r;

	if (left < 1000)
		return -ETIMEDOUT;
	set_alarm(left);
	r = ev_run_once(loop, -1);
	set_alarm(0);
	return r;
}

static int64_t in_2s(void)
{
	return vdv_now_ns() + 2000 * MS;
}

static int64_t since(int64_t t0)
{
	return vdv_now_ns() - t0;
}

/* Fires once, not before its deadline: a 200 ms margin for "not before",
 * and the first blocking turn must already fire it (the sleep ends at
 * the deadline, not before). */
static void test_timer_fires_once(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct rec r;
	int64_t dl;

	(void)state;
	rec_init(&r, 0);
	assert_false(ev_timer_armed(&r.t));
	dl = vdv_now_ns() + 200 * MS;
	assert_int_equal(ev_timer_arm(loop, &r.t, dl), 0);
	assert_true(ev_timer_armed(&r.t));
	assert_int_equal(ev_run_once(loop, 0), 0);
	assert_int_equal(ev_run_once(loop, 10), 0);
	assert_int_equal(r.fired, 0);
	assert_true(ev_timer_armed(&r.t));
	assert_int_equal(turn(loop, in_2s()), 1);
	assert_int_equal(r.fired, 1);
	assert_true(r.fired_at >= dl);
	assert_false(ev_timer_armed(&r.t));
	assert_int_equal(r.t.deadline_ns, dl);
	assert_int_equal(ev_run_once(loop, 20), 0);
	assert_int_equal(r.fired, 1);
	ev_loop_free(loop);
}

/* Deadline order, both across turns and within one pass. */
static void test_timer_order(void **state)
{
	static const int off_ms[] = { 40, 10, 50, 20, 30 };
	static const int past_us[] = { -5, -1, -4, -2, -3 };
	struct ev_loop *loop = ev_loop_new();
	struct rec r[5];
	int log[5], nlog = 0;
	int64_t now = vdv_now_ns(), end;

	(void)state;
	for (int i = 0; i < 5; i++) {
		rec_init(&r[i], i);
		r[i].log = log;
		r[i].nlog = &nlog;
		assert_int_equal(ev_timer_arm(loop, &r[i].t, now + off_ms[i] * MS), 0);
	}
	end = in_2s();
	while (nlog < 5 && turn(loop, end) >= 0)
		;
	assert_int_equal(nlog, 5);
	assert_int_equal(log[0], 1);
	assert_int_equal(log[1], 3);
	assert_int_equal(log[2], 4);
	assert_int_equal(log[3], 0);
	assert_int_equal(log[4], 2);
	for (int i = 0; i < 5; i++)
		assert_true(r[i].fired_at >= now + off_ms[i] * MS);

	/* All due already: one pass fires all five, earliest first, and
	 * each counts as an event. */
	nlog = 0;
	now = vdv_now_ns();
	for (int i = 0; i < 5; i++)
		assert_int_equal(ev_timer_arm(loop, &r[i].t, now + past_us[i] * 1000), 0);
	assert_int_equal(ev_run_once(loop, 0), 5);
	assert_int_equal(nlog, 5);
	assert_int_equal(log[0], 0);
	assert_int_equal(log[1], 2);
	assert_int_equal(log[2], 4);
	assert_int_equal(log[3], 3);
	assert_int_equal(log[4], 1);
	ev_loop_free(loop);
}

/* A cancelled timer never fires, and no longer shortens the sleep. */
static void test_timer_cancel_before_due(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct rec a, b;
	int64_t t0;

	(void)state;
	rec_init(&a, 0);
	rec_init(&b, 1);
	assert_int_equal(ev_timer_arm(loop, &a.t, vdv_now_ns() + 10 * MS), 0);
	ev_timer_cancel(loop, &a.t);
	assert_false(ev_timer_armed(&a.t));
	t0 = vdv_now_ns();
	assert_int_equal(ev_run_once(loop, 60), 0);
	assert_true(since(t0) >= 50 * MS);
	assert_int_equal(a.fired, 0);

	/* Also one that is already due, next to one that is not. */
	assert_int_equal(ev_timer_arm(loop, &a.t, vdv_now_ns() - MS), 0);
	assert_int_equal(ev_timer_arm(loop, &b.t, vdv_now_ns() + 1000 * MS), 0);
	ev_timer_cancel(loop, &a.t);
	assert_int_equal(ev_run_once(loop, 0), 0);
	assert_int_equal(a.fired, 0);
	assert_true(ev_timer_armed(&b.t));
	ev_loop_free(loop);
}

/* Re-arming moves the deadline: earlier (the sleep ends sooner) and
 * later (it no longer fires at the old one). */
static void test_timer_rearm_moves(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct rec a, other;
	int64_t t0, dl, end;

	(void)state;
	rec_init(&a, 0);
	rec_init(&other, 1);
	/* A later timer keeps the heap from being trivial. */
	assert_int_equal(ev_timer_arm(loop, &other.t, vdv_now_ns() + 10000 * MS), 0);
	assert_int_equal(ev_timer_arm(loop, &a.t, vdv_now_ns() + 5000 * MS), 0);
	dl = vdv_now_ns() + 20 * MS;
	assert_int_equal(ev_timer_arm(loop, &a.t, dl), 0);
	t0 = vdv_now_ns();
	assert_int_equal(turn(loop, in_2s()), 1);
	assert_true(since(t0) < 1000 * MS);
	assert_int_equal(a.fired, 1);
	assert_true(a.fired_at >= dl);

	assert_int_equal(ev_timer_arm(loop, &a.t, vdv_now_ns() + 10 * MS), 0);
	dl = vdv_now_ns() + 80 * MS;
	assert_int_equal(ev_timer_arm(loop, &a.t, dl), 0);
	assert_int_equal(ev_run_once(loop, 40), 0);
	assert_int_equal(a.fired, 1);
	assert_true(ev_timer_armed(&a.t));
	end = in_2s();
	while (a.fired == 1 && turn(loop, end) >= 0)
		;
	assert_int_equal(a.fired, 2);
	assert_true(a.fired_at >= dl);
	assert_int_equal(other.fired, 0);
	ev_loop_free(loop);
}

/* A callback cancels another timer that is due in the same pass (it must
 * not fire), one that is not due yet, and its own (already disarmed). */
static void test_timer_cancel_from_callback(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct rec a, b, c, d;
	int64_t now = vdv_now_ns();

	(void)state;
	rec_init(&a, 0);
	rec_init(&b, 1);
	rec_init(&c, 2);
	rec_init(&d, 3);
	a.victim = &b.t;
	c.victim = &c.t;
	b.victim = &d.t;
	assert_int_equal(ev_timer_arm(loop, &a.t, now - 3 * MS), 0);
	assert_int_equal(ev_timer_arm(loop, &b.t, now - 2 * MS), 0);
	assert_int_equal(ev_timer_arm(loop, &c.t, now - 1 * MS), 0);
	assert_int_equal(ev_timer_arm(loop, &d.t, now + 1000 * MS), 0);
	assert_int_equal(ev_run_once(loop, 0), 2);
	assert_int_equal(a.fired, 1);
	assert_int_equal(b.fired, 0);
	assert_int_equal(c.fired, 1);
	assert_false(ev_timer_armed(&b.t));
	assert_false(ev_timer_armed(&c.t));
	assert_true(ev_timer_armed(&d.t));

	/* Now from a callback against a not-yet-due timer. */
	c.victim = &d.t;
	assert_int_equal(ev_timer_arm(loop, &c.t, vdv_now_ns() - MS), 0);
	assert_int_equal(ev_run_once(loop, 0), 1);
	assert_false(ev_timer_armed(&d.t));
	assert_int_equal(d.fired, 0);
	ev_loop_free(loop);
}

/* A callback that re-arms its timer for a time that is already due (its
 * own past deadline, or "now") fires once per pass, not in a loop, and
 * does not starve a timer that was due with it. */
static void test_timer_rearm_self_now(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct rec a, b, c;
	int64_t now = vdv_now_ns();

	(void)state;
	rec_init(&a, 0);
	rec_init(&b, 1);
	rec_init(&c, 2);
	a.rearm = 1;
	c.rearm = 2;
	assert_int_equal(ev_timer_arm(loop, &a.t, now - 3 * MS), 0);
	assert_int_equal(ev_timer_arm(loop, &c.t, now - 2 * MS), 0);
	assert_int_equal(ev_timer_arm(loop, &b.t, now - 1 * MS), 0);
	assert_int_equal(ev_run_once(loop, 0), 3);
	assert_int_equal(a.fired, 1);
	assert_int_equal(b.fired, 1);
	assert_int_equal(c.fired, 1);
	assert_true(ev_timer_armed(&a.t));
	assert_true(ev_timer_armed(&c.t));
	for (int pass = 2; pass <= 4; pass++) {
		assert_int_equal(ev_run_once(loop, 0), 2);
		assert_int_equal(a.fired, pass);
		assert_int_equal(c.fired, pass);
	}
	/* Still due: the loop must not sleep. */
	assert_int_equal(turn(loop, in_2s()), 2);
	ev_timer_cancel(loop, &a.t);
	ev_timer_cancel(loop, &c.t);
	assert_int_equal(ev_run_once(loop, 0), 0);
	ev_loop_free(loop);
}

/* With only a timer armed, ev_run_once(-1) sleeps until its deadline and
 * no longer; a shorter caller timeout still wins; a deadline a fraction of
 * a millisecond away is rounded up, so the first sleep does not end early
 * (which would return 0 without firing). */
static void test_timer_bounds_sleep(void **state)
{
	static const int frac_us[] = { 300, 1500, 2700 };
	struct ev_loop *loop = ev_loop_new();
	struct rec a;
	int64_t t0, dl;

	(void)state;
	rec_init(&a, 0);
	t0 = vdv_now_ns();
	dl = t0 + 50 * MS;
	assert_int_equal(ev_timer_arm(loop, &a.t, dl), 0);
	assert_int_equal(turn(loop, in_2s()), 1);
	assert_int_equal(a.fired, 1);
	assert_true(a.fired_at >= dl);
	assert_true(since(t0) < 1000 * MS);

	assert_int_equal(ev_timer_arm(loop, &a.t, vdv_now_ns() + 5000 * MS), 0);
	t0 = vdv_now_ns();
	assert_int_equal(ev_run_once(loop, 10), 0);
	assert_true(since(t0) < 1000 * MS);
	ev_timer_cancel(loop, &a.t);

	for (size_t i = 0; i < sizeof(frac_us) / sizeof(frac_us[0]); i++) {
		dl = vdv_now_ns() + frac_us[i] * 1000LL;
		assert_int_equal(ev_timer_arm(loop, &a.t, dl), 0);
		assert_int_equal(turn(loop, in_2s()), 1);
		assert_true(a.fired_at >= dl);
	}
	ev_loop_free(loop);
}

/* A timer armed by the before-sleep hook bounds that same turn's sleep. */
static bool arm_in_hook(struct ev_loop *loop, void *opaque)
{
	struct rec *r = opaque;

	if (!r->fired && !ev_timer_armed(&r->t))
		assert_int_equal(ev_timer_arm(loop, &r->t, vdv_now_ns() + 20 * MS), 0);
	return false;
}

static void test_timer_armed_by_hook(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct rec a;

	(void)state;
	rec_init(&a, 0);
	ev_set_before_sleep(loop, arm_in_hook, &a);
	assert_int_equal(turn(loop, in_2s()), 1);
	assert_int_equal(a.fired, 1);
	ev_loop_free(loop);
}

/* A polling window longer than the time to the next deadline stops at the
 * deadline, and the turn then does not sleep: the timer fires on time, not
 * after the whole window (131 ms here) nor after a further sleep of the
 * 40 ms computed before the window. */
static void test_timer_caps_poll_window(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct probe p = { 0 };
	struct rec a;
	int64_t t0, dl;

	(void)state;
	rec_init(&a, 0);
	ev_set_poll(loop, &probe_ops, &p, 1000u * 1000 * 1000);
	for (int i = 0; i < 25 && window(loop) < 100 * MS; i++)
		ev_run_once(loop, 1);
	assert_true(window(loop) >= 100 * MS);
	t0 = vdv_now_ns();
	dl = t0 + 40 * MS;
	assert_int_equal(ev_timer_arm(loop, &a.t, dl), 0);
	assert_int_equal(ev_run_once(loop, 2000), 1);
	assert_int_equal(a.fired, 1);
	assert_true(a.fired_at >= dl);
	assert_true(a.fired_at - dl < 25 * MS);
	assert_int_equal(p.begins, p.ends);
	ev_loop_free(loop);
}

/* The callback may free its owner (the loop must not touch the timer
 * after the call: ASan builds catch it). */
static void free_owner(struct ev_loop *loop, void *opaque)
{
	(void)loop;
	free(opaque);
}

static void test_timer_free_owner_in_callback(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct ev_timer *t = malloc(sizeof(*t));
	struct rec b;

	(void)state;
	assert_non_null(t);
	rec_init(&b, 1);
	ev_timer_init(t, free_owner, t);
	assert_int_equal(ev_timer_arm(loop, t, vdv_now_ns() - 2 * MS), 0);
	assert_int_equal(ev_timer_arm(loop, &b.t, vdv_now_ns() - 1 * MS), 0);
	assert_int_equal(ev_run_once(loop, 0), 2);
	assert_int_equal(b.fired, 1);
	ev_loop_free(loop);
}

/* An fd event and a due timer in the same turn count as two events. */
static void test_timer_counts_with_fd_events(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct probe p = { 0 };
	struct rec a;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	uint64_t one = 1;

	(void)state;
	assert_true(efd >= 0);
	rec_init(&a, 0);
	assert_int_equal(ev_add(loop, efd, EPOLLIN, on_fd, &p), 0);
	assert_int_equal(write(efd, &one, sizeof(one)), (ssize_t)sizeof(one));
	assert_int_equal(ev_timer_arm(loop, &a.t, vdv_now_ns()), 0);
	assert_int_equal(ev_run_once(loop, 0), 2);
	assert_int_equal(p.fd_events, 1);
	assert_int_equal(a.fired, 1);
	ev_loop_free(loop);
	close(efd);
}

/* Cancelling a disarmed timer (never armed, cancelled, or fired) changes
 * nothing, in particular not the other timers in the heap. */
static void test_timer_cancel_disarmed_noop(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct rec a, b, c;
	int64_t now = vdv_now_ns();

	(void)state;
	rec_init(&a, 0);
	rec_init(&b, 1);
	rec_init(&c, 2);
	ev_timer_cancel(loop, &b.t);
	assert_false(ev_timer_armed(&b.t));
	assert_int_equal(ev_timer_arm(loop, &a.t, now - 2 * MS), 0);
	assert_int_equal(ev_timer_arm(loop, &c.t, now - 1 * MS), 0);
	ev_timer_cancel(loop, &b.t);
	ev_timer_cancel(loop, &b.t);
	assert_true(ev_timer_armed(&a.t));
	assert_true(ev_timer_armed(&c.t));
	assert_int_equal(ev_run_once(loop, 0), 2);
	assert_int_equal(a.fired, 1);
	assert_int_equal(c.fired, 1);
	ev_timer_cancel(loop, &a.t); /* fired */
	assert_int_equal(ev_timer_arm(loop, &a.t, now - MS), 0);
	ev_timer_cancel(loop, &a.t);
	ev_timer_cancel(loop, &a.t); /* cancelled */
	assert_false(ev_timer_armed(&a.t));
	assert_int_equal(ev_run_once(loop, 0), 0);
	assert_int_equal(a.fired, 1);
	ev_loop_free(loop);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int64_t last_deadline;
static unsigned nfired;

static void on_many(struct ev_loop *loop, void *opaque)
{
	struct rec *r = opaque;

	(void)loop;
	/* Deadline order across the whole run: a pass fires only what is
	 * due, so later passes only see later deadlines. */
	assert_true(r->t.deadline_ns >= last_deadline);
	last_deadline = r->t.deadline_ns;
	r->fired++;
	nfired++;
}

/*
 * n timers armed with random deadlines (in random order), a tenth of them
 * cancelled and a seventh re-armed, which moves them inside the heap: all
 * others fire once, in non-decreasing deadline order. spread_ns 0 puts
 * every deadline in the past, so one pass fires them all.
 */
static void many_timers(unsigned n, int64_t spread_ns)
{
	struct ev_loop *loop = ev_loop_new();
	struct rec *r = calloc(n, sizeof(*r));
	int64_t base = vdv_now_ns() - (spread_ns ? 0 : 1000 * MS);
	int64_t range = spread_ns ? spread_ns : 1000 * MS;
	unsigned want = 0;
	int64_t end;

	assert_non_null(r);
	last_deadline = INT64_MIN;
	nfired = 0;
	for (unsigned i = 0; i < n; i++) {
		ev_timer_init(&r[i].t, on_many, &r[i]);
		assert_int_equal(ev_timer_arm(loop, &r[i].t,
					      base + (int64_t)(rng() % (uint64_t)range)), 0);
	}
	for (unsigned i = 0; i < n; i++) {
		if (i % 10 == 0)
			ev_timer_cancel(loop, &r[i].t);
		else if (i % 7 == 0)
			assert_int_equal(ev_timer_arm(loop, &r[i].t,
						      base + (int64_t)(rng() % (uint64_t)range)), 0);
		want += i % 10 != 0;
	}
	if (!spread_ns) {
		assert_int_equal(ev_run_once(loop, 0), (int)want);
	} else {
		end = in_2s();
		while (nfired < want && turn(loop, end) >= 0)
			;
	}
	assert_int_equal(nfired, want);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(r[i].fired, i % 10 != 0);
		assert_false(ev_timer_armed(&r[i].t));
	}
	assert_int_equal(ev_run_once(loop, 0), 0);
	ev_loop_free(loop);
	free(r);
}

static void test_timer_many_random(void **state)
{
	(void)state;
	many_timers(10000, 30 * MS);
}

static void test_timer_300k_one_pass(void **state)
{
	(void)state;
	many_timers(300000, 0);
}

/* Armed timers belong to their owners: freeing the loop frees only its
 * own arrays (LeakSanitizer checks the rest). */
static void test_timer_loop_free_armed(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct rec r[100];

	(void)state;
	for (int i = 0; i < 100; i++) {
		rec_init(&r[i], i);
		assert_int_equal(ev_timer_arm(loop, &r[i].t, vdv_now_ns() + 1000 * MS), 0);
	}
	ev_loop_free(loop);
	for (int i = 0; i < 100; i++)
		assert_int_equal(r[i].fired, 0);
}

/* ---- registrations: many fds added and removed in any order ---- */

#define REG_FDS 400

struct reg {
	int fd;
	bool registered;
	unsigned calls;
};

static void reg_handler(struct ev_loop *loop, int fd, uint32_t events, void *opaque)
{
	struct reg *r = opaque;
	uint64_t v;
	(void)loop, (void)events;

	assert_int_equal(fd, r->fd);
	assert_true(r->registered);
	assert_int_equal(read(fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	r->calls++;
}

/*
 * Every registered fd gets its own events with its own opaque, whatever
 * the order of adds and removes (the fd map deletes without tombstones by
 * shifting entries back: a wrong shift loses or misroutes an fd), and a
 * removed fd is unknown to ev_mod/ev_del and may be added again.
 */
static void test_many_registrations(void **state)
{
	static struct reg regs[REG_FDS];
	struct ev_loop *loop = ev_loop_new();
	unsigned seed = 12345;
	(void)state;

	assert_non_null(loop);
	for (unsigned i = 0; i < REG_FDS; i++) {
		regs[i] = (struct reg){ .fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) };
		assert_true(regs[i].fd >= 0);
	}
	for (unsigned round = 0; round < 20; round++) {
		unsigned expected = 0, got = 0;

		/* Flip a random third of the registrations. */
		for (unsigned k = 0; k < REG_FDS / 3; k++) {
			struct reg *r;

			seed = seed * 1103515245u + 12345u;
			r = &regs[(seed >> 8) % REG_FDS];
			if (r->registered) {
				assert_int_equal(ev_del(loop, r->fd), 0);
				assert_int_equal(ev_mod(loop, r->fd, EPOLLIN), -ENOENT);
				assert_int_equal(ev_del(loop, r->fd), -ENOENT);
			} else {
				/* No handler is refused: a slot without one is free. */
				assert_int_equal(ev_add(loop, r->fd, EPOLLIN, NULL, r), -EINVAL);
				assert_int_equal(ev_add(loop, r->fd, EPOLLIN, reg_handler, r), 0);
				assert_int_equal(ev_add(loop, r->fd, EPOLLIN, reg_handler, r),
						 -EEXIST);
			}
			r->registered = !r->registered;
		}
		for (unsigned i = 0; i < REG_FDS; i++) {
			uint64_t one = 1;

			regs[i].calls = 0;
			assert_int_equal(write(regs[i].fd, &one, sizeof(one)), (ssize_t)sizeof(one));
			if (regs[i].registered) {
				assert_int_equal(ev_mod(loop, regs[i].fd, EPOLLIN), 0);
				expected++;
			}
		}
		while (got < expected) {
			int n = ev_run_once(loop, 1000);

			assert_true(n > 0);
			got += (unsigned)n;
		}
		assert_int_equal(got, expected);
		for (unsigned i = 0; i < REG_FDS; i++) {
			uint64_t v;

			assert_int_equal(regs[i].calls, regs[i].registered ? 1 : 0);
			/* Unregistered ones still hold their count: drain it. */
			if (!regs[i].registered)
				assert_int_equal(read(regs[i].fd, &v, sizeof(v)), (ssize_t)sizeof(v));
		}
	}
	ev_loop_free(loop);
	for (unsigned i = 0; i < REG_FDS; i++)
		close(regs[i].fd);
}

/* ---- several clients on one loop (VMs sharing a worker) ---- */

struct cl {
	struct ev_client c;
	unsigned hooks, polls, begins, ends;
	bool more_once;       /* the hook asks for one more turn, once */
	unsigned hit_at;      /* poll() finds work on this call, 0 never */
};

static bool cl_hook(struct ev_loop *loop, void *opaque)
{
	struct cl *c = opaque;
	(void)loop;

	c->hooks++;
	if (c->more_once) {
		c->more_once = false;
		return true;
	}
	return false;
}

static bool cl_poll(void *opaque)
{
	struct cl *c = opaque;

	return ++c->polls == c->hit_at;
}

static void cl_begin(void *opaque)
{
	((struct cl *)opaque)->begins++;
}

static bool cl_end(void *opaque)
{
	((struct cl *)opaque)->ends++;
	return false;
}

static const struct ev_poll_ops cl_ops = { .poll = cl_poll, .begin = cl_begin, .end = cl_end };

static void cl_init(struct cl *c, uint32_t poll_ns)
{
	memset(c, 0, sizeof(*c));
	c->c = (struct ev_client){ .before_sleep = cl_hook, .poll = poll_ns ? &cl_ops : NULL,
				   .opaque = c, .poll_max_ns = poll_ns };
}

/* Every client's hook runs every turn; one client's "more work" keeps the
 * loop from sleeping for all; a removed client is never called again. */
static void test_clients_hooks(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct cl a, b;
	(void)state;

	cl_init(&a, 0);
	cl_init(&b, 0);
	ev_client_add(loop, &a.c);
	ev_client_add(loop, &b.c);
	ev_client_add(loop, &a.c); /* twice: no effect */
	b.more_once = true;
	/* b left work: the turn does not block (a 5 s timeout would show). */
	int64_t t0 = vdv_now_ns();
	assert_int_equal(ev_run_once(loop, 5000), 0);
	assert_true(vdv_now_ns() - t0 < 2000000000LL);
	assert_int_equal(a.hooks, 1);
	assert_int_equal(b.hooks, 1);
	assert_int_equal(ev_run_once(loop, 0), 0);
	assert_int_equal(a.hooks, 2);
	assert_int_equal(b.hooks, 2);
	ev_client_del(loop, &a.c);
	assert_int_equal(ev_run_once(loop, 0), 0);
	assert_int_equal(a.hooks, 2);
	assert_int_equal(b.hooks, 3);
	ev_client_del(loop, &b.c);
	ev_client_del(loop, &b.c); /* twice: no effect */
	ev_loop_free(loop);
}

/* Polling: the window is the largest client's, every poller is begun and
 * ended, and work found by any one of them ends the window for all; with
 * the polling client gone the loop does not poll. */
static void test_clients_poll(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct cl a, b;
	(void)state;

	cl_init(&a, 0);                 /* hook only */
	cl_init(&b, 50 * 1000 * 1000);  /* polls, up to 50 ms */
	ev_client_add(loop, &a.c);
	ev_client_add(loop, &b.c);
	/* Grow the window: short sleeps (timeouts of 1 ms), to the 50 ms cap
	 * (4 us doubled 14 times), so that three polls fit in it even when
	 * each yield hands the CPU to another task for a few ms (a busy
	 * machine: with 8 doublings the window was 1 ms and this failed). */
	for (int i = 0; i < 15; i++)
		ev_run_once(loop, 1);
	assert_true(ev_polling(loop));
	b.hit_at = b.polls + 3;
	assert_int_equal(ev_run_once(loop, 1000), 1);
	assert_int_equal(b.polls, b.hit_at);
	assert_true(b.begins >= 1 && b.begins == b.ends);
	assert_int_equal(a.polls, 0);
	assert_int_equal(a.begins, 0);
	ev_client_del(loop, &b.c);
	assert_false(ev_polling(loop));
	ev_loop_free(loop);
}

static void cl_on_fd(struct ev_loop *loop, int fd, uint32_t events, void *opaque)
{
	uint64_t v;
	(void)loop, (void)events;

	if (read(fd, &v, sizeof(v)) == sizeof(v))
		(*(unsigned *)opaque)++;
}

/* A client that always leaves work (a VM streaming on a shared worker)
 * means turns without a window; every poller still gets one look per
 * turn, each of them (not only up to the first with work), outside
 * begin/end, and fd events are still read in such a turn. Without the
 * look a poller whose kicks are off was never looked at while its
 * neighbour had work. */
static void test_turn_without_window_polls_every_client(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct cl a, b;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	unsigned fd_events = 0;
	uint64_t one = 1;
	(void)state;

	assert_true(efd >= 0);
	cl_init(&a, 50 * 1000 * 1000);
	cl_init(&b, 50 * 1000 * 1000);
	ev_client_add(loop, &a.c);
	ev_client_add(loop, &b.c);
	assert_int_equal(ev_add(loop, efd, EPOLLIN, cl_on_fd, &fd_events), 0);
	for (int i = 0; i < 15; i++) /* grow the window, as in the test above */
		ev_run_once(loop, 1);
	assert_true(ev_polling(loop));
	a.polls = b.polls = a.begins = b.begins = 0;
	a.hit_at = 1; /* a finds work at its first look */
	b.hit_at = 4;
	for (unsigned turn = 1; turn <= 5; turn++) {
		a.more_once = true; /* a's hook: more work, so no window */
		if (turn == 4)
			assert_int_equal(write(efd, &one, sizeof(one)), (ssize_t)sizeof(one));
		int r = ev_run_once(loop, 5000);

		assert_int_equal(b.polls, turn);
		assert_int_equal(a.polls, turn);
		/* b's work at its 4th look counts; so does the fd event. */
		assert_int_equal(r, turn == 4 ? 2 : turn == 1 ? 1 : 0);
	}
	assert_int_equal(fd_events, 1);
	assert_int_equal(a.begins, 0);
	assert_int_equal(b.begins, 0);
	ev_client_del(loop, &a.c);
	ev_client_del(loop, &b.c);
	ev_loop_free(loop);
	close(efd);
}

/* ---- ev_call: other threads hand a function to a running loop ---- */

struct callee {
	struct ev_loop *loop;
	pthread_t loop_thread;
	pthread_t ran_on;
	unsigned runs;
};

static void callee_fn(void *opaque)
{
	struct callee *c = opaque;

	c->ran_on = pthread_self();
	c->runs++;
}

static void *loop_main(void *arg)
{
	ev_run(arg);
	return NULL;
}

static void test_call_runs_on_loop_thread(void **state)
{
	struct callee c = { .loop = ev_loop_new() };
	(void)state;

	assert_non_null(c.loop);
	/* Not running yet: a call waits for it, bounded. */
	assert_int_equal(ev_call(c.loop, callee_fn, &c, 50), -ETIMEDOUT);
	assert_int_equal(pthread_create(&c.loop_thread, NULL, loop_main, c.loop), 0);
	/* The timed-out call runs once the loop does, then ours. */
	assert_int_equal(ev_call(c.loop, callee_fn, &c, 5000), 0);
	assert_int_equal(c.runs, 2);
	assert_true(pthread_equal(c.ran_on, c.loop_thread));
	for (int i = 0; i < 100; i++)
		assert_int_equal(ev_call(c.loop, callee_fn, &c, 5000), 0);
	assert_int_equal(c.runs, 102);
	ev_stop(c.loop);
	pthread_join(c.loop_thread, NULL);
	ev_loop_free(c.loop);
}

/* From the loop's own thread (a handler), the call runs at once. */
static void call_from_loop(void *opaque)
{
	struct callee *c = opaque;

	assert_int_equal(ev_call(c->loop, callee_fn, c, 0), 0);
	assert_int_equal(c->runs, 1);
}

static void test_call_from_loop_thread(void **state)
{
	struct callee c = { .loop = ev_loop_new() };
	(void)state;

	assert_int_equal(pthread_create(&c.loop_thread, NULL, loop_main, c.loop), 0);
	assert_int_equal(ev_call(c.loop, call_from_loop, &c, 5000), 0);
	assert_int_equal(c.runs, 1);
	ev_stop(c.loop);
	pthread_join(c.loop_thread, NULL);
	ev_loop_free(c.loop);
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_registrations),
		cmocka_unit_test(test_clients_hooks),
		cmocka_unit_test(test_clients_poll),
		cmocka_unit_test(test_turn_without_window_polls_every_client),
		cmocka_unit_test(test_call_runs_on_loop_thread),
		cmocka_unit_test(test_call_from_loop_thread),
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
		cmocka_unit_test(test_timer_fires_once),
		cmocka_unit_test(test_timer_order),
		cmocka_unit_test(test_timer_cancel_before_due),
		cmocka_unit_test(test_timer_rearm_moves),
		cmocka_unit_test(test_timer_cancel_from_callback),
		cmocka_unit_test(test_timer_rearm_self_now),
		cmocka_unit_test(test_timer_bounds_sleep),
		cmocka_unit_test(test_timer_armed_by_hook),
		cmocka_unit_test(test_timer_caps_poll_window),
		cmocka_unit_test(test_timer_free_owner_in_callback),
		cmocka_unit_test(test_timer_counts_with_fd_events),
		cmocka_unit_test(test_timer_cancel_disarmed_noop),
		cmocka_unit_test(test_timer_many_random),
		cmocka_unit_test(test_timer_300k_one_pass),
		cmocka_unit_test(test_timer_loop_free_armed),
	};

	/* No SA_RESTART: the alarm must end a blocked epoll_wait. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
