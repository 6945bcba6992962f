/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Round-trip latency through the daemon: the host application sends
 * rr_msg bytes and waits for them to come back; the guest application
 * echoes whatever it receives as soon as it receives it. The guest sleeps
 * on its rx call eventfd between messages, as a guest vCPU sleeps until
 * the interrupt: no busy polling on either side, as in the baseline.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "baseline.h"
#include "dut.h"
#include "host_io.h"
#include "record.h"
#include "relay.h"

#define PORT 5202

static int rr(struct dut *s)
{
	struct bench *b = s->b;
	struct app_rr c = { .msg = b->cfg.rr_msg, .warmup = 100, .max_iters = b->cfg.rr_iters };
	struct dut_echo e = { 0, false };
	void *user = &e;
	struct sg_conn *conn;
	struct cpu_mark m;
	pthread_t th;
	int r;

	c.samples_us = calloc(c.max_iters, sizeof(*c.samples_us));
	if (!c.samples_us)
		return -1;
	r = dut_connect_pairs(s, PORT, 1, &dut_echo_ops, &user, &conn, &c.fd);
	if (r) {
		bench_fail(b, "rr_p50", s->which, "connect: %s", strerror(-r));
		free(c.samples_us);
		return -1;
	}
	cpu_mark(&m, s->d.pid);
	c.deadline_ns = now_ns() + (int64_t)(b->cfg.duration_s * 1e9);
	r = hio_thread_start(&th, app_rr_client, &c);
	if (!r)
		r = dut_poll_join(s, th, (int)(b->cfg.duration_s * 1000) + 2 * b->cfg.timeout_ms);
	close(c.fd);
	if (r || c.err || e.err || !c.nsamples)
		bench_fail(b, "rr_p50", s->which, "%s",
			   !c.nsamples && !r && !c.err && !e.err
				   ? "no samples"
				   : strerror(-(r ? r : c.err ? c.err : e.err)));
	else
		rec_rr(b, s->which, c.samples_us, c.nsamples, cpu_since(&m));
	free(c.samples_us);
	return r;
}

int run_rr(struct bench *b, int which)
{
	struct dut s;
	int r;

	/* The baseline's turn measures both references: the socket pair
	 * and the ideal relay. */
	if (which == T_BASE) {
		r = base_rr(b);
		return relay_rr(b) ? -1 : r;
	}
	if (dut_start(b, which, "rr_p50", b->cfg.rr_msg, &s))
		return -1;
	r = rr(&s);
	return dut_stop(&s) ? -1 : r;
}
