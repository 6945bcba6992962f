/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Bench guest driver: rx buffers, and what each received packet does. */
#include "bguest_priv.h"

#include <errno.h>
#include <string.h>

static int rx_add(struct bg *g, unsigned idx)
{
	struct vring_desc d;
	int head;

	bg_set_desc(&d, g->rx_gpa + (uint64_t)idx * g->rx_stride,
		 (uint32_t)(SIM_HDR_SIZE + g->cfg.rx_buf_size), VRING_DESC_F_WRITE, 0);
	head = sim_vq_add_raw_chain(g->sim, SIM_VQ_RX, &d, 1, false);
	if (head < 0)
		return head;
	g->rx_buf_of_head[head] = (int32_t)idx;
	g->rx_posted++;
	return 0;
}

/* Linux refills only once fewer than half the buffers are posted: one
 * batch, one kick decision. */
int bg_rx_refill(struct bg *g, bool force)
{
	if (!force && g->rx_posted >= (g->rx_total + 1) / 2)
		return 0;
	while (g->rx_nidle) {
		int r = rx_add(g, g->rx_idle[g->rx_nidle - 1]);

		if (r)
			return r;
		g->rx_nidle--;
	}
	return sim_vq_notify(g->sim, SIM_VQ_RX);
}

static const struct listener *find_listener(struct bg *g, uint32_t port)
{
	for (unsigned i = 0; i < g->nlisteners; i++)
		if (g->listeners[i].port == port)
			return &g->listeners[i];
	return NULL;
}

static void handle_request(struct bg *g, const struct virtio_vsock_hdr *h)
{
	const struct listener *l = find_listener(g, le32toh(h->dst_port));
	uint64_t cid = le64toh(h->src_cid);
	uint32_t sport = le32toh(h->src_port), dport = le32toh(h->dst_port);
	struct bg_conn *c;

	if (!l || bg_lookup(g, cid, sport, dport)) {
		bg_reply_rst(g, h);
		return;
	}
	c = bg_conn_new(g, cid, sport, dport, l->ops, l->user);
	if (!c) {
		bg_reply_rst(g, h);
		return;
	}
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	c->state = BG_ESTABLISHED;
	bg_send_ctrl(g, c, VIRTIO_VSOCK_OP_RESPONSE, 0);
	if (c->ops && c->ops->event)
		c->ops->event(c, BG_EV_ACCEPTED);
}

static void handle_rw(struct bg *g, struct bg_conn *c, const uint8_t *payload, uint32_t len)
{
	/* The peer may have at most buf_alloc bytes beyond the fwd_cnt it
	 * last heard from us. */
	if ((uint32_t)(c->rx_cnt + len - c->fwd_cnt_sent) > c->buf_alloc)
		c->credit_violations++;
	c->rx_cnt += len;
	g->st.rx_bytes += len;
	if (c->ops && c->ops->data)
		c->ops->data(c, payload, len);
	if (c->dead)
		return;
	/* The application consumed it all: Linux's dequeue rule. */
	c->fwd_cnt += len;
	if (c->buf_alloc - (c->fwd_cnt - c->fwd_cnt_sent) < BG_MAX_PKT)
		bg_send_ctrl(g, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
}

static void handle_packet(struct bg *g, const uint8_t *buf, uint32_t used_len)
{
	struct virtio_vsock_hdr h;
	struct bg_conn *c;
	uint32_t len;
	uint16_t op;

	memcpy(&h, buf, sizeof(h));
	len = le32toh(h.len);
	op = le16toh(h.op);
	if (used_len < SIM_HDR_SIZE || len != used_len - SIM_HDR_SIZE ||
	    len > g->cfg.rx_buf_size || le64toh(h.dst_cid) != g->cid) {
		g->st.bad++;
		if (!g->err)
			g->err = -EBADMSG;
		return;
	}
	if (op == VIRTIO_VSOCK_OP_REQUEST) {
		handle_request(g, &h);
		return;
	}
	c = bg_lookup(g, le64toh(h.src_cid), le32toh(h.src_port), le32toh(h.dst_port));
	if (!c || c->dead) {
		g->st.stray++;
		bg_reply_rst(g, &h);
		return;
	}
	c->peer_buf_alloc = le32toh(h.buf_alloc);
	c->peer_fwd_cnt = le32toh(h.fwd_cnt);
	switch (op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state == BG_CONNECTING) {
			c->state = BG_ESTABLISHED;
			if (c->ops && c->ops->event)
				c->ops->event(c, BG_EV_CONNECTED);
		}
		break;
	case VIRTIO_VSOCK_OP_RW:
		handle_rw(g, c, buf + SIM_HDR_SIZE, len);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		g->st.credit_updates_rcvd++;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		bg_send_ctrl(g, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (le32toh(h.flags) & VIRTIO_VSOCK_SHUTDOWN_SEND)
			c->peer_shut_send = true;
		if (le32toh(h.flags) & VIRTIO_VSOCK_SHUTDOWN_RCV)
			c->peer_shut_rcv = true;
		if (c->ops && c->ops->event)
			c->ops->event(c, BG_EV_SHUTDOWN);
		break;
	case VIRTIO_VSOCK_OP_RST:
		if (c->state == BG_CONNECTING)
			c->refused = true;
		bg_conn_closed(g, c);
		break;
	default:
		break;
	}
}

int bg_process_rx(struct bg *g)
{
	uint32_t id, len;
	int n = 0, r;

	g->dispatching = true;
	g->batch++;
	while ((r = sim_vq_get_used(g->sim, SIM_VQ_RX, &id, &len)) > 0) {
		int32_t idx = id < g->qsize ? g->rx_buf_of_head[id] : -1;

		if (idx < 0) {
			g->st.bad++;
			continue;
		}
		g->rx_buf_of_head[id] = -1;
		g->rx_posted--;
		g->st.rx_pkts++;
		handle_packet(g, g->rx_base + (size_t)idx * g->rx_stride, len);
		g->rx_idle[g->rx_nidle++] = (uint16_t)idx;
		while (g->ndeferred)
			bg_conn_release(g, g->deferred[--g->ndeferred]);
		n++;
	}
	g->dispatching = false;
	if (r < 0)
		return r;
	if (n) {
		r = bg_rx_refill(g, false);
		if (r)
			return r;
	}
	return n;
}
