/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * One stream connection between a guest port and a host socket: its state,
 * both credit counters, what it still owes the guest, and the tx buffer that
 * holds guest data the host socket has not accepted yet.
 *
 * Credit (virtio spec 5.10.6.3), all counters u32 and wrapping:
 *  - guest -> host: the guest may have buf_alloc - (rx_cnt - fwd_cnt) bytes
 *    in flight, where buf_alloc is our tx-buffer-size, rx_cnt the bytes the
 *    guest sent us and fwd_cnt the bytes we handed to the host socket. Bytes
 *    not yet handed over sit in the tx buffer, so it never exceeds buf_alloc.
 *  - host -> guest: we may send peer_buf_alloc - (tx_cnt - peer_fwd_cnt).
 */
#ifndef VDV_VSOCK_VSOCK_CONN_H
#define VDV_VSOCK_VSOCK_CONN_H

#include <stdbool.h>
#include <stdint.h>

struct vsock_dev;

enum conn_state {
	CONN_HANDSHAKE,        /* host socket accepted, reading "CONNECT <port>\n" */
	CONN_HOST_CONNECTING,  /* guest asked, host connect() in progress */
	CONN_GUEST_CONNECTING, /* host asked, REQUEST sent, waiting for RESPONSE */
	CONN_ESTABLISHED,
	CONN_CLOSING,          /* guest closed: flushing the tx buffer, then RST */
};

/* Packets a connection still owes the guest (sent from the rx queue). */
enum {
	PEND_REQUEST = 1u << 0,
	PEND_RESPONSE = 1u << 1,
	PEND_SHUTDOWN = 1u << 2,     /* SHUTDOWN with shutdown_flags */
	PEND_CREDIT_UPDATE = 1u << 3,
	PEND_CREDIT_REQUEST = 1u << 4,
	PEND_RST = 1u << 5,          /* last word: the connection is freed after it */
};

struct conn_link {
	struct vsock_conn *prev, *next;
	bool linked;
};

struct vsock_conn {
	struct vsock_dev *dev;
	int fd;                     /* host socket */
	enum conn_state state;
	uint64_t peer_cid;          /* the other end: 2 (host) or a sibling VM */
	uint32_t peer_port;         /* port at peer_cid */
	bool sibling;               /* fd is a socketpair to a sibling VM */
	uint32_t guest_port;
	uint32_t epoll_events;      /* current interest on fd */

	struct vsock_conn *hash_next;
	struct conn_link ready;     /* on dev->ready: has something for the guest */
	struct conn_link timed;     /* on dev->timed: deadline_ms is armed */
	uint64_t deadline_ms;

	uint32_t pending;           /* PEND_* */
	uint32_t shutdown_flags;    /* for PEND_SHUTDOWN */

	bool readable;              /* edge-triggered: fd may have data */
	bool hangup_seen;           /* an event said EOF or error is queued */
	bool host_eof;              /* host will send no more (read returned 0) */
	bool host_shut_wr;          /* we shut down the host socket's write side */
	bool guest_shut_send;       /* guest will send no more */
	bool guest_shut_recv;       /* guest will receive no more */

	uint32_t rx_cnt;            /* bytes received from the guest */
	uint32_t fwd_cnt;           /* of those, handed to the host socket */
	uint32_t fwd_cnt_sent;      /* fwd_cnt last advertised to the guest */
	uint32_t tx_cnt;            /* bytes sent to the guest */
	uint32_t peer_buf_alloc;    /* the guest's receive buffer */
	uint32_t peer_fwd_cnt;      /* bytes the guest's application consumed */
	bool credit_requested;      /* CREDIT_REQUEST sent, no update seen since */
	uint8_t rx_burst;           /* rx buffers to offer the next readv (1..16) */

	uint8_t *txbuf;             /* ring buffer, tx-buffer-size, on demand */
	uint32_t txbuf_head, txbuf_len;
};

/* Bytes the guest can still accept from us. */
static inline uint32_t conn_peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

#endif
