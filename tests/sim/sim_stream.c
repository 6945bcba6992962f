/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * One guest stream socket over the simulated driver, after Linux's
 * virtio_transport_common.c: the handshake, both sides' credit, a
 * CREDIT_UPDATE once our advertised free space drops under one maximal
 * packet, and the close dance (a full SHUTDOWN from the peer is answered
 * with RST once everything was read). Credit the device exceeds is counted,
 * not tolerated silently: tests assert on it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_priv.h"

#define SIM_STREAM_MAX_PKT (64u * 1024u)

static int st_init(struct sim *sim, struct sim_stream *st, uint32_t buf_alloc)
{
	memset(st, 0, sizeof(*st));
	st->sim = sim;
	st->buf_alloc = buf_alloc ? buf_alloc : 256u * 1024u;
	st->max_pkt = SIM_STREAM_MAX_PKT;
	st->rxq_cap = st->buf_alloc;
	st->rxq = malloc(st->rxq_cap);
	st->pkt = sim_pkt_new();
	if (!st->rxq || !st->pkt) {
		sim_stream_fini(st);
		return -ENOMEM;
	}
	return 0;
}

void sim_stream_fini(struct sim_stream *st)
{
	free(st->rxq);
	free(st->pkt);
	st->rxq = NULL;
	st->pkt = NULL;
}

static int st_send_op(struct sim_stream *st, uint16_t op, uint32_t flags, const void *data,
		      uint32_t len)
{
	struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(st->sim), st->peer_cid,
						  st->local_port, st->peer_port, op, flags, len,
						  st->buf_alloc, st->fwd_cnt);

	/* Every packet carries our fwd_cnt: the peer's view is now fresh. */
	st->fwd_cnt_sent = st->fwd_cnt;
	if (op == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
		st->credit_updates_sent++;
	return sim_tx_send(st->sim, &h, data, len, op == VIRTIO_VSOCK_OP_RW ? st->tx_flags : 0);
}

static bool st_mine(const struct sim_stream *st, const struct sim_pkt *p)
{
	return p->src_cid == st->peer_cid && p->src_port == st->peer_port &&
	       p->dst_port == st->local_port && p->dst_cid == sim_guest_cid(st->sim);
}

