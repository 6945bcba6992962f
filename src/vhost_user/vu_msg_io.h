/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Message framing on a vhost-user connection: messages in (header,
 * payload, SCM_RIGHTS fds), read piece by piece as the socket has them,
 * and replies out. Nothing here ever waits: the session's thread serves
 * other VMs too. The bottom layer of src/vhost_user/: it knows the wire
 * format and nothing of sessions.
 */
#ifndef VDV_VHOST_USER_VU_MSG_IO_H
#define VDV_VHOST_USER_VU_MSG_IO_H

#include <stdbool.h>
#include <stdint.h>

#include "vhost_user/vu_protocol.h"

/* A whole message (header and payload) must arrive within this, counted
 * from its first byte (the session's timer enforces it). */
#define VU_MSG_TIMEOUT_MS 5000

/*
 * The message being read. msg is the caller's buffer (a whole struct
 * vu_msg); the rest is the reader's. A message that has started holds the
 * fds that came with its bytes until it is complete or cleared.
 */
struct vu_msg_rx {
	struct vu_msg *msg;
	uint32_t have;                  /* bytes of header + payload in msg */
	unsigned nfds;
	int fds[VHOST_USER_MAX_FDS];
};

/* What vu_msg_read() found, or -errno. */
enum {
	VU_RX_AGAIN = 0,        /* the socket has nothing more for now */
	VU_RX_DONE = 1,         /* a whole message: take it with vu_msg_rx_take() */
	VU_RX_EOF = 2,          /* orderly EOF between two messages */
};

/* An empty reader on msg (which must outlive it). */
void vu_msg_rx_init(struct vu_msg_rx *rx, struct vu_msg *msg);

/* True while a message has started and is not complete. */
static inline bool vu_msg_rx_partial(const struct vu_msg_rx *rx)
{
	return rx->have > 0;
}

/* Forgets the message in progress, closing the fds it came with. */
void vu_msg_rx_clear(struct vu_msg_rx *rx);

/*
 * Reads, without blocking, what fd has of the message in progress, never
 * past its end: fds that arrive belong to the message whose bytes they
 * came with (a sender's sendmsg attaches them to its first bytes, and the
 * kernel never hands them out with bytes of an earlier send). Returns
 * VU_RX_DONE, VU_RX_AGAIN, VU_RX_EOF, or -errno: -EPROTO (version),
 * -EMSGSIZE (payload too large, fds lost or too many), -ECONNRESET (EOF in
 * the middle of a message), or the socket's error. After an error the
 * connection cannot be trusted any more; the partial message is cleared
 * (its fds closed).
 */
int vu_msg_read(int fd, struct vu_msg_rx *rx);

/*
 * After VU_RX_DONE: moves the message's fds to fds[] (VHOST_USER_MAX_FDS
 * entries), returns their number, and makes the reader empty for the next
 * message. rx->msg keeps the message until the next vu_msg_read().
 */
unsigned vu_msg_rx_take(struct vu_msg_rx *rx, int *fds);

/*
 * Sends a reply with hdr.request copied from req and the given payload,
 * without waiting: 0, -ENOBUFS when the socket cannot take all of it now
 * (the frontend does not read its replies), or -errno.
 */
int vu_msg_reply(int fd, const struct vu_msg_header *req, const void *payload,
		 uint32_t size);

#endif
