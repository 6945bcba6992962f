/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The plugin contract between the vsock device and where its connections
 * go on the host side: a Unix socket (hybrid vsock, backend/uds.c), the
 * host's own AF_VSOCK (backend/vsock_fwd.c) or another VM of this daemon
 * (backend/sibling.c). The core owns this header and names no plugin: a
 * guest REQUEST is offered to each backend of the VM in turn until one
 * takes it, and a connection knows the backend that owns its host side.
 *
 * A plugin includes this header (and util/, config/) only. Everything runs
 * on the VM's thread, except where a function says otherwise.
 */
#ifndef VDV_VSOCK_BACKEND_H
#define VDV_VSOCK_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"
#include "util/event_loop.h"
#include "vsock/vsock_proto.h"

struct vsock_dev;
struct vsock_conn;
struct vsock_backend;

struct vsock_backend_ops {
	const char *name;
	/* Opens the backend's own listeners and state (b->priv). Called
	 * before the VM's thread runs. Returns 0 or -errno with a message. */
	int (*start)(struct vsock_backend *b, char *err, size_t errlen);
	/* Closes what start() opened; the VM's thread is stopped. */
	void (*stop)(struct vsock_backend *b);
	/*
	 * The guest asks for (h->dst_cid, h->dst_port). Returns a connected or
	 * connecting non-blocking socket, with *wait_events the epoll events
	 * that tell when it is done (0: done now; then connect_done), or
	 * -ENOENT when the destination is not this backend's (the next one
	 * is asked), or another -errno: the guest gets RST.
	 */
	int (*connect)(struct vsock_backend *b, const struct vsock_hdr *h, uint32_t *wait_events);
	/* An event on a connecting socket: 1 connected, 0 not yet, -errno
	 * refused (the guest gets RST). */
	int (*connect_done)(struct vsock_conn *c, uint32_t events);
	/* The guest accepted a connection from this backend (RESPONSE): say
	 * so to the host side. Returns 0 or -errno (the connection is reset). */
	int (*established)(struct vsock_conn *c);
	/* Data (or EOF: events has EPOLLRDHUP/EPOLLHUP) on a connection still
	 * in its handshake (vsock_handshake_start). NULL: no handshakes. */
	void (*handshake_readable)(struct vsock_conn *c, uint32_t events);
	/* The guest shut flags (VIRTIO_VSOCK_SHUTDOWN_RCV) of c, and the core
	 * shut the socket's matching side. For a host side that cannot see
	 * that on its socket alone. NULL: nothing more to do. */
	void (*guest_shutdown)(struct vsock_conn *c, uint32_t flags);
	/* SEQPACKET sockets of this backend cannot carry MSG_EOR (AF_UNIX):
	 * every message starts with one byte of VIRTIO_VSOCK_SEQ_* flags,
	 * written and read by the core. For sockets whose both ends are ours. */
	bool seq_flags_byte;
	/* The host sockets are AF_UNIX streams, whose free send space (their
	 * SO_SNDBUF less SIOCOUTQ) only our writes use up: the core may offer
	 * the guest part of it as credit beyond the tx buffer (conn.h). */
	bool socket_room;
};

struct vsock_backend {
	const struct vsock_backend_ops *ops;
	struct vsock_dev *dev;
	void *priv;                     /* the plugin's own state */
};

extern const struct vsock_backend_ops uds_backend_ops;
extern const struct vsock_backend_ops vsock_fwd_backend_ops;
extern const struct vsock_backend_ops sibling_backend_ops;

/* The socket type that carries a vsock type (SOCK_SEQPACKET or
 * SOCK_STREAM), for a backend's socket() and socketpair(). */
static inline int vsock_socket_type(uint16_t vsock_type)
{
	return vsock_type == VIRTIO_VSOCK_TYPE_SEQPACKET ? SOCK_SEQPACKET : SOCK_STREAM;
}

/* --- what a plugin may ask of the device --- */

struct ev_loop *vsock_dev_loop(const struct vsock_dev *d);
const struct vm_config *vsock_dev_cfg(const struct vsock_dev *d);
/* For log lines, e.g. "vm cid 3". */
const char *vsock_dev_name(const struct vsock_dev *d);
/* True when the guest can be offered a connection right now. */
bool vsock_guest_ready(const struct vsock_dev *d);
/* The same, as last published by the VM's thread: for other threads. */
bool vsock_dev_accepting(const struct vsock_dev *d);

/* A host-side socket (non-blocking, owned from now on, closed on error)
 * of vsock type (VIRTIO_VSOCK_TYPE_STREAM or _SEQPACKET) wants guest port
 * guest_port, from (peer_cid, peer_port; 0: a fresh host port): the guest
 * gets a REQUEST. Returns 0 or -errno. */
int vsock_offer(struct vsock_backend *b, int fd, uint16_t type, uint64_t peer_cid,
		uint32_t peer_port, uint32_t guest_port);
/* An accepted host socket of vsock type (owned from now on) whose
 * handshake b reads (ops->handshake_readable) until vsock_handshake_done.
 * NULL if refused. */
struct vsock_conn *vsock_handshake_start(struct vsock_backend *b, int fd, uint16_t type);
/* The handshake asked for guest_port (>= 0), or failed (< 0: closed, why
 * logged); the guest is offered the connection from the host's CID. */
void vsock_handshake_done(struct vsock_conn *c, int64_t guest_port, const char *why);

/* b's connection from (peer_cid, peer_port) to guest_port, or NULL. */
struct vsock_conn *vsock_conn_find(struct vsock_backend *b, uint64_t peer_cid,
				   uint32_t peer_port, uint32_t guest_port);
/* The host side of c may have stopped reading (a socket says that only to
 * a write): look, and if so tell the guest. */
void vsock_conn_probe(struct vsock_conn *c);

int vsock_conn_fd(const struct vsock_conn *c);
/* VIRTIO_VSOCK_TYPE_STREAM or _SEQPACKET. */
uint16_t vsock_conn_type(const struct vsock_conn *c);
uint64_t vsock_conn_peer_cid(const struct vsock_conn *c);
const struct vsock_backend *vsock_conn_backend(const struct vsock_conn *c);
uint32_t vsock_conn_peer_port(const struct vsock_conn *c);
uint32_t vsock_conn_guest_port(const struct vsock_conn *c);

#endif
