/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The guest side of the forward-cid tests: the id/pattern protocol of fwd.h
 * over the simulator's socket layer (sim_sock.h), which keeps Linux's
 * demultiplexing and credit rules. Closing follows Linux: SHUTDOWN(SEND)
 * when our data is out, SHUTDOWN both ways once the peer's data is in, and
 * a connection only counts as finished once the device sent its RST.
 */
#include "fwd.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void g_fail(struct fwd_gconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void g_fail(struct fwd_gconn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->state == G_FAILED || c->state == G_DONE)
		return;
	c->state = G_FAILED;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

static bool tx_complete(const struct fwd_gconn *c)
{
	return c->tx_done == c->tx_len && (!c->initiator || c->id_done == FWD_ID_LEN);
}

static bool rx_complete(const struct fwd_gconn *c)
{
	return c->rx_done == c->rx_len && (c->initiator || c->id_done == FWD_ID_LEN);
}

static struct fwd_gconn *g_add(struct fwd_guest *g, bool initiator)
{
	struct fwd_gconn *c;

	if (g->nc == g->cap) {
		unsigned cap = g->cap ? 2 * g->cap : 64;
		struct fwd_gconn **n = realloc(g->c, cap * sizeof(*n));

		if (!n)
			return NULL;
		g->c = n;
		g->cap = cap;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	g->c[g->nc++] = c;
	c->g = g;
	c->bad = -1;
	c->initiator = initiator;
	c->tx_len = initiator ? g->len_i2a : g->len_a2i;
	c->rx_len = initiator ? g->len_a2i : g->len_i2a;
	return c;
}

static void on_data(struct sg_conn *sc, const uint8_t *d, size_t n)
{
	struct fwd_gconn *c = sc->user;
	ssize_t bad;

	if (c->state != G_OPEN) {
		if (c->state == G_CONNECTING)
			g_fail(c, "data before RESPONSE");
		return;
	}
	if (!c->initiator) {
		while (n && c->id_done < FWD_ID_LEN) {
			c->idbuf[c->id_done++] = *d++;
			n--;
		}
		if (c->id_done == FWD_ID_LEN)
			c->id = (uint32_t)c->idbuf[0] | (uint32_t)c->idbuf[1] << 8 |
				(uint32_t)c->idbuf[2] << 16 | (uint32_t)c->idbuf[3] << 24;
	}
	if (!n)
		return;
	if (c->rx_done + n > c->rx_len) {
		g_fail(c, "more data than sent (%llu + %zu > %llu)",
		       (unsigned long long)c->rx_done, n, (unsigned long long)c->rx_len);
		return;
	}
	bad = fwd_pattern_check(d, n, FWD_SEED(c->id, c->initiator ? 1 : 0), c->rx_done);
	if (bad >= 0) {
		c->bad = (int64_t)c->rx_done + bad;
		g_fail(c, "wrong byte at stream offset %lld", (long long)c->bad);
		return;
	}
	c->rx_done += n;
}

static void on_event(struct sg_conn *sc, enum sg_event ev)
{
	struct fwd_gconn *c = sc->user;

	switch (ev) {
	case SG_EV_ACCEPTED: {
		/* A listener's connection comes with the guest as its user. */
		struct fwd_guest *g = sc->user;

		c = g_add(g, false);
		if (!c) {
			sg_rst(sc);
			return;
		}
		sc->user = c;
		c->c = sc;
		c->state = G_OPEN;
		c->peer_cid = sc->peer_cid;
		c->peer_port = sc->peer_port;
		c->local_port = sc->local_port;
		break;
	}
	case SG_EV_CONNECTED:
		c->state = G_OPEN;
		break;
	case SG_EV_SHUTDOWN:
		if (sc->peer_shut_send && !c->peer_shut_send) {
			c->peer_shut_send = true;
			if (c->state == G_OPEN && !rx_complete(c))
				g_fail(c, "SHUTDOWN(SEND) after %llu of %llu bytes",
				       (unsigned long long)c->rx_done, (unsigned long long)c->rx_len);
		}
		break;
	case SG_EV_CLOSED:
		c->c = NULL;
		if (!sc->reset)
			break;
		c->rst_rcvd = true;
		if (c->state == G_CONNECTING)
			g_fail(c, "refused (RST)");
		else if (c->state == G_OPEN && !(rx_complete(c) && tx_complete(c) && c->shut_sent))
			g_fail(c, "RST with rx %llu/%llu tx %llu/%llu",
			       (unsigned long long)c->rx_done, (unsigned long long)c->rx_len,
			       (unsigned long long)c->tx_done, (unsigned long long)c->tx_len);
		else if (c->state == G_OPEN)
			c->state = G_DONE;
		break;
	}
}

/* What the socket layer lets pass silently but the protocol forbids. */
static void on_pkt(struct sg_conn *sc, const struct virtio_vsock_hdr *h)
{
	struct fwd_gconn *c = sc->user;
	uint16_t op = le16toh(h->op);

	if (op == VIRTIO_VSOCK_OP_RESPONSE && c->state != G_CONNECTING)
		g_fail(c, "RESPONSE on an open connection");
	else if (op < VIRTIO_VSOCK_OP_RESPONSE || op > VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		g_fail(c, "unexpected %s", sim_op_name(op));
}

static bool on_request(struct sg *sg, uint64_t cid, uint32_t port, void *user)
{
	struct fwd_guest *g = user;

	g->accepted++;
	g->req_src_cid = cid;
	if (port < g->req_src_port_min)
		g->req_src_port_min = port;
	/* Later REQUESTs are strays, answered with RST. */
	if (g->accepted >= g->n_accept)
		sg_unlisten(sg, g->accept_port);
	if (g->refuse)
		g->refused_sent++;
	return !g->refuse;
}

static const struct sg_conn_ops g_ops = {
	.data = on_data, .event = on_event, .pkt = on_pkt, .accept = on_request,
};

int fwd_guest_init(struct fwd_guest *g, struct sim *sim)
{
	memset(g, 0, sizeof(*g));
	g->sim = sim;
	g->buf_alloc = 256u * 1024u;
	g->req_src_port_min = UINT32_MAX;
	g->scratch = malloc(SIM_PKT_MAX);
	if (!g->scratch) {
		fwd_guest_fini(g);
		return -ENOMEM;
	}
	return 0;
}

void fwd_guest_fini(struct fwd_guest *g)
{
	sg_close(g->sg);
	for (unsigned i = 0; i < g->nc; i++)
		free(g->c[i]);
	free(g->c);
	free(g->scratch);
	g->sg = NULL;
	g->c = NULL;
	g->scratch = NULL;
	g->nc = g->cap = 0;
}

/* The socket layer, once the test has said what to advertise and accept. */
static int g_sg(struct fwd_guest *g)
{
	struct sg_cfg cfg;
	int r;

	if (g->sg)
		return 0;
	sg_cfg_init(&cfg);
	cfg.buf_alloc = g->buf_alloc;
	cfg.max_conns = 4096;
	r = sg_attach(g->sim, &cfg, &g->sg);
	if (!r && g->n_accept)
		r = sg_listen(g->sg, g->accept_port, &g_ops, g);
	return r;
}

int fwd_guest_connect(struct fwd_guest *g, uint64_t cid, uint32_t port, unsigned n,
		      uint32_t src_base, uint32_t id_base)
{
	int r = g_sg(g);

	for (unsigned i = 0; !r && i < n; i++) {
		struct fwd_gconn *c = g_add(g, true);

		if (!c)
			return -ENOMEM;
		c->state = G_CONNECTING;
		c->peer_cid = cid;
		c->peer_port = port;
		c->local_port = src_base + i;
		c->id = id_base + i;
		r = sg_connect(g->sg, cid, port, c->local_port, &g_ops, c, &c->c);
	}
	return r ? r : sg_kick(g->sg);
}

/* One step of sending for c: data as credit allows, or the shutdowns.
 * Returns 1 if something was queued. */
static int g_progress(struct fwd_guest *g, struct fwd_gconn *c)
{
	uint32_t room, off = 0, l;
	ssize_t q;
	int r;

	if (c->state != G_OPEN || !c->c)
		return 0;
	if (!tx_complete(c)) {
		if (!c->initiator && c->id_done < FWD_ID_LEN)
			return 0; /* the id tells us what to send */
		room = sg_peer_credit(c->c);
		if (room > SIM_PKT_MAX)
			room = SIM_PKT_MAX;
		if (!room)
			return 0;
		/* The stream's next bytes: what is left of the id, then the
		 * pattern. */
		if (c->initiator && c->id_done < FWD_ID_LEN) {
			uint8_t id[FWD_ID_LEN] = { (uint8_t)c->id, (uint8_t)(c->id >> 8),
						   (uint8_t)(c->id >> 16), (uint8_t)(c->id >> 24) };

			off = FWD_ID_LEN - c->id_done;
			memcpy(g->scratch, id + c->id_done, off);
		}
		l = c->tx_len - c->tx_done < room - off ? (uint32_t)(c->tx_len - c->tx_done)
							: room - off;
		fwd_pattern(g->scratch + off, l, FWD_SEED(c->id, c->initiator ? 0 : 1), c->tx_done);
		q = sg_send(c->c, g->scratch, off + l);
		if (q == -EPIPE) {
			g_fail(c, "peer stopped reading after %llu of %llu bytes",
			       (unsigned long long)c->tx_done, (unsigned long long)c->tx_len);
			return 0;
		}
		if (q <= 0)
			return (int)q;
		if ((uint32_t)q < off)
			off = (uint32_t)q;
		c->id_done += off;
		c->tx_done += (uint64_t)q - off;
		return 1;
	}
	if (!c->shut_sent) {
		c->shut_sent = true;
		r = sg_shutdown(c->c, VIRTIO_VSOCK_SHUTDOWN_SEND);
		return r ? r : 1;
	}
	if (c->peer_shut_send && rx_complete(c) && !c->close_sent && !c->rst_rcvd) {
		/* close(): both directions, then wait for the device's RST. */
		c->close_sent = true;
		r = sg_shutdown(c->c, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
		return r ? r : 1;
	}
	return 0;
}

static bool g_finished(const struct fwd_guest *g)
{
	if (g->accepted < g->n_accept)
		return false;
	for (unsigned i = 0; i < g->nc; i++)
		if (g->c[i]->state != G_DONE && g->c[i]->state != G_FAILED)
			return false;
	return true;
}

/* The socket layer's counters, as the test reads them. */
static void g_collect(struct fwd_guest *g)
{
	const struct sg_stats *st = sg_stats(g->sg);
	const struct virtio_vsock_hdr *h = &st->first_stray;

	g->stray = st->stray;
	g->stray_rst = st->stray_rst;
	g->credit_violations = st->credit_violations;
	g->rx_pkts = st->rx_pkts;
	g->tx_pkts = st->tx_pkts;
	if (g->stray)
		snprintf(g->stray_what, sizeof(g->stray_what), "%s %u:%u -> %u:%u len %u",
			 sim_op_name(le16toh(h->op)), (unsigned)le64toh(h->src_cid),
			 le32toh(h->src_port), (unsigned)le64toh(h->dst_cid),
			 le32toh(h->dst_port), le32toh(h->len));
}

int fwd_guest_run(struct fwd_guest *g, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	unsigned done = 0, failed = 0, len;
	bool progress = true;
	int r = g_sg(g);

	g->why[0] = 0;
	while (!r && !g_finished(g)) {
		if (sim_now_ms() >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		/* Sleep (20 ms at most) only when nothing moved last turn. */
		r = sg_poll(g->sg, progress ? 0 : 20);
		if (r < 0)
			break;
		progress = r > 0;
		r = 0;
		for (unsigned i = 0; !r && i < g->nc; i++) {
			r = g_progress(g, g->c[i]);
			progress |= r > 0;
			r = r < 0 ? r : 0;
		}
		if (!r)
			r = sg_kick(g->sg);
		if (!r)
			r = sg_error(g->sg);
	}
	if (g->sg)
		g_collect(g);
	for (unsigned i = 0; i < g->nc; i++) {
		done += g->c[i]->state == G_DONE;
		failed += g->c[i]->state == G_FAILED;
	}
	if (!r && !failed && done == g->nc && !g->stray && !g->credit_violations)
		return 0;
	len = (unsigned)snprintf(g->why, sizeof(g->why),
				 "guest: %u conns, %u done, %u failed, %u/%u accepted, %llu stray, "
				 "%llu credit violations%s%s",
				 g->nc, done, failed, g->accepted, g->n_accept,
				 (unsigned long long)g->stray,
				 (unsigned long long)g->credit_violations,
				 r == -ETIMEDOUT ? ", timed out" : "",
				 r && r != -ETIMEDOUT ? ", sim error: " : "");
	if (r && r != -ETIMEDOUT && len < sizeof(g->why))
		len += (unsigned)snprintf(g->why + len, sizeof(g->why) - len, "%s", strerror(-r));
	if (g->stray && len < sizeof(g->why))
		len += (unsigned)snprintf(g->why + len, sizeof(g->why) - len, "; first stray: %s",
					  g->stray_what);
	for (unsigned i = 0, shown = 0; i < g->nc && shown < 2 && len < sizeof(g->why); i++) {
		struct fwd_gconn *c = g->c[i];

		if (c->state == G_DONE)
			continue;
		shown++;
		len += (unsigned)snprintf(g->why + len, sizeof(g->why) - len,
					  "; port %u->%u:%u id %u: %s (tx %llu/%llu rx %llu/%llu%s%s)",
					  c->local_port, (unsigned)c->peer_cid, c->peer_port, c->id,
					  c->state == G_FAILED ? c->why : "unfinished",
					  (unsigned long long)c->tx_done,
					  (unsigned long long)c->tx_len,
					  (unsigned long long)c->rx_done,
					  (unsigned long long)c->rx_len,
					  c->peer_shut_send ? ", peer shut" : "",
					  c->rst_rcvd ? ", rst" : "");
	}
	return -1;
}
