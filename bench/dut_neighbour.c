/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * A latency-sensitive VM next to a streaming one on the same worker: one
 * daemon with two VMs and --threads 1 (so both are served by one event
 * loop), VM B doing rr_msg-byte round trips as dut_rr.c does (host client,
 * guest echo), in two phases of the same daemon:
 *  alone:     VM A's VMM is connected but A does nothing;
 *  neighbour: VM A's guest streams 64 KiB writes guest->host as fast as
 *             the daemon takes them (host reader: app_stream_read).
 *  separate:  a second daemon with --threads 2, A streaming as above but
 *             on a worker of its own: the control. It shares the CPUs
 *             (A's guest, A's host reader, a busy worker) but not B's
 *             worker, so its p99 / alone says what the machine costs B,
 *             and the shared figure above it what sharing the worker adds.
 * Figures: B's p50/p99 in each phase, p99 neighbour / alone (target: <= 2,
 * a VM flooding its worker must not starve the others on it), the same for
 * separate workers, and A's throughput meanwhile (to show the neighbour did
 * stream). The phases alternate their order round by round so neither
 * always runs on a warmer daemon. Absolute: the comparison is the VM with
 * and without neighbour.
 *
 * Each guest has its own thread, as each VM has its own vCPU: VM A's guest
 * runs in a thread of its own, VM B's echo in the main thread; B's host
 * client and A's host reader are threads too. On a small machine they all
 * compete for CPUs with the daemon's one worker, which a real host with a
 * vCPU per VM would share the same way.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "app.h"
#include "dut.h"
#include "host_io.h"
#include "procstat.h"
#include "record.h"
#include "relay.h"
#include "stats.h"
#include "vmset.h"

#define PORT_RR 5207
#define PORT_STREAM 5208
#define VM_A 0u
#define VM_B 1u
#define STREAM_WRITE 65536u
/* B's samples start once A has moved this much: its stream is running. */
#define WARM_BYTES (1u << 20)

static const char *const nb_ids[] = {
	"nb_p50",     "nb_p99",	    "nb_alone_p50",	"nb_alone_p99",	 "nb_p99_ratio",
	"nb_stream",  "nb_sep_p50", "nb_sep_p99",	"nb_sep_p99_ratio", "nb_sep_stream",
};

/* The figures one phase records: B's p50 and p99, and A's stream (NULL: A
 * stays idle). */
struct phase_ids {
	const char *p50, *p99, *stream;
};

static const struct phase_ids shared_ids = { "nb_p50", "nb_p99", "nb_stream" };
static const struct phase_ids alone_ids = { "nb_alone_p50", "nb_alone_p99", NULL };
static const struct phase_ids sep_ids = { "nb_sep_p50", "nb_sep_p99", "nb_sep_stream" };

/* VM A's guest application, in its own thread. */
struct streamer {
	const struct bench *b;
	struct sg *g;
	struct sg_conn *c;
	bool running;            /* main's: both of A's threads started */
	atomic_bool stop;        /* main: B is done, end the stream */
	atomic_bool host_done;   /* main: A's host reader saw the end */
	atomic_uint_fast64_t moved; /* bytes queued so far */
	struct csum sum;
	uint64_t bytes;
	int err;
};

static void *streamer_main(void *arg)
{
	struct streamer *s = arg;
	const struct bench *b = s->b;
	int64_t deadline;
	int r = 0;

	/* At least one write, as app_stream_write(). */
	do {
		const uint8_t *p = app_chunk(s->bytes, STREAM_WRITE);

		if (b->cfg.verify)
			csum_update(&s->sum, p, STREAM_WRITE);
		dut_app_call(); /* the application's send() */
		r = sg_send_all(s->c, p, STREAM_WRITE, b->cfg.timeout_ms);
		if (!r) {
			s->bytes += STREAM_WRITE;
			atomic_store(&s->moved, s->bytes);
		}
	} while (!r && !atomic_load(&s->stop));
	if (!r)
		r = sg_shutdown(s->c, VIRTIO_VSOCK_SHUTDOWN_SEND);
	if (!r)
		r = sg_kick(s->g);
	/* Serve the device (credit updates, the close) until the host reader
	 * has read everything; bounded as the main thread's joins. */
	deadline = now_ns() + (int64_t)(3 * b->cfg.timeout_ms) * 1000000;
	while (!atomic_load(&s->host_done) && now_ns() < deadline) {
		int n = sg_poll(s->g, 2);

		if (n < 0) {
			r = r ? r : n;
			break;
		}
	}
	s->err = r;
	return NULL;
}

static int join_ms(const struct bench *b)
{
	return (int)(b->cfg.duration_s * 1000) + 2 * b->cfg.timeout_ms;
}

