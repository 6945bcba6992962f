/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Guest -> device: every packet on the tx queue is validated (size, source
 * CID, type, lengths) before anything acts on it, then drives the
 * connection's state machine. Payload goes from guest memory straight to
 * the host socket (writev); only what the socket refuses is copied.
 */
#include "vsock/vsock_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/iov.h"
#include "util/log.h"

/* Takes the guest's credit information carried by every packet. */
static void take_peer_credit(struct vsock_conn *c, const struct vsock_hdr *h)
{
	bool was_blocked = conn_peer_credit(c) == 0;

	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (was_blocked && conn_peer_credit(c) > 0) {
		c->credit_requested = false;
		if (c->readable)
			ready_add(c);
	}
}

/* Guest REQUEST to the host: open the host connection. */
static void handle_request(struct vsock_dev *d, const struct vsock_hdr *h)
{
	struct vsock_conn *c;
	bool in_progress = false;
	int fd;

	c = conn_lookup(d, h->dst_cid, h->dst_port, h->src_port);
	if (c) {
		/* The guest reuses a live port pair: the old one is dead to it. */
		log_debug("%s: REQUEST for existing connection %u->%u, resetting it",
			  d->vu.name, h->src_port, h->dst_port);
		conn_reset(c);
		vsock_reply_rst(d, h);
		return;
	}
	if (h->dst_cid != VSOCK_HOST_CID) {
		/* A VM of this daemon first; any other CID is the backend's
		 * (forward-cid takes it, hybrid vsock refuses). */
		int r = sibling_connect(d, h);
		if (r != -ENOENT) {
			if (r < 0) {
				log_debug("%s: guest connect to cid %llu port %u refused: %s",
					  d->vu.name, (unsigned long long)h->dst_cid,
					  h->dst_port, strerror(-r));
				vsock_reply_rst(d, h);
			}
			return;
		}
	}
	if (conn_at_limit(d)) {
		vsock_reply_rst(d, h);
		return;
	}
	fd = d->backend->connect(d, h->dst_cid, h->dst_port, &in_progress);
	if (fd < 0) {
		log_debug("%s: guest connect to cid %llu port %u refused: %s", d->vu.name,
			  (unsigned long long)h->dst_cid, h->dst_port, strerror(-fd));
		vsock_reply_rst(d, h);
		return;
	}
	c = conn_new(d, fd, in_progress ? CONN_HOST_CONNECTING : CONN_ESTABLISHED);
	if (!c) {
		close(fd);
		vsock_reply_rst(d, h);
		return;
	}
	/* The guest hears back from the CID it dialled. */
	c->peer_cid = h->dst_cid;
	c->peer_port = h->dst_port;
	c->guest_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	conn_hash_insert(c);
	if (in_progress)
		timed_arm(c, VSOCK_TIMEOUT_MS);
	else
		conn_want(c, PEND_RESPONSE);
}

static void handle_shutdown(struct vsock_conn *c, uint32_t flags)
{
	if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
		c->guest_shut_recv = true;
	if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
		c->guest_shut_send = true;
	conn_check_closed(c);
}

static void handle_rw(struct vsock_conn *c, const struct vq_elem *e, const struct vsock_hdr *h)
{
	struct iovec piov[VQ_ELEM_MAX_IOV];
	size_t got;
	unsigned n;

	if (h->len == 0)
		return;
	if (c->guest_shut_send || c->state != CONN_ESTABLISHED) {
		/* Data after the guest said it sends no more: a broken peer. */
		conn_reset(c);
		return;
	}
	n = iov_slice(e->iov, e->out_num, VSOCK_HDR_SIZE, h->len, piov, VQ_ELEM_MAX_IOV, &got);
	c->rx_cnt += h->len;
	c->dev->stats.tx_bytes += h->len;
	if (conn_write_host(c, piov, n, got) < 0)
		conn_reset(c);
}

/* The stream a bad packet belonged to is corrupt now: reset it. */
static void reset_for(struct vsock_dev *d, const struct vsock_hdr *h)
{
	struct vsock_conn *c = conn_lookup(d, h->dst_cid, h->dst_port, h->src_port);

	if (c && !(c->pending & PEND_RST))
		conn_reset(c);
	else if (!c)
		vsock_reply_rst(d, h);
}

static void handle_packet(struct vsock_dev *d, const struct vq_elem *e, const struct vsock_hdr *h)
{
	struct vsock_conn *c;

	if (h->src_cid != d->cfg->guest_cid) {
		/* A guest may only speak for itself. */
		d->stats.dropped_spoofed++;
		return;
	}
	if (h->type != VIRTIO_VSOCK_TYPE_STREAM) {
		vsock_reply_rst(d, h);
		return;
	}
	if (h->op == VIRTIO_VSOCK_OP_REQUEST) {
		handle_request(d, h);
		return;
	}
	/* Any other destination: the host (CID 2) or a sibling VM. */
	c = conn_lookup(d, h->dst_cid, h->dst_port, h->src_port);
	if (!c || (c->pending & PEND_RST)) {
		if (!c)
			vsock_reply_rst(d, h);
		return;
	}
	take_peer_credit(c, h);
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != CONN_GUEST_CONNECTING) {
			conn_reset(c);
			break;
		}
		timed_disarm(c);
		c->state = CONN_ESTABLISHED;
		if ((c->sibling ? sibling_established(c) : d->backend->established(c)) < 0)
			conn_reset(c);
		else if (c->readable)
			ready_add(c);
		break;
	case VIRTIO_VSOCK_OP_RST:
		conn_free(c);
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		handle_shutdown(c, h->flags);
		break;
	case VIRTIO_VSOCK_OP_RW:
		handle_rw(c, e, h);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		/* take_peer_credit() did the work. */
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		conn_want(c, PEND_CREDIT_UPDATE);
		break;
	default:
		conn_reset(c);
		break;
	}
}

