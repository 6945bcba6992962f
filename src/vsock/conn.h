/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * ONE vsock connection, sans-I/O: its state, credit both ways, the shutdown
 * flags of both sides (SEND and RCV kept apart), the control packets it
 * still owes the guest, and its deadline. It touches no fd, no epoll and no
 * vring: every entry point updates the state and returns what must happen
 * (a set of CONN_FX_* effects) for the caller to carry out, the way the
 * kernel's virtio_transport_common.c reaches its transport only through
 * t_ops. That is what makes it testable with headers alone
 * (tests/unit/test_conn.c).
 *
 * Credit (virtio spec 5.10.6.3), all counters u32 and wrapping:
 *  - guest -> host: the guest may send until rx_cnt (the bytes it sent us)
 *    reaches lim_sent, the fwd_cnt + buf_alloc of our last packet. fwd_cnt
 *    counts the bytes handed to the host socket; what was received but not
 *    handed over (rx_cnt - fwd_cnt) is buffered by the caller. The buf_alloc
 *    we advertise is our tx-buffer-size (buf_alloc here) plus `headroom`:
 *    bytes the host socket has said it can take at once (conn_io.c), so
 *    that two large packets can be in flight while the socket drains, the
 *    way the kernel's vhost-vsock offers its socket's buffer. lim_sent never
 *    goes back: Linux guests compute credit in u32 and would overrun a
 *    window that shrank. Data beyond the guest's limit is a protocol
 *    violation; the caller's buffer needs at most lim_sent - fwd_cnt, which
 *    is at most 2 x buf_alloc (the headroom is capped at buf_alloc), so
 *    all the guest may send fits whatever the socket then takes.
 *  - host -> guest: we may send peer_buf_alloc - (tx_cnt - peer_fwd_cnt).
 */
#ifndef VDV_VSOCK_CONN_H
#define VDV_VSOCK_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "vsock/vsock_proto.h"

/* Control packets that must go before any data (RESPONSE opens the stream)
 * or that end it. */
#define PEND_BEFORE_DATA (PEND_RST | PEND_REQUEST | PEND_RESPONSE | PEND_SHUTDOWN)

enum conn_state {
	CONN_HANDSHAKE,  /* host socket accepted, its backend reads a handshake */
	CONN_CONNECTING, /* guest asked, the backend's connect is in progress */
	CONN_OFFERED,    /* host asked, REQUEST owed or sent, waiting for RESPONSE */
	CONN_ESTABLISHED,
	CONN_CLOSING,    /* guest closed: flushing buffered data, then RST */
};

/* Effects an entry point asks of its caller. */
enum conn_fx {
	CONN_FX_RX = 1u << 0,      /* owes the guest a packet: put on the ready list */
	CONN_FX_SHUT_WR = 1u << 1, /* shutdown(host, SHUT_WR) */
	CONN_FX_CLOSE = 1u << 2,   /* close the host socket (an RST to the guest follows) */
	CONN_FX_ARM = 1u << 3,     /* deadline_ms changed (0: none) */
	CONN_FX_FREE = 1u << 4,    /* forget the connection now */
	CONN_FX_ESTAB = 1u << 5,   /* tell the backend: the guest accepted */
	CONN_FX_WRITE = 1u << 6,   /* conn_accept_data: hand the payload to the host */
	CONN_FX_SHUT_RD = 1u << 7, /* shutdown(host, SHUT_RD), and tell the backend */
};

/* Control packets a connection still owes the guest, most urgent first. */
enum {
	PEND_RST = 1u << 0, /* last word: the connection is freed after it */
	PEND_REQUEST = 1u << 1,
	PEND_RESPONSE = 1u << 2,
	PEND_SHUTDOWN = 1u << 3, /* SHUTDOWN with shutdown_flags */
	PEND_CREDIT_UPDATE = 1u << 4,
	PEND_CREDIT_REQUEST = 1u << 5,
};

/* Handshake, connect, guest answer and close-flush deadlines. */
#define CONN_TIMEOUT_MS 2000u

/* Why a deadline fired, for the caller's log line. */
enum conn_timeout_why {
	CONN_TMO_NONE,      /* not due yet, or no deadline */
	CONN_TMO_HANDSHAKE, /* the host side sent no handshake */
	CONN_TMO_CONNECT,   /* the backend's connect did not complete */
	CONN_TMO_GUEST,     /* the guest did not answer our REQUEST */
	CONN_TMO_CLOSE,     /* buffered data could not be delivered after a close */
};

/* Why the guest broke the protocol, for the caller's log line. */
enum conn_why {
	CONN_WHY_NONE,
	CONN_WHY_NOT_ESTABLISHED, /* data on a connection that is not established */
	CONN_WHY_AFTER_SHUTDOWN,  /* data after its SHUTDOWN SEND */
	CONN_WHY_BEYOND_CREDIT,   /* data beyond the credit we gave */
	CONN_WHY_BAD_RESPONSE,    /* RESPONSE to no REQUEST of ours */
	CONN_WHY_UNKNOWN_OP,
};

