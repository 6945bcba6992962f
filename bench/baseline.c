/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "baseline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app.h"
#include "host_io.h"
#include "record.h"

/* Threads get the run's length plus this to finish before we give up. */
#define JOIN_SLACK_MS 10000

int base_join_ms(const struct bench *b)
{
	return (int)(b->cfg.duration_s * 1000) + b->cfg.timeout_ms + JOIN_SLACK_MS;
}

int base_pair(struct bench *b, const char *id, int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		bench_fail(b, id, T_BASE, "socketpair: %s", strerror(errno));
		return -1;
	}
	hio_set_timeouts(sv[0], b->cfg.timeout_ms);
	hio_set_timeouts(sv[1], b->cfg.timeout_ms);
	return 0;
}

void base_join_or_die(pthread_t th, int ms, const char *id)
{
	if (hio_thread_join(th, ms)) {
		fprintf(stderr, "vdv-bench: %s: baseline thread hung; aborting\n", id);
		exit(2);
	}
}

int base_stream(struct bench *b, const char *id, size_t size)
{
	struct app_stream w = { .io_size = size, .verify = b->cfg.verify };
	struct app_stream r = { .io_size = b->cfg.read_size, .verify = b->cfg.verify };
	struct cpu_mark m;
	pthread_t tw, tr;
	int64_t t0;
	int sv[2];

	if (base_pair(b, id, sv))
		return -1;
	w.fd = sv[0];
	r.fd = sv[1];
	if (hio_thread_start(&tr, app_stream_read, &r)) {
		bench_fail(b, id, T_BASE, "thread: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	cpu_mark(&m, 0);
	t0 = now_ns();
	w.deadline_ns = t0 + (int64_t)(b->cfg.duration_s * 1e9);
	if (hio_thread_start(&tw, app_stream_write, &w)) {
		shutdown(sv[0], SHUT_WR);
		base_join_or_die(tr, base_join_ms(b), id);
		bench_fail(b, id, T_BASE, "thread: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	base_join_or_die(tw, base_join_ms(b), id);
	base_join_or_die(tr, base_join_ms(b), id);
	close(sv[0]);
	close(sv[1]);
	if (w.err || r.err) {
		bench_fail(b, id, T_BASE, "%s", strerror(-(w.err ? w.err : r.err)));
		return -1;
	}
	if (rec_check_stream(b, id, T_BASE, w.bytes, &w.sum, r.bytes, &r.sum))
		return -1;
	rec_stream(b, id, T_BASE, r.bytes, r.t_end_ns - t0, cpu_since(&m));
	return 0;
}

int base_rr(struct bench *b)
{
	struct app_rr c = { .msg = b->cfg.rr_msg, .warmup = 100, .max_iters = b->cfg.rr_iters };
	struct app_rr s = { .msg = b->cfg.rr_msg };
	struct cpu_mark m;
	pthread_t ts;
	int sv[2];

	c.samples_us = calloc(c.max_iters, sizeof(*c.samples_us));
	if (!c.samples_us || base_pair(b, "rr_p50", sv)) {
		free(c.samples_us);
		return -1;
	}
	c.fd = sv[0];
	s.fd = sv[1];
	if (hio_thread_start(&ts, app_rr_server, &s)) {
		bench_fail(b, "rr_p50", T_BASE, "thread: %s", strerror(errno));
		goto out;
	}
	cpu_mark(&m, 0);
	c.deadline_ns = now_ns() + (int64_t)(b->cfg.duration_s * 1e9);
	app_rr_client(&c);
	base_join_or_die(ts, base_join_ms(b), "rr");
	if (c.err || s.err || !c.nsamples)
		bench_fail(b, "rr_p50", T_BASE, "%s",
			   c.nsamples ? strerror(-(c.err ? c.err : s.err)) : "no samples");
	else
		rec_rr(b, T_BASE, c.samples_us, c.nsamples, cpu_since(&m));
out:
	close(sv[0]);
	close(sv[1]);
	free(c.samples_us);
	return 0;
}

int base_connrate(struct bench *b)
{
	char dir[] = "/tmp/vdv-bench-XXXXXX", path[64];
	struct app_gate gate;
	struct app_accept s = { .timeout_ms = b->cfg.timeout_ms, .gate = &gate };
	struct app_connect c = {
		.path = path, .port = 5000, .max_cycles = 10000000,
		.window = b->cfg.conn_window, .timeout_ms = b->cfg.timeout_ms, .gate = &gate,
	};
	struct cpu_mark m;
	pthread_t ts;
	int64_t t0;

	if (!mkdtemp(dir)) {
		bench_fail(b, "connrate", T_BASE, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/base.sock", dir);
	s.lfd = hio_listen(path, 128);
	if (s.lfd < 0) {
		bench_fail(b, "connrate", T_BASE, "listen: %s", strerror(-s.lfd));
		rmdir(dir);
		return -1;
	}
	app_gate_init(&gate);
	if (hio_thread_start(&ts, app_accept_server, &s)) {
		bench_fail(b, "connrate", T_BASE, "thread: %s", strerror(errno));
		goto out;
	}
	cpu_mark(&m, 0);
	t0 = now_ns();
	c.deadline_ns = t0 + (int64_t)(b->cfg.duration_s * 1e9);
	app_connect_cycles(&c);
	atomic_store(&s.stop, 1);
	base_join_or_die(ts, base_join_ms(b), "connrate");
	if (c.err || s.err)
		bench_fail(b, "connrate", T_BASE, "%s", strerror(-(c.err ? c.err : s.err)));
	else
		rec_connrate(b, T_BASE, c.cycles, c.t_end_ns - t0, cpu_since(&m));
out:
	app_gate_destroy(&gate);
	close(s.lfd);
	unlink(path);
	rmdir(dir);
	return 0;
}

int base_multi(struct bench *b, bool g2h)
{
	unsigned n = b->cfg.mc_conns, i;
	struct app_multi w = { .n = n, .io_size = b->cfg.mc_write, .verify = b->cfg.verify,
			       .timeout_ms = b->cfg.timeout_ms };
	struct app_multi r = { .n = n, .io_size = b->cfg.read_size, .verify = b->cfg.verify,
			       .timeout_ms = b->cfg.timeout_ms };
	char id[32];
	struct cpu_mark m;
	pthread_t tr;
	int64_t t0;
	int ret = -1;

	rec_multi_id(id, sizeof(id), g2h, "aggr");
	w.fds = calloc(n, sizeof(int));
	r.fds = calloc(n, sizeof(int));
	w.bytes = calloc(n, sizeof(uint64_t));
	r.bytes = calloc(n, sizeof(uint64_t));
	w.sums = calloc(n, sizeof(struct csum));
	r.sums = calloc(n, sizeof(struct csum));
	if (!w.fds || !r.fds || !w.bytes || !r.bytes || !w.sums || !r.sums)
		goto out_free;
	for (i = 0; i < n; i++) {
		int sv[2];

		if (base_pair(b, id, sv))
			goto out_close;
		w.fds[i] = sv[0];
		r.fds[i] = sv[1];
	}
	if (hio_thread_start(&tr, app_multi_read, &r)) {
		bench_fail(b, id, T_BASE, "thread: %s", strerror(errno));
		goto out_close;
	}
	cpu_mark(&m, 0);
	t0 = now_ns();
	w.deadline_ns = t0 + (int64_t)(b->cfg.duration_s * 1e9);
	app_multi_write(&w);
	base_join_or_die(tr, base_join_ms(b), id);
	if (w.err || r.err) {
		bench_fail(b, id, T_BASE, "%s", strerror(-(w.err ? w.err : r.err)));
		goto out_close;
	}
	for (i = 0; i < n; i++)
		if (rec_check_stream(b, id, T_BASE, w.bytes[i], &w.sums[i], r.bytes[i],
				     &r.sums[i]))
			goto out_close;
	rec_multi(b, T_BASE, g2h, r.bytes, n, r.t_end_ns - t0, cpu_since(&m));
	ret = 0;
out_close:
	for (i = 0; i < n; i++) {
		if (w.fds[i] > 0)
			close(w.fds[i]);
		if (r.fds[i] > 0)
			close(r.fds[i]);
	}
out_free:
	free(w.fds);
	free(r.fds);
	free(w.bytes);
	free(r.bytes);
	free(w.sums);
	free(r.sums);
	return ret;
}
