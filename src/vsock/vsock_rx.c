/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Device -> guest: fills the guest's rx buffers from the control queue
 * (standalone RSTs) and the ready list (per-connection control packets and
 * data). Data is read from the host socket straight into guest memory, at
 * most what the guest's credit allows. Used entries are published and the
 * guest notified once per pass.
 */
#include "vsock/vsock_internal.h"

#include <errno.h>
#include <sys/uio.h>

#include "util/iov.h"
#include "util/log.h"

void conn_want(struct vsock_conn *c, uint32_t pend)
{
	c->pending |= pend;
	ready_add(c);
}

void vsock_reply_rst(struct vsock_dev *d, const struct vsock_hdr *in)
{
	struct vsock_hdr *h;

	/* Never answer an RST with an RST: two peers could ping-pong forever. */
	if (in->op == VIRTIO_VSOCK_OP_RST)
		return;
	if (d->ctrl_len == VSOCK_CTRL_QUEUE_LEN) {
		/* Bounded: a guest flooding us while posting no rx buffers
		 * loses replies, not our memory. */
		d->stats.dropped_ctrl_full++;
		return;
	}
	h = &d->ctrl[(d->ctrl_head + d->ctrl_len++) % VSOCK_CTRL_QUEUE_LEN];
	*h = (struct vsock_hdr){
		.src_cid = in->dst_cid,
		.dst_cid = d->cfg->guest_cid,
		.src_port = in->dst_port,
		.dst_port = in->src_port,
		.type = VIRTIO_VSOCK_TYPE_STREAM,
		.op = VIRTIO_VSOCK_OP_RST,
	};
	d->rx_work = true;
}

void conn_reset(struct vsock_conn *c)
{
	conn_close_fd(c);
	timed_disarm(c);
	c->state = CONN_CLOSING;
	/* Nothing else matters once the connection is being reset. */
	c->pending = 0;
	conn_want(c, PEND_RST);
}

static void conn_hdr(const struct vsock_conn *c, uint16_t op, struct vsock_hdr *h)
{
	*h = (struct vsock_hdr){
		.src_cid = c->peer_cid,
		.dst_cid = c->dev->cfg->guest_cid,
		.src_port = c->peer_port,
		.dst_port = c->guest_port,
		.type = VIRTIO_VSOCK_TYPE_STREAM,
		.op = op,
		.buf_alloc = c->dev->cfg->tx_buffer_size,
		.fwd_cnt = c->fwd_cnt,
	};
}

/* Writes the header at the start of the element's writable part. */
static bool put_hdr(struct vq_elem *e, const struct vsock_hdr *h)
{
	uint8_t wire[VSOCK_HDR_SIZE];

	vsock_hdr_encode(h, wire);
	return iov_from_buf(e->iov + e->out_num, e->in_num, 0, wire, sizeof(wire)) ==
	       sizeof(wire);
}

enum fill_result {
	FILL_USED,      /* the element carries a packet: push it */
	FILL_NOTHING,   /* nothing to send after all: give the element back */
	FILL_FREE,      /* packet sent and the connection must be freed */
};

/* Control packets that must go before any data (RESPONSE opens the
 * stream) or that end it. */
#define PEND_BEFORE_DATA (PEND_RST | PEND_REQUEST | PEND_RESPONSE | PEND_SHUTDOWN)

/*
 * Builds the next control packet connection c owes the guest into element
 * e, most urgent first. Data goes through conn_read_multi().
 */
static enum fill_result conn_fill(struct vsock_conn *c, struct vq_elem *e)
{
	static const struct {
		uint32_t pend;
		uint16_t op;
	} order[] = {
		{ PEND_REQUEST, VIRTIO_VSOCK_OP_REQUEST },
		{ PEND_RESPONSE, VIRTIO_VSOCK_OP_RESPONSE },
		{ PEND_SHUTDOWN, VIRTIO_VSOCK_OP_SHUTDOWN },
		{ PEND_CREDIT_UPDATE, VIRTIO_VSOCK_OP_CREDIT_UPDATE },
		{ PEND_CREDIT_REQUEST, VIRTIO_VSOCK_OP_CREDIT_REQUEST },
	};
	struct vsock_hdr h;

