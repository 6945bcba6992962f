/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "util/event_loop.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/clock.h"

#define EV_BATCH 64
/* First polling window after a short sleep; doubled on each further one
 * (QEMU's defaults for the same algorithm). */
#define EV_POLL_GROW_BASE_NS 4000u

/*
 * Registrations live in an array indexed by fd. Each carries a generation
 * number that also travels in the epoll cookie, so an event for an fd that
 * was removed (or removed and reused) earlier in the same batch is ignored.
 */
struct ev_slot {
	ev_handler handler;
	void *opaque;
	uint32_t gen;
	bool used;
};

struct ev_loop {
	int epfd;
	int wakefd;
	struct ev_slot *slots;
	size_t nslots;
	ev_hook before_sleep;
	void *before_sleep_opaque;
	const struct ev_poll_ops *poll_ops;
	void *poll_opaque;
	uint32_t poll_max_ns;
	uint32_t poll_ns;       /* current window, 0..poll_max_ns */
	struct ev_poll_stats poll_stats;
	atomic_bool stop;
};

static uint64_t cookie(int fd, uint32_t gen)
{
	return (uint64_t)(uint32_t)fd | ((uint64_t)gen << 32);
}

struct ev_loop *ev_loop_new(void)
{
	struct ev_loop *loop = calloc(1, sizeof(*loop));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->epfd < 0 || loop->wakefd < 0)
		goto fail;
	/* The wake fd uses a cookie no real fd can have. */
	ev.data.u64 = UINT64_MAX;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) < 0)
		goto fail;
	return loop;
fail:
	if (loop->epfd >= 0)
		close(loop->epfd);
	if (loop->wakefd >= 0)
		close(loop->wakefd);
	free(loop);
	return NULL;
}

void ev_loop_free(struct ev_loop *loop)
{
	if (!loop)
		return;
	close(loop->epfd);
	close(loop->wakefd);
	free(loop->slots);
	free(loop);
}

static int ensure_slot(struct ev_loop *loop, int fd)
{
	size_t n;
	struct ev_slot *s;

	if (fd < 0)
		return -EBADF;
	if ((size_t)fd < loop->nslots)
		return 0;
	n = loop->nslots ? loop->nslots : 64;
	while (n <= (size_t)fd)
		n *= 2;
	s = realloc(loop->slots, n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s + loop->nslots, 0, (n - loop->nslots) * sizeof(*s));
	loop->slots = s;
	loop->nslots = n;
	return 0;
}

int ev_add(struct ev_loop *loop, int fd, uint32_t events, ev_handler h, void *opaque)
{
	struct epoll_event ev = { .events = events };
	struct ev_slot *slot;
	int r = ensure_slot(loop, fd);

	if (r < 0)
		return r;
	slot = &loop->slots[fd];
	if (slot->used)
		return -EEXIST;
	slot->gen++;
	ev.data.u64 = cookie(fd, slot->gen);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	slot->handler = h;
	slot->opaque = opaque;
	slot->used = true;
	return 0;
}

int ev_mod(struct ev_loop *loop, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events };

	if (fd < 0 || (size_t)fd >= loop->nslots || !loop->slots[fd].used)
		return -ENOENT;
	ev.data.u64 = cookie(fd, loop->slots[fd].gen);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int ev_forget(struct ev_loop *loop, int fd)
{
	struct ev_slot *slot;

	if (fd < 0 || (size_t)fd >= loop->nslots || !loop->slots[fd].used)
		return -ENOENT;
	slot = &loop->slots[fd];
	slot->used = false;
	slot->gen++;
	slot->handler = NULL;
	slot->opaque = NULL;
	return 0;
}

