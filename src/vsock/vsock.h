/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The virtio-vsock device of one VM, for the layer that wires VMs together
 * (src/daemon/): its config space (guest CID), its three queues on top of a
 * vhost-user session, and its connections. Creating it opens nothing; the
 * caller attaches backends, starts them, and serves the session.
 */
#ifndef VDV_VSOCK_VSOCK_H
#define VDV_VSOCK_VSOCK_H

#include "config/config.h"
#include "util/event_loop.h"
#include "vhost_user/vu_dev.h"
#include "vsock/backend.h"

struct vsock_dev;

/* A device for cfg on loop, or NULL (out of memory). */
struct vsock_dev *vsock_dev_new(const struct vm_config *cfg, struct ev_loop *loop);
/* Frees every connection and the device; its backends must be stopped. */
void vsock_dev_free(struct vsock_dev *d);
/* Appends b (asked for guest REQUESTs in the order added). 0 or -ENOSPC. */
int vsock_dev_add_backend(struct vsock_dev *d, struct vsock_backend *b);
/* The tx-buffer budget all VMs share (--tx-buffer-budget-total); set
 * before any VM runs. */
void vsock_tx_budget_total(uint64_t limit);
/* Connections alive, handshakes included. */
unsigned vsock_dev_nconns(const struct vsock_dev *d);
/* The device's vhost-user session, for a listener to attach VMMs to. */
struct vu_dev *vsock_dev_vu(struct vsock_dev *d);

/* Causes a connection's close is counted under (vdv_connections_closed_total). */
#define VSOCK_CLOSE_CAUSES 9
/* The label value of cause i ("guest_shutdown", "vmm_gone", ...). */
const char *vsock_close_cause_name(unsigned i);

/* What the device has done since the daemon started (counters only grow),
 * plus what is true now. Any thread may take it while the VM runs; it
 * never stops the VM's thread. */
struct vsock_metrics {
	uint64_t packets_from_guest, packets_to_guest;
	uint64_t bytes_from_guest, bytes_to_guest; /* payload bytes */
	uint64_t rst_sent;
	uint64_t dropped_spoofed, dropped_malformed, dropped_ctrl_full;
	uint64_t conn_limit_hits;     /* all sources; and by source: */
	uint64_t conn_limit_hits_guest, conn_limit_hits_host, conn_limit_hits_sibling;
	uint64_t handshakes_evicted;  /* pending host connections closed for newer ones */
	uint64_t tx_buffer_bytes;     /* now: tx buffer allocated (guest data the host has not taken) */
	uint64_t tx_buffer_promised;  /* now: buf_alloc promised to the VM's connections */
	uint64_t conns_established;
	uint64_t conns_open;          /* now, handshakes included */
	uint64_t rx_no_buffer;        /* passes with data waiting and no rx buffer */
	uint64_t conns_refused;       /* guest REQUESTs answered with RST */
	uint64_t conns_closed;        /* connections ended (any way) */
	/* ... by cause (enum conn_end in vsock/conn.h; index 0: none known);
	 * the causes sum to conns_closed. */
	uint64_t conns_closed_by[VSOCK_CLOSE_CAUSES];
	uint64_t rst_received;        /* guest RSTs on live connections */
	uint64_t credit_stalls_to_guest, host_backpressure;
	uint64_t txbuf_beyond_window; /* tx buffers doubled (conn_io.c, txbuf_reserve) */
	uint64_t transport_resets;    /* the guest's driver reset the device */
	uint64_t frontends;           /* vhost-user sessions served */
	bool frontend_attached;       /* now */
	uint64_t vu_messages, vu_bad_messages;
	uint64_t poll_windows, poll_hits, poll_sleeps;
};
void vsock_dev_metrics(const struct vsock_dev *d, struct vsock_metrics *m);

#endif
