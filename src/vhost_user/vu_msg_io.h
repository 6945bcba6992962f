/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Message framing on a vhost-user connection: one message in (header,
 * payload, SCM_RIGHTS fds), one reply out. The bottom layer of
 * src/vhost_user/: it knows the wire format and nothing of sessions.
 */
#ifndef VDV_VHOST_USER_VU_MSG_IO_H
#define VDV_VHOST_USER_VU_MSG_IO_H

#include "vhost_user/vu_protocol.h"

/* A whole message (header and payload) must arrive within this, counted
 * from the call of vu_msg_recv; it is also the send timeout of replies. */
#define VU_MSG_TIMEOUT_MS 5000

/*
 * Reads one message (header, payload, fds), waiting at most
 * VU_MSG_TIMEOUT_MS for all of it. Returns 1 on success, 0 on orderly EOF,
 * or -errno (framing error, -ETIMEDOUT, oversized payload: the connection
 * cannot be trusted any more). On success *nfds fds are owned by the
 * caller.
 */
int vu_msg_recv(int fd, struct vu_msg *msg, int *fds, unsigned *nfds);

/* Sends a reply with hdr.request copied from req and the given payload. */
int vu_msg_reply(int fd, const struct vu_msg_header *req, const void *payload,
		 uint32_t size);

#endif
