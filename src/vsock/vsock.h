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
/* Connections alive, handshakes included. */
unsigned vsock_dev_nconns(const struct vsock_dev *d);
/* The device's vhost-user session, for a listener to attach VMMs to. */
struct vu_dev *vsock_dev_vu(struct vsock_dev *d);

#endif
