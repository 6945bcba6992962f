/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "relay.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "app.h"
#include "baseline.h"
#include "csum.h"
#include "procstat.h"
#include "host_io.h"
#include "record.h"
#include "stats.h"

/* The guest's sleep per poll(), as the simulated guest's (dut_poll_join). */
#define RELAY_GUEST_POLL_MS 2
#define RELAY_MSG_MAX 4096u
/* The neighbour stream's writes, as VM A's in dut_neighbour.c. */
#define RELAY_BG_WRITE 65536u
#define NB_FLOOR_ID "nb_floor_p99_ratio"

struct relay {
	int fd;               /* the host socket's far end: the device's side */
	int irq;              /* eventfd: the guest's interrupt */
	size_t msg;
	bool app_calls;       /* the guest application's recv() and send() */
	atomic_bool stop;
	/* One message each way in shared memory, as a ring slot would be. */
	uint8_t req[RELAY_MSG_MAX], rep[RELAY_MSG_MAX];
	atomic_bool req_full, rep_full;
	int err;
};

/* The device: polls the socket and the guest's answer, never sleeps, and
 * yields between looks as the daemon does in its polling window. */
static void *relay_device(void *arg)
{
	struct relay *r = arg;
	size_t got = 0;

	while (!atomic_load(&r->stop)) {
		ssize_t n = recv(r->fd, r->req + got, r->msg - got, MSG_DONTWAIT);

		if (n > 0 && (got += (size_t)n) == r->msg) {
			uint64_t one = 1;

			got = 0;
			atomic_store_explicit(&r->req_full, true, memory_order_release);
			if (write(r->irq, &one, sizeof(one)) != sizeof(one)) {
				r->err = -errno;
				break;
			}
		} else if (n == 0) {
			break; /* the client is done */
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			r->err = -errno;
			break;
		}
		if (atomic_load_explicit(&r->rep_full, memory_order_acquire)) {
			int w;

			atomic_store(&r->rep_full, false);
			w = hio_write_full(r->fd, r->rep, r->msg);
			if (w) {
				r->err = w;
				break;
			}
		}
		sched_yield();
	}
	atomic_store(&r->stop, true);
	return NULL;
}

/* The guest: sleeps until its interrupt, answers through shared memory
 * (the device sees it without a kick, as the daemon polls the tx ring). */
static void *relay_guest(void *arg)
{
	struct relay *r = arg;

	while (!atomic_load(&r->stop)) {
		struct pollfd p = { .fd = r->irq, .events = POLLIN };
		uint64_t v;

		if (poll(&p, 1, RELAY_GUEST_POLL_MS) <= 0)
			continue;
		if (read(r->irq, &v, sizeof(v)) != sizeof(v))
			continue;
		if (!atomic_load_explicit(&r->req_full, memory_order_acquire))
			continue;
		atomic_store(&r->req_full, false);
		if (r->app_calls) {
			syscall(SYS_getppid); /* recv() */
			syscall(SYS_getppid); /* send() */
		}
		memcpy(r->rep, r->req, r->msg);
		atomic_store_explicit(&r->rep_full, true, memory_order_release);
	}
	return NULL;
}

/* A stream beside the round trips: three busy threads, as a neighbour VM's
 * guest, its worker and its host reader are: a writer of 64 KiB writes, a
 * middle thread copying from one socket pair to another, a reader. */
struct bg_stream {
	int a[2], b[2];
	atomic_bool stop;
	pthread_t tw, tm, tr;
};

static void *bg_write(void *arg)
{
	struct bg_stream *s = arg;

	while (!atomic_load(&s->stop))
		if (write(s->a[0], app_chunk(0, RELAY_BG_WRITE), RELAY_BG_WRITE) < 0)
			break;
	shutdown(s->a[0], SHUT_WR);
	return NULL;
}

