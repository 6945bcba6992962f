/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Message framing on the vhost-user socket: header + payload + SCM_RIGHTS,
 * read as it comes and never waited for. */
#include "vhost_user/vu_msg_io.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"

#define HDR_SIZE ((uint32_t)sizeof(struct vu_msg_header))

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

void vu_msg_rx_init(struct vu_msg_rx *rx, struct vu_msg *msg)
{
	rx->msg = msg;
	rx->have = 0;
	rx->nfds = 0;
}

void vu_msg_rx_clear(struct vu_msg_rx *rx)
{
	close_fds(rx->fds, rx->nfds);
	rx->nfds = 0;
	rx->have = 0;
}

unsigned vu_msg_rx_take(struct vu_msg_rx *rx, int *fds)
{
	unsigned n = rx->nfds;

	memcpy(fds, rx->fds, n * sizeof(int));
	rx->nfds = 0;
	rx->have = 0;
	return n;
}

/* Takes the fds of one recvmsg into the message. Every fd is collected
 * (or closed) before anything is refused, so that none leaks. */
static int collect_fds(struct vu_msg_rx *rx, struct msghdr *mh)
{
	bool too_many = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (rx->nfds < VHOST_USER_MAX_FDS) {
				rx->fds[rx->nfds++] = f;
			} else {
				close(f);
				too_many = true;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC) {
		/* The kernel could not give us every fd sent: we are out of
		 * fds (RLIMIT_NOFILE), or the frontend sent more than a
		 * message may carry. Either way they are gone, not "long". */
		log_warn("vhost-user message: file descriptors lost (MSG_CTRUNC: out of file "
			 "descriptors, or more than %d sent with one message)", VHOST_USER_MAX_FDS);
		return -EMSGSIZE;
	}
	if (too_many) {
		/* Only possible when the message's pieces each brought fds. */
		log_warn("vhost-user message: more than %d file descriptors sent with one "
			 "message", VHOST_USER_MAX_FDS);
		return -EMSGSIZE;
	}
	return 0;
}

/* The header is in: the checks that decide whether the rest is read. */
static int check_header(const struct vu_msg_header *h)
{
	if ((h->flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
		return -EPROTO;
	if (h->size > VHOST_USER_PAYLOAD_MAX)
		return -EMSGSIZE;
	return 0;
}

/* read_some() got bytes, and the message is not whole yet. */
#define RX_MORE 3

/* One recvmsg for the rest of the current part (header, then payload):
 * VU_RX_DONE when the message is whole, RX_MORE, VU_RX_AGAIN when the
 * socket had nothing, VU_RX_EOF, or -errno. */
static int read_some(int fd, struct vu_msg_rx *rx)
{
	char control[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
	struct vu_msg *m = rx->msg;
	struct iovec iov;
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control, .msg_controllen = sizeof(control),
	};
	ssize_t r;
	int err;

	if (rx->have < HDR_SIZE) {
		iov.iov_base = (char *)&m->hdr + rx->have;
		iov.iov_len = HDR_SIZE - rx->have;
	} else {
		iov.iov_base = (char *)&m->payload + (rx->have - HDR_SIZE);
		iov.iov_len = HDR_SIZE + m->hdr.size - rx->have;
	}
	do {
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? VU_RX_AGAIN : -errno;
	if (r == 0)
		return rx->have ? -ECONNRESET : VU_RX_EOF;
	/* Before the fds are looked at, so that the cleanup closes them. */
	rx->have += (uint32_t)r;
	err = collect_fds(rx, &mh);
	if (err < 0)
		return err;
	if (rx->have < HDR_SIZE)
		return RX_MORE;
	if (rx->have == HDR_SIZE) {
		err = check_header(&m->hdr);
		if (err < 0)
			return err;
	}
	return rx->have == HDR_SIZE + m->hdr.size ? VU_RX_DONE : RX_MORE;
}

int vu_msg_read(int fd, struct vu_msg_rx *rx)
{
	int r;

	/* On while bytes come: a read also stops short where a send with
	 * fds ends, and the header of a message with a payload ends a part
	 * too, with more perhaps waiting behind it. */
	do
		r = read_some(fd, rx);
	while (r == RX_MORE);
	if (r < 0)
		vu_msg_rx_clear(rx);
	return r;
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
		r = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -ENOBUFS : -errno;
	/* A short send leaves the stream cut mid-reply: as unusable as a
	 * full one (replies are small, so the kernel takes one whole or not
	 * at all unless the socket is all but full). */
	return (size_t)r == want ? 0 : -ENOBUFS;
}
