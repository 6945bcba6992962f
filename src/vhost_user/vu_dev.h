/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Generic vhost-user backend session: one frontend (VMM) connection at a
 * time, the guest memory table and the device's virtqueues. Device-neutral:
 * a device plugs in through struct vu_dev_ops.
 *
 * The session opens nothing itself: its owner hands it a connected socket
 * (vu_dev_attach), e.g. one accepted by vu_listen.h or one end of a
 * socketpair. Everything runs on the event loop given at creation (a
 * worker's, shared with other VMs: nothing here waits for the frontend). When the frontend goes, rings and memory are released,
 * the device is told to reset, and the owner is told (detached callback).
 */
#ifndef VDV_VHOST_USER_VU_DEV_H
#define VDV_VHOST_USER_VU_DEV_H

#include <stdbool.h>

#include "vhost_user/vu_dispatch.h" /* vu_offered_features(), vu_request_name() */
#include "vhost_user/vu_protocol.h"
#include "vhost_user/vu_types.h"    /* struct vu_dev, struct vu_dev_ops */

/*
 * Prepares a session with no frontend; opens nothing. name is copied (log
 * lines). Returns 0 or -errno (-EINVAL: ops->num_queues is 0 or above
 * VU_MAX_QUEUES).
 */
int vu_dev_init(struct vu_dev *dev, struct ev_loop *loop, const char *name,
		const struct vu_dev_ops *ops, void *opaque);

/*
 * Serves the vhost-user protocol on conn_fd, a connected stream socket: it
 * is made non-blocking and watched on the loop. Messages are taken in as
 * their bytes come (a message not whole VU_MSG_TIMEOUT_MS after its first
 * byte ends the session), and a reply the socket cannot take at once ends
 * it too: the thread never waits for the frontend. Takes ownership of
 * conn_fd on success only. Returns 0, -EBUSY if a frontend is attached,
 * -ENOMEM, or -errno.
 */
int vu_dev_attach(struct vu_dev *dev, int conn_fd);

/*
 * Ends the session with the attached frontend, if any: closes its fd,
 * releases rings and memory, calls ops->reset, logs why, and then calls the
 * detached callback. The session can be attached again afterwards (also
 * from within that callback).
 */
void vu_dev_detach(struct vu_dev *dev, const char *why);

/* Sets the one callback told after each detach (NULL: none). The owner of
 * the connection sets it, e.g. a listener to accept the next frontend. */
void vu_dev_on_detached(struct vu_dev *dev, vu_detached_fn fn, void *opaque);

/* Detaches any frontend (the detached callback runs as for any detach)
 * and frees the message buffer; the session holds nothing else. */
void vu_dev_destroy(struct vu_dev *dev);

/* True while a frontend is attached. */
bool vu_dev_attached(const struct vu_dev *dev);

/* True when the attached frontend has hung up (its EOF not handled yet). */
bool vu_dev_peer_gone(const struct vu_dev *dev);

/*
 * Handles one message as if it had been read from the attached frontend:
 * for a frontend that frames its own messages (in-process, or the fuzzer,
 * whose msg holds just hdr.size payload bytes). Consumes fds; replies go
 * to the attached fd. Returns 0, -ENOTCONN when nothing is attached, or
 * -errno after which the session has detached (as for a bad message read
 * from the socket).
 */
int vu_dev_handle_msg(struct vu_dev *dev, struct vu_msg *msg, int *fds, unsigned nfds);

/* True when guest memory is mapped and at least one queue is usable. */
bool vu_dev_has_memory(const struct vu_dev *dev);

#endif