static void *bg_copy(void *arg)
{
	static uint8_t buf[RELAY_BG_WRITE];
	struct bg_stream *s = arg;
	ssize_t n;

	while ((n = read(s->a[1], buf, sizeof(buf))) > 0)
		if (hio_write_full(s->b[0], buf, (size_t)n))
			break;
	shutdown(s->b[0], SHUT_WR);
	return NULL;
}

static void *bg_read(void *arg)
{
	static uint8_t buf[RELAY_BG_WRITE];
	struct bg_stream *s = arg;

	while (read(s->b[1], buf, sizeof(buf)) > 0)
		;
	return NULL;
}

static void bg_close(struct bg_stream *s)
{
	close(s->a[0]);
	close(s->a[1]);
	close(s->b[0]);
	close(s->b[1]);
}

/* Starts the three threads; 0, or -1 with the failure reported. */
static int bg_start(struct bench *b, struct bg_stream *s)
{
	int ms = base_join_ms(b);

	memset(s, 0, sizeof(*s));
	if (base_pair(b, NB_FLOOR_ID, s->a))
		return -1;
	if (base_pair(b, NB_FLOOR_ID, s->b)) {
		close(s->a[0]);
		close(s->a[1]);
		return -1;
	}
	if (hio_thread_start(&s->tr, bg_read, s))
		goto fail;
	if (hio_thread_start(&s->tm, bg_copy, s)) {
		shutdown(s->b[0], SHUT_WR);
		base_join_or_die(s->tr, ms, NB_FLOOR_ID);
		goto fail;
	}
	if (hio_thread_start(&s->tw, bg_write, s)) {
		shutdown(s->a[0], SHUT_WR);
		base_join_or_die(s->tm, ms, NB_FLOOR_ID);
		base_join_or_die(s->tr, ms, NB_FLOOR_ID);
		goto fail;
	}
	return 0;
fail:
	bench_fail(b, NB_FLOOR_ID, T_BASE, "stream thread: %s", strerror(errno));
	bg_close(s);
	return -1;
}

static void bg_stop(struct bench *b, struct bg_stream *s)
{
	int ms = base_join_ms(b);

	atomic_store(&s->stop, true);
	/* The writer ends its stream, the copier passes the end on. */
	base_join_or_die(s->tw, ms, NB_FLOOR_ID);
	base_join_or_die(s->tm, ms, NB_FLOOR_ID);
	base_join_or_die(s->tr, ms, NB_FLOOR_ID);
	bg_close(s);
}

/* One run of round trips through the relay; fills p50 and p99 (us). */
static int relay_measure(struct bench *b, const char *id, double *p50, double *p99)
{
	static struct relay r; /* 8 KiB of slots: not on the stack */
	struct app_rr c = { .msg = b->cfg.rr_msg, .warmup = 100, .max_iters = b->cfg.rr_iters };
	int join_ms = base_join_ms(b);
	pthread_t td, tg;
	int sv[2], ret = -1;

	if (c.msg > RELAY_MSG_MAX) {
		bench_fail(b, id, T_BASE, "message over %u bytes", RELAY_MSG_MAX);
		return -1;
	}
	memset(&r, 0, sizeof(r));
	c.samples_us = calloc(c.max_iters, sizeof(*c.samples_us));
	if (!c.samples_us)
		return -1;
	if (base_pair(b, id, sv)) {
		free(c.samples_us);
		return -1;
	}
	r.irq = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r.irq < 0) {
		bench_fail(b, id, T_BASE, "eventfd: %s", strerror(errno));
		goto out;
	}
	r.fd = sv[1];
	r.msg = c.msg;
	r.app_calls = b->cfg.guest_syscalls;
	c.fd = sv[0];
	if (hio_thread_start(&tg, relay_guest, &r)) {
		bench_fail(b, id, T_BASE, "thread: %s", strerror(errno));
		goto out;
	}
	if (hio_thread_start(&td, relay_device, &r)) {
		atomic_store(&r.stop, true);
		bench_fail(b, id, T_BASE, "thread: %s", strerror(errno));
		base_join_or_die(tg, join_ms, id);
		goto out;
	}
	c.deadline_ns = now_ns() + (int64_t)(b->cfg.duration_s * 1e9);
	app_rr_client(&c); /* ends with shutdown(SHUT_WR): the device sees EOF */
	base_join_or_die(td, join_ms, id);
	atomic_store(&r.stop, true);
	base_join_or_die(tg, join_ms, id);
	if (c.err || r.err || !c.nsamples) {
		bench_fail(b, id, T_BASE, "%s",
			   c.nsamples ? strerror(-(c.err ? c.err : r.err)) : "no samples");
	} else {
		*p50 = stats_percentile(c.samples_us, c.nsamples, 50);
		*p99 = stats_percentile(c.samples_us, c.nsamples, 99);
		ret = 0;
	}