int ev_del(struct ev_loop *loop, int fd)
{
	int r = ev_forget(loop, fd);

	if (r == 0 && epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
		return -errno;
	return r;
}

void ev_set_before_sleep(struct ev_loop *loop, ev_hook hook, void *opaque)
{
	loop->before_sleep = hook;
	loop->before_sleep_opaque = opaque;
}

void ev_set_poll(struct ev_loop *loop, const struct ev_poll_ops *ops, void *opaque,
		 uint32_t max_ns)
{
	loop->poll_ops = max_ns ? ops : NULL;
	loop->poll_opaque = opaque;
	loop->poll_max_ns = max_ns;
	loop->poll_ns = 0;
}

bool ev_polling(const struct ev_loop *loop)
{
	return loop->poll_ops && loop->poll_ns;
}

void ev_get_poll_stats(const struct ev_loop *loop, struct ev_poll_stats *out)
{
	*out = loop->poll_stats;
	out->window_ns = loop->poll_ns;
}

/*
 * Spins for the current window: ops->poll, then a non-blocking look at the
 * fds. Returns the number of fd events placed in evs (or -errno) and sets
 * *found when ops->poll (or ops->end) reported work.
 */
static int poll_window(struct ev_loop *loop, struct epoll_event *evs, bool *found)
{
	const struct ev_poll_ops *ops = loop->poll_ops;
	int64_t deadline = vdv_now_ns() + loop->poll_ns;
	int n = 0, err = 0;

	loop->poll_stats.polls++;
	*found = false;
	ops->begin(loop->poll_opaque);
	for (;;) {
		if (ops->poll(loop->poll_opaque)) {
			*found = true;
			break;
		}
		n = epoll_wait(loop->epfd, evs, EV_BATCH, 0);
		if (n < 0)
			err = errno; /* before ops->end can change it */
		if (n != 0 || atomic_load_explicit(&loop->stop, memory_order_relaxed) ||
		    vdv_now_ns() >= deadline)
			break;
		/* Not a pause loop: on a busy machine the guest's vCPU or
		 * the host application may be waiting for this CPU, and the
		 * work we poll for comes from them. */
		sched_yield();
	}
	if (ops->end(loop->poll_opaque))
		*found = true;
	if (n < 0)
		return err == EINTR ? 0 : -err;
	return n;
}

/* QEMU's rule: keep a window that caught the event, drop it when the
 * event came long after (an idle loop must not spin), grow it when the
 * event came soon after the window closed. */
static void poll_adapt(struct ev_loop *loop, int64_t block_ns)
{
	if (block_ns <= (int64_t)loop->poll_ns)
		return;
	if (block_ns > (int64_t)loop->poll_max_ns) {
		loop->poll_ns = 0;
		return;
	}
	loop->poll_ns = loop->poll_ns ? loop->poll_ns * 2 : EV_POLL_GROW_BASE_NS;
	if (loop->poll_ns > loop->poll_max_ns)
		loop->poll_ns = loop->poll_max_ns;
}

int ev_run_once(struct ev_loop *loop, int timeout_ms)
{
	struct epoll_event evs[EV_BATCH];
	int n = 0, handled = 0;
	bool found = false, polling;
	int64_t t0 = 0;

	if (loop->before_sleep && loop->before_sleep(loop, loop->before_sleep_opaque))
		timeout_ms = 0;
	polling = loop->poll_ops && timeout_ms != 0;
	if (polling) {
		t0 = vdv_now_ns();
		if (loop->poll_ns) {
			n = poll_window(loop, evs, &found);
			if (n < 0)
				return n;
		}
	}
	if (n == 0 && !found) {
		if (polling)
			loop->poll_stats.sleeps++;
		n = epoll_wait(loop->epfd, evs, EV_BATCH, timeout_ms);
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
	} else {
		loop->poll_stats.hits++;
	}
	if (polling)
		poll_adapt(loop, vdv_now_ns() - t0);
	for (int i = 0; i < n; i++) {
		uint64_t c = evs[i].data.u64;
		int fd = (int)(uint32_t)c;
		struct ev_slot *slot;

		if (c == UINT64_MAX) {
			uint64_t v;
			ssize_t r = read(loop->wakefd, &v, sizeof(v));
			(void)r;
			continue;
		}
		if ((size_t)fd >= loop->nslots)
			continue;
		slot = &loop->slots[fd];
		if (!slot->used || slot->gen != (uint32_t)(c >> 32))
			continue;
		slot->handler(loop, fd, evs[i].events, slot->opaque);
		handled++;
	}
	/* Work the poll found runs in the next turn's before-sleep hook. */
	return handled + (found ? 1 : 0);
}

int ev_run(struct ev_loop *loop)
{
	while (!atomic_load(&loop->stop)) {
		int r = ev_run_once(loop, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

void ev_stop(struct ev_loop *loop)
{
	uint64_t one = 1;
	ssize_t r;

	atomic_store(&loop->stop, true);
	r = write(loop->wakefd, &one, sizeof(one));
	(void)r;
}

bool ev_stopped(const struct ev_loop *loop)
{
	return atomic_load(&loop->stop);
}
