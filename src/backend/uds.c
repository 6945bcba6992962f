/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Hybrid vsock over Unix sockets (Firecracker's protocol):
 *  - host -> guest: the host connects to uds-path and writes
 *    "CONNECT <port>\n"; once the guest accepts, we answer "OK <port>\n"
 *    (the guest port, as rust-vmm's daemon does) and relay data;
 *  - guest -> host: a guest connection to CID 2 port P connects to the
 *    Unix socket "<uds-path>_<P>".
 * SOCK_SEQPACKET the same way, message for message: host applications
 * connect to "<uds-path>_seqpacket" (first message "CONNECT <port>\n",
 * answer "OK <port>\n"), guest connections reach SOCK_SEQPACKET listeners
 * at "<uds-path>_<P>".
 */
#include "backend/uds.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/accept_pause.h"
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

/* Parses the handshake in buf[0, len) (the line without its '\n') and
 * ends the handshake with its port or why not. */
static void handshake_line(struct vsock_conn *c, char *buf, size_t len)
{
	uint32_t port;

	if (uds_parse_connect(buf, len, &port) < 0) {
		char why[128];

		/* Printable excerpt for the log line. */
		for (size_t i = 0; i < len; i++)
			if (buf[i] < 0x20 || buf[i] > 0x7e)
				buf[i] = '?';
		buf[len] = '\0';
		snprintf(why, sizeof(why), "malformed handshake '%.40s' (want 'CONNECT <port>')",
			 buf);
		vsock_handshake_done(c, -1, why);
		return;
	}
	vsock_handshake_done(c, port, NULL);
}

/* SEQPACKET (<uds-path>_seqpacket): the handshake is the first message,
 * "CONNECT <port>\n"; every later message is one vsock message. */
static void seq_handshake_readable(struct vsock_conn *c, uint32_t events)
{
	char buf[UDS_CONNECT_LINE_MAX + 1];
	ssize_t r;
	size_t len;

	do {
		r = recv(vsock_conn_fd(c), buf, UDS_CONNECT_LINE_MAX, MSG_DONTWAIT | MSG_TRUNC);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			vsock_handshake_done(c, -1, strerror(errno));
		return;
	}
	if (r == 0) {
		/* An empty message, or the end: only a hang-up tells. */
		if (events & (EPOLLRDHUP | EPOLLHUP))
			vsock_handshake_done(c, -1, "closed before sending a CONNECT message");
		else
			vsock_handshake_done(c, -1, "empty CONNECT message");
		return;
	}
	if (r > UDS_CONNECT_LINE_MAX) {
		vsock_handshake_done(c, -1, "CONNECT message longer than 64 bytes");
		return;
	}
	len = (size_t)r;
	if (buf[len - 1] == '\n')
		len--;
	handshake_line(c, buf, len);
}

static void uds_handshake_readable(struct vsock_conn *c, uint32_t events)
{
	char buf[UDS_CONNECT_LINE_MAX + 1];
	int fd = vsock_conn_fd(c);
	char *nl;
	ssize_t r;

	if (vsock_conn_type(c) == VIRTIO_VSOCK_TYPE_SEQPACKET) {
		seq_handshake_readable(c, events);
		return;
	}

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
	handshake_line(c, buf, (size_t)(nl - buf));
}

/* The name of the SEQPACKET listener beside uds-path (cloud-hypervisor
 * #8894's proposal). validate.c keeps room for it: it is shorter than the
 * "_<port>" suffix it reserves. */
#define UDS_SEQ_SUFFIX "_seqpacket"

/* One listening socket: uds-path (stream) or its SEQPACKET sibling. */
struct uds_listener {
	struct vsock_backend *b;
	int fd;
	uint16_t type;                  /* VIRTIO_VSOCK_TYPE_* of what it accepts */
	char path[108];
	struct unix_path_id id;         /* what we bound: unlink only that */
	struct accept_pause pause;      /* out of fds: unwatched for a while */
	struct log_ratelimit rl;        /* "VM not running" closes */
};

/* The backend's own state: its two listening sockets. */
struct uds {
	struct uds_listener l[2];
};

static void uds_on_accept(struct ev_loop *loop, int lfd, uint32_t events, void *opaque);

/* The pause after EMFILE & co. is over: watch the listener again. */
static void listener_resume(struct ev_loop *loop, void *opaque)
{
	struct uds_listener *l = opaque;
	int r = ev_add(loop, l->fd, EPOLLIN, uds_on_accept, l);

	if (r < 0 && r != -EEXIST)
		log_error("%s: cannot resume listening on %s: %s", vsock_dev_name(l->b->dev),
			  l->path, strerror(-r));
}

static void uds_on_accept(struct ev_loop *loop, int lfd, uint32_t events, void *opaque)
{
	struct uds_listener *l = opaque;
	struct vsock_backend *b = l->b;
	(void)events;

	/* One per event: the listening socket is level-triggered, so the
	 * loop reports it again while connections wait, and a lone
	 * connection costs no accept4() that only says EAGAIN. */
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		int e = errno;

		/* Out of fds: the connection stays in the backlog and the
		 * socket readable; watching it would spin (accept_pause.h). */
		if (accept_pause_wanted(e)) {
			ev_del(loop, lfd);
			accept_pause_start(&l->pause, loop, vsock_dev_name(b->dev), l->path, e);
		}
		return;
	}
	accept_pause_ok(&l->pause, vsock_dev_name(b->dev), l->path);
	if (!vsock_guest_ready(b->dev)) {
		/* No guest memory yet: nobody could answer. */
		log_info_rl(&l->rl, "%s: host connection on %s closed: the VM is not running",
			    vsock_dev_name(b->dev), l->path);
		close(fd);
		return;
	}
	vsock_handshake_start(b, fd, l->type);
}

static void uds_stop(struct vsock_backend *b)
{
	struct uds *u = b->priv;

	if (!u)
		return;
	for (unsigned i = 0; i < 2; i++) {
		if (u->l[i].fd < 0)
			continue;
		accept_pause_cancel(&u->l[i].pause, vsock_dev_loop(b->dev));
		ev_del(vsock_dev_loop(b->dev), u->l[i].fd); /* fails if paused: fine */
		close(u->l[i].fd);
		/* Only our socket: not a file put there meanwhile. */
		unix_unlink_if_ours(u->l[i].path, &u->l[i].id);
	}
	free(u);
	b->priv = NULL;
}

static int listener_open(struct uds_listener *l, char *err, size_t errlen)
{
	char why[256];
	int r = unix_listen_type(l->path, vsock_socket_type(l->type), why, sizeof(why));

	if (r < 0) {
		snprintf(err, errlen, "uds-path: %s", why);
		return r;
	}
	l->fd = r;
	unix_path_remember(l->path, &l->id);
	accept_pause_init(&l->pause, listener_resume, l);
	r = ev_add(vsock_dev_loop(l->b->dev), l->fd, EPOLLIN, uds_on_accept, l);
	if (r < 0) {
		snprintf(err, errlen, "uds-path '%s': %s", l->path, strerror(-r));
		close(l->fd);
		unix_unlink_if_ours(l->path, &l->id);
		l->fd = -1;
	}
	return r;
}

/* Anyone who may create files in uds-path's directory can plant
 * "<uds-path>_<port>" services for the guest, or swap our listeners. */
static void warn_dir_writable(const struct vsock_backend *b, const char *uds_path)
{
	char copy[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;
	const char *dir;

	snprintf(copy, sizeof(copy), "%s", uds_path);
	dir = dirname(copy);
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
		log_warn("%s: uds-path directory '%s' is %s-writable without the sticky bit: "
			 "others may replace the sockets in it", vsock_dev_name(b->dev), dir,
			 (st.st_mode & S_IWOTH) ? "world" : "group");
}

static int uds_start(struct vsock_backend *b, char *err, size_t errlen)
{
	const struct vm_config *cfg = vsock_dev_cfg(b->dev);
	struct uds *u = calloc(1, sizeof(*u));
	int r;

	if (!u) {
		snprintf(err, errlen, "uds-path: out of memory");
		return -ENOMEM;
	}
	b->priv = u;
	warn_dir_writable(b, cfg->uds_path);
	for (unsigned i = 0; i < 2; i++) {
		u->l[i] = (struct uds_listener){
			.b = b,
			.fd = -1,
			.type = i ? VIRTIO_VSOCK_TYPE_SEQPACKET : VIRTIO_VSOCK_TYPE_STREAM,
		};
		r = snprintf(u->l[i].path, sizeof(u->l[i].path), "%s%s", cfg->uds_path,
			     i ? UDS_SEQ_SUFFIX : "");
		if (r < 0 || (size_t)r >= sizeof(u->l[i].path)) {
			snprintf(err, errlen, "uds-path '%s%s': too long", cfg->uds_path,
				 i ? UDS_SEQ_SUFFIX : "");
			uds_stop(b);
			return -ENAMETOOLONG;
		}
		r = listener_open(&u->l[i], err, errlen);
		if (r < 0) {
			uds_stop(b);
			return r;
		}
	}
	return 0;
}

/*
 * Opens "<uds-path>_<port>" itself, not what it may point to: the guest
 * picks the port, and a symlink planted there would have us connect, with
 * our credentials, to any socket it names. O_PATH|O_NOFOLLOW gives the
 * last component as it is (a symlink stays a symlink), fstat says it is a
 * socket, and connecting to /proc/self/fd/N reaches exactly that inode.
 * Returns the O_PATH fd or -errno (-ECONNREFUSED for a non-socket).
 */
static int open_service(struct vsock_backend *b, const char *path)
{
	struct stat st;
	int pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (pfd < 0)
		return -errno;
	if (fstat(pfd, &st) < 0)
		st.st_mode = 0;
	if (!S_ISSOCK(st.st_mode)) {
		log_debug("%s: guest connection to %s refused: %s", vsock_dev_name(b->dev), path,
			  S_ISLNK(st.st_mode) ? "a symlink" : "not a socket");
		close(pfd);
		return -ECONNREFUSED;
	}
	return pfd;
}

static int uds_connect(struct vsock_backend *b, const struct vsock_hdr *h, uint32_t *wait_events)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[sizeof(sa.sun_path)];
	int fd, pfd, n;

	*wait_events = 0;
	/* Hybrid vsock has only the host behind it. */
	if (h->dst_cid != VSOCK_HOST_CID)
		return -EHOSTUNREACH;
	n = snprintf(path, sizeof(path), "%s_%u", vsock_dev_cfg(b->dev)->uds_path, h->dst_port);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	pfd = open_service(b, path);
	if (pfd < 0)
		return pfd;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d", pfd);
	/* A listener of the other type refuses (EPROTOTYPE): the guest gets
	 * RST, as from a kernel listener of the other type. */
	fd = socket(AF_UNIX,
		    vsock_socket_type(h->type) | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		n = -errno;
		close(pfd);
		return n;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		/* Unix sockets connect at once or fail (EAGAIN: the
		 * listener's backlog is full): never "in progress". */
		if (e == ENOENT)
			log_debug("%s: cannot connect to %s through %s (is /proc mounted?)",
				  vsock_dev_name(b->dev), path, sa.sun_path);
		close(pfd);
		close(fd);
		return -e;
	}
	close(pfd);
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
	.socket_room = true,
	.start = uds_start,
	.stop = uds_stop,
	.connect = uds_connect,
	.connect_done = uds_connect_done,
	.established = uds_established,
	.handshake_readable = uds_handshake_readable,
};
