/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The guest side of the forward-cid tests: many streams over one simulated
 * driver, demultiplexed by (peer cid, peer port, local port) the way
 * Linux's virtio_transport_common.c does, with its credit rules: we consume
 * what arrives at once, tell the device when its view of our free space
 * falls under one maximal packet, and never send beyond the device's
 * credit. Closing follows Linux too: SHUTDOWN(SEND) when our data is out,
 * and a connection only counts as finished once the device sent its RST.
 */
#include "fwd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define G_MAX_PKT (64u * 1024u)

int fwd_guest_init(struct fwd_guest *g, struct sim *sim)
{
	memset(g, 0, sizeof(*g));
	g->sim = sim;
	g->buf_alloc = 256u * 1024u;
	g->req_src_port_min = UINT32_MAX;
	g->pkt = sim_pkt_new();
	g->scratch = malloc(G_MAX_PKT);
	if (!g->pkt || !g->scratch) {
		fwd_guest_fini(g);
		return -ENOMEM;
	}
	return 0;
}

void fwd_guest_fini(struct fwd_guest *g)
{
	free(g->c);
	free(g->pkt);
	free(g->scratch);
	g->c = NULL;
	g->pkt = NULL;
	g->scratch = NULL;
	g->nc = g->cap = 0;
}

static struct fwd_gconn *g_add(struct fwd_guest *g)
{
	struct fwd_gconn *c;

	if (g->nc == g->cap) {
		unsigned cap = g->cap ? 2 * g->cap : 64;
		struct fwd_gconn *n = realloc(g->c, cap * sizeof(*n));

		if (!n)
			return NULL;
		g->c = n;
		g->cap = cap;
	}
	c = &g->c[g->nc++];
	memset(c, 0, sizeof(*c));
	c->bad = -1;
	return c;
}

static int g_send(struct fwd_guest *g, struct fwd_gconn *c, uint16_t op, uint32_t flags,
		  const void *data, uint32_t len)
{
	/* We consume on arrival: fwd_cnt is everything received. */
	struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(g->sim), c->peer_cid,
						  c->local_port, c->peer_port, op, flags, len,
						  g->buf_alloc, c->rx_cnt);

	c->fwd_cnt_sent = c->rx_cnt;
	g->tx_pkts++;
	return sim_tx_send(g->sim, &h, data, len, 0);
}

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

int fwd_guest_connect(struct fwd_guest *g, uint64_t cid, uint32_t port, unsigned n,
		      uint32_t src_base, uint32_t id_base)
{
	for (unsigned i = 0; i < n; i++) {
		struct fwd_gconn *c = g_add(g);
		int r;

		if (!c)
			return -ENOMEM;
		c->initiator = true;
		c->state = G_CONNECTING;
		c->peer_cid = cid;
		c->peer_port = port;
		c->local_port = src_base + i;
		c->id = id_base + i;
		c->tx_len = g->len_i2a;
		c->rx_len = g->len_a2i;
		r = g_send(g, c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
		if (r)
			return r;
	}
	return 0;
}

static bool tx_complete(const struct fwd_gconn *c)
{
	return c->tx_done == c->tx_len && (!c->initiator || c->id_done == FWD_ID_LEN);
}

static bool rx_complete(const struct fwd_gconn *c)
{
	return c->rx_done == c->rx_len && (c->initiator || c->id_done == FWD_ID_LEN);
}

static struct fwd_gconn *g_find(struct fwd_guest *g, const struct sim_pkt *p)
{
	for (unsigned i = 0; i < g->nc; i++) {
		struct fwd_gconn *c = &g->c[i];

		if (c->local_port == p->dst_port && c->peer_port == p->src_port &&
		    c->peer_cid == p->src_cid)
			return c;
	}
	return NULL;
}

static void g_stray(struct fwd_guest *g, const struct sim_pkt *p, const char *why)
{
	if (!g->stray++)
		snprintf(g->stray_what, sizeof(g->stray_what),
			 "%s %u:%u -> %u:%u len %u (%s)", sim_op_name(p->op),
			 (unsigned)p->src_cid, p->src_port, (unsigned)p->dst_cid, p->dst_port,
			 p->len, why);
}

/* Answers a packet of no connection of ours with RST, as Linux does. */
static int g_reply_rst(struct fwd_guest *g, const struct sim_pkt *p)
{
	struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(g->sim), p->src_cid, p->dst_port,
						  p->src_port, VIRTIO_VSOCK_OP_RST, 0, 0,
						  g->buf_alloc, 0);

	g->tx_pkts++;
	return sim_tx_send(g->sim, &h, NULL, 0, 0);
}

