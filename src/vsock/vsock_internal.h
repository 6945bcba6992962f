/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Functions shared by the files of the vsock device (one VM thread). */
#ifndef VDV_VSOCK_VSOCK_INTERNAL_H
#define VDV_VSOCK_VSOCK_INTERNAL_H

#include "util/clock.h"
#include "vsock/vsock_dev.h"

/* conn_table.c: lookup, life cycle, lists, host port allocation */
struct vsock_conn *conn_lookup(struct vsock_dev *d, uint64_t peer_cid, uint32_t peer_port,
			       uint32_t guest_port);
/* True (and counted, logged once) when no connection may be added. */
bool conn_at_limit(struct vsock_dev *d);
/* Allocates a connection owning fd and watches fd. NULL if the per-VM
 * limit is reached or memory is short (fd is then NOT closed). */
struct vsock_conn *conn_new(struct vsock_dev *d, int fd, enum conn_state state);
void conn_hash_insert(struct vsock_conn *c);
/* Closes the host socket (if any), unlinks and frees the connection. */
void conn_free(struct vsock_conn *c);
/* Closes just the host socket. */
void conn_close_fd(struct vsock_conn *c);
void conn_free_all(struct vsock_dev *d);
/* A free host port for a host-initiated connection, or 0 if none. */
uint32_t conn_alloc_host_port(struct vsock_dev *d, uint64_t peer_cid, uint32_t guest_port);

void ready_add(struct vsock_conn *c);
void ready_remove(struct vsock_conn *c);
void timed_arm(struct vsock_conn *c, uint32_t ms);
void timed_disarm(struct vsock_conn *c);
uint64_t vsock_now_ms(void);

/* vsock_rx.c: device -> guest */
/* The connection owes the guest the packets in pend (PEND_*). */
void conn_want(struct vsock_conn *c, uint32_t pend);
/* Queues a standalone RST answering hdr (a packet from the guest). */
void vsock_reply_rst(struct vsock_dev *d, const struct vsock_hdr *hdr);
/* Sends the guest an RST for c and frees c once sent; the host socket is
 * closed now. */
void conn_reset(struct vsock_conn *c);
/* Moves data and control packets into the guest's rx buffers. */
void vsock_rx_process(struct vsock_dev *d);

/* vsock_tx.c: guest -> device */
void vsock_tx_process(struct vsock_dev *d);

/* vsock_host.c: host socket side */
void conn_host_event(struct ev_loop *loop, int fd, uint32_t events, void *opaque);
/* Writes guest payload to the host socket, buffering what it refuses.
 * Returns 0, or -errno when the connection must be reset. */
int conn_write_host(struct vsock_conn *c, const struct iovec *iov, unsigned n, size_t len);
/* Re-evaluates whether the guest needs a CREDIT_UPDATE. */
void conn_check_credit(struct vsock_conn *c);
/* Applies the state changes that follow a shutdown from either side. */
void conn_check_closed(struct vsock_conn *c);
void conn_set_interest(struct vsock_conn *c);
void vsock_timer_event(struct ev_loop *loop, int fd, uint32_t events, void *opaque);
void vsock_timer_update(struct vsock_dev *d);

#endif
