/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Guest -> device: drains the tx ring (the role of the kernel's
 * vhost_vsock_handle_tx_kick). Every packet is validated once (size,
 * lengths, source CID, type) before anything acts on it; REQUESTs go to
 * route.c, everything else to its connection's conn.c entry point. Data
 * takes one path: conn_accept_data() admits it, and consecutive data
 * packets of one connection are written to the host socket with one
 * writev, straight from guest memory.
 */
#include "vsock/txq.h"

#include "util/iov.h"
#include "util/log.h"
#include "util/stat.h"
#include "vsock/conn_io.h"
#include "vsock/route.h"
#include "vsock/rxq.h"

/* Writes the batched payload, then returns its elements to the guest. */
static void batch_flush(struct vsock_dev *d, struct vq *vq)
{
	struct tx_batch *b = &d->txb;

	if (b->conn)
		conn_io_write(b->conn, b->iov, b->niov, b->len);
	for (unsigned i = 0; i < b->nheads; i++)
		vq_push(vq, b->heads[i], 0);
	b->conn = NULL;
	b->len = 0;
	b->niov = b->nheads = 0;
}

/* The one data path: returns true when the element went into the batch
 * (pushed after the write), false when it can be returned now. */
static bool tx_data(struct vsock_dev *d, struct vq *vq, const struct vq_elem *e,
		    const struct vsock_hdr *h, struct vsock_conn *c)
{
	struct tx_batch *b = &d->txb;
	unsigned fx = conn_accept_data(&c->p, h), n;
	size_t got;

	if (!(fx & CONN_FX_WRITE)) {
		conn_io_apply(c, fx);
		return false;
	}
	if (b->conn != c || b->nheads == VSOCK_TX_BATCH || VSOCK_TX_BATCH - b->niov < e->out_num)
		batch_flush(d, vq);
	n = iov_slice(e->iov, e->out_num, VSOCK_HDR_SIZE, h->len, b->iov + b->niov,
		      VSOCK_TX_BATCH - b->niov, &got);
	STAT_ADD(d->stats.tx_bytes, h->len);
	b->conn = c;
	b->niov += n;
	b->len += got;
	b->heads[b->nheads++] = e->head;
	conn_io_apply(c, fx & ~CONN_FX_WRITE);
	return true;
}

/* SEQPACKET data: through the same gate, then one host message per guest
 * message (no batching across messages; the element is done on return). */
static void tx_msg_data(struct vsock_dev *d, struct vq *vq, const struct vq_elem *e,
			const struct vsock_hdr *h, struct vsock_conn *c)
{
	unsigned fx;

	batch_flush(d, vq);
	fx = conn_accept_data(&c->p, h);
	/* A Linux guest never sends an empty RW, but an empty one that ends
	 * a message ends it. */
	if (!(fx & CONN_FX_WRITE) && !(h->len == 0 && c->p.state == CONN_ESTABLISHED &&
				       !(c->p.pending & PEND_RST))) {
		conn_io_apply(c, fx);
		return;
	}
	STAT_ADD(d->stats.tx_bytes, h->len);
	conn_io_apply(c, fx & ~CONN_FX_WRITE);
	if (c->p.pending & PEND_RST)
		return;
	conn_io_write_msg(c, e->iov, e->out_num, VSOCK_HDR_SIZE, h->len, h->flags);
}

/* The stream a bad packet belonged to is corrupt now: reset it. */
static void reset_for(struct vsock_dev *d, const struct vsock_hdr *h)
{
	struct vsock_conn *c = conn_lookup(&d->conns, h->dst_cid, h->dst_port, h->src_port);

	if (c && !(c->p.pending & PEND_RST))
		conn_io_apply(c, conn_reset_for(&c->p, CONN_END_GUEST_PROTOCOL));
	else if (!c)
		rxq_reply_rst(d, h);
}

/* Acts on one validated packet; true when its element is kept in the
 * batch, false when the caller returns it now. */
