/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "dut.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app.h"
#include "host_io.h"
#include "sim/sim.h"

#define SPAWN_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 5000
#define MAX_ARGV 64

static bool app_calls = true;

void dut_app_calls(bool on)
{
	app_calls = on;
}

void dut_app_call(void)
{
	if (app_calls)
		syscall(SYS_getppid);
}

void dut_app_recv(struct dut_recv *r, const struct sg_conn *c, size_t n, size_t cap)
{
	uint64_t batch = sg_rx_batch(c->g);

	if (r->batch != batch || r->taken + n > cap) {
		dut_app_call();
		r->batch = batch;
		r->taken = 0;
	}
	r->taken += n;
}

void dut_app_rx_take(struct dut_app_rx *a, const struct sg_conn *c, const uint8_t *p,
		     size_t n)
{
	dut_app_recv(&a->recv, c, n, a->cap);
	while (n) {
		size_t k = n < a->cap - a->pos ? n : a->cap - a->pos;

		/* The copy recv() makes from the socket's queue. */
		memcpy(a->buf + a->pos, p, k);
		if (a->verify)
			csum_update(&a->sum, a->buf + a->pos, k);
		a->pos = (a->pos + k) % a->cap;
		a->bytes += k;
		p += k;
		n -= k;
	}
}

static void reader_data(struct sg_conn *c, const uint8_t *p, size_t n)
{
	struct dut_reader *r = c->user;

	dut_app_rx_take(&r->rx, c, p, n);
}

static void reader_event(struct sg_conn *c, enum sg_event ev)
{
	struct dut_reader *r = c->user;

	if ((ev == SG_EV_SHUTDOWN && c->peer_shut_send) || ev == SG_EV_CLOSED) {
		if (!r->eof)
			r->t_end_ns = now_ns();
		r->eof = true;
		r->credit_violations = c->credit_violations;
	}
	/* c is gone after this callback: remember that we must not close it. */
	if (ev == SG_EV_CLOSED)
		r->closed = true;
}

const struct sg_conn_ops dut_reader_ops = { .data = reader_data, .event = reader_event };

static void echo_data(struct sg_conn *c, const uint8_t *p, size_t n)
{
	struct dut_echo *e = c->user;
	ssize_t r;

	dut_app_call(); /* recv() */
	dut_app_call(); /* send() */
	r = sg_send(c, p, n);

	/* 64-byte messages never run out of credit or slots; if they did,
	 * the latency figure would be meaningless anyway. */
	if (r != (ssize_t)n && !e->err)
		e->err = r < 0 ? (int)r : -ENOBUFS;
}

static void echo_event(struct sg_conn *c, enum sg_event ev)
{
	struct dut_echo *e = c->user;

	if (ev == SG_EV_CLOSED || (ev == SG_EV_SHUTDOWN && c->peer_shut_send))
		e->done = true;
}

const struct sg_conn_ops dut_echo_ops = { .data = echo_data, .event = echo_event };

int dut_guest_write(const struct bench *b, struct sg_conn *c, size_t size, uint64_t *bytes,
		    struct csum *sent)
{
	int64_t deadline = now_ns() + (int64_t)(b->cfg.duration_s * 1e9);
	int r = 0;

	*bytes = 0;
	/* At least one write, as app_stream_write(). */
	while (!r) {
		const uint8_t *p = app_chunk(*bytes, size);

		if (b->cfg.verify)
			csum_update(sent, p, size);
		dut_app_call(); /* the application's send() */
		r = sg_send_all(c, p, size, b->cfg.timeout_ms);
		*bytes += size;
		if (now_ns() >= deadline)
			break;
	}
	if (!r)
		r = sg_shutdown(c, VIRTIO_VSOCK_SHUTDOWN_SEND);
	if (!r)
		r = sg_kick(c->g);
	return r;
}

