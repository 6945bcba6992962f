/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Internals of the bench guest driver, shared by its files: bguest.c
 * (life cycle, waiting), bguest_conn.c (connections and listeners),
 * bguest_tx.c (packet slots, sending, credit) and bguest_rx.c (rx buffers,
 * packet dispatch). Not for the scenarios.
 */
#ifndef VDV_BENCH_BGUEST_PRIV_H
#define VDV_BENCH_BGUEST_PRIV_H

#include <endian.h>

#include "bguest.h"
#include "sim/sim.h"

#define HASH_BUCKETS 4096u
#define MAX_LISTENERS 8u

struct listener {
	uint32_t port;
	const struct bg_conn_ops *ops;
	void *user;
};

struct bg {
	struct sim *sim;
	struct bg_cfg cfg;
	uint64_t cid;
	bool indirect;
	unsigned qsize;
	int err;

	/* tx packet slots: [hdr | payload ... | indirect table] */
	uint8_t *tx_base;
	uint64_t tx_gpa;
	size_t tx_stride, tx_tbl_off;
	unsigned tx_nslots;
	uint16_t *tx_free;      /* stack of free slot indices */
	unsigned tx_nfree;
	int32_t *tx_slot_of_head; /* ring head -> slot, -1 if none */
	bool want_tx;           /* a send ran out of slots: wake on tx used */
	bool tx_added;          /* packets published since the last kick decision */

	/* rx buffers: [hdr | payload room] */
	uint8_t *rx_base;
	uint64_t rx_gpa;
	size_t rx_stride;
	unsigned rx_total, rx_posted;
	uint16_t *rx_idle;
	unsigned rx_nidle;
	int32_t *rx_buf_of_head;

	struct bg_conn *conns;  /* pool */
	struct bg_conn **conn_free;
	unsigned nfree_conns;
	struct bg_conn *buckets[HASH_BUCKETS];
	struct bg_conn *deferred[64]; /* freed once the current packet is done */
	unsigned ndeferred;
	bool dispatching;
	uint64_t batch;         /* bg_process_rx() passes: one interrupt's worth */
	uint32_t next_port;

	char stall[256];        /* what a timed-out send was waiting for */

	struct listener listeners[MAX_LISTENERS];
	unsigned nlisteners;
	struct bg_stats st;
};

static inline void bg_set_desc(struct vring_desc *d, uint64_t addr, uint32_t len,
			       uint16_t flags, uint16_t next)
{
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

/* bguest_conn.c */
struct bg_conn *bg_lookup(struct bg *g, uint64_t cid, uint32_t peer_port, uint32_t local_port);
struct bg_conn *bg_conn_new(struct bg *g, uint64_t cid, uint32_t peer_port,
			    uint32_t local_port, const struct bg_conn_ops *ops, void *user);
void bg_conn_release(struct bg *g, struct bg_conn *c);
void bg_conn_closed(struct bg *g, struct bg_conn *c);

/* bguest_tx.c */
int bg_reclaim_tx(struct bg *g);
int bg_send_ctrl(struct bg *g, struct bg_conn *c, uint16_t op, uint32_t flags);
void bg_reply_rst(struct bg *g, const struct virtio_vsock_hdr *in);
uint32_t bg_peer_credit(const struct bg_conn *c);

/* bguest_rx.c */
int bg_rx_refill(struct bg *g, bool force);
int bg_process_rx(struct bg *g);

#endif
