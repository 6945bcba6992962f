/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Device -> guest: fills the guest's rx buffers from the queue of
 * standalone replies (RSTs) and from the ready list (connections owing
 * control packets or data). Data is read from the host socket straight
 * into guest memory, at most what the guest's credit allows. Used entries
 * are published and the guest notified once per pass (the role of the
 * kernel's vhost_transport_do_send_pkt). What to send is conn.c's call.
 */
#include "vsock/rxq.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/iov.h"
#include "util/log.h"
#include "util/stat.h"
#include "vsock/conn_io.h"

void rxq_reply_rst(struct vsock_dev *d, const struct vsock_hdr *in)
{
	/* Never answer an RST with an RST: two peers could ping-pong forever. */
	if (in->op == VIRTIO_VSOCK_OP_RST)
		return;
	conn_io_ctrl_push(d, &(struct vsock_hdr){
				     .src_cid = in->dst_cid,
				     .dst_cid = d->cfg->guest_cid,
				     .src_port = in->dst_port,
				     .dst_port = in->src_port,
				     .type = in->type,
				     .op = VIRTIO_VSOCK_OP_RST,
			     });
}

/* Writes the header at the start of the element's writable part. */
static bool put_hdr(struct vq_elem *e, const struct vsock_hdr *h)
{
	uint8_t wire[VSOCK_HDR_SIZE];

	vsock_hdr_encode(h, wire);
	return iov_from_buf(e->iov + e->out_num, e->in_num, 0, wire, sizeof(wire)) ==
	       sizeof(wire);
}

/* After a connection got a buffer: round robin, the next one gets the
 * next buffer; a connection with nothing left leaves the list. */
static void requeue(struct vsock_dev *d, struct vsock_conn *c)
{
	conn_ready_remove(&d->conns, c);
	if (conn_has_work(&c->p))
		conn_ready_add(&d->conns, c);
}

/*
 * Pops rx buffers for data, at most max of them, until their payload room
 * reaches want; their payload parts go to iov (*niov entries), their room
 * to d->rxe_room. Returns how many (0: the guest has no rx buffer).
 */
static unsigned pop_bufs(struct vsock_dev *d, struct vq *vq, unsigned max, uint32_t want,
			 unsigned *budget, struct iovec *iov, unsigned *niov, uint32_t *room)
{
	unsigned k = 0;

	*niov = 0;
	*room = 0;
	while (k < max && *budget && *room < want && *niov < VQ_ELEM_MAX_IOV) {
		struct vq_elem *e = &d->rxe[k];
		size_t got = 0, cap;
		unsigned n = 0;

		if (vq_pop(vq, &d->vu.mem, e) <= 0)
			break;
		if (e->in_len > VSOCK_HDR_SIZE && !e->out_num) {
			cap = e->in_len - VSOCK_HDR_SIZE;
			if (cap > VSOCK_MAX_PAYLOAD)
				cap = VSOCK_MAX_PAYLOAD;
			if (cap > want - *room)
				cap = want - *room;
			n = iov_slice(e->iov + e->out_num, e->in_num, VSOCK_HDR_SIZE, cap,
				      iov + *niov, VQ_ELEM_MAX_IOV - *niov, &got);
		}
		if (got == 0) {
			if (k) {
				/* Keep the popped ones contiguous for unpopping;
				 * this one is dealt with first next time. */
				vq_unpop(vq);
				break;
			}
			/* Data cannot use it (read-only, shorter than a
			 * header, or no room for payload), and left posted
			 * the caller would find it again and again: return
			 * it empty. */
			STAT_INC(d->stats.dropped_malformed);
			vq_push(vq, e->head, 0);
			(*budget)--;
			continue;
		}
		d->rxe_room[k++] = (uint32_t)got;
		*niov += n;
		*room += (uint32_t)got;
		(*budget)--;
	}
	return k;
}

/* Publishes n bytes that fill the first popped buffers in order as data
 * packets; the last one carries last_flags. Returns the buffers used. */
static unsigned push_data(struct vsock_dev *d, struct vq *vq, struct vsock_conn *c, unsigned k,
			  uint32_t n, uint32_t last_flags)
{
	unsigned used = 0;

	for (; used < k && (n || used == 0); used++) {
		uint32_t take = n < d->rxe_room[used] ? n : d->rxe_room[used];
		struct vsock_hdr h;

		conn_hdr(&c->p, VIRTIO_VSOCK_OP_RW, &h);
		h.len = take;
		n -= take;
		if (n == 0)
			h.flags = last_flags;
		put_hdr(&d->rxe[used], &h);
		vq_push(vq, d->rxe[used].head, VSOCK_HDR_SIZE + take);
	}
	STAT_ADD(d->stats.rx_packets, used);
	return used;
}

/* Gives back, last first, the popped buffers from the used-th on. */
static void unpop_rest(struct vq *vq, unsigned k, unsigned used, unsigned *budget)
{
	for (unsigned i = k; i > used; i--) {
		vq_unpop(vq);
		(*budget)++;
	}
}

/* What a read of the host socket said, for a read that brought no data. */
static unsigned read_failed(struct vsock_dev *d, struct vsock_conn *c, ssize_t r)
{
	if (r == 0)
		return conn_on_host_eof(&c->p, conn_io_peer_reads(c));
	if (r == -EAGAIN || r == -EWOULDBLOCK) {
		conn_on_host_drained(&c->p);
		return 0;
	}
	log_debug("%s: host socket of port %u: %s", d->name, c->p.guest_port,
		  strerror((int)-r));
	return conn_reset(&c->p);
}

/*
 * Reads from c's socket into as many rx buffers as one readv can fill
 * (bounded by want, the guest's credit, and VSOCK_RX_MULTI), one packet
 * per buffer. Returns false when the guest has no rx buffer.
 */
static bool read_multi(struct vsock_dev *d, struct vq *vq, struct vsock_conn *c, uint32_t want,
		       unsigned *budget)
{
	struct iovec iov[VQ_ELEM_MAX_IOV];
	/* Popping buffers a small read will not reach costs more than it
	 * saves: offer one, and double while reads fill all they are given. */
	unsigned burst = c->rx_burst ? c->rx_burst : 1;
	unsigned k, niov, used = 0, fx = 0;
	uint32_t room;
	ssize_t r;

	k = pop_bufs(d, vq, burst, want, budget, iov, &niov, &room);
	if (k == 0)
		return false;
	r = conn_io_readv(c, iov, niov);
	if (r > 0) {
		used = push_data(d, vq, c, k, (uint32_t)r, 0);
		if ((uint32_t)r == room && burst < VSOCK_RX_MULTI)
			c->rx_burst = (uint8_t)(burst * 2);
		else if ((uint32_t)r < room)
			c->rx_burst = 1;
		conn_on_read(&c->p, (uint32_t)r, (uint32_t)r < room);
		d->rx_small = r < VSOCK_RX_SMALL;
		STAT_ADD(d->stats.rx_bytes, (uint64_t)r);
	} else {
		fx = read_failed(d, c, r);
	}
	unpop_rest(vq, k, used, budget);
	conn_io_apply(c, fx);
	return true;
}

/* Delivers what credit and rx buffers allow of the host message held in
 * c's bounce buffer. Returns false when the guest has no rx buffer. */
static bool deliver_held(struct vsock_dev *d, struct vq *vq, struct vsock_conn *c,
			 uint32_t credit, unsigned *budget)
{
	struct conn_seq *q = c->seq;
	struct iovec iov[VQ_ELEM_MAX_IOV];
	uint32_t left = q->rx_len - q->rx_off, want = left < credit ? left : credit, room;
	unsigned k, niov, used;
	size_t n;

	k = pop_bufs(d, vq, VSOCK_RX_MULTI, want ? want : 1, budget, iov, &niov, &room);
	if (k == 0)
		return false;
	n = iov_from_buf(iov, niov, 0, q->rx + q->rx_off, want < room ? want : room);
	q->rx_off += (uint32_t)n;
	used = push_data(d, vq, c, k, (uint32_t)n,
			 q->rx_off == q->rx_len ? VIRTIO_VSOCK_SEQ_EOM | q->rx_flags : 0);
	unpop_rest(vq, k, used, budget);
	conn_on_read(&c->p, (uint32_t)n, false);
	STAT_ADD(d->stats.rx_bytes, n);
	if (q->rx_off == q->rx_len) {
		free(q->rx);
		q->rx = NULL;
	}
	return true;
}

/* Reads the next host message into c's bounce buffer (size bytes: exactly
 * its size, or with at_most the most it may be) and delivers what credit
 * and rx buffers allow. Returns false when the guest has no rx buffer. */
static bool hold_msg(struct vsock_dev *d, struct vq *vq, struct vsock_conn *c, uint32_t credit,
		     unsigned *budget, uint32_t size, bool at_most)
{
	struct conn_seq *q = conn_io_seq(c);
	uint32_t flags = 0;
	ssize_t r;

	if (!q || !(q->rx = malloc(size ? size : 1))) {
		conn_io_apply(c, conn_reset(&c->p));
		return true;
	}
	r = conn_io_recv_msg(c, &(struct iovec){ q->rx, size }, 1, &flags);
	if (r < 0 || (!at_most && r != size) || (at_most && r == 0)) {
		free(q->rx);
		q->rx = NULL;
		if (r == -EMSGSIZE)
			log_warn("%s: guest port %u: host message larger than %u bytes (the guest's "
				 "buffer, or what we hold); resetting", d->name, c->p.guest_port,
				 size);
		conn_io_apply(c, read_failed(d, c, r < 0 ? r : r == 0 ? 0 : -EMSGSIZE));
		return true;
	}
	q->rx_len = (uint32_t)r;
	q->rx_off = 0;
	q->rx_flags = flags;
	return deliver_held(d, vq, c, credit, budget);
}

/*
 * SEQPACKET: one host message becomes one guest message (EOM on its last
 * packet). A message that fits the credit and the rx buffers at hand is
 * read straight into them; any other is read into a bounce buffer and
 * delivered in parts as credit and buffers come (the guest joins them). A
 * message larger than the guest's buffer could never be received whole:
 * the connection is reset. Returns false when the guest has no rx buffer.
 */
static bool read_msg(struct vsock_dev *d, struct vq *vq, struct vsock_conn *c, uint32_t credit,
		     unsigned *budget)
{
	struct iovec iov[VQ_ELEM_MAX_IOV];
	uint32_t room, flags, limit;
	unsigned k, niov, used;
	ssize_t size, r;
	bool eof;

	if (conn_seq(c) && c->seq->rx)
		return deliver_held(d, vq, c, credit, budget);
	limit = c->p.buf_alloc > VSOCK_SEQ_HELD_MAX ? c->p.buf_alloc : VSOCK_SEQ_HELD_MAX;
	size = conn_io_msg_size(c, &eof);
	if (size == -EOPNOTSUPP) {
		/* AF_VSOCK before Linux 6.3 cannot peek a SEQPACKET message:
		 * read it whole into the bounce buffer, as large as the guest
		 * could ever take; a larger one comes truncated and resets. */
		size = c->p.peer_buf_alloc < limit ? c->p.peer_buf_alloc : limit;
		return hold_msg(d, vq, c, credit, budget, (uint32_t)size, true);
	}
	if (size < 0 || eof) {
		conn_io_apply(c, read_failed(d, c, eof ? 0 : size));
		return true;
	}
	if (size > c->p.peer_buf_alloc || size > limit) {
		log_warn("%s: guest port %u: host message of %zd bytes is larger than the "
			 "guest's buffer (%u bytes) or %u bytes; resetting",
			 d->name, c->p.guest_port, size, c->p.peer_buf_alloc, limit);
		conn_io_apply(c, conn_reset(&c->p));
		return true;
	}
	if ((uint32_t)size <= credit) {
		k = pop_bufs(d, vq, VSOCK_RX_MULTI, size ? (uint32_t)size : 1, budget, iov, &niov,
			     &room);
		if (k == 0)
			return false;
		if (room >= (uint32_t)size) {
			r = conn_io_recv_msg(c, iov, niov, &flags);
			if (r != size) {
				unpop_rest(vq, k, 0, budget);
				conn_io_apply(c, read_failed(d, c, r < 0 ? r : -EMSGSIZE));
				return true;
			}
			used = push_data(d, vq, c, k, (uint32_t)size,
					 VIRTIO_VSOCK_SEQ_EOM | flags);
			unpop_rest(vq, k, used, budget);
			conn_on_read(&c->p, (uint32_t)size, false);
			STAT_ADD(d->stats.rx_bytes, (uint64_t)size);
			return true;
		}
		unpop_rest(vq, k, 0, budget);
	}
	return hold_msg(d, vq, c, credit, budget, (uint32_t)size, false);
}

/*
 * Host applications writing many small messages: reading each one as it
 * comes makes one packet, one guest wake-up and one notification per
 * message. While the guest is still busy with what we gave it, it would
 * not look at more yet; let the bytes gather in the socket and read them
 * as one packet when it catches up. Only while the loop polls, whose
 * windows watch for the guest to catch up and for the deadline, and never
 * longer than --poll-us.
 */
static bool rx_defer(struct vsock_dev *d, struct vq *vq)
{
	if (!d->rx_small || d->ctrl_len || !ev_polling(d->loop) || vq_driver_waiting(vq))
		return false;
	if (!d->rx_deferred) {
		d->rx_deferred = true;
		d->rx_defer_end_ns = vdv_now_ns() + (int64_t)d->cfg->poll_us * 1000;
		return true;
	}
	return vdv_now_ns() < d->rx_defer_end_ns;
}

/* One control packet into a popped buffer: a standalone reply first, else
 * what the head of the ready list owes. */
static void put_ctrl(struct vsock_dev *d, struct vq *vq, struct vq_elem *e, unsigned *budget)
{
	struct vsock_conn *c;
	struct vsock_hdr h;
	unsigned fx;

	if (d->ctrl_len) {
		VSOCK_TRACE(d, "rx", &d->ctrl[d->ctrl_head]);
		put_hdr(e, &d->ctrl[d->ctrl_head]);
		d->ctrl_head = (d->ctrl_head + 1) % VSOCK_CTRL_QUEUE_LEN;
		d->ctrl_len--;
		STAT_INC(d->stats.rst_sent);
		STAT_INC(d->stats.rx_packets);
		vq_push(vq, e->head, VSOCK_HDR_SIZE);
		return;
	}
	c = d->conns.ready.head;
	if (!conn_next_ctrl(&c->p, &h, &fx)) {
		/* Nothing to send after all: give the buffer back. */
		vq_unpop(vq);
		(*budget)++;
		conn_ready_remove(&d->conns, c);
		return;
	}
	VSOCK_TRACE(d, "rx", &h);
	put_hdr(e, &h);
	STAT_INC(d->stats.rx_packets);
	if (h.op == VIRTIO_VSOCK_OP_RST)
		STAT_INC(d->stats.rst_sent);
	else if (h.op == VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		STAT_INC(d->stats.credit_stalls_to_guest); /* sent once per stall */
	vq_push(vq, e->head, VSOCK_HDR_SIZE);
	if (!(fx & CONN_FX_FREE))
		requeue(d, c);
	conn_io_apply(c, fx);
}

/* rx buffers a VM fills per turn on a shared worker (see txq.c). */
#define VSOCK_SHARED_RX_BUFS 16u

void rxq_process(struct vsock_dev *d)
{
	struct vq *vq = vu_queue(&d->vu, VSOCK_RX_Q);
	struct vq_elem *e = &d->elem;
	/* One pass never uses more buffers than the ring holds, and each
	 * connection that yields nothing is dropped from the list: bounded. */
	unsigned budget;

	d->rx_work = false;
	if (!vq_ready(vq) || (!d->ctrl_len && !d->conns.ready.head)) {
		/* What waited may be gone (reset, freed): nothing to wait
		 * for, and a stale flag would keep the loop from sleeping. */
		d->rx_deferred = false;
		return;
	}
	if (rx_defer(d, vq))
		return;
	d->rx_deferred = false;
	/* Shared with other VMs: half a ring per turn (64 x 4 KiB with
	 * QEMU's queue and Linux's buffers), then the neighbours' turn. */
	budget = ev_shared(d->loop) && vq->num > VSOCK_SHARED_RX_BUFS ? VSOCK_SHARED_RX_BUFS
								       : vq->num;
	for (;;) {
		while (budget && (d->ctrl_len || d->conns.ready.head)) {
			struct vsock_conn *c = d->conns.ready.head;
			uint32_t want;

			if (!d->ctrl_len && (want = conn_rx_room(&c->p)) > 0) {
				bool took = c->p.type == VIRTIO_VSOCK_TYPE_SEQPACKET
						    ? read_msg(d, vq, c, want, &budget)
						    : read_multi(d, vq, c, want, &budget);

				if (!took)
					break; /* no rx buffer */
				requeue(d, c); /* the reads never free c */
				continue;
			}
			if (vq_pop(vq, &d->vu.mem, e) <= 0)
				break;
			budget--;
			if (e->in_len < VSOCK_HDR_SIZE || e->out_num) {
				/* Not a usable rx buffer: give it back empty. */
				STAT_INC(d->stats.dropped_malformed);
				vq_push(vq, e->head, 0);
				continue;
			}
			put_ctrl(d, vq, e, &budget);
		}
		if (!budget || (!d->ctrl_len && !d->conns.ready.head))
			break;
		/* Out of rx buffers with work left: ask for a kick when the
		 * guest posts more, re-checking for buffers posted meanwhile. */
		STAT_INC(d->stats.rx_no_buffer);
		if (!vq_enable_notify(vq))
			break;
	}
	vq_notify(vq);
	/* Budget exhausted with work left: go again on the next loop turn. */
	if (budget == 0 && (d->ctrl_len || d->conns.ready.head))
		d->rx_work = true;
}

void rxq_send_event(struct vsock_dev *d)
{
	struct vq *vq = vu_queue(&d->vu, VSOCK_EVENT_Q);
	struct vq_elem *e = &d->elem;
	/* struct virtio_vsock_event: one le32, the event's id. */
	uint32_t ev = htole32(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);

	if (!d->event_owed || !vq_ready(vq))
		return;
	/* Each round takes one avail entry or ends: bounded by the ring. */
	for (unsigned n = 0; n <= vq->num; n++) {
		int r = vq_pop(vq, &d->vu.mem, e);

		if (r < 0)
			return; /* broken ring: logged; a restart brings us back */
		if (r == 0) {
			/* None posted (yet): the guest's next post kicks. */
			if (vq_enable_notify(vq))
				continue;
			return;
		}
		if (e->out_num || iov_from_buf(e->iov, e->in_num, 0, &ev, sizeof(ev)) !=
					  sizeof(ev)) {
			STAT_INC(d->stats.dropped_malformed);
			vq_push(vq, e->head, 0);
			continue;
		}
		vq_push(vq, e->head, sizeof(ev));
		d->event_owed = false;
		log_debug("%s: TRANSPORT_RESET sent on the event queue", d->name);
		break;
	}
	vq_notify(vq);
}
