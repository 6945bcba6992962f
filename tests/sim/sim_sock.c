/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The socket layer of the simulated guest (see sim_sock.h): the connection
 * table and listeners, credit, what each received packet does, and the
 * driver's wait for the device. Everything below it (rx buffers, tx slots,
 * rings) is the packet level of sim.h; nothing here touches a ring directly.
 */
#include "sim/sim_sock.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_BUCKETS 4096u
#define EPHEMERAL_MIN 49152u

struct listener {
	uint32_t port;
	const struct sg_conn_ops *ops;
	void *user;
};

struct sg {
	struct sim *sim;
	bool own_sim;           /* sg_open made it: sg_close stops it */
	struct sg_cfg cfg;
	uint64_t cid;
	bool indirect;
	int err;

	bool want_tx;           /* a send ran out of slots: wake on tx used */
	bool tx_added;          /* packets published since the last kick decision */

	struct sg_conn *conns;  /* pool */
	struct sg_conn **conn_free;
	unsigned nfree_conns, nlive;
	struct sg_conn *buckets[HASH_BUCKETS];
	struct sg_conn *deferred[64]; /* freed once the current packet is done */
	unsigned ndeferred;
	bool dispatching;
	uint64_t batch;         /* process_rx() passes: one interrupt's worth */
	uint32_t next_port;

	char stall[256];        /* what a timed-out send was waiting for */

	struct listener *listeners; /* searched per REQUEST: few expected */
	unsigned nlisteners, cap_listeners;
	struct sg_stats st;
};

void sg_cfg_init(struct sg_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->queue_size = 128;
	cfg->rx_buf_size = 4096;
	cfg->tx_max_payload = SIM_PKT_MAX;
	cfg->buf_alloc = 256u * 1024u;
	cfg->max_conns = 2048;
	cfg->timeout_ms = 5000;
}

/* ---- the connection table ---- */

static unsigned hash(uint64_t cid, uint32_t peer_port, uint32_t local_port)
{
	uint64_t k = (cid * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)peer_port << 32 | local_port);

	k ^= k >> 29;
	k *= 0xbf58476d1ce4e5b9ull;
	return (unsigned)(k >> 40) & (HASH_BUCKETS - 1);
}

static struct sg_conn *lookup(struct sg *g, uint64_t cid, uint32_t peer_port,
			      uint32_t local_port)
{
	struct sg_conn *c = g->buckets[hash(cid, peer_port, local_port)];

	for (; c; c = c->hnext)
		if (c->peer_cid == cid && c->peer_port == peer_port && c->local_port == local_port)
			return c;
	return NULL;
}

static struct sg_conn *conn_new(struct sg *g, uint64_t cid, uint32_t peer_port,
				uint32_t local_port, const struct sg_conn_ops *ops, void *user)
{
	struct sg_conn *c;
	unsigned h;

	if (!g->nfree_conns)
		return NULL;
	c = g->conn_free[--g->nfree_conns];
	memset(c, 0, sizeof(*c));
	c->g = g;
	c->ops = ops;
	c->user = user;
	c->peer_cid = cid;
	c->peer_port = peer_port;
	c->local_port = local_port;
	c->buf_alloc = g->cfg.buf_alloc;
	h = hash(cid, peer_port, local_port);
	c->hnext = g->buckets[h];
	g->buckets[h] = c;
	g->nlive++;
	if (ops && ops->init)
		ops->init(c);
	return c;
}

static void conn_release(struct sg *g, struct sg_conn *c)
{
	struct sg_conn **pp = &g->buckets[hash(c->peer_cid, c->peer_port, c->local_port)];

	/* Kept: its final counters stay readable, and packets the device
	 * still sends for it are told from strays (see handle_packet). A
	 * newer connection on the same ports is found first (inserted at the
	 * bucket's head). */
	if (g->cfg.keep_closed)
		return;
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	}
	g->conn_free[g->nfree_conns++] = c;
}

