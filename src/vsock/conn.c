/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* One connection's protocol, sans-I/O; see conn.h. */
#include "vsock/conn.h"

#include <string.h>

#include "util/clock.h"

static uint64_t now_ms(void)
{
	return (uint64_t)(vdv_now_ns() / 1000000);
}

static unsigned arm(struct conn *c, uint32_t ms)
{
	c->deadline_ms = ms ? now_ms() + ms : 0;
	return CONN_FX_ARM;
}

static unsigned disarm(struct conn *c)
{
	if (!c->deadline_ms)
		return 0;
	c->deadline_ms = 0;
	return CONN_FX_ARM;
}

static unsigned want(struct conn *c, uint32_t pend)
{
	c->pending |= pend;
	return CONN_FX_RX;
}

void conn_init(struct conn *c, uint32_t guest_cid, uint32_t buf_alloc)
{
	memset(c, 0, sizeof(*c));
	c->type = VIRTIO_VSOCK_TYPE_STREAM;
	c->guest_cid = guest_cid;
	c->buf_alloc = buf_alloc;
}

/* What we offer now: our buffer plus what the host socket takes at once. */
static uint32_t window(const struct conn *c)
{
	return c->buf_alloc + c->headroom;
}

uint32_t conn_adv_buf_alloc(const struct conn *c)
{
	int32_t promised = (int32_t)(c->lim_sent - c->fwd_cnt);
	uint32_t w = window(c);

	return promised > 0 && (uint32_t)promised > w ? (uint32_t)promised : w;
}

bool conn_window_low(const struct conn *c)
{
	return conn_guest_credit(c) < window(c) / 2;
}

void conn_set_headroom(struct conn *c, uint32_t headroom)
{
	/* At most buf_alloc, and a window under 2^31: credit differences
	 * are compared as signed 32-bit numbers (a 1 GiB tx-buffer-size and
	 * a socket with 2 GiB of room would reach it). */
	uint32_t most = c->buf_alloc < INT32_MAX - c->buf_alloc ? c->buf_alloc
								: INT32_MAX - c->buf_alloc;

	c->headroom = headroom < most ? headroom : most;
}

/* A packet carrying our credit went out: the guest's view is fresh. */
static void credit_sent(struct conn *c)
{
	c->lim_sent = c->fwd_cnt + conn_adv_buf_alloc(c);
	c->pending &= ~PEND_CREDIT_UPDATE;
}

void conn_hdr(const struct conn *c, uint16_t op, struct vsock_hdr *h)
{
	*h = (struct vsock_hdr){
		.src_cid = c->peer_cid,
		.dst_cid = c->guest_cid,
		.src_port = c->peer_port,
		.dst_port = c->guest_port,
		.type = c->type,
		.op = op,
		.buf_alloc = conn_adv_buf_alloc(c),
		.fwd_cnt = c->fwd_cnt,
	};
}

const char *conn_end_name(enum conn_end end)
{
	static const char *const names[] = {
		[CONN_END_NONE] = "other",
		[CONN_END_GUEST_SHUTDOWN] = "guest_shutdown",
		[CONN_END_HOST_CLOSE] = "host_close",
		[CONN_END_GUEST_RST] = "guest_rst",
		[CONN_END_GUEST_PROTOCOL] = "guest_protocol_error",
		[CONN_END_HOST_ERROR] = "host_error",
		[CONN_END_REFUSED] = "refused",
		[CONN_END_TIMEOUT] = "timeout",
		[CONN_END_VMM_GONE] = "vmm_gone",
	};

	return (unsigned)end < CONN_END_COUNT ? names[end] : "other";
}

void conn_end_as(struct conn *c, enum conn_end end)
{
	if (!c->end)
		c->end = (uint8_t)end;
}

/* Who shut down first decides a graceful end. */
static void shut_first(struct conn *c, enum conn_end who)
{
	if (!c->first_shut)
		c->first_shut = (uint8_t)who;
}

/* A graceful end: credited to the side that shut down first. */
static void end_graceful(struct conn *c, enum conn_end otherwise)
{
	conn_end_as(c, c->first_shut ? (enum conn_end)c->first_shut : otherwise);
}

unsigned conn_reset_for(struct conn *c, enum conn_end end)
{
	conn_end_as(c, end);
	return conn_reset(c);
}

