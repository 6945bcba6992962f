/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Host-initiated connection set-up rate: the host application connects to
 * the daemon's uds-path, sends "CONNECT <port>\n", reads "OK <port>\n" and
 * closes; the guest listens on the port, accepts, and on the host's close
 * closes too (SHUTDOWN both ways, then the daemon's RST ends it, as with a
 * Linux guest). A cycle counts once the host has its OK; at most
 * conn_window connections may still be tearing down, so the rate is one the
 * daemon can sustain, not a burst into its connection table. The baseline
 * does the same dance against a plain listening Unix socket.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "baseline.h"
#include "dut.h"
#include "host_io.h"
#include "record.h"

#define PORT 5203

static void srv_event(struct sg_conn *c, enum sg_event ev)
{
	struct app_gate *gate = c->user;

	/* The application's accept() and close(). */
	if (ev == SG_EV_ACCEPTED)
		dut_app_call();
	if (ev == SG_EV_SHUTDOWN && c->peer_shut_send) {
		dut_app_call();
		sg_close_conn(c);
	}
	if (ev == SG_EV_CLOSED)
		app_gate_done(gate);
}

static const struct sg_conn_ops srv_ops = { .event = srv_event };

static int connrate(struct dut *s)
{
	struct bench *b = s->b;
	struct app_gate gate;
	struct app_connect c = {
		.path = s->d.uds_path, .port = PORT, .max_cycles = 10000000,
		.window = b->cfg.conn_window, .timeout_ms = b->cfg.timeout_ms, .gate = &gate,
	};
	struct cpu_mark m;
	pthread_t th;
	int64_t t0;
	int r;

	app_gate_init(&gate);
	r = sg_listen(s->g, PORT, &srv_ops, &gate);
	if (!r) {
		cpu_mark(&m, s->d.pid);
		t0 = now_ns();
		c.deadline_ns = t0 + (int64_t)(b->cfg.duration_s * 1e9);
		r = hio_thread_start(&th, app_connect_cycles, &c);
	}
	if (!r)
		r = dut_poll_join(s, th, (int)(b->cfg.duration_s * 1000) + 2 * b->cfg.timeout_ms);
	if (r || c.err)
		bench_fail(b, "connrate", s->which, "%s", strerror(-(r ? r : c.err)));
	else
		rec_connrate(b, s->which, c.cycles, c.t_end_ns - t0, cpu_since(&m));
	app_gate_destroy(&gate);
	return r ? r : c.err;
}

int run_connrate(struct bench *b, int which)
{
	struct dut s;
	int r;

	if (which == T_BASE)
		return base_connrate(b);
	if (dut_start(b, which, "connrate", 64, &s))
		return -1;
	r = connrate(&s);
	return dut_stop(&s) ? -1 : r;
}