/* A connection on these ports that is not closed, or NULL. */
static struct sg_conn *lookup_live(struct sg *g, uint64_t cid, uint32_t peer_port,
				   uint32_t local_port)
{
	struct sg_conn *c = lookup(g, cid, peer_port, local_port);

	return c && !c->dead ? c : NULL;
}

/* Ends c: the application hears SG_EV_CLOSED, then c goes back to the pool
 * (later if a packet of c is being dispatched, so that callers up the stack
 * never touch freed memory). */
static void conn_closed(struct sg *g, struct sg_conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	c->state = SG_CLOSED;
	g->nlive--;
	if (c->ops && c->ops->event)
		c->ops->event(c, SG_EV_CLOSED);
	if (g->dispatching && g->ndeferred < sizeof(g->deferred) / sizeof(g->deferred[0]))
		g->deferred[g->ndeferred++] = c;
	else
		conn_release(g, c);
}

static const struct listener *find_listener(struct sg *g, uint32_t port)
{
	for (unsigned i = 0; i < g->nlisteners; i++)
		if (g->listeners[i].port == port)
			return &g->listeners[i];
	return NULL;
}

/* ---- sending: packet slots, the peer's credit, kicks ---- */

static int reclaim_tx(struct sg *g)
{
	int n = 0, r;

	while ((r = sim_vq_get_used(g->sim, SIM_VQ_TX, NULL, NULL)) > 0)
		n++;
	if (n)
		g->want_tx = false;
	return r < 0 ? r : n;
}

static int take_slot(struct sg *g, uint8_t **buf)
{
	if (!sim_tx_slots_free(g->sim, NULL))
		reclaim_tx(g);
	return sim_tx_slot_take(g->sim, buf);
}

static int publish(struct sg *g, int slot, uint32_t len)
{
	int r = sim_tx_slot_send(g->sim, slot, len);

	if (r)
		return r;
	g->tx_added = true;
	g->st.tx_pkts++;
	g->st.tx_bytes += len;
	return 0;
}

static struct virtio_vsock_hdr conn_hdr(struct sg *g, struct sg_conn *c, uint16_t op,
					uint32_t flags, uint32_t len)
{
	/* Every packet carries our fwd_cnt: the peer's view is fresh now. */
	c->fwd_cnt_sent = c->fwd_cnt;
	return sim_vsock_hdr(g->cid, c->peer_cid, c->local_port, c->peer_port, op, flags, len,
			     c->buf_alloc, c->fwd_cnt);
}

/* A header-only packet. Control packets must not be lost, so if every slot
 * is in flight this waits (bounded) for the device to use one: it always
 * does, since a device never holds tx buffers for long. */
static int send_ctrl(struct sg *g, struct sg_conn *c, uint16_t op, uint32_t flags)
{
	struct virtio_vsock_hdr h;
	uint8_t *buf;
	int slot = take_slot(g, &buf), r;

	for (unsigned i = 0; slot == -ENOSPC && i < 2; i++) {
		r = sg_kick(g);
		if (!r)
			r = sim_vq_wait_used(g->sim, SIM_VQ_TX, g->cfg.timeout_ms);
		if (r) {
			if (!g->err)
				g->err = r;
			return r;
		}
		slot = take_slot(g, &buf);
	}
	if (slot < 0)
		return slot;
	h = conn_hdr(g, c, op, flags, 0);
	memcpy(buf, &h, sizeof(h));
	if (op == VIRTIO_VSOCK_OP_CREDIT_UPDATE) {
		g->st.credit_updates_sent++;
		c->credit_updates_sent++;
	}
	if (op == VIRTIO_VSOCK_OP_RST)
		c->rst_sent = true;
	return publish(g, slot, 0);
}

/* Answers a packet for no connection, as Linux does (never an RST to an RST). */
static void reply_rst(struct sg *g, const struct virtio_vsock_hdr *in)
{
	struct sg_conn tmp = {
		.peer_cid = le64toh(in->src_cid),
		.peer_port = le32toh(in->src_port),
		.local_port = le32toh(in->dst_port),
	};

	if (le16toh(in->op) == VIRTIO_VSOCK_OP_RST)
		return;
	send_ctrl(g, &tmp, VIRTIO_VSOCK_OP_RST, 0);
}