unsigned conn_reset(struct conn *c)
{
	unsigned fx = disarm(c);

	conn_end_as(c, CONN_END_HOST_ERROR);

	/* The guest never heard of a connection still in its handshake:
	 * there is nobody to tell. */
	if (c->state == CONN_HANDSHAKE)
		return fx | CONN_FX_CLOSE | CONN_FX_FREE;
	c->state = CONN_CLOSING;
	c->readable = false;
	/* Nothing else matters once the connection is being reset. */
	c->pending = PEND_RST;
	return fx | CONN_FX_CLOSE | CONN_FX_RX;
}

const char *conn_why_text(enum conn_why why)
{
	static const char *const text[] = {
		[CONN_WHY_NONE] = "no protocol error",
		[CONN_WHY_NOT_ESTABLISHED] = "data on a connection that is not established",
		[CONN_WHY_AFTER_SHUTDOWN] = "data after its SHUTDOWN SEND",
		[CONN_WHY_BEYOND_CREDIT] = "data beyond its credit",
		[CONN_WHY_BAD_RESPONSE] = "RESPONSE to no REQUEST of ours",
		[CONN_WHY_UNKNOWN_OP] = "unknown op",
	};

	return (unsigned)why < sizeof(text) / sizeof(text[0]) ? text[why] : "?";
}

static unsigned protocol_error(struct conn *c, enum conn_why why)
{
	c->why = (uint8_t)why;
	return conn_reset_for(c, CONN_END_GUEST_PROTOCOL);
}

unsigned conn_handshake(struct conn *c)
{
	c->state = CONN_HANDSHAKE;
	return arm(c, CONN_TIMEOUT_MS);
}

unsigned conn_guest_request(struct conn *c, const struct vsock_hdr *h, bool wait_connect)
{
	/* The guest hears back from the CID it dialled. */
	c->peer_cid = h->dst_cid;
	c->peer_port = h->dst_port;
	c->guest_port = h->src_port;
	c->type = h->type;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (wait_connect) {
		c->state = CONN_CONNECTING;
		return arm(c, CONN_TIMEOUT_MS);
	}
	c->state = CONN_ESTABLISHED;
	return want(c, PEND_RESPONSE);
}

unsigned conn_connected(struct conn *c, bool ok, bool data_maybe)
{
	if (c->state != CONN_CONNECTING)
		return 0;
	if (!ok)
		return conn_reset_for(c, CONN_END_REFUSED);
	c->state = CONN_ESTABLISHED;
	if (data_maybe)
		c->readable = true;
	return disarm(c) | want(c, PEND_RESPONSE);
}

unsigned conn_offer(struct conn *c, uint64_t peer_cid, uint32_t peer_port, uint32_t guest_port)
{
	c->peer_cid = peer_cid;
	c->peer_port = peer_port;
	c->guest_port = guest_port;
	c->state = CONN_OFFERED;
	/* Bytes may already wait behind the handshake, and their edge was
	 * consumed by it: look once the guest accepts. */
	c->readable = true;
	return want(c, PEND_REQUEST) | arm(c, CONN_TIMEOUT_MS);
}

/* Both sides' shutdowns decide what is left of the connection. */
static unsigned check_closed(struct conn *c)
{
	unsigned fx = 0;

	if (c->pending & PEND_RST)
		return 0;
	if ((c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) &&
	    (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV) && c->state != CONN_CLOSING) {
		/* The guest closed its socket: deliver what we hold, then RST
		 * (what Linux waits for), bounded by the close timeout. */
		end_graceful(c, CONN_END_GUEST_SHUTDOWN);
		c->state = CONN_CLOSING;
		fx |= arm(c, CONN_TIMEOUT_MS);
	}
	if (c->state == CONN_CLOSING && conn_queued(c) == 0) {
		end_graceful(c, CONN_END_GUEST_SHUTDOWN);
		return fx | conn_reset(c); /* closes the socket: no separate shutdown */
	}
	if ((c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) && conn_queued(c) == 0 &&
	    !c->host_shut_wr) {
		c->host_shut_wr = true;
		fx |= CONN_FX_SHUT_WR;
	}
	/* Both directions finished: nothing can flow any more. */
	if (c->host_shut_wr && c->host_eof && !(c->pending & PEND_SHUTDOWN)) {
		end_graceful(c, CONN_END_GUEST_SHUTDOWN);
		fx |= conn_reset(c);
	}
	return fx;
}

/* Takes the guest's credit information, carried by every packet. */
static unsigned take_peer_credit(struct conn *c, const struct vsock_hdr *h)
{
	bool was_blocked = conn_peer_credit(c) == 0;

	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (was_blocked && conn_peer_credit(c) > 0) {
		c->credit_requested = false;
		if (c->readable && c->state == CONN_ESTABLISHED)
			return CONN_FX_RX;
	}
	return 0;
}

