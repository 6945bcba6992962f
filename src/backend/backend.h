/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Where a VM's connections go on the host. A backend is a small ops table:
 * the vsock device stays the same whether the other end is a Unix socket
 * (hybrid vsock, uds-path) or, later, host AF_VSOCK (forward-cid).
 */
#ifndef VDV_BACKEND_BACKEND_H
#define VDV_BACKEND_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vsock_dev;
struct vsock_conn;

struct host_backend_ops {
	const char *name;
	/* Starts accepting host-initiated connections. */
	int (*start)(struct vsock_dev *d, char *err, size_t errlen);
	void (*stop)(struct vsock_dev *d);
	/* Opens a non-blocking host connection for a guest REQUEST to
	 * (dst_cid, port); dst_cid is 2 or a CID that is no VM of this
	 * daemon. Returns the fd, with *in_progress set if the connect
	 * completes later (EPOLLOUT), or -errno (the guest gets RST). */
	int (*connect)(struct vsock_dev *d, uint64_t dst_cid, uint32_t port, bool *in_progress);
	/* The guest accepted a host-initiated connection (RESPONSE): say so
	 * to the host side. Returns 0 or -errno (the connection is reset). */
	int (*established)(struct vsock_conn *c);
	/* Data (or EOF: events has EPOLLRDHUP/EPOLLHUP) arrived on a
	 * connection still in CONN_HANDSHAKE. NULL for backends without a
	 * handshake. */
	void (*handshake_readable)(struct vsock_conn *c, uint32_t events);
};

extern const struct host_backend_ops uds_backend_ops;
extern const struct host_backend_ops vsock_fwd_backend_ops;

#endif
