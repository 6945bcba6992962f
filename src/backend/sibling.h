/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Sibling VMs: guests of this daemon that share a group talk to each other.
 *
 * A sibling connection is a Unix socketpair whose ends the two VM threads
 * treat like host sockets, so each side runs the ordinary connection state
 * machine, credit and tx buffer against its own guest. The only cross-thread
 * step is the hand-off of the far end to the target VM (a bounded inbox and
 * an eventfd); after that no lock is taken. Memory stays bounded on both
 * sides: the socketpair's kernel buffer plus each side's tx buffer, and a
 * slow receiver throttles the sender through the sender's own credit, never
 * stalling the sender's other connections.
 *
 * Handshake over the pair: the target writes one byte, SIBLING_ACK, when its
 * guest accepts (RESPONSE); closing its end instead means refused.
 */
#ifndef VDV_BACKEND_SIBLING_H
#define VDV_BACKEND_SIBLING_H

#include <stddef.h>
#include <stdint.h>

#include "vsock/vsock_proto.h"

struct vsock_dev;
struct vsock_conn;

#define SIBLING_INBOX_LEN 64u
#define SIBLING_ACK 'A'

/* All VMs of the process; set once before any VM thread starts. */
void sibling_registry_set(struct vsock_dev *devs, size_t n);

/* The guest of d asks for (h->dst_cid, h->dst_port), a CID that is not the
 * host's. Returns 0 when the request is on its way to the sibling,
 * -ENOENT when no VM of this daemon has that CID (the host backend may take
 * it), or another -errno (no shared group, not running, busy): reply RST. */
int sibling_connect(struct vsock_dev *d, const struct vsock_hdr *h);

/* The target's guest accepted: tell the initiating side. */
int sibling_established(struct vsock_conn *c);
/* Initiator side: the pair became readable while waiting for the answer. */
void sibling_answer_readable(struct vsock_conn *c);

int sibling_inbox_init(struct vsock_dev *d);
void sibling_inbox_destroy(struct vsock_dev *d);

#endif