unsigned conn_accept_data(struct conn *c, const struct vsock_hdr *h)
{
	unsigned fx;

	/* Being reset: the guest hears nothing but the RST. */
	if (c->pending & PEND_RST)
		return 0;
	fx = take_peer_credit(c, h);
	if (h->len == 0)
		return fx;
	if (c->state != CONN_ESTABLISHED)
		return fx | protocol_error(c, CONN_WHY_NOT_ESTABLISHED);
	if (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND)
		return fx | protocol_error(c, CONN_WHY_AFTER_SHUTDOWN);
	/* What the host has not taken yet is ours to buffer: no more than the
	 * guest's credit, or than buf_alloc in all (which a guest that has not
	 * heard of a later fwd_cnt yet does not know it may use). */
	if (h->len > conn_guest_credit(c) &&
	    (conn_queued(c) > c->buf_alloc || h->len > c->buf_alloc - conn_queued(c)))
		return fx | protocol_error(c, CONN_WHY_BEYOND_CREDIT);
	c->rx_cnt += h->len;
	/* Sent before the guest heard that the host stopped reading: gone,
	 * but its credit comes back as if the host had read it. */
	if (c->host_rd_shut)
		return fx | conn_on_written(c, h->len);
	return fx | CONN_FX_WRITE;
}

unsigned conn_on_guest(struct conn *c, const struct vsock_hdr *h)
{
	unsigned fx;

	if (h->op == VIRTIO_VSOCK_OP_RW)
		return conn_accept_data(c, h);
	if (c->pending & PEND_RST)
		return 0;
	/* Never answered: the connection is simply gone. Its credit fields
	 * are not taken either: an unblocking update would add CONN_FX_RX,
	 * asking the caller to queue a connection it must free. */
	if (h->op == VIRTIO_VSOCK_OP_RST) {
		/* After a shutdown it is the close's last word. */
		end_graceful(c, CONN_END_GUEST_RST);
		return CONN_FX_CLOSE | CONN_FX_FREE;
	}
	fx = take_peer_credit(c, h);
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != CONN_OFFERED)
			return fx | protocol_error(c, CONN_WHY_BAD_RESPONSE);
		c->state = CONN_ESTABLISHED;
		fx |= disarm(c) | CONN_FX_ESTAB;
		return c->readable ? fx | CONN_FX_RX : fx;
	case VIRTIO_VSOCK_OP_SHUTDOWN: {
		uint8_t was = c->guest_shut;
		unsigned closed;

		c->guest_shut |= h->flags & (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
		if (c->guest_shut)
			shut_first(c, CONN_END_GUEST_SHUTDOWN);
		closed = check_closed(c);
		/* The host side must learn that its writes go nowhere now (a
		 * kernel peer's send() fails with EPIPE from here on), unless
		 * its socket is being closed anyway. */
		if ((c->guest_shut & ~was & VIRTIO_VSOCK_SHUTDOWN_RCV) &&
		    c->state != CONN_CONNECTING && !(closed & CONN_FX_CLOSE))
			fx |= CONN_FX_SHUT_RD;
		return fx | closed;
	}
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		return fx; /* take_peer_credit() did the work */
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		return fx | want(c, PEND_CREDIT_UPDATE);
	default:
		return fx | protocol_error(c, CONN_WHY_UNKNOWN_OP);
	}
}

unsigned conn_on_written(struct conn *c, uint32_t n)
{
	unsigned fx = 0;

	c->fwd_cnt += n;
	/* Tell the guest about freed space only once its own idea of our free
	 * space has dropped below half the window, and when an update would
	 * give it more: often enough that it never stalls on stale credit,
	 * rarely enough not to cost a packet per packet. Data packets we send
	 * carry our credit too and reset this. */
	if (c->state == CONN_ESTABLISHED && !(c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) &&
	    c->fwd_cnt + conn_adv_buf_alloc(c) != c->lim_sent && conn_window_low(c))
		fx |= want(c, PEND_CREDIT_UPDATE);
	return fx | check_closed(c);
}

unsigned conn_on_host_readable(struct conn *c, bool hangup)
{
	c->readable = true;
	if (hangup)
		c->hangup_seen = true;
	return c->state == CONN_ESTABLISHED ? CONN_FX_RX : 0;
}

void conn_on_host_drained(struct conn *c)
{
	c->readable = false;
}

