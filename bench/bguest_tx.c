/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Bench guest driver: packet slots, sending within the peer's credit, kicks. */
#include "bguest_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int bg_reclaim_tx(struct bg *g)
{
	uint32_t id, len;
	int n = 0, r;

	while ((r = sim_vq_get_used(g->sim, SIM_VQ_TX, &id, &len)) > 0) {
		if (id >= g->qsize || g->tx_slot_of_head[id] < 0) {
			g->st.bad++;
			continue;
		}
		g->tx_free[g->tx_nfree++] = (uint16_t)g->tx_slot_of_head[id];
		g->tx_slot_of_head[id] = -1;
		n++;
	}
	if (n)
		g->want_tx = false;
	return r < 0 ? r : n;
}

static int take_slot(struct bg *g)
{
	if (!g->tx_nfree)
		bg_reclaim_tx(g);
	if (!g->tx_nfree)
		return -ENOSPC;
	return g->tx_free[--g->tx_nfree];
}

/* Publishes slot as a packet of len payload bytes (header already written). */
static int publish(struct bg *g, int slot, uint32_t len)
{
	uint64_t gpa = g->tx_gpa + (uint64_t)slot * g->tx_stride;
	struct vring_desc d[2];
	unsigned n;
	int head;

	if (!len) {
		bg_set_desc(&d[0], gpa, SIM_HDR_SIZE, 0, 0);
		n = 1;
	} else if (g->indirect) {
		struct vring_desc *tbl = (void *)(g->tx_base + (size_t)slot * g->tx_stride +
						  g->tx_tbl_off);

		bg_set_desc(&tbl[0], gpa, SIM_HDR_SIZE, VRING_DESC_F_NEXT, 1);
		bg_set_desc(&tbl[1], gpa + SIM_HDR_SIZE, len, 0, 0);
		bg_set_desc(&d[0], gpa + g->tx_tbl_off, 2 * sizeof(*tbl), VRING_DESC_F_INDIRECT, 0);
		n = 1;
	} else {
		bg_set_desc(&d[0], gpa, SIM_HDR_SIZE, VRING_DESC_F_NEXT, 0);
		bg_set_desc(&d[1], gpa + SIM_HDR_SIZE, len, 0, 0);
		n = 2;
	}
	head = sim_vq_add_raw_chain(g->sim, SIM_VQ_TX, d, n, false);
	if (head < 0) {
		g->tx_free[g->tx_nfree++] = (uint16_t)slot;
		return head;
	}
	g->tx_slot_of_head[head] = slot;
	g->tx_added = true;
	g->st.tx_pkts++;
	g->st.tx_bytes += len;
	return 0;
}

static void put_hdr(struct bg *g, struct bg_conn *c, int slot, uint16_t op, uint32_t flags,
		    uint32_t len)
{
	struct virtio_vsock_hdr h = sim_vsock_hdr(g->cid, c->peer_cid, c->local_port, c->peer_port,
						  op, flags, len, c->buf_alloc, c->fwd_cnt);

	memcpy(g->tx_base + (size_t)slot * g->tx_stride, &h, sizeof(h));
	/* Every packet carries our fwd_cnt: the peer's view is fresh now. */
	c->fwd_cnt_sent = c->fwd_cnt;
}

/* A header-only packet. Control packets must not be lost, so if every slot
 * is in flight this waits (bounded) for the device to use one: it always
 * does, since the daemon never holds tx buffers. */
int bg_send_ctrl(struct bg *g, struct bg_conn *c, uint16_t op, uint32_t flags)
{
	int slot = take_slot(g), r;

	for (unsigned i = 0; slot < 0 && i < 2; i++) {
		r = bg_kick(g);
		if (!r)
			r = sim_vq_wait_used(g->sim, SIM_VQ_TX, g->cfg.timeout_ms);
		if (r) {
			if (!g->err)
				g->err = r;
			return r;
		}
		slot = take_slot(g);
	}
	if (slot < 0)
		return slot;
	put_hdr(g, c, slot, op, flags, 0);
	if (op == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
		g->st.credit_updates_sent++;
	return publish(g, slot, 0);
}

/* Answers a packet for no connection, as Linux does (never an RST to an RST). */
void bg_reply_rst(struct bg *g, const struct virtio_vsock_hdr *in)
{
	struct bg_conn tmp = {
		.peer_cid = le64toh(in->src_cid),
		.peer_port = le32toh(in->src_port),
		.local_port = le32toh(in->dst_port),
	};

	if (le16toh(in->op) == VIRTIO_VSOCK_OP_RST)
		return;
	bg_send_ctrl(g, &tmp, VIRTIO_VSOCK_OP_RST, 0);
}

uint32_t bg_peer_credit(const struct bg_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

ssize_t bg_send(struct bg_conn *c, const void *buf, size_t len)
{
	struct bg *g = c->g;
	const uint8_t *p = buf;
	size_t done = 0;

	if (c->state != BG_ESTABLISHED)
		return c->state == BG_CONNECTING ? -ENOTCONN : -ECONNRESET;
	if (c->peer_shut_rcv)
		return -EPIPE;
	while (done < len) {
		uint32_t n = bg_peer_credit(c);
		int slot, r;

		if (!n)
			break;
		if (n > g->cfg.tx_max_payload)
			n = (uint32_t)g->cfg.tx_max_payload;
		if (n > len - done)
			n = (uint32_t)(len - done);
		slot = take_slot(g);
		if (slot < 0) {
			g->want_tx = true;
			break;
		}
		put_hdr(g, c, slot, VIRTIO_VSOCK_OP_RW, 0, n);
		/* The one copy a guest kernel makes from the sender's buffer. */
		memcpy(g->tx_base + (size_t)slot * g->tx_stride + SIM_HDR_SIZE, p + done, n);
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

int bg_kick(struct bg *g)
{
	if (!g->tx_added)
		return 0;
	g->tx_added = false;
	return sim_vq_notify(g->sim, SIM_VQ_TX);
}

/* Remembers why a send gave up, for the failure report: a stuck daemon
 * shows up as slots it never used or credit it never returned. */
void bg_note_stall(const struct bg_conn *c)
{
	struct bg *g = c->g;
	struct sim_vq_stats tx, rx;

	sim_vq_stats(g->sim, SIM_VQ_TX, &tx);
	sim_vq_stats(g->sim, SIM_VQ_RX, &rx);
	snprintf(g->stall, sizeof(g->stall),
		 "send stalled: peer credit %u of %u, %u/%u tx slots free; tx chains %llu "
		 "added %llu used %llu kicks; rx used %llu",
		 bg_peer_credit(c), c->peer_buf_alloc, g->tx_nfree, g->tx_nslots,
		 (unsigned long long)tx.added, (unsigned long long)tx.used,
		 (unsigned long long)tx.kicks, (unsigned long long)rx.used);
}

int bg_send_all(struct bg_conn *c, const void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	const uint8_t *p = buf;
	struct bg *g = c->g;

	while (len) {
		ssize_t n = bg_send(c, p, len);
		int r;

		if (n < 0)
			return (int)n;
		p += n;
		len -= (size_t)n;
		if (!len)
			break;
		/* Out of credit or slots: let the device catch up. */
		r = bg_kick(g);
		if (r)
			return r;
		if (sim_now_ms() >= deadline) {
			bg_note_stall(c);
			return -ETIMEDOUT;
		}
		r = bg_poll(g, (int)(deadline - sim_now_ms()));
		if (r < 0)
			return r;
		if (c->dead)
			return -ECONNRESET;
	}
	return bg_kick(g);
}
