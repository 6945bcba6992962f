/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "util/event_loop.h"

#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/stat.h"

#define EV_BATCH 64
/* First polling window after a short sleep; doubled on each further one
 * (QEMU's defaults for the same algorithm). */
#define EV_POLL_GROW_BASE_NS 4000u

/*
 * heap_idx of a timer: 1..heap_len while it is in the heap (1-based, so
 * that 0 can mean "not armed"), EV_TIMER_LATE | i while it waits in
 * late[i] (see run_timers()). EV_TIMER_MAX bounds the armed timers so both
 * encodings fit, and so ev_run_once()'s count of fired timers fits an int.
 */
#define EV_TIMER_LATE (1u << 31)
#define EV_TIMER_MAX (1u << 30)

/*
 * Registrations live in a dense array of slots, found by fd through a
 * small open-addressing map: memory grows with what this loop watches, not
 * with the process' highest fd (a thousand VM loops in one process, each
 * with an fd-indexed array, once cost 150 KiB each). Each slot carries a
 * generation number that also travels in the epoll cookie, so an event
 * for an fd that was removed (or removed and its slot reused) earlier in
 * the same batch is ignored.
 */
struct ev_slot {
	ev_handler handler;     /* NULL: the slot is free */
	void *opaque;
	union {
		int fd;             /* while in use */
		uint32_t next_free; /* free list link, while free */
	};
	uint32_t gen;
};

/* One ev_call(): shared by the caller and the loop, freed by whichever
 * lets go last (a caller that timed out leaves it to the loop). */
struct ev_call_rec {
	void (*fn)(void *opaque);
	void *opaque;
	struct ev_call_rec *next;
	bool done;
	unsigned refs;
};

#define EV_NO_SLOT UINT32_MAX
/* The cookie of the wake fd: no slot index reaches it. */
#define EV_WAKE_COOKIE UINT64_MAX

struct ev_loop {
	int epfd;
	int wakefd;
	struct ev_slot *slots;
	uint32_t nslots;        /* allocated */
	uint32_t free_head;     /* first free slot, or EV_NO_SLOT */
	uint32_t *map;          /* fd -> slot index + 1 (0: empty), linear probing */
	uint32_t map_cap;       /* a power of two, at least twice the slots in use */
	uint32_t nused;
	struct ev_client *clients;   /* in the order added */
	struct ev_client own_hook;   /* ev_set_before_sleep */
	struct ev_client own_poll;   /* ev_set_poll */
	unsigned npollers;           /* clients that poll */
	unsigned nclients;
	uint32_t poll_max_ns;        /* the largest of theirs */
	uint32_t poll_ns;            /* current window, 0..poll_max_ns */
	/* ev_call(): calls from other threads, run between turns. */
	pthread_mutex_t calls_lock;
	pthread_cond_t calls_done;
	struct ev_call_rec *calls, **calls_tail;
	atomic_bool running;         /* a thread is in ev_run() */
	pthread_t runner;
	struct ev_poll_stats poll_stats;
	/* Min-heap of armed timers by deadline, heap[1] the earliest; heap[0]
	 * unused. heap_cap always covers every armed timer (heap and late),
	 * so moving the late ones in at the end of a pass cannot fail. */
	struct ev_timer **heap;
	size_t heap_len, heap_cap;
	/* Timers armed during a pass for a deadline <= timers_now: they fire
	 * in the next pass (see run_timers()). Empty outside a pass. */
	struct ev_timer **late;
	size_t late_len, late_cap;
	int64_t timers_now;
	bool timers_running;
	atomic_bool stop;
};

static void run_calls(struct ev_loop *loop);

static uint64_t cookie(uint32_t idx, uint32_t gen)
{
	return (uint64_t)idx | ((uint64_t)gen << 32);
}

struct ev_loop *ev_loop_new(void)
{
	struct ev_loop *loop = calloc(1, sizeof(*loop));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!loop)
		return NULL;
	loop->free_head = EV_NO_SLOT;
	pthread_mutex_init(&loop->calls_lock, NULL);
	pthread_cond_init(&loop->calls_done, NULL);
	loop->calls_tail = &loop->calls;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->epfd < 0 || loop->wakefd < 0)
		goto fail;
	/* The wake fd uses a cookie no real fd can have. */
	ev.data.u64 = EV_WAKE_COOKIE;
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
	free(loop->map);
	pthread_mutex_destroy(&loop->calls_lock);
	pthread_cond_destroy(&loop->calls_done);
	/* The timers belong to their owners (who may have freed them
	 * already): only the arrays go. */
	free(loop->heap);
	free(loop->late);
	free(loop);
}

