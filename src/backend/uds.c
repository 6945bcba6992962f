/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Hybrid vsock over Unix sockets (Firecracker's protocol):
 *  - host -> guest: the host connects to uds-path and writes
 *    "CONNECT <port>\n"; once the guest accepts, we answer "OK <port>\n"
 *    (the guest port, as rust-vmm's daemon does) and relay data;
 *  - guest -> host: a guest connection to CID 2 port P connects to the
 *    Unix socket "<uds-path>_<P>".
 */
#include "backend/uds.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"
#include "util/unix_socket.h"
#include "vsock/backend.h"

int uds_parse_connect(const char *line, size_t len, uint32_t *port)
{
	static const char kw[] = "connect";
	uint64_t v = 0;
	size_t i = sizeof(kw) - 1, digits = 0;

	if (len > 0 && line[len - 1] == '\r')
		len--; /* tolerate CRLF from interactive tools */
	if (len < sizeof(kw) || strncasecmp(line, kw, sizeof(kw) - 1) != 0)
		return -EINVAL;
	if (line[i] != ' ')
		return -EINVAL;
	while (i < len && line[i] == ' ')
		i++;
	for (; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(line[i] - '0');
		if (v > UINT32_MAX || ++digits > 10)
			return -ERANGE;
	}
	if (digits == 0 || i != len)
		return -EINVAL;
	/* VMADDR_PORT_ANY is not a port one can connect to. */
	if (v == UINT32_MAX)
		return -ERANGE;
	*port = (uint32_t)v;
	return 0;
}

static void uds_handshake_readable(struct vsock_conn *c, uint32_t events)
{
	char buf[UDS_CONNECT_LINE_MAX + 1];
	int fd = vsock_conn_fd(c);
	char *nl;
	uint32_t port;
	ssize_t r;

	/* Peek, so that bytes after the newline stay in the socket: they
	 * belong to the stream and reach the guest through the normal path. */
	do {
		r = recv(fd, buf, UDS_CONNECT_LINE_MAX, MSG_PEEK);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		vsock_handshake_done(c, -1, strerror(errno));
		return;
	}
	if (r == 0) {
		vsock_handshake_done(c, -1, "closed before sending a CONNECT line");
		return;
	}
	nl = memchr(buf, '\n', (size_t)r);
	if (!nl) {
		if (r >= UDS_CONNECT_LINE_MAX)
			vsock_handshake_done(c, -1, "CONNECT line longer than 64 bytes");
		else if (events & (EPOLLRDHUP | EPOLLHUP))
			vsock_handshake_done(c, -1, "closed before the end of the CONNECT line");
		return; /* wait for the rest of the line (or the timeout) */
	}
	/* Consume exactly the line. */
	if (recv(fd, buf, (size_t)(nl - buf) + 1, 0) != nl - buf + 1) {
		vsock_handshake_done(c, -1, "short read of the CONNECT line");
		return;
	}
	if (uds_parse_connect(buf, (size_t)(nl - buf), &port) < 0) {
		/* Printable excerpt for the log line. */
		for (char *p = buf; p < nl; p++)
			if (*p < 0x20 || *p > 0x7e)
				*p = '?';
		*nl = '\0';
		char why[128];
		snprintf(why, sizeof(why), "malformed handshake '%.40s' (want 'CONNECT <port>')",
			 buf);
		vsock_handshake_done(c, -1, why);
		return;
	}
	vsock_handshake_done(c, port, NULL);
}

/* The backend's own state: the listening socket at uds-path. */
struct uds {
	int listen_fd;
};

static void uds_on_accept(struct ev_loop *loop, int lfd, uint32_t events, void *opaque)
{
	struct vsock_backend *b = opaque;
	const struct vm_config *cfg = vsock_dev_cfg(b->dev);
	(void)loop, (void)events;

	/* One per event: the listening socket is level-triggered, so the
	 * loop reports it again while connections wait, and a lone
	 * connection costs no accept4() that only says EAGAIN. */
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (!vsock_guest_ready(b->dev)) {
		/* No guest memory yet: nobody could answer. */
		log_info("%s: host connection on %s closed: the VM is not running",
			 vsock_dev_name(b->dev), cfg->uds_path);
		close(fd);
		return;
	}
	vsock_handshake_start(b, fd, VIRTIO_VSOCK_TYPE_STREAM);
}

static void uds_stop(struct vsock_backend *b)
{
	struct uds *u = b->priv;

	if (!u)
		return;
	if (u->listen_fd >= 0) {
		ev_del(vsock_dev_loop(b->dev), u->listen_fd);
		close(u->listen_fd);
		unlink(vsock_dev_cfg(b->dev)->uds_path);
	}
	free(u);
	b->priv = NULL;
}

static int uds_start(struct vsock_backend *b, char *err, size_t errlen)
{
	const struct vm_config *cfg = vsock_dev_cfg(b->dev);
	struct uds *u = calloc(1, sizeof(*u));
	char why[256];
	int r;

	if (!u) {
		snprintf(err, errlen, "uds-path: out of memory");
		return -ENOMEM;
	}
	u->listen_fd = -1;
	b->priv = u;
	r = unix_listen(cfg->uds_path, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errlen, "uds-path: %s", why);
		uds_stop(b);
		return r;
	}
	u->listen_fd = r;
	r = ev_add(vsock_dev_loop(b->dev), u->listen_fd, EPOLLIN, uds_on_accept, b);
	if (r < 0) {
		snprintf(err, errlen, "uds-path '%s': %s", cfg->uds_path, strerror(-r));
		close(u->listen_fd);
		unlink(cfg->uds_path);
		u->listen_fd = -1;
		uds_stop(b);
		return r;
	}
	return 0;
}

static int uds_connect(struct vsock_backend *b, const struct vsock_hdr *h, uint32_t *wait_events)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, n;

	*wait_events = 0;
	/* Hybrid vsock has only the host behind it. */
	if (h->dst_cid != VSOCK_HOST_CID)
		return -EHOSTUNREACH;
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", vsock_dev_cfg(b->dev)->uds_path,
		     h->dst_port);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	/* A listener of the other type refuses (EPROTOTYPE): the guest gets
	 * RST, as from a kernel listener of the other type. */
	fd = socket(AF_UNIX,
		    (h->type == VIRTIO_VSOCK_TYPE_SEQPACKET ? SOCK_SEQPACKET : SOCK_STREAM) |
			    SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		/* Unix sockets connect at once or fail (EAGAIN: the
		 * listener's backlog is full): never "in progress". */
		close(fd);
		return -e;
	}
	return fd;
}

static int uds_connect_done(struct vsock_conn *c, uint32_t events)
{
	(void)c, (void)events;
	return 1; /* never in progress: see uds_connect */
}

static int uds_established(struct vsock_conn *c)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "OK %u\n", vsock_conn_guest_port(c));
	ssize_t r = send(vsock_conn_fd(c), line, (size_t)n, MSG_NOSIGNAL);

	/* A fresh socket has room for a dozen bytes; anything else means the
	 * host side is already gone. */
	return r == n ? 0 : -EIO;
}

const struct vsock_backend_ops uds_backend_ops = {
	.name = "uds",
	.start = uds_start,
	.stop = uds_stop,
	.connect = uds_connect,
	.connect_done = uds_connect_done,
	.established = uds_established,
	.handshake_readable = uds_handshake_readable,
};