unsigned conn_on_host_eof(struct conn *c, bool peer_reads)
{
	unsigned fx;

	c->readable = false;
	c->host_eof = true;
	shut_first(c, CONN_END_HOST_CLOSE);
	c->shutdown_flags |= VIRTIO_VSOCK_SHUTDOWN_SEND;
	fx = want(c, PEND_SHUTDOWN);
	if (!peer_reads)
		fx |= conn_on_host_shut_rd(c);
	return fx;
}

unsigned conn_on_host_shut_rd(struct conn *c)
{
	if (c->host_rd_shut || (c->pending & PEND_RST))
		return 0;
	c->host_rd_shut = true;
	shut_first(c, CONN_END_HOST_CLOSE);
	c->shutdown_flags |= VIRTIO_VSOCK_SHUTDOWN_RCV;
	/* Nothing buffered will reach the host any more. */
	c->fwd_cnt = c->rx_cnt;
	return want(c, PEND_SHUTDOWN) | check_closed(c);
}

unsigned conn_on_timeout(struct conn *c, uint64_t now, enum conn_timeout_why *why)
{
	unsigned fx;

	*why = CONN_TMO_NONE;
	if (!c->deadline_ms || now < c->deadline_ms)
		return 0;
	/* The deadline is spent: like every change of it, that is said. */
	fx = disarm(c);
	switch (c->state) {
	case CONN_HANDSHAKE:
		*why = CONN_TMO_HANDSHAKE;
		conn_end_as(c, CONN_END_TIMEOUT);
		return fx | CONN_FX_CLOSE | CONN_FX_FREE;
	case CONN_CONNECTING:
		*why = CONN_TMO_CONNECT;
		return fx | conn_reset_for(c, CONN_END_TIMEOUT);
	case CONN_OFFERED:
		*why = CONN_TMO_GUEST;
		return fx | conn_reset_for(c, CONN_END_TIMEOUT);
	case CONN_CLOSING:
		/* A reset connection waits for no deadline; this one still
		 * held data the host would not take. */
		if (c->pending & PEND_RST)
			return fx;
		*why = CONN_TMO_CLOSE;
		/* The guest's close did not end well: say so, over who
		 * shut down first. */
		c->end = CONN_END_TIMEOUT;
		return fx | conn_reset(c);
	case CONN_ESTABLISHED:
		break;
	}
	return fx;
}

bool conn_has_work(const struct conn *c)
{
	if (c->pending)
		return true;
	/* Zero credit still has work once: the CREDIT_REQUEST. */
	return c->state == CONN_ESTABLISHED && c->readable && !c->host_eof &&
	       !(c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV) &&
	       (conn_peer_credit(c) > 0 || !c->credit_requested);
}

bool conn_next_ctrl(struct conn *c, struct vsock_hdr *out, unsigned *fx)
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

	*fx = 0;
	if (c->pending & PEND_RST) {
		conn_hdr(c, VIRTIO_VSOCK_OP_RST, out);
		c->pending = 0;
		*fx = CONN_FX_FREE;
		return true;
	}
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(c->pending & order[i].pend))
			continue;
		c->pending &= ~order[i].pend;
		conn_hdr(c, order[i].op, out);
		/* Every packet carries our credit: the guest's view is fresh. */
		credit_sent(c);
		if (order[i].op == VIRTIO_VSOCK_OP_SHUTDOWN) {
			out->flags = c->shutdown_flags;
			*fx = check_closed(c);
		}
		return true;
	}
	return false;
}

uint32_t conn_rx_room(struct conn *c)
{
	uint32_t credit;

	if ((c->pending & PEND_BEFORE_DATA) || c->state != CONN_ESTABLISHED || !c->readable ||
	    c->host_eof || (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV))
		return 0;
	credit = conn_peer_credit(c);
	if (credit > 0)
		return credit;
	/* Blocked on the guest's credit: ask once, then wait for its
	 * CREDIT_UPDATE (which makes the connection ready again). */
	if (!c->credit_requested) {
		c->credit_requested = true;
		c->pending |= PEND_CREDIT_REQUEST;
	}
	return 0;
}

void conn_on_read(struct conn *c, uint32_t n, bool emptied)
{
	c->tx_cnt += n;
	credit_sent(c);
	/* A short read emptied the socket: new data brings a new edge, so
	 * skip the read that would only say EAGAIN. Not after a hang-up
	 * event, whose EOF is still to be read and brings no further edge. */
	if (emptied && !c->hangup_seen)
		c->readable = false;
}
