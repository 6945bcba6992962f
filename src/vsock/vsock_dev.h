/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The virtio-vsock device of one VM: its config space (guest CID), its
 * three queues (0 rx, 1 tx, 2 event) on top of the generic vhost-user
 * backend, the connection table, and the VM's event loop thread. Everything
 * here is touched by that thread only.
 */
#ifndef VDV_VSOCK_VSOCK_DEV_H
#define VDV_VSOCK_VSOCK_DEV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "backend/backend.h"
#include "backend/sibling.h"
#include "config/config.h"
#include "util/event_loop.h"
#include "vhost_user/vu_dev.h"
#include "vhost_user/vu_listen.h"
#include "vsock/vsock_conn.h"
#include "vsock/vsock_proto.h"


#define VSOCK_MAX_CONNS 1024u
#define VSOCK_HASH_BUCKETS 2048u
/* Standalone replies (RST to unknown connections) waiting for rx buffers. */
#define VSOCK_CTRL_QUEUE_LEN 256u
#define VSOCK_RX_MULTI 16u
/* A host read below this many bytes marks a stream of small writes,
 * whose reads may wait for the guest (vsock_rx.c, rx_defer). */
#define VSOCK_RX_SMALL 1024
/* Host ports for host-initiated connections start here (as Firecracker). */
#define VSOCK_HOST_PORT_BASE (1u << 30)
/* Handshake, guest answer and close-flush timeouts. */
#define VSOCK_TIMEOUT_MS 2000u
#define VSOCK_TIMER_TICK_MS 200u

struct vsock_dev_stats {
	uint64_t tx_packets, rx_packets;
	uint64_t tx_bytes, rx_bytes;
	uint64_t dropped_spoofed, dropped_malformed, dropped_ctrl_full;
	uint64_t rst_sent;
	uint64_t conn_limit_hits;
};

/* A sibling connection handed to this VM by another VM's thread. */
struct sibling_req {
	int fd;                         /* our end of the socketpair */
	uint64_t src_cid;
	uint32_t src_port, dst_port;
};

struct sibling_inbox {
	pthread_mutex_t lock;
	struct sibling_req items[SIBLING_INBOX_LEN];
	unsigned head, len;
	int efd;                        /* eventfd: items are waiting */
};

/* Consecutive RW packets of one connection, written with one writev. */
#define VSOCK_TX_BATCH 256u
struct tx_batch {
	struct vsock_conn *conn;
	size_t len;
	unsigned niov, nheads;
	struct iovec iov[VSOCK_TX_BATCH];
	uint16_t heads[VSOCK_TX_BATCH];  /* pushed once the data is written */
};

struct conn_list {
	struct vsock_conn *head, *tail;
	unsigned len;
};

struct vsock_dev {
	const struct vm_config *cfg;
	struct ev_loop *loop;
	struct vu_dev vu;
	struct vu_listen listener;      /* the vhost-user socket, feeds vu */
	pthread_t thread;
	bool thread_started;

	const struct host_backend_ops *backend;
	int backend_fd;                 /* uds listener (hybrid vsock), or -1 */
	int *listen_fds;                /* forward-listen sockets (forward-cid) */
	size_t n_listen_fds;

	struct vsock_conn *buckets[VSOCK_HASH_BUCKETS];
	unsigned nconns;                /* including handshakes */
	bool limit_logged;
	struct conn_list ready;         /* connections with something for the guest */
	struct conn_list timed;         /* connections with a deadline */
	struct vsock_hdr ctrl[VSOCK_CTRL_QUEUE_LEN];
	unsigned ctrl_head, ctrl_len;
	uint32_t next_host_port;

	int timer_fd;
	bool timer_armed;
	bool rx_work;                   /* run the rx path before sleeping */
	bool tx_work;                   /* tx ring not drained (budget hit) */

	struct sibling_inbox inbox;
	/* Published by this VM's thread for the others: a guest is running
	 * and can be offered connections. */
	atomic_bool accepting;

	struct vq_elem elem;            /* scratch, too big for the stack */
	struct tx_batch txb;
	/* rx buffers filled by one readv (Linux posts 4 KiB buffers: 16 of
	 * them take a 64 KiB host write in one system call). */
	struct vq_elem rxe[VSOCK_RX_MULTI];
	uint32_t rxe_room[VSOCK_RX_MULTI];
	struct vsock_dev_stats stats;
	struct ev_poll_stats poll_base; /* loop's polling counters at session start */
	bool rx_small;                  /* the last host read was small */
	bool rx_deferred;               /* reads wait for the guest (see vsock_rx.c) */
	int64_t rx_defer_end_ns;        /* ... until then at the latest */
};

/* Creates the VM's loop, vhost-user socket and host listener. Returns 0 or
 * -errno with a message naming the VM and the path in err. */
int vsock_dev_init(struct vsock_dev *d, const struct vm_config *cfg, char *err, size_t errlen);
/* Starts the VM's thread. */
int vsock_dev_start(struct vsock_dev *d);
/* Stops the thread (if started). Stop every VM before destroying any: a
 * running VM may still hand connections to another. */
void vsock_dev_stop(struct vsock_dev *d);
/* Stops the thread (if started), closes everything, removes the sockets. */
void vsock_dev_destroy(struct vsock_dev *d);

/* --- used by the backends (same thread) --- */

/* True when the guest can be offered a connection right now. */
bool vsock_guest_ready(const struct vsock_dev *d);
/* A host socket fd (non-blocking) wants guest port guest_port: sends the
 * guest a REQUEST. Takes ownership of fd. Returns 0 or -errno (fd closed). */
int vsock_host_initiated(struct vsock_dev *d, int fd, uint32_t guest_port);
/* Registers an accepted host socket still in its handshake (fd owned). */
struct vsock_conn *vsock_handshake_start(struct vsock_dev *d, int fd);
/* The handshake produced a port (guest_port) or failed (port < 0). */
void vsock_handshake_done(struct vsock_conn *c, int64_t guest_port, const char *why);
/* Offers c (a connected host or sibling socket) to the guest as a REQUEST
 * from (peer_cid, peer_port, or a fresh host port if 0) to guest_port. */
int vsock_offer_to_guest(struct vsock_conn *c, uint64_t peer_cid, uint32_t peer_port,
			 uint32_t guest_port);

#endif
