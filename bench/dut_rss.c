/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The daemon's memory (/proc/PID/status):
 *  - with one idle VM: the frontend connected, rings running, rx buffers
 *    posted, no connection;
 *  - per idle connection: idle_conns host-initiated connections (CONNECT,
 *    guest accepts, OK), established and silent, then (RSS after - RSS
 *    before) / idle_conns.
 * The daemon's own memory is VmRSS - RssShmem (heap, stacks, binary):
 * RssShmem is guest RAM it touched, pages the VMM owns and a real VM has
 * resident anyway (every rx buffer the handshakes used shows up there, so
 * the raw VmRSS delta is reported too, for transparency). Kernel socket
 * buffers are in neither. There is no baseline: these are absolute.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dut.h"
#include "host_io.h"
#include "procstat.h"

#define PORT 5205
#define BATCH 64u
/* Long enough for the daemon to finish what it was doing (and glibc to
 * settle); the smoke run only checks that the figures come out. */
#define SETTLE_US (300 * 1000)
#define SETTLE_SMOKE_US (30 * 1000)

struct accepted {
	unsigned n;
};

static void acc_event(struct sg_conn *c, enum sg_event ev)
{
	struct accepted *a = c->user;

	if (ev == SG_EV_ACCEPTED)
		a->n++;
}

static const struct sg_conn_ops acc_ops = { .event = acc_event };

/* Lets the daemon finish what it was doing, then reads its memory. */
static int settle_and_read(struct dut *s, struct mem_use *m)
{
	int64_t us = s->b->cfg.smoke ? SETTLE_SMOKE_US : SETTLE_US;
	int64_t until = now_ns() + us * 1000;

	while (s->g && now_ns() < until)
		if (sg_poll(s->g, 20) < 0)
			return -EIO;
	if (!s->g)
		usleep((useconds_t)us);
	return mem_read(s->d.pid, m);
}

static int open_idle(struct dut *s, unsigned n, int *fds, unsigned *nfds)
{
	struct accepted acc = { 0 };
	int r = sg_listen(s->g, PORT, &acc_ops, &acc);

	for (unsigned done = 0; !r && done < n;) {
		unsigned k = n - done < BATCH ? n - done : BATCH, i;
		int64_t deadline = now_ns() + (int64_t)s->b->cfg.timeout_ms * 1000000;

		for (i = 0; i < k && !r; i++) {
			int fd = hio_hybrid_open(s->d.uds_path, PORT, s->b->cfg.timeout_ms);

			if (fd < 0)
				r = fd;
			else
				fds[(*nfds)++] = fd;
		}
		while (!r && acc.n < done + k) {
			if (now_ns() > deadline)
				r = -ETIMEDOUT;
			else if (sg_poll(s->g, 50) < 0)
				r = -EIO;
		}
		/* The OK lines arrive after the RESPONSE is processed. */
		for (i = 0; !r && i < k; i++)
			r = hio_hybrid_ok(fds[done + i]);
		done += k;
	}
	return r;
}

static int rss(struct dut *s)
{
	struct bench *b = s->b;
	unsigned n = b->cfg.idle_conns, nfds = 0;
	struct mem_use m0, m1, m2;
	int *fds = calloc(n, sizeof(int));
	int r;

	if (!fds)
		return -ENOMEM;
	r = settle_and_read(s, &m0);
	if (!r && dut_open_guest(s, 64)) {
		free(fds);
		return -1;
	}
	if (!r)
		r = settle_and_read(s, &m1);
	if (!r)
		r = open_idle(s, n, fds, &nfds);
	if (!r)
		r = settle_and_read(s, &m2);
	if (r) {
		bench_fail(b, "rss_conn", s->which, "%u idle connections: %s", n, strerror(-r));
	} else {
		res_add(&b->res, "rss_start", s->which, (double)m0.rss_kib);
		res_add(&b->res, "rss_vm", s->which, (double)m1.rss_kib);
		res_add(&b->res, "rss_vm_priv", s->which, (double)(m1.rss_kib - m1.shmem_kib));
		res_add(&b->res, "rss_conn", s->which,
			(double)((m2.rss_kib - m2.shmem_kib) - (m1.rss_kib - m1.shmem_kib)) *
				1024.0 / n);
		res_add(&b->res, "rss_conn_vmrss", s->which,
			(double)(m2.rss_kib - m1.rss_kib) * 1024.0 / n);
	}
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	free(fds);
	return r;
}

int run_rss(struct bench *b, int which)
{
	const char *argv[64];
	struct dut s;
	int r;

	if (which == T_BASE)
		return 0; /* absolute figures: no baseline */
	dut_argv(b, which, argv, 64);
	if (dut_spawn_argv(b, which, "rss_vm", argv, "vhost.sock", &s))
		return -1;
	r = rss(&s);
	return dut_stop(&s) ? -1 : r;
}