void dut_sg_cfg(const struct bench *b, size_t tx_max_payload, struct sg_cfg *cfg)
{
	sg_cfg_init(cfg);
	cfg->queue_size = b->cfg.queue_size;
	cfg->rx_buf_size = b->cfg.rx_buf_size;
	cfg->buf_alloc = b->cfg.guest_buf_alloc;
	cfg->tx_max_payload = tx_max_payload < SIM_PKT_MAX ? tx_max_payload : SIM_PKT_MAX;
	cfg->max_conns = b->cfg.idle_conns + b->cfg.mc_conns + 64;
	cfg->timeout_ms = b->cfg.timeout_ms;
}

static void fail_with_log(struct dut *s, const char *what, int err)
{
	bench_fail(s->b, s->fig, s->which, "%s: %s", what, strerror(-err));
	sim_daemon_dump_log(&s->d, stderr, 4096);
}

int dut_spawn_argv(struct bench *b, int which, const char *fig, const char *const *argv,
		   const char *wait_rel, struct dut *s)
{
	int r;

	memset(s, 0, sizeof(*s));
	s->b = b;
	s->which = which;
	s->fig = fig;
	r = sim_daemon_spawn_argv(&s->d, argv, wait_rel, SPAWN_TIMEOUT_MS);
	if (r) {
		fail_with_log(s, "spawning the daemon", r);
		sim_daemon_stop(&s->d, STOP_TIMEOUT_MS, NULL);
		return r;
	}
	return 0;
}

unsigned dut_argv(const struct bench *b, int which, const char **argv, unsigned cap)
{
	unsigned n = 0;

	argv[n++] = b->cfg.daemon[which - T_A];
	argv[n++] = "--guest-cid";
	argv[n++] = "3";
	argv[n++] = "--socket";
	argv[n++] = "%D/vhost.sock";
	argv[n++] = "--uds-path";
	argv[n++] = "%D/vm.vsock";
	for (unsigned i = 0; i < b->cfg.n_daemon_args && n + 1 < cap; i++)
		argv[n++] = b->cfg.daemon_args[i];
	argv[n] = NULL;
	return n;
}

int dut_open_guest(struct dut *s, size_t tx_max_payload)
{
	struct sg_cfg cfg;
	int r;

	dut_sg_cfg(s->b, tx_max_payload, &cfg);
	r = sg_open(s->d.socket_path, &cfg, &s->g);
	if (r) {
		s->g = NULL;
		fail_with_log(s, "starting the guest", r);
	}
	return r;
}

int dut_start(struct bench *b, int which, const char *fig, size_t tx_max_payload,
	      struct dut *s)
{
	const char *argv[MAX_ARGV];
	int r;

	dut_argv(b, which, argv, MAX_ARGV);
	r = dut_spawn_argv(b, which, fig, argv, "vhost.sock", s);
	if (r)
		return r;
	r = dut_open_guest(s, tx_max_payload);
	if (r)
		sim_daemon_stop(&s->d, STOP_TIMEOUT_MS, NULL);
	return r;
}

int dut_stop(struct dut *s)
{
	bool alive = sim_daemon_alive(&s->d);
	int status = 0, r = 0;

	if (s->g && s->b->cfg.verbose) {
		char line[512];

		sg_describe(s->g, line, sizeof(line));
		fprintf(stderr, "  %s (%s) %s\n", s->fig, bench_who(s->which), line);
	}
	if (s->g && sg_stall(s->g))
		fprintf(stderr, "vdv-bench: %s (%s): %s\n", s->fig, bench_who(s->which),
			sg_stall(s->g));
	if (s->g && sg_error(s->g)) {
		bench_fail(s->b, s->fig, s->which, "guest driver error: %s",
			   strerror(-sg_error(s->g)));
		r = -1;
	}
	sg_close(s->g);
	s->g = NULL;
	if (!alive) {
		bench_fail(s->b, s->fig, s->which, "the daemon died during the run (status 0x%x)",
			   s->d.status);
		sim_daemon_dump_log(&s->d, stderr, 4096);
		r = -1;
	}
	/* A daemon that does not exit cleanly on SIGTERM is not our
	 * measurement's business (another daemon may differ): only report. */
	if (alive && sim_daemon_stop(&s->d, STOP_TIMEOUT_MS, &status) == -ETIMEDOUT)
		fprintf(stderr, "note: daemon %s had to be killed after SIGTERM\n",
			bench_who(s->which));
	else if (!alive)
		sim_daemon_stop(&s->d, STOP_TIMEOUT_MS, NULL);
	return r;
}