out:
	if (r.irq >= 0)
		close(r.irq);
	close(sv[0]);
	close(sv[1]);
	free(c.samples_us);
	return ret;
}

int relay_rr(struct bench *b)
{
	double p50, p99;

	if (relay_measure(b, "rr_floor_p50", &p50, &p99))
		return -1;
	res_add(&b->res, "rr_floor_p50", T_BASE, p50);
	res_add(&b->res, "rr_floor_p99", T_BASE, p99);
	return 0;
}

int relay_nb_floor(struct bench *b)
{
	static unsigned turn; /* which phase goes first, alternating */
	double p50, alone = NAN, beside = NAN;
	bool beside_first = turn++ % 2;
	struct bg_stream s;
	int r;

	for (int i = 0; i < 2; i++) {
		bool with = beside_first == (i == 0);

		if (with && bg_start(b, &s))
			return -1;
		r = relay_measure(b, NB_FLOOR_ID, &p50, with ? &beside : &alone);
		if (with)
			bg_stop(b, &s);
		if (r)
			return -1;
	}
	res_add(&b->res, NB_FLOOR_ID, T_BASE, beside / alone);
	return 0;
}

/* ---- host->guest streams through the relay ---- */

/* Slots of shared memory the device fills from the host socket, as the
 * daemon fills up to 16 rx buffers (64 KiB) per readv. */
#define RELAY_SLOTS 16u
#define RELAY_SLOT_SIZE 65536u

struct relay_stream {
	int fd;                /* the host socket's far end */
	int irq;               /* eventfd: the guest's interrupt */
	bool app_calls, verify;
	uint8_t slot[RELAY_SLOTS][RELAY_SLOT_SIZE];
	uint32_t len[RELAY_SLOTS];
	/* seq_cst: the device publishes head then looks at guest_waits, the
	 * guest sets guest_waits then looks at head, so one of them sees the
	 * other (and the guest's poll() is bounded anyway). */
	atomic_uint head, tail;
	atomic_bool guest_waits, eof, stop;
	/* the guest's results */
	uint8_t app[RELAY_SLOT_SIZE];
	uint64_t bytes;
	struct csum sum;
	int64_t t_end_ns;
	int err;
};

/* The device: reads whatever the socket has into the next free slot (its
 * one copy) and interrupts the guest only if the guest sleeps. */
static void *relay_stream_device(void *arg)
{
	struct relay_stream *s = arg;
	uint64_t one = 1;

	while (!atomic_load(&s->stop)) {
		unsigned h = atomic_load(&s->head);
		ssize_t n;

		if (h - atomic_load(&s->tail) == RELAY_SLOTS) {
			sched_yield(); /* full: the guest is busy emptying */
			continue;
		}
		n = read(s->fd, s->slot[h % RELAY_SLOTS], RELAY_SLOT_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			s->err = -errno;
			break;
		}
		if (n == 0)
			break;
		s->len[h % RELAY_SLOTS] = (uint32_t)n;
		atomic_store(&s->head, h + 1);
		if (atomic_load(&s->guest_waits) && write(s->irq, &one, sizeof(one)) < 0) {
			s->err = -errno;
			break;
		}
	}
	atomic_store(&s->eof, true);
	if (write(s->irq, &one, sizeof(one)) < 0 && !s->err)
		s->err = -errno;
	return NULL;
}

