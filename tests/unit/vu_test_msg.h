/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The frontend side of a vhost-user connection for unit tests that run the
 * session on their own thread: send one message (with fds), turn the event
 * loop so the session handles it, read the reply. Every wait is bounded.
 * (tests/sim is a whole VMM that blocks on its replies; these tests need
 * the backend's loop and the frontend in one thread.)
 */
#ifndef VDV_TESTS_UNIT_VU_TEST_MSG_H
#define VDV_TESTS_UNIT_VU_TEST_MSG_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/event_loop.h"
#include "vhost_user/vu_protocol.h"

#define VT_TIMEOUT_MS 2000

/* Sends one message; flags are sent verbatim (VHOST_USER_VERSION added). */
static inline void vt_send(int fd, uint32_t request, uint32_t flags, const void *payload,
			   uint32_t size, const int *fds, unsigned nfds)
{
	struct vu_msg_header h = {
		.request = request, .flags = VHOST_USER_VERSION | flags, .size = size,
	};
	char control[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)payload, .iov_len = size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };

	assert_true(nfds <= VHOST_USER_MAX_FDS);
	if (nfds) {
		struct cmsghdr *c;

		memset(control, 0, sizeof(control));
		mh.msg_control = control;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	assert_int_equal(sendmsg(fd, &mh, MSG_NOSIGNAL), (ssize_t)(sizeof(h) + size));
}

static inline void vt_send_u64(int fd, uint32_t request, uint32_t flags, uint64_t v)
{
	vt_send(fd, request, flags, &v, sizeof(v), NULL, 0);
}

/* Lets the loop handle what is there: one turn that waits (bounded) for
 * the first event, then turns until nothing is left. */
static inline void vt_pump(struct ev_loop *loop)
{
	assert_true(ev_run_once(loop, VT_TIMEOUT_MS) >= 0);
	while (ev_run_once(loop, 0) > 0)
		;
}

/* Turns the loop without waiting (nothing may be pending). */
static inline void vt_pump_idle(struct ev_loop *loop)
{
	while (ev_run_once(loop, 0) > 0)
		;
}

static inline int vt_wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 ? 0 : -ETIMEDOUT;
}

static inline int vt_read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r;

		if (vt_wait_readable(fd, VT_TIMEOUT_MS) < 0)
			return -ETIMEDOUT;
		r = recv(fd, (char *)buf + done, len - done, MSG_DONTWAIT);
		if (r == 0)
			return -ECONNRESET;
		if (r < 0)
			return -errno;
		done += (size_t)r;
	}
	return 0;
}

/* Reads one reply: its payload size, -ECONNRESET when the session closed
 * the connection, -ETIMEDOUT, or -EMSGSIZE if it is larger than cap. */
static inline int vt_recv(int fd, struct vu_msg_header *h, void *buf, size_t cap)
{
	int r = vt_read_full(fd, h, sizeof(*h));

	if (r < 0)
		return r;
	if (h->size > cap)
		return -EMSGSIZE;
	r = vt_read_full(fd, buf, h->size);
	return r < 0 ? r : (int)h->size;
}

/* Reads a u64 reply (GET_* or a REPLY_ACK status) to request. */
static inline uint64_t vt_recv_u64(int fd, uint32_t request)
{
	struct vu_msg_header h;
	uint64_t v = 0;

	assert_int_equal(vt_recv(fd, &h, &v, sizeof(v)), (int)sizeof(v));
	assert_int_equal(h.request, request);
	assert_int_equal(h.flags, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK);
	return v;
}

/* Nothing is waiting to be read (no reply was sent). */
static inline void vt_expect_silence(int fd)
{
	assert_int_equal(vt_wait_readable(fd, 0), -ETIMEDOUT);
}

/* The session closed its end: EOF after any replies still queued (or a
 * reset, if it closed with bytes of ours unread). */
static inline void vt_expect_closed(int fd)
{
	char buf[256];
	ssize_t r;

	do {
		assert_int_equal(vt_wait_readable(fd, VT_TIMEOUT_MS), 0);
		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	} while (r > 0);
	assert_true(r == 0 || errno == ECONNRESET);
}

#endif