uint32_t sg_peer_credit(const struct sg_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	if (c->ignore_credit)
		return UINT32_MAX;
	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* One data packet in a test's SIM_TX_* layout: allocated per packet and
 * kicked at once, as sim_tx_send() does (tests only, so cost is no issue). */
static int send_layout(struct sg *g, struct sg_conn *c, const uint8_t *p, uint32_t n)
{
	struct virtio_vsock_hdr h = conn_hdr(g, c, VIRTIO_VSOCK_OP_RW, 0, n);
	int r = sim_tx_send(g->sim, &h, p, n, c->tx_flags);

	if (r)
		return r;
	g->st.tx_pkts++;
	g->st.tx_bytes += n;
	return 0;
}

ssize_t sg_send(struct sg_conn *c, const void *buf, size_t len)
{
	struct sg *g = c->g;
	const uint8_t *p = buf;
	size_t done = 0;

	if (c->state != SG_ESTABLISHED)
		return c->state == SG_CONNECTING ? -ENOTCONN : -ECONNRESET;
	if (c->peer_shut_rcv)
		return -EPIPE;
	while (done < len) {
		struct virtio_vsock_hdr h;
		uint32_t n = sg_peer_credit(c);
		uint8_t *slot_buf;
		int slot, r;

		if (!n)
			break;
		if (n > g->cfg.tx_max_payload)
			n = (uint32_t)g->cfg.tx_max_payload;
		if (n > len - done)
			n = (uint32_t)(len - done);
		if (c->tx_flags) {
			r = send_layout(g, c, p + done, n);
			if (r)
				return r;
			c->tx_cnt += n;
			done += n;
			continue;
		}
		slot = take_slot(g, &slot_buf);
		if (slot == -ENOSPC) {
			g->want_tx = true;
			break;
		}
		if (slot < 0)
			return slot;
		h = conn_hdr(g, c, VIRTIO_VSOCK_OP_RW, 0, n);
		memcpy(slot_buf, &h, sizeof(h));
		/* The one copy a guest kernel makes from the sender's buffer. */
		memcpy(slot_buf + SIM_HDR_SIZE, p + done, n);
		r = publish(g, slot, n);
		if (r == -ENOSPC) {
			g->want_tx = true;
			break;
		}
		if (r)
			return r;
		c->tx_cnt += n;
		done += n;
	}
	return (ssize_t)done;
}

int sg_kick(struct sg *g)
{
	if (!g->tx_added)
		return 0;
	g->tx_added = false;
	return sim_vq_notify(g->sim, SIM_VQ_TX);
}

/* Remembers why a send gave up, for the failure report: a stuck daemon
 * shows up as slots it never used or credit it never returned. */
void sg_note_stall(const struct sg_conn *c)
{
	struct sg *g = c->g;
	struct sim_vq_stats tx, rx;
	unsigned total, nfree = sim_tx_slots_free(g->sim, &total);

	sim_vq_stats(g->sim, SIM_VQ_TX, &tx);
	sim_vq_stats(g->sim, SIM_VQ_RX, &rx);
	snprintf(g->stall, sizeof(g->stall),
		 "send stalled: peer credit %u of %u, %u/%u tx slots free; tx chains %llu "
		 "added %llu used %llu kicks; rx used %llu",
		 sg_peer_credit(c), c->peer_buf_alloc, nfree, total,
		 (unsigned long long)tx.added, (unsigned long long)tx.used,
		 (unsigned long long)tx.kicks, (unsigned long long)rx.used);
}

int sg_send_all(struct sg_conn *c, const void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	const uint8_t *p = buf;
	struct sg *g = c->g;

	while (len) {
		ssize_t n = sg_send(c, p, len);
		int r;

		if (n < 0)
			return (int)n;
		p += n;
		len -= (size_t)n;
		if (!len)
			break;
		/* Out of credit or slots: let the device catch up. */
		r = sg_kick(g);
		if (r)
			return r;
		if (sim_now_ms() >= deadline) {
			sg_note_stall(c);
			return -ETIMEDOUT;
		}
		r = sg_poll(g, (int)(deadline - sim_now_ms()));
		if (r < 0)
			return r;
		if (c->dead)
			return -ECONNRESET;
	}
	return sg_kick(g);
}

/* Linux's dequeue rule: tell the peer what we consumed once the free space
 * it believes we have falls under one maximal packet (always, with a
 * buffer smaller than that). */
int sg_consume(struct sg_conn *c, uint32_t n)
{
	c->fwd_cnt += n;
	if (c->dead || c->fwd_cnt == c->fwd_cnt_sent)
		return 0;
	if (c->buf_alloc - (c->fwd_cnt - c->fwd_cnt_sent) < SIM_PKT_MAX ||
	    c->buf_alloc < SIM_PKT_MAX)
		return send_ctrl(c->g, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
	return 0;
}

int sg_shutdown(struct sg_conn *c, uint32_t flags)
{
	return send_ctrl(c->g, c, VIRTIO_VSOCK_OP_SHUTDOWN, flags);
}

int sg_rst(struct sg_conn *c)
{
	struct sg *g = c->g;
	int r;

	if (c->dead)
		return 0;
	r = send_ctrl(g, c, VIRTIO_VSOCK_OP_RST, 0);
	conn_closed(g, c);
	return r;
}

int sg_close_conn(struct sg_conn *c)
{
	int r;

	if (c->dead || c->state == SG_CLOSING)
		return 0;
	if (c->peer_shut_send && c->peer_shut_rcv)
		return sg_rst(c);
	r = sg_shutdown(c, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	c->state = SG_CLOSING;
	return r;
}

int sg_connect(struct sg *g, uint64_t dst_cid, uint32_t dst_port, uint32_t src_port,
	       const struct sg_conn_ops *ops, void *user, struct sg_conn **out)
{
	struct sg_conn *c;
	uint32_t port = src_port;

	/* Ephemeral ports as Linux hands them out: the next unused one. */
	for (unsigned tries = 0; !src_port; tries++) {
		if (tries > g->cfg.max_conns)
			return -EADDRINUSE;
		port = g->next_port++;
		if (g->next_port < EPHEMERAL_MIN)
			g->next_port = EPHEMERAL_MIN;
		if (!lookup_live(g, dst_cid, dst_port, port))
			break;
	}
	if (src_port && lookup_live(g, dst_cid, dst_port, port))
		return -EADDRINUSE;
	c = conn_new(g, dst_cid, dst_port, port, ops, user);
	if (!c)
		return -EMFILE;
	c->state = SG_CONNECTING;
	*out = c;
	return send_ctrl(g, c, VIRTIO_VSOCK_OP_REQUEST, 0);
}

int sg_listen(struct sg *g, uint32_t port, const struct sg_conn_ops *ops, void *user)
{
	if (find_listener(g, port))
		return -EADDRINUSE;
	if (g->nlisteners == g->cap_listeners) {
		unsigned cap = g->cap_listeners ? 2 * g->cap_listeners : 4;
		struct listener *l = realloc(g->listeners, cap * sizeof(*l));

		if (!l)
			return -ENOMEM;
		g->listeners = l;
		g->cap_listeners = cap;
	}
	g->listeners[g->nlisteners++] = (struct listener){ port, ops, user };
	return 0;
}

int sg_unlisten(struct sg *g, uint32_t port)
{
	for (unsigned i = 0; i < g->nlisteners; i++) {
		if (g->listeners[i].port == port) {
			g->listeners[i] = g->listeners[--g->nlisteners];
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- receiving: what each packet does ---- */

static void stray(struct sg *g, const struct virtio_vsock_hdr *h)
{
	if (le16toh(h->op) == VIRTIO_VSOCK_OP_RST) {
		/* Linux ignores these: the device answers a packet we sent
		 * while its RST was on the way (our close crossing its reset). */
		g->st.stray_rst++;
		return;
	}
	if (!g->st.stray++)
		g->st.first_stray = *h;
	if (!g->cfg.quiet)
		reply_rst(g, h);
}

static void handle_request(struct sg *g, const struct virtio_vsock_hdr *h)
{
	const struct listener *found = find_listener(g, le32toh(h->dst_port));
	uint64_t cid = le64toh(h->src_cid);
	uint32_t sport = le32toh(h->src_port), dport = le32toh(h->dst_port);
	struct listener l;
	struct sg_conn *c;

	if (!found) {
		stray(g, h);
		return;
	}
	if (lookup_live(g, cid, sport, dport)) {
		reply_rst(g, h);
		return;
	}
	/* A copy: the accept hook may stop listening, which moves entries. */
	l = *found;
	if (l.ops && l.ops->accept && !l.ops->accept(g, cid, sport, l.user)) {
		g->st.refused++;
		reply_rst(g, h);
		return;
	}
	c = conn_new(g, cid, sport, dport, l.ops, l.user);
	if (!c) {
		reply_rst(g, h);
		return;
	}
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	c->state = SG_ESTABLISHED;
	send_ctrl(g, c, VIRTIO_VSOCK_OP_RESPONSE, 0);
	if (c->ops && c->ops->event)
		c->ops->event(c, SG_EV_ACCEPTED);
}

static void handle_rw(struct sg *g, struct sg_conn *c, const uint8_t *payload, uint32_t len)
{
	/* The peer may have at most buf_alloc bytes beyond the fwd_cnt it
	 * last heard from us. */
	if ((uint32_t)(c->rx_cnt + len - c->fwd_cnt_sent) > c->buf_alloc) {
		c->credit_violations++;
		g->st.credit_violations++;
	}
	c->rx_cnt += len;
	g->st.rx_bytes += len;
	if (c->ops && c->ops->data)
		c->ops->data(c, payload, len);
	/* The application consumed it all, unless it holds it. */
	if (!c->dead && !c->hold)
		sg_consume(c, len);
}

static void handle_packet(struct sg *g, const struct sim_rx_buf *b)
{
	struct virtio_vsock_hdr h;
	struct sg_conn *c;
	uint16_t op;

	if (sim_rx_check(b)) {
		g->st.bad++;
		if (!g->err)
			g->err = -EBADMSG;
		return;
	}
	memcpy(&h, b->data, sizeof(h));
	/* Only stream packets for our CID may come: anything else is a
	 * device bug. */
	if (le64toh(h.dst_cid) != g->cid || le16toh(h.type) != VIRTIO_VSOCK_TYPE_STREAM) {
		g->st.bad++;
		if (!g->err)
			g->err = -EBADMSG;
		return;
	}
	op = le16toh(h.op);
	if (op == VIRTIO_VSOCK_OP_REQUEST) {
		handle_request(g, &h);
		return;
	}
	c = lookup(g, le64toh(h.src_cid), le32toh(h.src_port), le32toh(h.dst_port));
	if (c && c->dead && op == VIRTIO_VSOCK_OP_RST) {
		/* A kept connection we closed: the device answers a packet
		 * that crossed its RST (or our RST crossed its own). */
		g->st.late_rst++;
		return;
	}
	if (!c || c->dead) {
		stray(g, &h);
		return;
	}
	if (c->ops && c->ops->pkt)
		c->ops->pkt(c, &h);
	c->peer_buf_alloc = le32toh(h.buf_alloc);
	c->peer_fwd_cnt = le32toh(h.fwd_cnt);
	switch (op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state == SG_CONNECTING) {
			c->state = SG_ESTABLISHED;
			if (c->ops && c->ops->event)
				c->ops->event(c, SG_EV_CONNECTED);
		}
		break;
	case VIRTIO_VSOCK_OP_RW:
		handle_rw(g, c, b->data + SIM_HDR_SIZE, le32toh(h.len));
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		g->st.credit_updates_rcvd++;
		c->credit_updates_rcvd++;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		send_ctrl(g, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (le32toh(h.flags) & VIRTIO_VSOCK_SHUTDOWN_SEND)
			c->peer_shut_send = true;
		if (le32toh(h.flags) & VIRTIO_VSOCK_SHUTDOWN_RCV)
			c->peer_shut_rcv = true;
		if (c->ops && c->ops->event)
			c->ops->event(c, SG_EV_SHUTDOWN);
		break;
	case VIRTIO_VSOCK_OP_RST:
		c->reset = true;
		if (c->state == SG_CONNECTING)
			c->refused = true;
		conn_closed(g, c);
		break;
	default:
		break;
	}
}

static int process_rx(struct sg *g, unsigned max)
{
	struct sim_rx_buf b;
	unsigned n = 0;
	int r = 0;

	g->dispatching = true;
	g->batch++;
	while (n < max && (r = sim_rx_next(g->sim, &b)) > 0) {
		g->st.rx_pkts++;
		handle_packet(g, &b);
		while (g->ndeferred)
			conn_release(g, g->deferred[--g->ndeferred]);
		n++;
	}
	g->dispatching = false;
	if (r < 0)
		return r;
	/* One refill (and kick decision) per pass, as after one interrupt. */
	if (n) {
		r = sim_rx_refill(g->sim);
		if (r)
			return r;
	}
	return (int)n;
}

/* ---- waiting for the device ---- */

int sg_poll_max(struct sg *g, unsigned max_rx, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;

	for (;;) {
		struct sim_vq_rings rx, tx;
		struct pollfd pfd[3];
		unsigned npfd = 0;
		int64_t left;
		int n, t, r;

		n = process_rx(g, max_rx);
		if (n < 0)
			return n;
		t = reclaim_tx(g);
		if (t < 0)
			return t;
		/* Control packets and echoes the callbacks queued. */
		r = sg_kick(g);
		if (r)
			return r;
		if (n + t > 0)
			return n + t;
		left = deadline - sim_now_ms();
		if (timeout_ms <= 0 || left <= 0)
			return 0;
		/* Arm the callbacks (used_event), then re-check: an entry
		 * used meanwhile would raise no signal. */
		if (sim_vq_wait_used(g->sim, SIM_VQ_RX, 0) == 0)
			continue;
		if (g->want_tx && sim_vq_wait_used(g->sim, SIM_VQ_TX, 0) == 0)
			continue;
		sim_vq_rings(g->sim, SIM_VQ_RX, &rx);
		sim_vq_rings(g->sim, SIM_VQ_TX, &tx);
		pfd[npfd++] = (struct pollfd){ .fd = rx.callfd, .events = POLLIN };
		if (g->want_tx)
			pfd[npfd++] = (struct pollfd){ .fd = tx.callfd, .events = POLLIN };
		pfd[npfd++] = (struct pollfd){ .fd = sim_socket_fd(g->sim), .events = 0 };
		g->st.waits++;
		r = poll(pfd, npfd, left > 60000 ? 60000 : (int)left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0) {
			sim_vq_drain_calls(g->sim, SIM_VQ_RX);
			if (g->want_tx)
				sim_vq_drain_calls(g->sim, SIM_VQ_TX);
			if (pfd[npfd - 1].revents & (POLLHUP | POLLERR))
				return -ECONNRESET;
		}
	}
}

int sg_poll(struct sg *g, int timeout_ms)
{
	return sg_poll_max(g, UINT32_MAX, timeout_ms);
}

/* ---- life cycle ---- */

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

int sg_attach(struct sim *sim, const struct sg_cfg *cfg, struct sg **out)
{
	struct sg *g;
	unsigned i;

	if (!cfg->tx_max_payload || cfg->tx_max_payload > sim_opts(sim)->tx_slot_size ||
	    !cfg->max_conns)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->sim = sim;
	g->cfg = *cfg;
	g->next_port = EPHEMERAL_MIN;
	g->cid = sim_guest_cid(sim);
	g->indirect = sim_info(sim)->features_acked & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	g->conns = calloc(cfg->max_conns, sizeof(*g->conns));
	g->conn_free = calloc(cfg->max_conns, sizeof(*g->conn_free));
	if (!g->conns || !g->conn_free) {
		sg_close(g);
		return -ENOMEM;
	}
	for (i = 0; i < cfg->max_conns; i++)
		g->conn_free[g->nfree_conns++] = &g->conns[cfg->max_conns - 1 - i];
	*out = g;
	return 0;
}

int sg_open(const char *socket_path, const struct sg_cfg *cfg, struct sg **out)
{
	struct sim_opts o;
	struct sim *sim;
	size_t tx_stride, rx_stride;
	unsigned i;
	int r;

	if (cfg->queue_size < 2 || cfg->queue_size > 32768 ||
	    (cfg->queue_size & (cfg->queue_size - 1)) || !cfg->rx_buf_size ||
	    cfg->rx_buf_size > SIM_PKT_MAX || !cfg->tx_max_payload ||
	    cfg->tx_max_payload > SIM_PKT_MAX)
		return -EINVAL;
	sim_opts_init(&o);
	for (i = 0; i < SIM_NUM_VQS; i++)
		o.queue_size[i] = cfg->queue_size;
	/* Room for the tx slots and rx buffers of full rings, the rings, and
	 * some to spare. */
	tx_stride = align_up(align_up(SIM_HDR_SIZE + cfg->tx_max_payload, 16) +
			     2 * sizeof(struct vring_desc), 64);
	rx_stride = align_up(SIM_HDR_SIZE + cfg->rx_buf_size, 64);
	o.mem_size = align_up((tx_stride + rx_stride) * cfg->queue_size +
			      16 * cfg->queue_size * 3 * 2, 1u << 20) + (8u << 20);
	o.rx_buf_size = cfg->rx_buf_size;
	o.tx_slot_size = cfg->tx_max_payload;
	o.connect_timeout_ms = cfg->timeout_ms;
	o.io_timeout_ms = cfg->timeout_ms;
	r = sim_connect(socket_path, &o, &sim);
	if (r)
		return r;
	r = sim_start(sim);
	if (!r)
		r = sg_attach(sim, cfg, out);
	if (r) {
		sim_close(sim);
		return r;
	}
	(*out)->own_sim = true;
	return 0;
}

void sg_close(struct sg *g)
{
	if (!g)
		return;
	if (g->own_sim) {
		sim_stop(g->sim);
		sim_close(g->sim);
	}
	free(g->conns);
	free(g->conn_free);
	free(g->listeners);
	free(g);
}

struct sim *sg_sim(const struct sg *g)
{
	return g->sim;
}

uint64_t sg_guest_cid(const struct sg *g)
{
	return g->cid;
}

bool sg_indirect(const struct sg *g)
{
	return g->indirect;
}

const struct sg_stats *sg_stats(const struct sg *g)
{
	return &g->st;
}

int sg_error(const struct sg *g)
{
	return g->err;
}

const char *sg_stall(const struct sg *g)
{
	return g->stall[0] ? g->stall : NULL;
}

void sg_describe(const struct sg *g, char *buf, size_t cap)
{
	struct sim_vq_stats tx, rx;

	sim_vq_stats(g->sim, SIM_VQ_TX, &tx);
	sim_vq_stats(g->sim, SIM_VQ_RX, &rx);
	snprintf(buf, cap,
		 "guest: rx %llu pkts %llu B, tx %llu pkts %llu B, credit updates sent %llu "
		 "rcvd %llu, tx kicks %llu (suppressed %llu), rx kicks %llu, calls rx %llu "
		 "tx %llu, sleeps %llu",
		 (unsigned long long)g->st.rx_pkts, (unsigned long long)g->st.rx_bytes,
		 (unsigned long long)g->st.tx_pkts, (unsigned long long)g->st.tx_bytes,
		 (unsigned long long)g->st.credit_updates_sent,
		 (unsigned long long)g->st.credit_updates_rcvd, (unsigned long long)tx.kicks,
		 (unsigned long long)tx.kicks_suppressed, (unsigned long long)rx.kicks,
		 (unsigned long long)rx.calls, (unsigned long long)tx.calls,
		 (unsigned long long)g->st.waits);
}

uint64_t sg_rx_batch(const struct sg *g)
{
	return g->batch;
}

unsigned sg_nconns(const struct sg *g)
{
	return g->nlive;
}