static uint32_t map_home(const struct ev_loop *loop, int fd)
{
	return ((uint32_t)fd * 0x9e3779b1u) & (loop->map_cap - 1);
}

/* The map position holding fd, or the empty one where it would go. */
static uint32_t map_pos(const struct ev_loop *loop, int fd)
{
	uint32_t i = map_home(loop, fd);

	while (loop->map[i] && loop->slots[loop->map[i] - 1].fd != fd)
		i = (i + 1) & (loop->map_cap - 1);
	return i;
}

/* The slot registered for fd, or NULL. */
static struct ev_slot *find_slot(const struct ev_loop *loop, int fd)
{
	uint32_t i;

	if (fd < 0 || !loop->map_cap)
		return NULL;
	i = map_pos(loop, fd);
	return loop->map[i] ? &loop->slots[loop->map[i] - 1] : NULL;
}

/* Room in the map for one more entry at a load of at most 1/2. */
static int map_reserve(struct ev_loop *loop)
{
	uint32_t cap = loop->map_cap ? loop->map_cap : 16, *old = loop->map, old_cap = loop->map_cap;

	while ((loop->nused + 1) * 2 > cap)
		cap *= 2;
	if (cap == loop->map_cap)
		return 0;
	loop->map = calloc(cap, sizeof(*loop->map));
	if (!loop->map) {
		loop->map = old;
		return -ENOMEM;
	}
	loop->map_cap = cap;
	for (uint32_t i = 0; i < old_cap; i++)
		if (old[i])
			loop->map[map_pos(loop, loop->slots[old[i] - 1].fd)] = old[i];
	free(old);
	return 0;
}

/* Removes fd's entry, shifting the entries after it back into the gap
 * (linear probing without tombstones). */
static void map_remove(struct ev_loop *loop, int fd)
{
	uint32_t mask = loop->map_cap - 1, i = map_pos(loop, fd), j = i;

	if (!loop->map[i])
		return;
	for (;;) {
		uint32_t home;

		loop->map[i] = 0;
		for (;;) {
			j = (j + 1) & mask;
			if (!loop->map[j])
				return;
			home = map_home(loop, loop->slots[loop->map[j] - 1].fd);
			/* Stays unless its home lies cyclically outside (i, j]. */
			if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
				continue;
			break;
		}
		loop->map[i] = loop->map[j];
		i = j;
	}
}

/* A free slot index, growing the array when none is left. */
static int take_slot(struct ev_loop *loop, uint32_t *out)
{
	if (loop->free_head == EV_NO_SLOT) {
		uint32_t n = loop->nslots ? loop->nslots * 2 : 8;
		struct ev_slot *s;

		if (n >= EV_NO_SLOT / 2)
			return -ENOMEM;
		s = realloc(loop->slots, n * sizeof(*s));
		if (!s)
			return -ENOMEM;
		memset(s + loop->nslots, 0, (n - loop->nslots) * sizeof(*s));
		/* New slots join the free list, lowest index first. */
		for (uint32_t i = n; i-- > loop->nslots;) {
			s[i].next_free = loop->free_head;
			loop->free_head = i;
		}
		loop->slots = s;
		loop->nslots = n;
	}
	*out = loop->free_head;
	loop->free_head = loop->slots[*out].next_free;
	return 0;
}

static void put_slot(struct ev_loop *loop, uint32_t idx)
{
	loop->slots[idx].next_free = loop->free_head;
	loop->free_head = idx;
}

int ev_add(struct ev_loop *loop, int fd, uint32_t events, ev_handler h, void *opaque)
{
	struct epoll_event ev = { .events = events };
	struct ev_slot *slot;
	uint32_t idx;
	int r;

	if (fd < 0)
		return -EBADF;
	if (!h)
		return -EINVAL;
	if (find_slot(loop, fd))
		return -EEXIST;
	r = map_reserve(loop);
	if (r == 0)
		r = take_slot(loop, &idx);
	if (r < 0)
		return r;
	slot = &loop->slots[idx];
	slot->gen++;
	ev.data.u64 = cookie(idx, slot->gen);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		r = -errno;
		put_slot(loop, idx);
		return r;
	}
	slot->fd = fd;
	slot->handler = h;
	slot->opaque = opaque;
	loop->map[map_pos(loop, fd)] = idx + 1;
	loop->nused++;
	return 0;
}