/* Writes the batched payload and returns its elements to the guest. */
static void batch_flush(struct vsock_dev *d, struct vq *vq)
{
	struct tx_batch *b = &d->txb;

	if (b->conn && conn_write_host(b->conn, b->iov, b->niov, b->len) < 0)
		conn_reset(b->conn);
	for (unsigned i = 0; i < b->nheads; i++)
		vq_push(vq, b->heads[i], 0);
	b->conn = NULL;
	b->len = 0;
	b->niov = b->nheads = 0;
}

/*
 * Small writes are where per-packet cost shows: consecutive data packets of
 * one connection are gathered and written with a single writev. Takes the
 * packet (true) if it is plain data for an open connection; anything else
 * goes through handle_packet() after the batch is flushed, so that order
 * within a connection is kept.
 */
static bool batch_take(struct vsock_dev *d, struct vq *vq, const struct vq_elem *e,
		       const struct vsock_hdr *h)
{
	struct tx_batch *b = &d->txb;
	struct vsock_conn *c;
	unsigned n;
	size_t got;

	if (h->op != VIRTIO_VSOCK_OP_RW || h->len == 0 || h->src_cid != d->cfg->guest_cid ||
	    h->type != VIRTIO_VSOCK_TYPE_STREAM)
		return false;
	c = conn_lookup(d, h->dst_cid, h->dst_port, h->src_port);
	if (!c || (c->pending & PEND_RST) || c->state != CONN_ESTABLISHED ||
	    c->guest_shut_send || c->fd < 0)
		return false;
	if (b->conn != c || b->nheads == VSOCK_TX_BATCH)
		batch_flush(d, vq);
	n = iov_slice(e->iov, e->out_num, VSOCK_HDR_SIZE, h->len, b->iov + b->niov,
		      VSOCK_TX_BATCH - b->niov, &got);
	if (got < h->len) {
		/* No room for all of it: this one goes alone. */
		batch_flush(d, vq);
		return false;
	}
	take_peer_credit(c, h);
	c->rx_cnt += h->len;
	d->stats.tx_bytes += h->len;
	b->conn = c;
	b->niov += n;
	b->len += got;
	b->heads[b->nheads++] = e->head;
	return true;
}

/* After a drain: did more arrive? While the loop polls, kicks stay off
 * (it switches them back on right before it sleeps); switching them on
 * here would let a quick guest kick in the moment before polling starts. */
static bool tx_more(struct vsock_dev *d, struct vq *vq)
{
	if (ev_polling(d->loop))
		return vq_avail_count(vq) != 0;
	return vq_enable_notify(vq);
}

void vsock_tx_process(struct vsock_dev *d)
{
	struct vq *vq = vu_queue(&d->vu, VSOCK_TX_Q);
	struct vq_elem *e = &d->elem;
	unsigned budget = vq->num;

	if (!vq_ready(vq))
		return;
	do {
		vq_disable_notify(vq);
		while (budget && vq_pop(vq, &d->vu.mem, e) == 1) {
			uint8_t wire[VSOCK_HDR_SIZE];
			struct vsock_hdr h;

			budget--;
			d->stats.tx_packets++;
			if (iov_to_buf(e->iov, e->out_num, 0, wire, sizeof(wire)) != sizeof(wire)) {
				d->stats.dropped_malformed++;
				vq_push(vq, e->head, 0);
				continue;
			}
			vsock_hdr_decode(wire, &h);
			/* The payload must be in the chain and within the
			 * protocol's limit; never trust the length field. */
			if (h.len > VSOCK_MAX_PAYLOAD || h.len > e->out_len - VSOCK_HDR_SIZE ||
			    (h.op != VIRTIO_VSOCK_OP_RW && h.len != 0)) {
				d->stats.dropped_malformed++;
				log_debug("%s: dropping %s with len %u (chain has %llu bytes)",
					  d->vu.name, vsock_op_name(h.op), h.len,
					  (unsigned long long)e->out_len);
				batch_flush(d, vq);
				if (h.src_cid == d->cfg->guest_cid)
					reset_for(d, &h);
				vq_push(vq, e->head, 0);
				continue;
			}
			if (batch_take(d, vq, e, &h))
				continue;
			batch_flush(d, vq);
			handle_packet(d, e, &h);
			vq_push(vq, e->head, 0);
		}
		batch_flush(d, vq);
	} while (budget && tx_more(d, vq));
	vq_notify(vq);
	/* A full ring's worth handled: let other work run, then come back
	 * (notifications are still off, so no kick would bring us back). */
	d->tx_work = !budget;
}