int dut_poll_until(struct dut *s, const bool *flag, int timeout_ms)
{
	int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;

	while (!*flag) {
		int64_t left = (deadline - now_ns()) / 1000000;
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = sg_poll(s->g, (int)left);
		if (r < 0)
			return r;
	}
	return 0;
}

int dut_poll_join(struct dut *s, pthread_t th, int timeout_ms)
{
	int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;
	bool guest_ok = true;

	while (pthread_tryjoin_np(th, NULL) == EBUSY) {
		if (now_ns() > deadline) {
			fprintf(stderr, "vdv-bench: %s (%s): host thread hung; aborting\n", s->fig,
				bench_who(s->which));
			exit(2);
		}
		/* Short sleeps: the thread's end is not an event we can poll. */
		if (guest_ok && sg_poll(s->g, 2) < 0)
			guest_ok = false;
		else if (!guest_ok)
			usleep(2000);
	}
	return guest_ok ? 0 : -EIO;
}

struct connect_wait {
	unsigned connected, refused;
};

static void connect_event(struct sg_conn *c, enum sg_event ev)
{
	struct connect_wait *w = c->user;

	if (ev == SG_EV_CONNECTED)
		w->connected++;
	else if (ev == SG_EV_CLOSED)
		w->refused++;
}

static const struct sg_conn_ops connect_ops = { .event = connect_event };

int dut_connect_pairs(struct dut *s, uint32_t port, unsigned n, const struct sg_conn_ops *ops,
		      void *const *users, struct sg_conn **conns, int *hfds)
{
	return dut_connect_pairs_at(s->b, s->g, s->d.uds_path, port, n, ops, users, conns, hfds);
}

int dut_connect_pairs_at(const struct bench *b, struct sg *g, const char *uds_path,
			 uint32_t port, unsigned n, const struct sg_conn_ops *ops,
			 void *const *users, struct sg_conn **conns, int *hfds)
{
	int64_t deadline = now_ns() + (int64_t)b->cfg.timeout_ms * 1000000;
	struct connect_wait w = { 0, 0 };
	char path[128];
	unsigned i, accepted = 0;
	int lfd, r;

	r = hio_guest_listen_path(path, sizeof(path), uds_path, port);
	if (r)
		return r;
	lfd = hio_listen(path, (int)n + 16);
	if (lfd < 0)
		return lfd;
	for (i = 0; i < n; i++) {
		r = sg_connect(g, SG_HOST_CID, port, 0, &connect_ops, &w, &conns[i]);
		if (r)
			goto out;
	}
	r = sg_kick(g);
	while (!r && w.connected + w.refused < n) {
		int64_t left = (deadline - now_ns()) / 1000000;

		r = left <= 0 ? -ETIMEDOUT : sg_poll(g, (int)left);
		r = r < 0 ? r : 0;
	}
	if (!r && w.refused)
		r = -ECONNREFUSED;
	while (!r && accepted < n) {
		r = hio_accept(lfd, b->cfg.timeout_ms);
		if (r >= 0)
			hfds[accepted++] = r;
		r = r < 0 ? r : 0;
	}
	if (!r) {
		for (i = 0; i < n; i++) {
			conns[i]->ops = ops;
			conns[i]->user = users ? users[i] : NULL;
			hio_set_timeouts(hfds[i], b->cfg.timeout_ms);
		}
	}
out:
	if (r) {
		for (i = 0; i < accepted; i++)
			close(hfds[i]);
	}
	close(lfd);
	unlink(path);
	return r;
}