	if (c->pending & PEND_RST) {
		conn_hdr(c, VIRTIO_VSOCK_OP_RST, &h);
		put_hdr(e, &h);
		c->dev->stats.rst_sent++;
		return FILL_FREE;
	}
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(c->pending & order[i].pend))
			continue;
		c->pending &= ~order[i].pend;
		conn_hdr(c, order[i].op, &h);
		if (order[i].op == VIRTIO_VSOCK_OP_SHUTDOWN) {
			h.flags = c->shutdown_flags;
			conn_check_closed(c);
		}
		/* Every packet carries our fwd_cnt: the guest's view is fresh. */
		c->fwd_cnt_sent = c->fwd_cnt;
		c->pending &= ~PEND_CREDIT_UPDATE;
		put_hdr(e, &h);
		return FILL_USED;
	}
	return FILL_NOTHING;
}

/* Whether c's next packets are data: the multi-buffer read path. */
static bool conn_data_next(struct vsock_conn *c)
{
	if ((c->pending & PEND_BEFORE_DATA) || c->state != CONN_ESTABLISHED || !c->readable ||
	    c->host_eof || c->guest_shut_recv)
		return false;
	if (conn_peer_credit(c) > 0)
		return true;
	/* Blocked on the guest's credit: ask once, then wait for its
	 * CREDIT_UPDATE (which puts us back on the ready list). */
	if (!c->credit_requested) {
		c->credit_requested = true;
		c->pending |= PEND_CREDIT_REQUEST;
	}
	return false;
}

/*
 * Reads from c's socket into as many rx buffers as one readv can fill
 * (bounded by the guest's credit and VSOCK_RX_MULTI), one packet per
 * buffer. Returns the packets sent, 0 when the socket had nothing (EOF,
 * EAGAIN or an error, handled here), or -1 when the guest has no rx buffer.
 */
static int conn_read_multi(struct vsock_dev *d, struct vq *vq, struct vsock_conn *c,
			   unsigned *budget)
{
	struct iovec iov[VQ_ELEM_MAX_IOV];
	uint32_t want = conn_peer_credit(c), room = 0;
	unsigned k = 0, niov = 0, sent = 0;
	/* Popping buffers a small read will not reach costs more than it
	 * saves: offer one, and double while reads fill all they are given. */
	unsigned burst = c->rx_burst ? c->rx_burst : 1;
	ssize_t r;

	while (k < burst && *budget && room < want && niov < VQ_ELEM_MAX_IOV) {
		struct vq_elem *e = &d->rxe[k];
		size_t got, cap;
		unsigned n;

		if (vq_pop(vq, &d->vu.mem, e) <= 0)
			break;
		got = 0;
		n = 0;
		if (e->in_len > VSOCK_HDR_SIZE && !e->out_num) {
			cap = e->in_len - VSOCK_HDR_SIZE;
			if (cap > VSOCK_MAX_PAYLOAD)
				cap = VSOCK_MAX_PAYLOAD;
			if (cap > want - room)
				cap = want - room;
			n = iov_slice(e->iov + e->out_num, e->in_num, VSOCK_HDR_SIZE, cap,
				      iov + niov, VQ_ELEM_MAX_IOV - niov, &got);
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
			d->stats.dropped_malformed++;
			vq_push(vq, e->head, 0);
			(*budget)--;
			continue;
		}
		d->rxe_room[k++] = (uint32_t)got;
		niov += n;
		room += (uint32_t)got;
		(*budget)--;
	}
	if (k == 0)
		return -1;
	do {
		r = readv(c->fd, iov, (int)niov);
	} while (r < 0 && errno == EINTR);
	if (r > 0) {
		uint32_t left = (uint32_t)r;

		for (; sent < k && left; sent++) {
			uint32_t take = left < d->rxe_room[sent] ? left : d->rxe_room[sent];
			struct vsock_hdr h;

			conn_hdr(c, VIRTIO_VSOCK_OP_RW, &h);
			h.len = take;
			put_hdr(&d->rxe[sent], &h);
			vq_push(vq, d->rxe[sent].head, VSOCK_HDR_SIZE + take);
			left -= take;
		}
		if ((uint32_t)r == room && burst < VSOCK_RX_MULTI) {
			c->rx_burst = (uint8_t)(burst * 2);
		} else if ((uint32_t)r < room) {
			c->rx_burst = 1;
			/* A short read emptied the socket: new data brings a new
			 * edge, so skip the readv that would only say EAGAIN.
			 * Not after a hang-up event, whose EOF is still to be
			 * read and will bring no further edge. */
			if (!c->hangup_seen)
				c->readable = false;
		}
		d->rx_small = r < VSOCK_RX_SMALL;
		c->tx_cnt += (uint32_t)r;
		c->fwd_cnt_sent = c->fwd_cnt;
		c->pending &= ~PEND_CREDIT_UPDATE;
		d->stats.rx_bytes += (uint64_t)r;
		d->stats.rx_packets += sent;
	} else if (r == 0) {
		c->readable = false;
		c->host_eof = true;
		c->shutdown_flags |= VIRTIO_VSOCK_SHUTDOWN_SEND;
		c->pending |= PEND_SHUTDOWN;
	} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->readable = false;
	} else {
		log_debug("%s: host socket of port %u: %s", d->vu.name, c->guest_port,
			  strerror(errno));
		conn_reset(c);
	}
	/* Give back, last first, the buffers the data did not reach. */
	for (unsigned i = k; i > sent; i--) {
		vq_unpop(vq);
		(*budget)++;
	}
	return (int)sent;
}

