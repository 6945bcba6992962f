/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The vhost-user request handlers: validate one framed message against the
 * request table and execute it on the session's negotiated state (features,
 * memory table, vrings). Below the session (vu_dev.c), above the framing
 * (vu_msg_io.c); whatever it needs from the session comes in as hooks.
 */
#ifndef VDV_VHOST_USER_VU_DISPATCH_H
#define VDV_VHOST_USER_VU_DISPATCH_H

#include <stdint.h>

#include "vhost_user/vu_protocol.h"
#include "vhost_user/vu_types.h"

/* What the handlers need from the session above them. Passed down rather
 * than called by name, so that this layer never calls up into vu_dev.c. */
struct vu_session_hooks {
	/* RESET_OWNER: release rings, memory and negotiated state. */
	void (*reset)(struct vu_dev *dev);
	/* Start / stop watching queue q's kick fd; stop comes before the fd
	 * is closed (the frontend still holds it, so epoll would not forget
	 * it by itself). */
	void (*watch_queue)(struct vu_dev *dev, unsigned q);
	void (*unwatch_queue)(struct vu_dev *dev, unsigned q);
};

/*
 * Validates and executes one request. msg may be allocated with just
 * hdr.size payload bytes. Consumes all fds (kept or closed). Sends whatever
 * reply the request calls for on dev->conn_fd, without waiting. Returns 0
 * to keep the connection or -errno to close it; -ENOBUFS (which no handler
 * returns) says that the socket could not take the reply (vu_msg_reply).
 * Sets dev->replied when it sent (or tried to send) a reply.
 */
int vu_dispatch(struct vu_dev *dev, const struct vu_session_hooks *session,
		struct vu_msg *msg, int *fds, unsigned nfds);

/* "GET_FEATURES", ..., or "UNKNOWN" for codes outside the protocol. */
const char *vu_request_name(uint32_t request);

/* Offered transport + device features. */
uint64_t vu_offered_features(const struct vu_dev *dev);
/* Offered protocol features (what the handlers implement). */
uint64_t vu_offered_protocol_features(void);

#endif