static bool tx_packet(struct vsock_dev *d, struct vq *vq, const struct vq_elem *e,
		      const struct vsock_hdr *h)
{
	struct vsock_conn *c;

	if (h->src_cid != d->cfg->guest_cid) {
		/* A guest may only speak for itself. */
		STAT_INC(d->stats.dropped_spoofed);
		return false;
	}
	c = conn_lookup(&d->conns, h->dst_cid, h->dst_port, h->src_port);
	/* A type the device did not offer, or not the connection's: the
	 * kernel answers such a packet with RST and leaves the socket be. */
	if (!vsock_type_ok(d, h->type) || (c && h->type != c->p.type)) {
		batch_flush(d, vq);
		if (h->op != VIRTIO_VSOCK_OP_RST)
			rxq_reply_rst(d, h);
		return false;
	}
	if (c && c->p.type == VIRTIO_VSOCK_TYPE_SEQPACKET && h->op == VIRTIO_VSOCK_OP_RW) {
		tx_msg_data(d, vq, e, h, c);
		return false;
	}
	if (h->op == VIRTIO_VSOCK_OP_RW && h->len && c)
		return tx_data(d, vq, e, h, c);
	/* Anything else: keep the order within the connection. */
	batch_flush(d, vq);
	if (h->op == VIRTIO_VSOCK_OP_REQUEST) {
		route_request(d, h);
		return false;
	}
	/* Any other destination: the host (CID 2) or a sibling VM. */
	if (!c) {
		rxq_reply_rst(d, h);
		return false;
	}
	if (h->op == VIRTIO_VSOCK_OP_RST)
		STAT_INC(d->stats.rst_received);
	conn_io_apply(c, conn_on_guest(&c->p, h));
	return false;
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

/*
 * On a worker shared with other VMs, a turn takes at most this many bytes
 * of guest data (about one 64 KiB packet): a whole ring of 64 KiB packets
 * is 8 MiB, milliseconds of writes that a neighbour's 64-byte round trip
 * would wait behind. Alone on its worker, a VM takes a whole ring per turn.
 * (vdv-bench --only neighbour, 7 rounds: p99 of the neighbour's round trip
 * 248 -> 147 us, median ratio to idle 5.9 -> 3.1; per-round ratios swing
 * 1.6..78 on 2 CPUs, where four busy threads wait for a CPU.)
 */
#define VSOCK_SHARED_TX_BYTES (64u * 1024u)

void txq_process(struct vsock_dev *d)
{
	struct vq *vq = vu_queue(&d->vu, VSOCK_TX_Q);
	struct vq_elem *e = &d->elem;
	unsigned budget = vq->num;
	uint32_t byte_budget = ev_shared(d->loop) ? VSOCK_SHARED_TX_BYTES : UINT32_MAX;

	if (!vq_ready(vq))
		return;
	do {
		vq_disable_notify(vq);
		while (budget && vq_pop(vq, &d->vu.mem, e) == 1) {
			uint8_t wire[VSOCK_HDR_SIZE];
			struct vsock_hdr h;

			budget--;
			STAT_INC(d->stats.tx_packets);
			if (iov_to_buf(e->iov, e->out_num, 0, wire, sizeof(wire)) != sizeof(wire)) {
				STAT_INC(d->stats.dropped_malformed);
				vq_push(vq, e->head, 0);
				continue;
			}
			vsock_hdr_decode(wire, &h);
			/* The payload must be in the chain and within the
			 * protocol's limit; never trust the length field. */
			if (h.len > VSOCK_MAX_PAYLOAD || h.len > e->out_len - VSOCK_HDR_SIZE ||
			    (h.op != VIRTIO_VSOCK_OP_RW && h.len != 0)) {
				STAT_INC(d->stats.dropped_malformed);
				log_debug("%s: dropping %s with len %u (chain has %llu bytes)",
					  d->name, vsock_op_name(h.op), h.len,
					  (unsigned long long)e->out_len);
				batch_flush(d, vq);
				if (h.src_cid == d->cfg->guest_cid)
					reset_for(d, &h);
				vq_push(vq, e->head, 0);
				continue;
			}
			VSOCK_TRACE(d, "tx", &h);
			if (!tx_packet(d, vq, e, &h))
				vq_push(vq, e->head, 0);
			if (h.len >= byte_budget)
				budget = 0; /* the neighbours' turn */
			else
				byte_budget -= h.len;
		}
		batch_flush(d, vq);
	} while (budget && tx_more(d, vq));
	vq_notify(vq);
	/* A full ring's worth handled: let other work run, then come back
	 * (notifications are still off, so no kick would bring us back). */
	d->tx_work = !budget;
}