/*
 * Why a connection ended, for the metrics (vdv_connections_closed_total's
 * cause): the first event that made its end certain. A graceful close is
 * credited to the side that shut down first, also when the other side
 * then answers with RST (a Linux guest answers a host's close so).
 */
enum conn_end {
	CONN_END_NONE,
	CONN_END_GUEST_SHUTDOWN, /* the guest shut down (SHUTDOWN) first */
	CONN_END_HOST_CLOSE,     /* the host side closed or shut down first */
	CONN_END_GUEST_RST,      /* the guest reset it without a shutdown */
	CONN_END_GUEST_PROTOCOL, /* the guest broke the protocol: we reset it */
	CONN_END_HOST_ERROR,     /* the host socket failed (read/write error) */
	CONN_END_REFUSED,        /* never set up: connect failed, host handshake or offer refused */
	CONN_END_TIMEOUT,        /* a handshake, connect, guest answer or close flush took too long */
	CONN_END_VMM_GONE,       /* still open when the VMM's session ended */
	CONN_END_COUNT,
};

/* The metrics' label value for an end ("guest_shutdown", ...). */
const char *conn_end_name(enum conn_end end);

/* Laid out small: one per connection, a thousand per VM. */
struct conn {
	uint64_t peer_cid;        /* the other end: 2 (host) or a sibling VM */
	uint64_t deadline_ms;     /* 0: none */
	uint32_t guest_cid;       /* 32-bit: the configuration checks it */
	uint32_t peer_port;       /* port at peer_cid */
	uint32_t guest_port;
	uint32_t buf_alloc;       /* ours: the tx-buffer-size */
	uint32_t headroom;        /* advertised beyond buf_alloc now (<= buf_alloc) */

	uint32_t rx_cnt;          /* bytes received from the guest */
	uint32_t fwd_cnt;         /* of those, handed to the host socket */
	uint32_t lim_sent;        /* the guest may send until rx_cnt reaches this */
	uint32_t tx_cnt;          /* bytes sent to the guest */
	uint32_t peer_buf_alloc;  /* the guest's receive buffer */
	uint32_t peer_fwd_cnt;    /* bytes the guest's application consumed */

	uint16_t type;            /* VIRTIO_VSOCK_TYPE_STREAM */
	uint8_t state;            /* enum conn_state */
	uint8_t pending;          /* PEND_* */
	uint8_t shutdown_flags;   /* VIRTIO_VSOCK_SHUTDOWN_* for PEND_SHUTDOWN */
	/* What each side said it will no longer do (flags are bit-fields: the
	 * struct stays at 72 bytes, one per connection). */
	uint8_t guest_shut;       /* VIRTIO_VSOCK_SHUTDOWN_RCV / _SEND from the guest */
	bool host_eof : 1;        /* the host side will send no more */
	bool host_shut_wr : 1;    /* we asked for the host's write side to be shut */
	bool host_rd_shut : 1;    /* the host side reads no more (its SHUT_RD or close) */
	/* Input facts about the host socket, kept by the caller's events. */
	bool readable : 1;        /* edge-triggered: the socket may have data */
	bool hangup_seen : 1;     /* an event said EOF or an error is queued */
	bool credit_requested : 1; /* CREDIT_REQUEST owed or sent, no update seen since */
	uint8_t why;              /* enum conn_why: why the guest broke the protocol */
	uint8_t end;              /* enum conn_end: set once, when the end is certain */
	uint8_t first_shut;       /* CONN_END_GUEST_SHUTDOWN / _HOST_CLOSE: who shut first */
};

/* The text of c->why. */
const char *conn_why_text(enum conn_why why);

/* A fresh connection of guest guest_cid advertising buf_alloc. */
void conn_init(struct conn *c, uint32_t guest_cid, uint32_t buf_alloc);