/* Whether c could put something in an rx buffer now. */
static bool conn_has_work(const struct vsock_conn *c)
{
	if (c->pending)
		return true;
	/* Zero credit still has work once: the CREDIT_REQUEST. */
	return c->state == CONN_ESTABLISHED && c->readable && !c->host_eof &&
	       !c->guest_shut_recv && (conn_peer_credit(c) > 0 || !c->credit_requested);
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

void vsock_rx_process(struct vsock_dev *d)
{
	struct vq *vq = vu_queue(&d->vu, VSOCK_RX_Q);
	struct vq_elem *e = &d->elem;
	/* One pass never uses more buffers than the ring holds, and each
	 * connection that yields nothing is dropped from the list: bounded. */
	unsigned budget;

	d->rx_work = false;
	if (!vq_ready(vq) || (!d->ctrl_len && !d->ready.head)) {
		/* What waited may be gone (reset, freed): nothing to wait
		 * for, and a stale flag would keep the loop from sleeping. */
		d->rx_deferred = false;
		return;
	}
	if (rx_defer(d, vq))
		return;
	d->rx_deferred = false;
	budget = vq->num;
	for (;;) {
		while (budget && (d->ctrl_len || d->ready.head)) {
			struct vsock_conn *c = d->ready.head;
			int r;

			if (!d->ctrl_len && conn_data_next(c)) {
				if (conn_read_multi(d, vq, c, &budget) < 0)
					break; /* no rx buffer */
				ready_remove(c);
				if (conn_has_work(c))
					ready_add(c);
				continue;
			}
			r = vq_pop(vq, &d->vu.mem, e);
			if (r <= 0)
				break;
			budget--;
			if (e->in_len < VSOCK_HDR_SIZE || e->out_num) {
				/* Not a usable rx buffer: give it back empty. */
				d->stats.dropped_malformed++;
				vq_push(vq, e->head, 0);
				continue;
			}
			if (d->ctrl_len) {
				put_hdr(e, &d->ctrl[d->ctrl_head]);
				d->ctrl_head = (d->ctrl_head + 1) % VSOCK_CTRL_QUEUE_LEN;
				d->ctrl_len--;
				d->stats.rst_sent++;
				d->stats.rx_packets++;
				vq_push(vq, e->head, VSOCK_HDR_SIZE);
				continue;
			}
			c = d->ready.head;
			switch (conn_fill(c, e)) {
			case FILL_USED:
				d->stats.rx_packets++;
				vq_push(vq, e->head, VSOCK_HDR_SIZE);
				/* Round robin: the next connection gets the next buffer. */
				ready_remove(c);
				if (conn_has_work(c))
					ready_add(c);
				break;
			case FILL_FREE:
				d->stats.rx_packets++;
				vq_push(vq, e->head, VSOCK_HDR_SIZE);
				conn_free(c);
				break;
			case FILL_NOTHING:
				vq_unpop(vq);
				budget++;
				ready_remove(c);
				break;
			}
		}
		if (!budget || (!d->ctrl_len && !d->ready.head))
			break;
		/* Out of rx buffers with work left: ask for a kick when the
		 * guest posts more, re-checking for buffers posted meanwhile. */
		if (!vq_enable_notify(vq))
			break;
	}
	vq_notify(vq);
	/* Budget exhausted with work left: go again on the next loop turn. */
	if (budget == 0 && (d->ctrl_len || d->ready.head))
		d->rx_work = true;
}