/* A thread that does not end in time may still use our memory. */
static void join_or_abort(pthread_t th, int timeout_ms, const char *what)
{
	if (hio_thread_join(th, timeout_ms)) {
		fprintf(stderr, "vdv-bench: neighbour: %s hung; aborting\n", what);
		exit(2);
	}
}

/* Waits until A's stream is running (bounded). */
static int wait_warm(const struct bench *b, struct streamer *st)
{
	int64_t deadline = now_ns() + (int64_t)b->cfg.timeout_ms * 1000000;

	while (atomic_load(&st->moved) < WARM_BYTES) {
		if (now_ns() >= deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

/* A's stream: connected, host reader and guest writer started. */
static int stream_start(struct vmset *s, const char *id, struct streamer *st,
			struct app_stream *hr, pthread_t *thr, pthread_t *thw)
{
	struct bench *b = s->b;
	char path[128];
	int r;

	r = dut_connect_pairs_at(b, s->g[VM_A], vmset_uds_path(s, VM_A, path, sizeof(path)),
				 PORT_STREAM, 1, NULL, NULL, &st->c, &hr->fd);
	if (r) {
		bench_fail(b, id, s->which, "VM A: connect: %s", strerror(-r));
		return r;
	}
	st->b = b;
	st->g = s->g[VM_A];
	r = hio_thread_start(thr, app_stream_read, hr);
	if (r) {
		close(hr->fd);
		return r;
	}
	/* Named for scheduler traces (perf sched timehist). */
	pthread_setname_np(*thr, "nb-a-reader");
	r = hio_thread_start(thw, streamer_main, st);
	if (!r)
		pthread_setname_np(*thw, "nb-a-guest");
	if (r) {
		shutdown(hr->fd, SHUT_RDWR);
		join_or_abort(*thr, join_ms(b), "VM A's host reader");
		close(hr->fd);
		return r;
	}
	st->running = true;
	return 0;
}

/* Ends A's stream and records its throughput: 0 or -1 (reported). */
static int stream_end(struct vmset *s, const char *id, struct streamer *st,
		      struct app_stream *hr, pthread_t thr, pthread_t thw, int64_t t0)
{
	struct bench *b = s->b;
	int r = 0;

	atomic_store(&st->stop, true);
	join_or_abort(thr, join_ms(b), "VM A's host reader");
	atomic_store(&st->host_done, true);
	join_or_abort(thw, join_ms(b), "VM A's guest");
	close(hr->fd);
	if (st->err || hr->err) {
		bench_fail(b, id, s->which, "VM A's stream: %s",
			   strerror(-(st->err ? st->err : hr->err)));
		r = -1;
	} else if (rec_check_stream(b, id, s->which, st->bytes, &st->sum, hr->bytes, &hr->sum)) {
		r = -1;
	} else {
		res_add(&b->res, id, s->which, stats_mibps(hr->bytes, hr->t_end_ns - t0));
	}
	return r;
}

/* One phase: B's round trips, with A streaming (ids->stream) or idle.
 * *p99 gets B's p99 (NAN if the phase failed). */
static int phase(struct vmset *s, const struct phase_ids *ids, double *p99)
{
	struct bench *b = s->b;
	const bool neighbour = ids->stream != NULL;
	const char *p50_id = ids->p50;
	struct app_rr c = { .msg = b->cfg.rr_msg, .warmup = 100, .max_iters = b->cfg.rr_iters };
	struct app_stream hr = { .io_size = b->cfg.read_size, .verify = b->cfg.verify };
	struct streamer st = { 0 };
	struct dut_echo e = { 0, false };
	struct dut view = { .b = b, .which = s->which, .fig = p50_id, .g = s->g[VM_B] };
	void *user = &e;
	struct sg_conn *conn;
	struct cpu_mark m;
	pthread_t th, thr, thw;
	char path[128];
	int64_t t0 = now_ns();
	int r, rs = 0;

	*p99 = NAN;
	c.samples_us = calloc(c.max_iters, sizeof(*c.samples_us));
	if (!c.samples_us)
		return -ENOMEM;
	r = dut_connect_pairs_at(b, s->g[VM_B], vmset_uds_path(s, VM_B, path, sizeof(path)),
				 PORT_RR, 1, &dut_echo_ops, &user, &conn, &c.fd);
	if (r) {
		bench_fail(b, p50_id, s->which, "VM B: connect: %s", strerror(-r));
		free(c.samples_us);
		return r;
	}
	if (neighbour) {
		/* st.running once A's threads run (else all is undone). */
		r = stream_start(s, ids->stream, &st, &hr, &thr, &thw);
		if (!r) {
			t0 = now_ns();
			r = wait_warm(b, &st);
			if (r)
				bench_fail(b, p50_id, s->which,
					   "VM A's stream did not start within %d ms",
					   b->cfg.timeout_ms);
		}
		if (r && st.running)
			stream_end(s, ids->stream, &st, &hr, thr, thw, t0);
		if (r) {
			close(c.fd);
			free(c.samples_us);
			return r;
		}
	}
	cpu_mark(&m, s->d.pid);
	c.deadline_ns = now_ns() + (int64_t)(b->cfg.duration_s * 1e9);
	r = hio_thread_start(&th, app_rr_client, &c);
	/* B's guest is served from this thread; A's by its own. */
	if (!r) {
		pthread_setname_np(th, "nb-b-client");
		pthread_setname_np(pthread_self(), "nb-b-echo");
		r = dut_poll_join(&view, th, join_ms(b));
		pthread_setname_np(pthread_self(), "vdv-bench");
	}
	close(c.fd);
	if (neighbour)
		rs = stream_end(s, ids->stream, &st, &hr, thr, thw, t0);
	if (r || c.err || e.err || !c.nsamples) {
		bench_fail(b, p50_id, s->which, "VM B: %s",
			   !c.nsamples && !r && !c.err && !e.err
				   ? "no samples"
				   : strerror(-(r ? r : c.err ? c.err : e.err)));
		r = r ? r : -EIO;
	} else {
		struct cpu_use cpu = cpu_since(&m);

		res_add(&b->res, p50_id, s->which, stats_percentile(c.samples_us, c.nsamples, 50));
		*p99 = stats_percentile(c.samples_us, c.nsamples, 99);
		res_add(&b->res, ids->p99, s->which, *p99);
		res_add_cpu(&b->res, p50_id, s->which, cpu.daemon, cpu.self);
	}
	free(c.samples_us);
	return r ? r : rs;
}

/* The control: A streaming on a worker of its own (a daemon with
 * --threads 2 puts the two VMs on different workers). *p99 as phase(). */
static int separate(struct bench *b, int which, double *p99)
{
	static const char *const extra[] = { "--threads", "2", NULL };
	struct vmset s;
	int r;

	*p99 = NAN;
	if (vmset_start(b, which, "nb_sep_p50", 2, extra, STREAM_WRITE, &s))
		return -1;
	r = phase(&s, &sep_ids, p99);
	if (vmset_stop(&s))
		return -1;
	return r ? -1 : 0;
}

/* The two phases on one worker, in the given order. */
static int shared(struct bench *b, int which, bool nb_first, double *with, double *alone)
{
	static const char *const extra[] = { "--threads", "1", NULL };
	struct vmset s;
	int r, r2;

	if (vmset_start(b, which, "nb_p50", 2, extra, STREAM_WRITE, &s))
		return -1;
	r = phase(&s, nb_first ? &shared_ids : &alone_ids, nb_first ? with : alone);
	r2 = phase(&s, nb_first ? &alone_ids : &shared_ids, nb_first ? alone : with);
	if (vmset_stop(&s))
		return -1;
	return r || r2 ? -1 : 0;
}

int run_neighbour(struct bench *b, int which)
{
	/* Per daemon: which phases go first this round. */
	static unsigned turn[2];
	double with = NAN, alone = NAN, sep = NAN;
	bool nb_first, sep_first;
	int r, r2;

	if (which == T_BASE)
		return relay_nb_floor(b);
	if (!vmset_daemon_has(b, which, "--threads")) {
		for (unsigned i = 0; i < sizeof(nb_ids) / sizeof(nb_ids[0]); i++)
			res_na(&b->res, nb_ids[i], which,
			       "the daemon has no --threads: VMs cannot share one worker");
		return 0;
	}
	/* Rounds 0..3: shared phases neighbour-first or not, crossed with the
	 * control daemon before or after them. */
	nb_first = turn[which - T_A] % 2;
	sep_first = turn[which - T_A]++ / 2 % 2;
	r2 = sep_first ? separate(b, which, &sep) : 0;
	r = shared(b, which, nb_first, &with, &alone);
	if (!sep_first)
		r2 = separate(b, which, &sep);
	/* Paired within the round: the VM alone is the same reference. */
	if (!isnan(with) && !isnan(alone) && alone > 0) {
		res_add(&b->res, "nb_p99_ratio", which, with / alone);
		res_add(&b->res, "nb_floor_p99_ratio", which, with / alone);
	}
	if (!isnan(sep) && !isnan(alone) && alone > 0)
		res_add(&b->res, "nb_sep_p99_ratio", which, sep / alone);
	return r || r2 ? -1 : 0;
}