static int g_accept(struct fwd_guest *g, const struct sim_pkt *p)
{
	struct fwd_gconn *c;

	g->accepted++;
	g->req_src_cid = p->src_cid;
	if (p->src_port < g->req_src_port_min)
		g->req_src_port_min = p->src_port;
	if (g->refuse) {
		g->refused_sent++;
		return g_reply_rst(g, p);
	}
	c = g_add(g);
	if (!c)
		return -ENOMEM;
	c->initiator = false;
	c->state = G_OPEN;
	c->peer_cid = p->src_cid;
	c->peer_port = p->src_port;
	c->local_port = p->dst_port;
	c->tx_len = g->len_a2i;
	c->rx_len = g->len_i2a;
	c->peer_buf_alloc = p->buf_alloc;
	c->peer_fwd_cnt = p->fwd_cnt;
	return g_send(g, c, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
}

static int g_rw(struct fwd_guest *g, struct fwd_gconn *c, const struct sim_pkt *p)
{
	const uint8_t *d = p->payload;
	size_t n = p->payload_len;

	if (c->state != G_OPEN) {
		if (c->state == G_CONNECTING)
			g_fail(c, "data before RESPONSE");
		return 0;
	}
	if ((uint32_t)(c->rx_cnt + (uint32_t)n - c->fwd_cnt_sent) > g->buf_alloc)
		g->credit_violations++;
	c->rx_cnt += (uint32_t)n;
	if (!c->initiator) {
		while (n && c->id_done < FWD_ID_LEN) {
			c->idbuf[c->id_done++] = *d++;
			n--;
		}
		if (c->id_done == FWD_ID_LEN)
			c->id = (uint32_t)c->idbuf[0] | (uint32_t)c->idbuf[1] << 8 |
				(uint32_t)c->idbuf[2] << 16 | (uint32_t)c->idbuf[3] << 24;
	}
	if (n) {
		ssize_t bad;

		if (c->rx_done + n > c->rx_len) {
			g_fail(c, "more data than sent (%llu + %zu > %llu)",
			       (unsigned long long)c->rx_done, n, (unsigned long long)c->rx_len);
			return 0;
		}
		bad = fwd_pattern_check(d, n, FWD_SEED(c->id, c->initiator ? 1 : 0), c->rx_done);
		if (bad >= 0) {
			c->bad = (int64_t)c->rx_done + bad;
			g_fail(c, "wrong byte at stream offset %lld", (long long)c->bad);
			return 0;
		}
		c->rx_done += n;
	}
	/* As Linux: once the device believes we have less than one maximal
	 * packet of room, tell it what we consumed. */
	if (g->buf_alloc - (c->rx_cnt - c->fwd_cnt_sent) < G_MAX_PKT)
		return g_send(g, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	return 0;
}

static int g_handle(struct fwd_guest *g, const struct sim_pkt *p)
{
	struct fwd_gconn *c;

	g->rx_pkts++;
	if (p->dst_cid != sim_guest_cid(g->sim)) {
		g_stray(g, p, "not for our CID");
		return 0;
	}
	c = g_find(g, p);
	if (!c) {
		if (p->op == VIRTIO_VSOCK_OP_REQUEST && p->dst_port == g->accept_port &&
		    g->accepted < g->n_accept)
			return g_accept(g, p);
		if (p->op == VIRTIO_VSOCK_OP_RST) {
			/* Linux ignores these too: the device answers a packet
			 * we sent while its RST was on the way (our close
			 * crossing its reset), possibly for an earlier run. */
			g->stray_rst++;
			return 0;
		}
		g_stray(g, p, "no such connection");
		return g_reply_rst(g, p);
	}
	c->peer_buf_alloc = p->buf_alloc;
	c->peer_fwd_cnt = p->fwd_cnt;
	switch (p->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state == G_CONNECTING)
			c->state = G_OPEN;
		else
			g_fail(c, "RESPONSE on an open connection");
		break;
	case VIRTIO_VSOCK_OP_RST:
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
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (p->flags & VIRTIO_VSOCK_SHUTDOWN_SEND) {
			c->peer_shut_send = true;
			if (c->state == G_OPEN && !rx_complete(c))
				g_fail(c, "SHUTDOWN(SEND) after %llu of %llu bytes",
				       (unsigned long long)c->rx_done,
				       (unsigned long long)c->rx_len);
		}
		break;
	case VIRTIO_VSOCK_OP_RW:
		return g_rw(g, c, p);
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		return g_send(g, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	default:
		g_fail(c, "unexpected %s", sim_op_name(p->op));
		break;
	}
	return 0;
}

/* One step of sending for c: a data packet as credit allows, or the
 * shutdowns. Returns 1 if something was sent. */
static int g_progress(struct fwd_guest *g, struct fwd_gconn *c)
{
	uint32_t credit, n = 0, l = 0;
	int r;

	if (c->state != G_OPEN)
		return 0;
	if (!tx_complete(c)) {
		if (!c->initiator && c->id_done < FWD_ID_LEN)
			return 0; /* the id tells us what to send */
		credit = c->peer_buf_alloc - (c->tx_cnt - c->peer_fwd_cnt);
		if (!credit || credit > c->peer_buf_alloc)
			return 0;
		if (credit > G_MAX_PKT)
			credit = G_MAX_PKT;
		if (c->initiator && c->id_done < FWD_ID_LEN) {
			uint8_t id[FWD_ID_LEN] = { (uint8_t)c->id, (uint8_t)(c->id >> 8),
						   (uint8_t)(c->id >> 16), (uint8_t)(c->id >> 24) };

			n = FWD_ID_LEN - c->id_done < credit ? FWD_ID_LEN - c->id_done : credit;
			memcpy(g->scratch, id + c->id_done, n);
		}
		if ((!c->initiator || c->id_done + n == FWD_ID_LEN) && n < credit &&
		    c->tx_done < c->tx_len) {
			uint64_t left = c->tx_len - c->tx_done;

			l = left < credit - n ? (uint32_t)left : credit - n;
			fwd_pattern(g->scratch + n, l, FWD_SEED(c->id, c->initiator ? 0 : 1),
				    c->tx_done);
		}
		r = g_send(g, c, VIRTIO_VSOCK_OP_RW, 0, g->scratch, n + l);
		if (r)
			return r;
		if (c->initiator)
			c->id_done += n;
		c->tx_cnt += n + l;
		c->tx_done += l;
		return 1;
	}
	if (!c->shut_sent) {
		c->shut_sent = true;
		r = g_send(g, c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
		return r ? r : 1;
	}
	if (c->peer_shut_send && rx_complete(c) && !c->close_sent && !c->rst_rcvd) {
		/* close(): both directions, then wait for the device's RST. */
		c->close_sent = true;
		r = g_send(g, c, VIRTIO_VSOCK_OP_SHUTDOWN,
			   VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
		return r ? r : 1;
	}
	return 0;
}

static bool g_finished(const struct fwd_guest *g)
{
	if (g->accepted < g->n_accept)
		return false;
	for (unsigned i = 0; i < g->nc; i++)
		if (g->c[i].state != G_DONE && g->c[i].state != G_FAILED)
			return false;
	return true;
}

int fwd_guest_run(struct fwd_guest *g, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	unsigned done = 0, failed = 0, len;
	int r = 0;

	g->why[0] = 0;
	while (!g_finished(g)) {
		bool progress = false;

		if (sim_now_ms() >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		for (unsigned k = 0; k < 512; k++) {
			r = sim_rx_poll(g->sim, g->pkt, 0);
			if (r == -ETIMEDOUT) {
				r = 0;
				break;
			}
			if (r)
				break;
			r = g_handle(g, g->pkt);
			if (r)
				break;
			progress = true;
		}
		if (r)
			break;
		for (unsigned i = 0; i < g->nc; i++) {
			r = g_progress(g, &g->c[i]);
			if (r < 0)
				break;
			progress |= r > 0;
			r = 0;
		}
		if (r)
			break;
		if (!progress) {
			r = sim_rx_poll(g->sim, g->pkt, 20);
			if (r == -ETIMEDOUT) {
				r = 0;
				continue;
			}
			if (r)
				break;
			r = g_handle(g, g->pkt);
			if (r)
				break;
		}
	}
	for (unsigned i = 0; i < g->nc; i++) {
		done += g->c[i].state == G_DONE;
		failed += g->c[i].state == G_FAILED;
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
		struct fwd_gconn *c = &g->c[i];

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