static void rxq_put(struct sim_stream *st, const uint8_t *d, size_t n)
{
	size_t room = st->rxq_cap - st->rxq_len, tail, first;

	if (n > room) {
		/* Beyond the credit we gave: already counted; keep what fits. */
		n = room;
	}
	tail = (st->rxq_head + st->rxq_len) % st->rxq_cap;
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

/* Applies one packet addressed to the stream. */
static int st_handle(struct sim_stream *st, const struct sim_pkt *p)
{
	st->peer_buf_alloc = p->buf_alloc;
	st->peer_fwd_cnt = p->fwd_cnt;
	switch (p->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		st->connected = true;
		break;
	case VIRTIO_VSOCK_OP_RW:
		/* The peer may have at most buf_alloc bytes beyond the
		 * fwd_cnt we last told it about. */
		if ((uint32_t)(st->rx_cnt + p->payload_len - st->fwd_cnt_sent) > st->buf_alloc)
			st->credit_violations++;
		st->rx_cnt += (uint32_t)p->payload_len;
		rxq_put(st, p->payload, p->payload_len);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		st->credit_updates_rcvd++;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		return st_send_op(st, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (p->flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
			st->peer_shut_send = true;
		if (p->flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
			st->peer_shut_rcv = true;
		break;
	case VIRTIO_VSOCK_OP_RST:
		st->reset = true;
		st->connected = false;
		break;
	default:
		break;
	}
	return 0;
}

int sim_stream_poll(struct sim_stream *st, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	int r;

	for (;;) {
		r = sim_rx_poll(st->sim, st->pkt, sim_remaining_ms(deadline));
		if (r == -ETIMEDOUT)
			return 0;
		if (r)
			return r;
		if (!st_mine(st, st->pkt)) {
			st->stray++;
			continue;
		}
		r = st_handle(st, st->pkt);
		return r ? r : 1;
	}
}

int sim_stream_connect(struct sim *sim, struct sim_stream *st, uint64_t dst_cid,
		       uint32_t dst_port, uint32_t src_port, uint32_t buf_alloc, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	int r;

	r = st_init(sim, st, buf_alloc);
	if (r)
		return r;
	st->peer_cid = dst_cid;
	st->peer_port = dst_port;
	st->local_port = src_port;
	r = st_send_op(st, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	if (r)
		return r;
	while (!st->connected && !st->reset) {
		r = sim_stream_poll(st, sim_remaining_ms(deadline));
		if (r < 0)
			return r;
		if (r == 0)
			return -ETIMEDOUT;
	}
	return st->reset ? -ECONNREFUSED : 0;
}

int sim_stream_accept(struct sim *sim, struct sim_stream *st, uint32_t local_port,
		      uint32_t buf_alloc, bool refuse, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	struct sim_pkt *p;
	int r;

	r = st_init(sim, st, buf_alloc);
	if (r)
		return r;
	p = st->pkt;
	for (;;) {
		r = sim_rx_poll(sim, p, sim_remaining_ms(deadline));
		if (r)
			return r;
		if (p->op == VIRTIO_VSOCK_OP_REQUEST && p->dst_port == local_port &&
		    p->dst_cid == sim_guest_cid(sim))
			break;
		st->stray++;
	}
	st->peer_cid = p->src_cid;
	st->peer_port = p->src_port;
	st->local_port = local_port;
	st->peer_buf_alloc = p->buf_alloc;
	st->peer_fwd_cnt = p->fwd_cnt;
	if (refuse) {
		st->rst_sent = true;
		return st_send_op(st, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	}
	st->connected = true;
	return st_send_op(st, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
}

int sim_stream_send(struct sim_stream *st, const void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	const uint8_t *p = buf;
	int r;

	while (len) {
		uint32_t credit = st->peer_buf_alloc - (st->tx_cnt - st->peer_fwd_cnt);
		uint32_t n;

		if (st->reset || st->peer_shut_rcv)
			return -EPIPE;
		if (!credit || credit > st->peer_buf_alloc) {
			/* Wait for a CREDIT_UPDATE (or any packet: they
			 * all carry fwd_cnt). */
			r = sim_stream_poll(st, sim_remaining_ms(deadline));
			if (r < 0)
				return r;
			if (r == 0)
				return -ETIMEDOUT;
			continue;
		}
		n = credit;
		if (n > st->max_pkt)
			n = st->max_pkt;
		if (n > len)
			n = (uint32_t)len;
		r = st_send_op(st, VIRTIO_VSOCK_OP_RW, 0, p, n);
		if (r)
			return r;
		st->tx_cnt += n;
		p += n;
		len -= n;
	}
	return 0;
}

ssize_t sim_stream_recv(struct sim_stream *st, void *buf, size_t cap, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	size_t n;
	int r;

	while (!st->rxq_len) {
		if (st->reset || st->peer_shut_send) {
			/* Linux answers a full shutdown with RST once drained. */
			if (st->peer_shut_send && st->peer_shut_rcv && !st->reset && !st->rst_sent) {
				st->rst_sent = true;
				r = st_send_op(st, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
				if (r)
					return r;
			}
			return 0;
		}
		r = sim_stream_poll(st, sim_remaining_ms(deadline));
		if (r < 0)
			return r;
		if (r == 0)
			return -ETIMEDOUT;
	}
	n = rxq_get(st, buf, cap);
	st->fwd_cnt += (uint32_t)n;
	/* As Linux: tell the peer once the space it believes we have falls
	 * under one maximal packet. */
	if (st->buf_alloc - (st->fwd_cnt - st->fwd_cnt_sent) < SIM_STREAM_MAX_PKT ||
	    st->buf_alloc < SIM_STREAM_MAX_PKT) {
		if (st->fwd_cnt != st->fwd_cnt_sent) {
			r = st_send_op(st, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
			if (r)
				return r;
		}
	}
	return (ssize_t)n;
}

int sim_stream_shutdown(struct sim_stream *st, uint32_t flags)
{
	return st_send_op(st, VIRTIO_VSOCK_OP_SHUTDOWN, flags, NULL, 0);
}

int sim_stream_rst(struct sim_stream *st)
{
	st->rst_sent = true;
	st->connected = false;
	return st_send_op(st, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
}
