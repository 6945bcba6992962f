/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The connections of one VM: struct vsock_conn (a connection's protocol
 * state from conn.h plus what ties it to this VM: its host socket, its
 * backend, its list links), the table that finds one by port pair, the
 * ready list (connections owing the guest a packet), the deadline list,
 * and host port allocation. Opens nothing and registers nothing: the
 * socket side is conn_io.c.
 */
#ifndef VDV_VSOCK_CONN_TABLE_H
#define VDV_VSOCK_CONN_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "vsock/conn.h"
#include "vsock/msgbuf.h"

struct vsock_dev;
struct vsock_backend;

#define VSOCK_HASH_BUCKETS 2048u
/* Host ports for host-initiated connections start here (as Firecracker). */
#define VSOCK_HOST_PORT_BASE (1u << 30)

struct conn_link {
	struct vsock_conn *prev, *next;
};

struct conn_list {
	struct vsock_conn *head, *tail;
	unsigned len;
};

/* Who opened a connection: each has its own share of the VM's slots. */
enum conn_src {
	CONN_SRC_GUEST,   /* the guest's REQUEST */
	CONN_SRC_HOST,    /* a host socket (uds-path, forward-listen) */
	CONN_SRC_SIBLING, /* another VM of this daemon */
	CONN_SRC_COUNT,
};

/* Connections a sibling VM has open to this guest. */
struct conn_peer_count {
	uint64_t cid;
	unsigned n;
};

/* A SEQPACKET connection's message state, allocated on first use. */
struct conn_seq {
	struct msgbuf tx;               /* guest messages the host has not taken */
	uint8_t *rx;                    /* a host message delivered in parts, or NULL */
	uint32_t rx_len, rx_off;        /* its size, and what the guest has of it */
	uint32_t rx_flags;              /* VIRTIO_VSOCK_SEQ_EOR of it */
};

/* Laid out small: one per connection, a thousand per VM. */
struct vsock_conn {
	struct conn p;                  /* the protocol: conn.c */
	struct vsock_dev *dev;
	const struct vsock_backend *via; /* owns the host side */
	struct vsock_conn *hash_next;
	struct conn_link ready;         /* on the ready list: owes the guest a packet */
	struct conn_link timed;         /* on the deadline list: p.deadline_ms or idle_ms set */
	struct conn_link pend;          /* on the pending list: a host connection not accepted yet */
	union {                         /* on demand, by p.type (one pointer: 1000s of these) */
		uint8_t *txbuf;         /* STREAM: ring buffer, see txbuf_big */
		struct conn_seq *seq;   /* SEQPACKET: its messages; read it via conn_seq() */
	};
	uint64_t idle_ms;               /* free the emptied tx buffer then (0: no) */
	int fd;                         /* host socket, or -1 */
	uint32_t txbuf_head, txbuf_len;
	uint32_t txmem;                 /* bytes of tx buffer counted in the VM's gauge */
	uint8_t rx_burst;               /* rx buffers to offer the next readv (1..16) */
	bool on_ready, on_timed, on_pend; /* linked on those lists */
	uint8_t src;                    /* enum conn_src */
	/* Flags in one byte (the struct ends on an 8-byte boundary here). */
	bool hashed : 1;
	bool wait_out : 1;              /* connecting: EPOLLOUT says when it is done */
	bool out_armed : 1;             /* EPOLLOUT is in fd's interest */
	bool txbuf_big : 1;             /* txbuf holds 2 x p.buf_alloc, not p.buf_alloc */
};

/* c's SEQPACKET state, or NULL (none yet, or a STREAM connection). */
static inline struct conn_seq *conn_seq(const struct vsock_conn *c)
{
	return c->p.type == VIRTIO_VSOCK_TYPE_SEQPACKET ? c->seq : NULL;
}

/* The table's part of a VM. */
struct conn_table {
	unsigned nconns;                /* including handshakes */
	unsigned by_src[CONN_SRC_COUNT]; /* nconns by who opened them */
	uint32_t next_host_port;
	struct conn_list ready;
	struct conn_list timed;
	/* Host connections (CONN_SRC_HOST) in their handshake or offered to
	 * the guest and not answered yet, oldest first: evicted in that
	 * order when a new one needs the room. */
	struct conn_list pend;
	struct conn_peer_count *peers;  /* sibling connections by peer CID */
	unsigned npeers, peers_cap;
	/* Last: untouched (not resident) while a VM has no connection. */
	struct vsock_conn *buckets[VSOCK_HASH_BUCKETS];
};

/* t must be zeroed memory. */
void conn_table_init(struct conn_table *t);
/* Frees what the table holds besides its connections (none may be left). */
void conn_table_fini(struct conn_table *t);

struct vsock_conn *conn_lookup(struct conn_table *t, uint64_t peer_cid, uint32_t peer_port,
			       uint32_t guest_port);
/* A connection of dev opened by src (a sibling's: from peer_cid, which it
 * keeps), not in the table yet, with no host socket. NULL when memory is
 * short. */
struct vsock_conn *conn_alloc(struct conn_table *t, struct vsock_dev *dev, uint32_t guest_cid,
			      uint32_t buf_alloc, enum conn_src src, uint64_t peer_cid);
/* Connections the sibling VM peer_cid opened to this guest. */
unsigned conn_peer_count(const struct conn_table *t, uint64_t peer_cid);
/* Enters c under its port pair (c->p.peer_cid, peer_port, guest_port). */
void conn_hash_insert(struct conn_table *t, struct vsock_conn *c);
/* Unlinks c from everything and frees it; the host socket must be closed. */
void conn_release(struct conn_table *t, struct vsock_conn *c);
/* A free host port for a host-initiated connection, or 0 if none. */
uint32_t conn_alloc_host_port(struct conn_table *t, uint64_t peer_cid, uint32_t guest_port);

void conn_ready_add(struct conn_table *t, struct vsock_conn *c);
void conn_ready_remove(struct conn_table *t, struct vsock_conn *c);
/* Puts c on the deadline list when p.deadline_ms or idle_ms is set, else
 * takes it off. */
void conn_timed_update(struct conn_table *t, struct vsock_conn *c);
/* The pending list: on while a host connection waits for the guest. */
void conn_pend_add(struct conn_table *t, struct vsock_conn *c);
void conn_pend_remove(struct conn_table *t, struct vsock_conn *c);

#endif
