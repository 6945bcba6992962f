/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Message framing on the vhost-user socket: header + payload + SCM_RIGHTS. */
#include "vhost_user/vu_msg_io.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"

/* Waits until fd is readable or the message's deadline (monotonic ns) has
 * passed. A per-read timeout would not do: a frontend that sends a byte
 * just before each one expires would hold the thread forever. */
static int wait_readable(int fd, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - vdv_now_ns();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		/* Rounded up: never spin on a sub-millisecond remainder. */
		r = poll(&p, 1, (int)((left + 999999) / 1000000));
		if (r > 0)
			return 0; /* readable, or POLLHUP/POLLERR: recv tells */
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* Reads exactly len bytes before the deadline. */
static int read_full(int fd, void *buf, size_t len, int64_t deadline)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r;
		int w = wait_readable(fd, deadline);

		if (w < 0)
			return w;
		r = recv(fd, (char *)buf + done, len - done, MSG_DONTWAIT);
		if (r == 0)
			return -ECONNRESET;
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return -errno;
		}
		done += (size_t)r;
	}
	return 0;
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int vu_msg_recv(int fd, struct vu_msg *msg, int *fds, unsigned *nfds)
{
	char control[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
	struct iovec iov = { .iov_base = &msg->hdr, .iov_len = sizeof(msg->hdr) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control, .msg_controllen = sizeof(control),
	};
	struct cmsghdr *c;
	/* One deadline for the whole message, header and payload. */
	int64_t deadline = vdv_now_ns() + (int64_t)VU_MSG_TIMEOUT_MS * 1000000;
	ssize_t r;
	int err;

	*nfds = 0;
	for (;;) {
		err = wait_readable(fd, deadline);
		if (err < 0)
			return err;
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (r >= 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
			break;
	}
	if (r == 0)
		return 0;
	if (r < 0)
		return -errno;

	/* Collect every fd first, so that none leaks on any error below. */
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t n;
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < VHOST_USER_MAX_FDS)
				fds[(*nfds)++] = f;
			else
				close(f);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		/* The kernel could not give us every fd sent: we are out of
		 * fds (RLIMIT_NOFILE), or the frontend sent more than a
		 * message may carry. Either way they are gone, not "long". */
		log_warn("vhost-user message: file descriptors lost (MSG_CTRUNC: out of file "
			 "descriptors, or more than %d sent with one message)", VHOST_USER_MAX_FDS);
		err = -EMSGSIZE;
		goto fail;
	}
	if ((size_t)r < sizeof(msg->hdr)) {
		err = read_full(fd, (char *)&msg->hdr + r, sizeof(msg->hdr) - (size_t)r,
				deadline);
		if (err < 0)
			goto fail;
	}
	if ((msg->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION) {
		err = -EPROTO;
		goto fail;
	}
	if (msg->hdr.size > sizeof(msg->payload)) {
		err = -EMSGSIZE;
		goto fail;
	}
	if (msg->hdr.size) {
		err = read_full(fd, &msg->payload, msg->hdr.size, deadline);
		if (err < 0)
			goto fail;
	}
	return 1;
fail:
	close_fds(fds, *nfds);
	*nfds = 0;
	return err;
}

int vu_msg_reply(int fd, const struct vu_msg_header *req, const void *payload,
		 uint32_t size)
{
	struct vu_msg_header hdr = {
		.request = req->request,
		.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK,
		.size = size,
	};
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };
	size_t want = sizeof(hdr) + size;
	ssize_t r;

	do {
		r = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	/* Replies are tiny; a short send means the frontend is not reading. */
	return (size_t)r == want ? 0 : -EIO;
}