/* The guest: takes each slot into its application's buffer (the copy
 * recv() makes, one application call per slot), sleeps when none is full. */
static void *relay_stream_guest(void *arg)
{
	struct relay_stream *s = arg;

	while (!atomic_load(&s->stop)) {
		unsigned t = atomic_load(&s->tail);
		struct pollfd p = { .fd = s->irq, .events = POLLIN };
		uint64_t v;

		if (t != atomic_load(&s->head)) {
			uint32_t n = s->len[t % RELAY_SLOTS];

			if (s->app_calls)
				syscall(SYS_getppid);
			memcpy(s->app, s->slot[t % RELAY_SLOTS], n);
			if (s->verify)
				csum_update(&s->sum, s->app, n);
			s->bytes += n;
			atomic_store(&s->tail, t + 1);
			continue;
		}
		if (atomic_load(&s->eof) && t == atomic_load(&s->head))
			break;
		atomic_store(&s->guest_waits, true);
		if (t == atomic_load(&s->head) && !atomic_load(&s->eof))
			poll(&p, 1, RELAY_GUEST_POLL_MS);
		atomic_store(&s->guest_waits, false);
		if (read(s->irq, &v, sizeof(v)) < 0 && errno != EAGAIN)
			s->err = -errno;
	}
	s->t_end_ns = now_ns();
	return NULL;
}

int relay_h2g(struct bench *b, size_t size)
{
	static struct relay_stream s; /* 2 MiB of slots and buffer */
	struct app_stream w = { .io_size = size, .verify = b->cfg.verify };
	int join_ms = base_join_ms(b);
	struct cpu_mark m;
	pthread_t td, tg, tw;
	char id[32];
	int64_t t0;
	int sv[2], ret = -1;

	rec_id(id, sizeof(id), "h2g_floor", size);
	memset(&s, 0, sizeof(s));
	if (base_pair(b, id, sv))
		return -1;
	s.irq = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s.irq < 0) {
		bench_fail(b, id, T_BASE, "eventfd: %s", strerror(errno));
		goto out;
	}
	s.fd = sv[1];
	s.app_calls = b->cfg.guest_syscalls;
	s.verify = b->cfg.verify;
	w.fd = sv[0];
	if (hio_thread_start(&tg, relay_stream_guest, &s)) {
		bench_fail(b, id, T_BASE, "thread: %s", strerror(errno));
		goto out;
	}
	if (hio_thread_start(&td, relay_stream_device, &s)) {
		atomic_store(&s.stop, true);
		base_join_or_die(tg, join_ms, id);
		bench_fail(b, id, T_BASE, "thread: %s", strerror(errno));
		goto out;
	}
	cpu_mark(&m, 0);
	t0 = now_ns();
	w.deadline_ns = t0 + (int64_t)(b->cfg.duration_s * 1e9);
	if (hio_thread_start(&tw, app_stream_write, &w)) {
		bench_fail(b, id, T_BASE, "thread: %s", strerror(errno));
		shutdown(sv[0], SHUT_WR); /* the device sees EOF, the guest ends */
	} else {
		base_join_or_die(tw, join_ms, id);
	}
	base_join_or_die(td, join_ms, id);
	base_join_or_die(tg, join_ms, id);
	if (!w.bytes)
		goto out; /* the writer never ran: failed above */
	if (w.err || s.err) {
		bench_fail(b, id, T_BASE, "%s", strerror(-(w.err ? w.err : s.err)));
		goto out;
	}
	if (rec_check_stream(b, id, T_BASE, w.bytes, &w.sum, s.bytes, &s.sum))
		goto out;
	rec_stream(b, id, T_BASE, s.bytes, s.t_end_ns - t0, cpu_since(&m));
	ret = 0;
out:
	if (s.irq >= 0)
		close(s.irq);
	close(sv[0]);
	close(sv[1]);
	return ret;
}
