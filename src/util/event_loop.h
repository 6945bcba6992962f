/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * A small epoll event loop, one per thread. Handlers are registered per fd
 * with an opaque pointer; a before-sleep hook runs once per iteration before
 * blocking, which is where batched work (used-ring flushes, notifications)
 * gets done. One-shot timers (struct ev_timer, embedded in their owner, in
 * the style of Redis' time events) live in a min-heap ordered by deadline:
 * the loop sleeps no longer than the earliest one and runs the due ones
 * after the fd events of each iteration.
 */
#ifndef VDV_UTIL_EVENT_LOOP_H
#define VDV_UTIL_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct ev_loop;

/*
 * A one-shot timer embedded in its owner's struct (no allocation). Fields
 * are the loop's. A timer is disarmed before its fn runs, so fn may re-arm
 * it or free its owner. A timer armed from a timer callback for a deadline
 * that has already passed fires in the next iteration, not in the current
 * one (a callback re-arming itself for "now" cannot trap the loop). Timers
 * with equal deadlines fire in no particular order. The owner cancels its
 * timer before freeing it; ev_loop_free() leaves armed timers untouched.
 */
typedef void (*ev_timer_fn)(struct ev_loop *loop, void *opaque);
struct ev_timer {
	int64_t deadline_ns;   /* CLOCK_MONOTONIC ns (util/clock.h vdv_now_ns()) */
	ev_timer_fn fn;
	void *opaque;
	unsigned heap_idx;     /* private: position in the loop's heap, 0 = not armed */
};
/* Sets fn/opaque; the timer starts disarmed. */
void ev_timer_init(struct ev_timer *t, ev_timer_fn fn, void *opaque);
/* Arms (or re-arms) t to fire once at deadline_ns. Returns 0 or -ENOMEM
 * (then t is left as it was). */
int ev_timer_arm(struct ev_loop *loop, struct ev_timer *t, int64_t deadline_ns);
/* Disarms t if armed; safe on a disarmed timer and from within any
 * callback, including t's own. */
void ev_timer_cancel(struct ev_loop *loop, struct ev_timer *t);
static inline bool ev_timer_armed(const struct ev_timer *t) { return t->heap_idx != 0; }

/* Called with the epoll event mask (EPOLLIN, EPOLLOUT, EPOLLHUP, ...). */
typedef void (*ev_handler)(struct ev_loop *loop, int fd, uint32_t events, void *opaque);
/* Returns true when it left work for the next turn: the loop then polls
 * without blocking. */
typedef bool (*ev_hook)(struct ev_loop *loop, void *opaque);

struct ev_loop *ev_loop_new(void);
void ev_loop_free(struct ev_loop *loop);

/* Registration: returns 0 or -errno. An fd is registered at most once, with
 * a handler (NULL: -EINVAL). */
int ev_add(struct ev_loop *loop, int fd, uint32_t events, ev_handler h, void *opaque);
int ev_mod(struct ev_loop *loop, int fd, uint32_t events);
/* Safe to call from within a handler, also for fds with events pending in
 * the current batch: those are skipped. */
int ev_del(struct ev_loop *loop, int fd);

/* Like ev_del() for an fd about to be closed, without the epoll_ctl call:
 * closing the last reference removes it from the epoll set anyway. Only
 * for fds that were never duplicated. */
int ev_forget(struct ev_loop *loop, int fd);

/*
 * A loop may serve several owners (VMs sharing a worker thread): each
 * registers a client, embedded in its own struct (no allocation), with a
 * before-sleep hook, a poller, or both. Every turn runs every client's hook
 * (in the order added); the loop polls when any client polls, for a window
 * up to the largest max_ns among them, calling each client's poll in turn.
 * Add and remove from the loop's thread (or while it does not run), never
 * from within a hook.
 */
struct ev_client {
	ev_hook before_sleep;            /* or NULL */
	const struct ev_poll_ops *poll;  /* or NULL */
	void *opaque;
	uint32_t poll_max_ns;            /* 0: this client does not poll */
	struct ev_client *next;          /* private */
	bool added;                      /* private */
};
void ev_client_add(struct ev_loop *loop, struct ev_client *c);
void ev_client_del(struct ev_loop *loop, struct ev_client *c);
/* Whether more than one client (VM) shares the loop: each should then
 * take a smaller share of a turn, so the others' turn comes sooner. */
bool ev_shared(const struct ev_loop *loop);

/* A loop with one owner: its hook (the loop's own client; replaces the
 * previous one). */
void ev_set_before_sleep(struct ev_loop *loop, ev_hook hook, void *opaque);

/*
 * Adaptive polling (as QEMU's IOThreads do): when a turn found no more
 * work, the loop may spin for a while before it sleeps, calling
 * ops->poll (memory checks only, e.g. a virtqueue's avail index) and
 * looking at its fds without blocking. Work that arrives within the window
 * is picked up without a wake-up, and ops->begin / ops->end let the owner
 * tell its peers not to send notifications meanwhile (ops->end returns true
 * when work arrived while switching back). The window adapts: it grows
 * (up to max_ns) when the loop slept only briefly after giving up, and
 * drops to zero when a sleep outlasted max_ns, so an idle loop costs
 * nothing. max_ns 0 turns polling off. A turn without a window (a hook
 * left work) still calls every client's ops->poll once, outside
 * begin/end: it should return at once when notifications would tell.
 */
struct ev_poll_ops {
	bool (*poll)(void *opaque);  /* true: work is ready */
	void (*begin)(void *opaque);
	bool (*end)(void *opaque);
};
/* A loop with one owner: its poller (the loop's own client, as above). */
void ev_set_poll(struct ev_loop *loop, const struct ev_poll_ops *ops, void *opaque,
		 uint32_t max_ns);

/* True when the loop will spin a window, and so call ops->end, before it
 * next blocks: until then its owner may leave notifications off. */
bool ev_polling(const struct ev_loop *loop);

struct ev_poll_stats {
	uint64_t polls;     /* windows spun */
	uint64_t hits;      /* windows that found work */
	uint64_t sleeps;    /* blocking waits */
	uint32_t window_ns; /* the current window */
};
/* Safe from any thread while the loop runs (metrics). */
void ev_get_poll_stats(const struct ev_loop *loop, struct ev_poll_stats *out);

/* Runs until ev_stop() is called (from a handler or another thread). */
int ev_run(struct ev_loop *loop);

/*
 * Runs fn(opaque) on the loop's thread, between two turns, and waits for
 * it up to timeout_ms: the way another thread changes what a running loop
 * serves (registrations are not thread-safe). Called from the loop's own
 * thread, or while no thread runs the loop, fn runs at once. Returns 0 once
 * fn ran, -ETIMEDOUT if it did not run in time (it still will: opaque must
 * stay valid), -ENOMEM.
 */
int ev_call(struct ev_loop *loop, void (*fn)(void *opaque), void *opaque, int timeout_ms);
/* One iteration, waiting at most timeout_ms (-1 = forever) and no longer
 * than until the earliest timer is due. Returns the number of events
 * handled (fd events, fired timers, work found by polling) or -errno. */
int ev_run_once(struct ev_loop *loop, int timeout_ms);
/* Thread-safe: wakes the loop and makes ev_run return. */
void ev_stop(struct ev_loop *loop);
bool ev_stopped(const struct ev_loop *loop);

#endif