/* Bytes the guest can still accept from us. */
static inline uint32_t conn_peer_credit(const struct conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Bytes received from the guest and not yet handed to the host. */
static inline uint32_t conn_queued(const struct conn *c)
{
	return c->rx_cnt - c->fwd_cnt;
}

/* The buf_alloc our next packet advertises: buf_alloc + headroom, or more
 * if the guest was already promised more (lim_sent never goes back). */
uint32_t conn_adv_buf_alloc(const struct conn *c);
/* Bytes the guest may still send by its last view of our credit. */
static inline uint32_t conn_guest_credit(const struct conn *c)
{
	int32_t left = (int32_t)(c->lim_sent - c->rx_cnt);

	return left > 0 ? (uint32_t)left : 0;
}
/* Whether the guest's credit is low enough that a credit update is near:
 * the moment for the caller to refresh the headroom. */
bool conn_window_low(const struct conn *c);
/* Sets the headroom for the next advertisement, clamped to buf_alloc and
 * so that the window stays under 2^31. */
void conn_set_headroom(struct conn *c, uint32_t headroom);

/* --- opening --- */

/* A host socket was accepted and its backend reads a handshake first. */
unsigned conn_handshake(struct conn *c);
/* The guest's REQUEST h was taken by a backend; wait_connect: the
 * backend's connect completes later (conn_connected). */
unsigned conn_guest_request(struct conn *c, const struct vsock_hdr *h, bool wait_connect);
/* The backend's connect completed (ok) or failed. data_maybe: bytes may
 * already wait on the socket, their edge consumed by the caller. */
unsigned conn_connected(struct conn *c, bool ok, bool data_maybe);
/* A host-side socket wants guest port guest_port, from (peer_cid,
 * peer_port): a REQUEST to the guest. Bytes may already wait behind a
 * handshake, so the socket counts as readable once the guest accepts. */
unsigned conn_offer(struct conn *c, uint64_t peer_cid, uint32_t peer_port,
		    uint32_t guest_port);

/* --- from the guest --- */

/* A packet of this connection other than REQUEST and RW (credit, RESPONSE,
 * RST, SHUTDOWN, CREDIT_UPDATE/REQUEST, unknown ops). */
unsigned conn_on_guest(struct conn *c, const struct vsock_hdr *h);
/*
 * The one gate for guest data (an RW packet with h->len bytes): takes the
 * packet's credit fields and counts the payload. Returns CONN_FX_WRITE when
 * the caller must hand the payload to the host (then report what the host
 * took through conn_on_written), or the effects of a reset when the data
 * breaks the protocol (after SHUTDOWN SEND, wrong state, beyond credit).
 */
unsigned conn_accept_data(struct conn *c, const struct vsock_hdr *h);

/* --- from the host socket --- */

/* n bytes of guest data reached the host socket. */
unsigned conn_on_written(struct conn *c, uint32_t n);
/* The socket signalled readiness to read; hangup: EOF or an error is
 * queued (EPOLLRDHUP, EPOLLHUP, EPOLLERR). */
unsigned conn_on_host_readable(struct conn *c, bool hangup);
/* A read found no data for now (EAGAIN). */
void conn_on_host_drained(struct conn *c);
/* A read returned 0: the host side sends no more. peer_reads: whether it
 * still reads (a half-close, SHUT_WR) or not (it closed: the guest hears
 * SHUTDOWN with RCV and SEND, as from a kernel peer's close). */
unsigned conn_on_host_eof(struct conn *c, bool peer_reads);
/* The host side reads no more (a write failed with EPIPE, or a probe said
 * so): the guest hears SHUTDOWN RCV, and what it sent that the host did not
 * take is dropped, as a kernel peer that shut its read side drops it. The
 * caller discards its tx buffer. */
unsigned conn_on_host_shut_rd(struct conn *c);
/* The host socket failed, or the backend refused: reset (a host error,
 * unless the connection's end was already decided). */
unsigned conn_reset(struct conn *c);
/* The same, for another reason (kept unless the end was decided). */
unsigned conn_reset_for(struct conn *c, enum conn_end end);
/* Records why the connection ends, unless that was decided before. */
void conn_end_as(struct conn *c, enum conn_end end);

/* --- time --- */

/* Called when now_ms may have reached the deadline. *why says which. */
unsigned conn_on_timeout(struct conn *c, uint64_t now_ms, enum conn_timeout_why *why);

/* --- to the guest --- */

/* Whether the connection could put something in an rx buffer now. */
bool conn_has_work(const struct conn *c);
/*
 * The next control packet owed, most urgent first, into *out; false when
 * none is owed. *fx gets the effects of having sent it (CONN_FX_FREE after
 * the RST, CONN_FX_SHUT_WR or a reset once both sides are done).
 */
bool conn_next_ctrl(struct conn *c, struct vsock_hdr *out, unsigned *fx);
/* Whether the next packets are data; 0 when no data may go now. Zero
 * credit makes a CREDIT_REQUEST owed (once) as a side effect. */
uint32_t conn_rx_room(struct conn *c);
/* A packet header of this connection (len 0, no flags). */
void conn_hdr(const struct conn *c, uint16_t op, struct vsock_hdr *out);
/* n bytes were read from the host and sent to the guest as data packets
 * (built with conn_hdr: every packet carries our fwd_cnt, which refreshes
 * the guest's view of our credit). emptied: the read was short, so the
 * socket has nothing more until its next edge. */
void conn_on_read(struct conn *c, uint32_t n, bool emptied);

#endif
