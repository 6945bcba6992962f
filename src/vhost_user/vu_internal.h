/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Shared between the vhost-user connection code and the request handlers. */
#ifndef VDV_VHOST_USER_VU_INTERNAL_H
#define VDV_VHOST_USER_VU_INTERNAL_H

#include "vhost_user/vu_dev.h"

/*
 * Reads one message (header, payload, fds). Returns 1 on success, 0 on
 * orderly EOF, or -errno (framing error, timeout, oversized payload: the
 * connection cannot be trusted any more). On success *nfds fds are owned by
 * the caller.
 */
int vu_msg_recv(int fd, struct vu_msg *msg, int *fds, unsigned *nfds);

/* Sends a reply with hdr.request copied from req and the given payload. */
int vu_msg_reply(int fd, const struct vu_msg_header *req, const void *payload,
		 uint32_t size);

/*
 * Validates and executes one request. Consumes all fds (kept or closed).
 * Returns 0 to keep the connection or -errno to close it. Sends whatever
 * reply the request calls for.
 */
int vu_dispatch(struct vu_dev *dev, struct vu_msg *msg, int *fds, unsigned nfds);

/* Releases rings, memory and negotiated state; tells the device to reset. */
void vu_reset_session(struct vu_dev *dev);

/* Registers/unregisters the kick handler of queue q on the loop. */
void vu_queue_watch(struct vu_dev *dev, unsigned q);
void vu_queue_unwatch(struct vu_dev *dev, unsigned q);

const char *vu_request_name(uint32_t request);

#endif
