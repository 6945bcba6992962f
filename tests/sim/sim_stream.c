/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Blocking one-stream convenience over the socket layer (see sim_stream.h).
 * Only the holding queue and the waiting are here; credit, handshake and
 * the close rules are sim_sock.c's.
 */
#include "sim/sim_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_priv.h"

static void rxq_put(struct sim_stream *st, const uint8_t *d, size_t n)
{
	size_t tail = (st->rxq_head + st->rxq_len) % st->rxq_cap, first;

	/* Beyond the credit we gave (counted by the socket layer): keep
	 * what fits. */
	if (n > st->rxq_cap - st->rxq_len)
		n = st->rxq_cap - st->rxq_len;
	first = n < st->rxq_cap - tail ? n : st->rxq_cap - tail;
	memcpy(st->rxq + tail, d, first);
	memcpy(st->rxq, d + first, n - first);
	st->rxq_len += n;
}

static size_t rxq_get(struct sim_stream *st, uint8_t *d, size_t cap)
{
	size_t n = cap < st->rxq_len ? cap : st->rxq_len;
	size_t first = n < st->rxq_cap - st->rxq_head ? n : st->rxq_cap - st->rxq_head;

	memcpy(d, st->rxq + st->rxq_head, first);
	memcpy(d + first, st->rxq, n - first);
	st->rxq_head = (st->rxq_head + n) % st->rxq_cap;
	st->rxq_len -= n;
	return n;
}

static void on_data(struct sg_conn *c, const uint8_t *p, size_t n)
{
	rxq_put(c->user, p, n);
}

static void on_event(struct sg_conn *c, enum sg_event ev)
{
	struct sim_stream *st = c->user;

	if (ev == SG_EV_ACCEPTED) {
		st->c = c;
		c->hold = true;
	}
}

static void on_pkt(struct sg_conn *c, const struct virtio_vsock_hdr *h)
{
	struct sim_stream *st = c->user;

	sim_pkt_decode(st->pkt, h);
	st->got = true;
}

static bool on_request(struct sg *g, uint64_t cid, uint32_t port, void *user)
{
	struct sim_stream *st = user;

	(void)g;
	(void)cid;
	(void)port;
	st->refused = st->refuse;
	return !st->refuse;
}

static const struct sg_conn_ops st_ops = {
	.data = on_data, .event = on_event, .pkt = on_pkt, .accept = on_request,
};

static int st_init(struct sim *sim, struct sim_stream *st, uint32_t buf_alloc)
{
	struct sg_cfg cfg;
	int r;

	memset(st, 0, sizeof(*st));
	st->sim = sim;
	sg_cfg_init(&cfg);
	if (buf_alloc)
		cfg.buf_alloc = buf_alloc;
	cfg.max_conns = 1;
	cfg.timeout_ms = sim_opts(sim)->io_timeout_ms;
	cfg.quiet = true;
	cfg.keep_closed = true;
	st->rxq_cap = cfg.buf_alloc;
	st->rxq = malloc(st->rxq_cap);
	st->pkt = sim_pkt_new();
	r = st->rxq && st->pkt ? sg_attach(sim, &cfg, &st->g) : -ENOMEM;
	if (r)
		sim_stream_fini(st);
	return r;
}

void sim_stream_fini(struct sim_stream *st)
{
	sg_close(st->g);
	free(st->rxq);
	free(st->pkt);
	st->g = NULL;
	st->c = NULL;
	st->rxq = NULL;
	st->pkt = NULL;
}

int sim_stream_poll(struct sim_stream *st, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	uint64_t bad = sg_stats(st->g)->bad;
	int r;

	st->got = false;
	for (;;) {
		/* One packet at a time: the caller looks at each. */
		r = sg_poll_max(st->g, 1, sim_remaining_ms(deadline));
		if (r < 0)
			return r;
		if (sg_stats(st->g)->bad != bad)
			return -EBADMSG;
		if (st->got)
			return 1;
		if (!r)
			return 0;
	}
}

/* Polls until done() or the deadline: 0, -ETIMEDOUT or -errno. */
static int st_wait(struct sim_stream *st, bool (*done)(const struct sim_stream *),
		   int64_t deadline)
{
	while (!done(st)) {
		int r = sg_poll(st->g, sim_remaining_ms(deadline));

		if (r < 0)
			return r;
		if (!r && sim_now_ms() >= deadline)
			return -ETIMEDOUT;
	}
	return 0;
}

static bool answered(const struct sim_stream *st)
{
	return st->c->state != SG_CONNECTING;
}

int sim_stream_connect(struct sim *sim, struct sim_stream *st, uint64_t dst_cid,
		       uint32_t dst_port, uint32_t src_port, uint32_t buf_alloc, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	int r = st_init(sim, st, buf_alloc);

	if (!r)
		r = sg_connect(st->g, dst_cid, dst_port, src_port, &st_ops, st, &st->c);
	if (r)
		return r;
	st->c->hold = true;
	r = st_wait(st, answered, deadline);
	if (r)
		return r;
	return st->c->refused ? -ECONNREFUSED : 0;
}

static bool requested(const struct sim_stream *st)
{
	return st->c || st->refused;
}

int sim_stream_accept(struct sim *sim, struct sim_stream *st, uint32_t local_port,
		      uint32_t buf_alloc, bool refuse, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	int r = st_init(sim, st, buf_alloc);

	if (r)
		return r;
	st->refuse = refuse;
	r = sg_listen(st->g, local_port, &st_ops, st);
	if (!r)
		r = st_wait(st, requested, deadline);
	/* One connection per stream: later REQUESTs are strays. */
	sg_unlisten(st->g, local_port);
	return r;
}

int sim_stream_send(struct sim_stream *st, const void *buf, size_t len, int timeout_ms)
{
	int r;

	if (st->c->reset || st->c->peer_shut_rcv)
		return -EPIPE;
	r = sg_send_all(st->c, buf, len, timeout_ms);
	return r == -ECONNRESET ? -EPIPE : r;
}

ssize_t sim_stream_recv(struct sim_stream *st, void *buf, size_t cap, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	struct sg_conn *c = st->c;
	size_t n;
	int r;

	while (!st->rxq_len) {
		if (c->reset || c->peer_shut_send) {
			/* Linux answers a full shutdown with RST once drained. */
			if (c->peer_shut_send && c->peer_shut_rcv && !c->reset && !c->rst_sent)
				return sim_stream_rst(st);
			return 0;
		}
		r = sim_stream_poll(st, sim_remaining_ms(deadline));
		if (r < 0)
			return r;
		if (r == 0)
			return -ETIMEDOUT;
	}
	n = rxq_get(st, buf, cap);
	r = sg_consume(c, (uint32_t)n);
	if (!r)
		r = sg_kick(st->g);
	return r ? r : (ssize_t)n;
}

int sim_stream_shutdown(struct sim_stream *st, uint32_t flags)
{
	int r = sg_shutdown(st->c, flags);

	return r ? r : sg_kick(st->g);
}

int sim_stream_rst(struct sim_stream *st)
{
	int r = sg_rst(st->c);

	return r ? r : sg_kick(st->g);
}

uint64_t sim_stream_stray(const struct sim_stream *st)
{
	const struct sg_stats *s = sg_stats(st->g);

	return s->stray + s->stray_rst;
}