int ev_mod(struct ev_loop *loop, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events };
	struct ev_slot *slot = find_slot(loop, fd);

	if (!slot)
		return -ENOENT;
	ev.data.u64 = cookie((uint32_t)(slot - loop->slots), slot->gen);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int ev_forget(struct ev_loop *loop, int fd)
{
	struct ev_slot *slot = find_slot(loop, fd);

	if (!slot)
		return -ENOENT;
	map_remove(loop, fd);
	slot->gen++;
	slot->handler = NULL;
	slot->opaque = NULL;
	put_slot(loop, (uint32_t)(slot - loop->slots));
	loop->nused--;
	return 0;
}

int ev_del(struct ev_loop *loop, int fd)
{
	int r = ev_forget(loop, fd);

	if (r == 0 && epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
		return -errno;
	return r;
}

static void recount_pollers(struct ev_loop *loop)
{
	uint32_t max = 0;
	unsigned n = 0;

	for (struct ev_client *c = loop->clients; c; c = c->next)
		if (c->poll && c->poll_max_ns) {
			n++;
			if (c->poll_max_ns > max)
				max = c->poll_max_ns;
		}
	loop->npollers = n;
	loop->poll_max_ns = max;
	n = 0;
	for (struct ev_client *c = loop->clients; c; c = c->next)
		n++;
	loop->nclients = n;
	if (loop->poll_ns > max)
		__atomic_store_n(&loop->poll_ns, max, __ATOMIC_RELAXED);
}

void ev_client_add(struct ev_loop *loop, struct ev_client *c)
{
	struct ev_client **p = &loop->clients;

	if (c->added)
		return;
	while (*p)
		p = &(*p)->next;
	c->next = NULL;
	*p = c;
	c->added = true;
	recount_pollers(loop);
}

void ev_client_del(struct ev_loop *loop, struct ev_client *c)
{
	if (!c->added)
		return;
	for (struct ev_client **p = &loop->clients; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	c->added = false;
	c->next = NULL;
	recount_pollers(loop);
}

void ev_set_before_sleep(struct ev_loop *loop, ev_hook hook, void *opaque)
{
	loop->own_hook.before_sleep = hook;
	loop->own_hook.opaque = opaque;
	ev_client_add(loop, &loop->own_hook);
}

void ev_set_poll(struct ev_loop *loop, const struct ev_poll_ops *ops, void *opaque,
		 uint32_t max_ns)
{
	loop->own_poll.poll = max_ns ? ops : NULL;
	loop->own_poll.poll_max_ns = max_ns;
	loop->own_poll.opaque = opaque;
	loop->poll_ns = 0;
	ev_client_add(loop, &loop->own_poll);
	recount_pollers(loop);
}

bool ev_shared(const struct ev_loop *loop)
{
	return loop->nclients > 1;
}

bool ev_polling(const struct ev_loop *loop)
{
	return loop->npollers && loop->poll_ns;
}

void ev_get_poll_stats(const struct ev_loop *loop, struct ev_poll_stats *out)
{
	out->polls = STAT_GET(loop->poll_stats.polls);
	out->hits = STAT_GET(loop->poll_stats.hits);
	out->sleeps = STAT_GET(loop->poll_stats.sleeps);
	out->window_ns = STAT_GET(loop->poll_ns);
}

/* Timers: a binary min-heap, O(log n) arm and cancel through heap_idx. */

static bool earlier(const struct ev_timer *a, const struct ev_timer *b)
{
	return a->deadline_ns < b->deadline_ns;
}

static void heap_set(struct ev_loop *loop, size_t i, struct ev_timer *t)
{
	loop->heap[i] = t;
	t->heap_idx = (unsigned)i;
}

static void sift_up(struct ev_loop *loop, size_t i)
{
	struct ev_timer *t = loop->heap[i];

	while (i > 1 && earlier(t, loop->heap[i / 2])) {
		heap_set(loop, i, loop->heap[i / 2]);
		i /= 2;
	}
	heap_set(loop, i, t);
}

static void sift_down(struct ev_loop *loop, size_t i)
{
	struct ev_timer *t = loop->heap[i];

	for (;;) {
		size_t c = 2 * i;

		if (c > loop->heap_len)
			break;
		if (c < loop->heap_len && earlier(loop->heap[c + 1], loop->heap[c]))
			c++;
		if (!earlier(loop->heap[c], t))
			break;
		heap_set(loop, i, loop->heap[c]);
		i = c;
	}
	heap_set(loop, i, t);
}

/* Restores the heap order around i after heap[i]'s deadline changed. */
static void heap_fix(struct ev_loop *loop, size_t i)
{
	if (i > 1 && earlier(loop->heap[i], loop->heap[i / 2]))
		sift_up(loop, i);
	else
		sift_down(loop, i);
}

/* Capacity is reserved by the caller. */
static void heap_push(struct ev_loop *loop, struct ev_timer *t)
{
	heap_set(loop, ++loop->heap_len, t);
	sift_up(loop, loop->heap_len);
}

static void heap_remove(struct ev_loop *loop, struct ev_timer *t)
{
	size_t i = t->heap_idx;
	struct ev_timer *last = loop->heap[loop->heap_len--];

	t->heap_idx = 0;
	if (last != t) {
		heap_set(loop, i, last);
		heap_fix(loop, i);
	}
}

static void late_remove(struct ev_loop *loop, struct ev_timer *t)
{
	size_t i = t->heap_idx & ~EV_TIMER_LATE;
	struct ev_timer *last = loop->late[--loop->late_len];

	t->heap_idx = 0;
	if (last != t) {
		loop->late[i] = last;
		last->heap_idx = EV_TIMER_LATE | (unsigned)i;
	}
}

/* Grows *arr (doubling) to hold at least n entries. */
static int reserve(struct ev_timer ***arr, size_t *cap, size_t n)
{
	size_t c = *cap ? *cap : 64;
	struct ev_timer **a;

	if (n <= *cap)
		return 0;
	while (c < n)
		c *= 2;
	a = realloc(*arr, c * sizeof(*a));
	if (!a)
		return -ENOMEM;
	*arr = a;
	*cap = c;
	return 0;
}

void ev_timer_init(struct ev_timer *t, ev_timer_fn fn, void *opaque)
{
	t->deadline_ns = 0;
	t->fn = fn;
	t->opaque = opaque;
	t->heap_idx = 0;
}

void ev_timer_cancel(struct ev_loop *loop, struct ev_timer *t)
{
	if (!t->heap_idx)
		return;
	if (t->heap_idx & EV_TIMER_LATE)
		late_remove(loop, t);
	else
		heap_remove(loop, t);
}

int ev_timer_arm(struct ev_loop *loop, struct ev_timer *t, int64_t deadline_ns)
{
	/* Armed by a callback of the running pass for a time that pass
	 * counts as due: set aside, or the pass might never end. */
	bool late = loop->timers_running && deadline_ns <= loop->timers_now;
	size_t armed = loop->heap_len + loop->late_len + (t->heap_idx ? 0 : 1);
	int r;

	/* Allocate first, so that on failure t is left as it was. */
	if (armed > EV_TIMER_MAX)
		return -ENOMEM;
	r = reserve(&loop->heap, &loop->heap_cap, armed + 1);
	if (r == 0 && late)
		r = reserve(&loop->late, &loop->late_cap, loop->late_len + 1);
	if (r < 0)
		return r;
	if (!late && t->heap_idx && !(t->heap_idx & EV_TIMER_LATE)) {
		/* Re-arm within the heap: move it in place. */
		t->deadline_ns = deadline_ns;
		heap_fix(loop, t->heap_idx);
		return 0;
	}
	ev_timer_cancel(loop, t);
	t->deadline_ns = deadline_ns;
	if (late) {
		loop->late[loop->late_len] = t;
		t->heap_idx = EV_TIMER_LATE | (unsigned)loop->late_len++;
	} else {
		heap_push(loop, t);
	}
	return 0;
}

/*
 * Clamps timeout_ms (-1 = none) to the time left until the earliest timer,
 * rounded up to whole ms: rounding down would wake the loop just before
 * the deadline, and it would then spin with 0 ms timeouts until it passed.
 */
static int timer_timeout(const struct ev_loop *loop, int timeout_ms)
{
	int64_t deadline, now, ms;

	if (!loop->heap_len || timeout_ms == 0)
		return timeout_ms;
	deadline = loop->heap[1]->deadline_ns;
	now = vdv_now_ns();
	if (deadline <= now)
		return 0;
	/* Rounded up; this form cannot overflow for deadlines near INT64_MAX. */
	ms = (deadline - now - 1) / 1000000 + 1;
	if (timeout_ms > 0 && ms >= timeout_ms)
		return timeout_ms;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/*
 * Fires the timers that are due at the start of the pass, earliest first,
 * each disarmed before its fn runs. Only those: a timer that a callback
 * arms for a time already past goes to late[] and joins the heap when the
 * pass is over, so that a timer re-arming itself for "now" fires once per
 * pass instead of looping, and cannot starve others that were due. Returns
 * the number fired.
 */
static int run_timers(struct ev_loop *loop)
{
	/* Saved for an ev_run_once() nested in a callback. */
	bool outer = loop->timers_running;
	int64_t outer_now = loop->timers_now;
	int fired = 0;

	if (!loop->heap_len)
		return 0;
	loop->timers_now = vdv_now_ns(); /* once per pass */
	loop->timers_running = true;
	while (loop->heap_len && loop->heap[1]->deadline_ns <= loop->timers_now) {
		struct ev_timer *t = loop->heap[1];

		heap_remove(loop, t);
		t->fn(loop, t->opaque);
		fired++;
	}
	loop->timers_running = outer;
	loop->timers_now = outer_now;
	/* heap_cap covers these (see ev_timer_arm()). */
	while (loop->late_len)
		heap_push(loop, loop->late[--loop->late_len]);
	return fired;
}

/* Every poller, without stopping at the first that has work: each one
 * that has work notes it for its next before-sleep hook. */
static bool poll_all(struct ev_loop *loop)
{
	bool any = false;

	for (struct ev_client *c = loop->clients; c; c = c->next)
		if (c->poll && c->poll_max_ns && c->poll->poll(c->opaque))
			any = true;
	return any;
}

/*
 * Spins for the current window: ops->poll, then a non-blocking look at the
 * fds. Returns the number of fd events placed in evs (or -errno) and sets
 * *found when ops->poll (or ops->end) reported work.
 */
static int poll_window(struct ev_loop *loop, struct epoll_event *evs, bool *found)
{
	int64_t deadline = vdv_now_ns() + loop->poll_ns;
	int n = 0, err = 0;

	/* A timer due within the window ends it: it must not wait for
	 * a spin that finds nothing. */
	if (loop->heap_len && loop->heap[1]->deadline_ns < deadline)
		deadline = loop->heap[1]->deadline_ns;

	STAT_INC(loop->poll_stats.polls);
	*found = false;
	for (struct ev_client *c = loop->clients; c; c = c->next)
		if (c->poll && c->poll_max_ns)
			c->poll->begin(c->opaque);
	for (;;) {
		if (poll_all(loop)) {
			*found = true;
			break;
		}
		n = epoll_wait(loop->epfd, evs, EV_BATCH, 0);
		if (n < 0)
			err = errno; /* before an end() can change it */
		if (n != 0 || atomic_load_explicit(&loop->stop, memory_order_relaxed) ||
		    vdv_now_ns() >= deadline)
			break;
		/* Not a pause loop: on a busy machine the guest's vCPU or
		 * the host application may be waiting for this CPU, and the
		 * work we poll for comes from them. */
		sched_yield();
	}
	/* Every client switches back (each re-enables its notifications). */
	for (struct ev_client *c = loop->clients; c; c = c->next)
		if (c->poll && c->poll_max_ns && c->poll->end(c->opaque))
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
	uint32_t w = loop->poll_ns;

	if (block_ns <= (int64_t)w)
		return;
	if (block_ns > (int64_t)loop->poll_max_ns)
		w = 0;
	else if ((w = w ? w * 2 : EV_POLL_GROW_BASE_NS) > loop->poll_max_ns)
		w = loop->poll_max_ns;
	/* Read by other threads (ev_get_poll_stats). */
	__atomic_store_n(&loop->poll_ns, w, __ATOMIC_RELAXED);
}

int ev_run_once(struct ev_loop *loop, int timeout_ms)
{
	struct epoll_event evs[EV_BATCH];
	int n = 0, handled = 0;
	bool found = false, looked = false, polling;
	int64_t t0 = 0;

	for (struct ev_client *c = loop->clients; c; c = c->next)
		if (c->before_sleep && c->before_sleep(loop, c->opaque))
			timeout_ms = 0;
	/* After the hook, which may arm timers. A due timer means no
	 * window, like work left by the hook. */
	timeout_ms = timer_timeout(loop, timeout_ms);
	polling = loop->npollers && timeout_ms != 0;
	if (polling) {
		t0 = vdv_now_ns();
		if (loop->poll_ns) {
			n = poll_window(loop, evs, &found);
			if (n < 0)
				return n;
			/* The window took time: a timer may be due now. */
			timeout_ms = timer_timeout(loop, timeout_ms);
		}
	} else if (loop->npollers) {
		/* No window: some client has work left (timeout 0). A poller
		 * whose peers were told not to notify (ops->begin, or kicks
		 * left off because the loop polls) still gets its look every
		 * turn: a neighbour that always has work would otherwise keep
		 * it unseen until that work pauses (2-20 ms stalls of another
		 * VM's round trips on a shared worker, in a scheduler trace).
		 * The fds are still read below. */
		looked = poll_all(loop);
	}
	if (n == 0 && !found) {
		if (polling)
			STAT_INC(loop->poll_stats.sleeps);
		n = epoll_wait(loop->epfd, evs, EV_BATCH, timeout_ms);
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		if (polling)
			poll_adapt(loop, vdv_now_ns() - t0);
	} else {
		/* The window caught the event: it is kept as it is. (Timing
		 * a hit would count a preemption during the poll as a late
		 * event and grow the window for nothing.) */
		STAT_INC(loop->poll_stats.hits);
	}
	for (int i = 0; i < n; i++) {
		uint64_t c = evs[i].data.u64;
		uint32_t idx = (uint32_t)c;
		struct ev_slot *slot;

		if (c == EV_WAKE_COOKIE) {
			uint64_t v;
			ssize_t r = read(loop->wakefd, &v, sizeof(v));
			(void)r;
			run_calls(loop);
			continue;
		}
		if (idx >= loop->nslots)
			continue;
		slot = &loop->slots[idx];
		if (!slot->handler || slot->gen != (uint32_t)(c >> 32))
			continue;
		slot->handler(loop, slot->fd, evs[i].events, slot->opaque);
		handled++;
	}
	handled += run_timers(loop);
	/* Work the poll found runs in the next turn's before-sleep hook. */
	return handled + (found || looked ? 1 : 0);
}

/* Runs the calls queued so far, in order. */
static void run_calls(struct ev_loop *loop)
{
	struct ev_call_rec *list;

	pthread_mutex_lock(&loop->calls_lock);
	list = loop->calls;
	loop->calls = NULL;
	loop->calls_tail = &loop->calls;
	pthread_mutex_unlock(&loop->calls_lock);
	while (list) {
		struct ev_call_rec *rec = list;

		list = rec->next;
		rec->fn(rec->opaque);
		pthread_mutex_lock(&loop->calls_lock);
		rec->done = true;
		if (--rec->refs == 0)
			free(rec);
		pthread_cond_broadcast(&loop->calls_done);
		pthread_mutex_unlock(&loop->calls_lock);
	}
}

static bool on_loop_thread(const struct ev_loop *loop)
{
	return atomic_load(&loop->running) && pthread_equal(pthread_self(), loop->runner);
}

int ev_call(struct ev_loop *loop, void (*fn)(void *opaque), void *opaque, int timeout_ms)
{
	struct ev_call_rec *rec;
	struct timespec until;
	uint64_t one = 1;
	bool done;
	ssize_t w;

	if (on_loop_thread(loop)) {
		fn(opaque);
		return 0;
	}
	rec = calloc(1, sizeof(*rec));
	if (!rec)
		return -ENOMEM;
	rec->fn = fn;
	rec->opaque = opaque;
	rec->refs = 2;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&loop->calls_lock);
	*loop->calls_tail = rec;
	loop->calls_tail = &rec->next;
	pthread_mutex_unlock(&loop->calls_lock);
	/* After the record is queued: the wake-up that finds it. */
	w = write(loop->wakefd, &one, sizeof(one));
	(void)w;
	pthread_mutex_lock(&loop->calls_lock);
	while (!rec->done &&
	       pthread_cond_timedwait(&loop->calls_done, &loop->calls_lock, &until) != ETIMEDOUT)
		;
	done = rec->done;
	if (--rec->refs == 0)
		free(rec);
	pthread_mutex_unlock(&loop->calls_lock);
	return done ? 0 : -ETIMEDOUT;
}

int ev_run(struct ev_loop *loop)
{
	int r = 0;

	loop->runner = pthread_self();
	atomic_store(&loop->running, true);
	while (!atomic_load(&loop->stop)) {
		r = ev_run_once(loop, -1);
		if (r < 0)
			break;
		r = 0;
	}
	/* Nobody waits in vain: what was asked before the stop still runs. */
	run_calls(loop);
	atomic_store(&loop->running, false);
	return r;
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
