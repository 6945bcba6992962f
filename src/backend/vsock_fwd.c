/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * AF_VSOCK forwarding (forward-cid): guest connections go to
 * (forward-cid, port) on the host's own vsock, with the socket type of the
 * guest's connection, and host connections to each forward-listen port
 * (SOCK_STREAM) or forward-listen-seqpacket port (SOCK_SEQPACKET) are
 * relayed to the same port in the guest as connections of that type. A
 * vsock port is bound by one socket whatever its type, so the two lists
 * never share a port (config/validate.c).
 *
 * Listening sockets are bound as narrowly as the kernel allows: to CID 1
 * (VMADDR_CID_LOCAL) when forward-cid is 1, so that only processes of this
 * host can reach them; otherwise to the host's own CID. Either way only
 * peers whose CID is forward-cid are accepted: rust-vmm's daemon binds
 * VMADDR_CID_ANY, which lets every VM on the host into the guest.
 */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include "util/accept_pause.h"
#include "util/log.h"
#include "vsock/backend.h"

static const char *modprobe_hint(uint32_t cid)
{
	return cid == VMADDR_CID_LOCAL ? " (is vsock_loopback loaded? try 'modprobe vsock_loopback')"
				       : " (is a vsock transport loaded, e.g. vhost_vsock?)";
}

/* The CID listeners bind to; see the file comment. */
static uint32_t listen_cid(uint32_t forward_cid)
{
	uint32_t cid = VMADDR_CID_ANY;
	int fd;

	if (forward_cid == VMADDR_CID_LOCAL)
		return VMADDR_CID_LOCAL;
	fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) < 0)
			cid = VMADDR_CID_ANY;
		close(fd);
	}
	return cid;
}

/* One listening socket: a forward-listen or forward-listen-seqpacket port. */
struct fwd_listener {
	int fd;
	uint32_t port;
	uint16_t type; /* VIRTIO_VSOCK_TYPE_STREAM or _SEQPACKET */
	struct vsock_backend *b;
	struct accept_pause pause;  /* out of fds: unwatched for a while */
	char what[48];              /* "forward-listen port N", for the log */
};

/* The backend's own state: the listening sockets. */
struct fwd {
	/* Any host process may connect: refusals and closes are rate
	 * limited (util/log.h). */
	struct log_ratelimit refused_rl, closed_rl;
	size_t n;
	struct fwd_listener l[];
};

static const char *listen_key(uint16_t type)
{
	return type == VIRTIO_VSOCK_TYPE_SEQPACKET ? "forward-listen-seqpacket"
						   : "forward-listen";
}

static void fwd_on_accept(struct ev_loop *loop, int lfd, uint32_t events, void *opaque);

/* The pause after EMFILE & co. is over: watch the listener again. */
static void listener_resume(struct ev_loop *loop, void *opaque)
{
	struct fwd_listener *l = opaque;
	int r = ev_add(loop, l->fd, EPOLLIN, fwd_on_accept, l->b);

	if (r < 0 && r != -EEXIST)
		log_error("%s: cannot resume listening on %s: %s", vsock_dev_name(l->b->dev),
			  l->what, strerror(-r));
}

static void fwd_on_accept(struct ev_loop *loop, int lfd, uint32_t events, void *opaque)
{
	struct vsock_backend *b = opaque;
	const struct vm_config *cfg = vsock_dev_cfg(b->dev);
	const char *name = vsock_dev_name(b->dev);
	struct fwd *f = b->priv;
	struct fwd_listener *l = NULL;
	struct sockaddr_vm peer;
	socklen_t len = sizeof(peer);
	uint32_t port;
	uint16_t type;
	int r;
	(void)events;

	for (size_t i = 0; i < f->n; i++)
		if (f->l[i].fd == lfd)
			l = &f->l[i];
	if (!l)
		return; /* cannot happen: only our listeners carry this handler */
	port = l->port;
	type = l->type;
	/* One per event, as uds.c does: the listener is level-triggered. */
	int fd = accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		int e = errno;

		if (accept_pause_wanted(e)) {
			ev_del(loop, lfd);
			accept_pause_start(&l->pause, loop, name, l->what, e);
		}
		return;
	}
	accept_pause_ok(&l->pause, name, l->what);
	if (peer.svm_cid != cfg->forward_cid) {
		log_warn_rl(&f->refused_rl, "%s: %s port %u: refused a connection from cid %u "
			    "(only forward-cid %u may connect)", name, listen_key(type), port,
			    peer.svm_cid, cfg->forward_cid);
		close(fd);
		return;
	}
	if (!vsock_guest_ready(b->dev)) {
		log_info_rl(&f->closed_rl, "%s: %s port %u: connection closed: the VM is not "
			    "running", name, listen_key(type), port);
		close(fd);
		return;
	}
	r = vsock_offer(b, fd, type, VSOCK_HOST_CID, 0, port);
	if (r == -EPROTONOSUPPORT)
		log_info_rl(&f->closed_rl, "%s: %s port %u: connection closed: the guest's "
			    "driver did not negotiate SEQPACKET", name, listen_key(type), port);
	else if (r < 0)
		log_info_rl(&f->closed_rl, "%s: %s port %u: connection closed: %s", name,
			    listen_key(type), port, strerror(-r));
}

static void fwd_stop(struct vsock_backend *b)
{
	struct fwd *f = b->priv;

	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		if (f->l[i].fd < 0)
			continue;
		accept_pause_cancel(&f->l[i].pause, vsock_dev_loop(b->dev));
		ev_del(vsock_dev_loop(b->dev), f->l[i].fd); /* fails if paused: fine */
		close(f->l[i].fd);
	}
	free(f);
	b->priv = NULL;
}

static int fwd_start(struct vsock_backend *b, char *err, size_t errlen)
{
	const struct vm_config *cfg = vsock_dev_cfg(b->dev);
	uint32_t fcid = cfg->forward_cid, bind_cid = listen_cid(fcid);
	size_t n_stream = cfg->n_forward_listen, n = n_stream + cfg->n_forward_listen_seqpacket;
	struct fwd *f;
	int probe, r;

	/* Fail at start-up, with the reason, rather than on the first guest
	 * connection: is there an AF_VSOCK at all? */
	probe = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0) {
		r = -errno;
		snprintf(err, errlen, "forward-cid %u: cannot create an AF_VSOCK socket: %s%s",
			 fcid, strerror(errno), modprobe_hint(fcid));
		return r;
	}
	/* With forward-cid 1, CID 1 must exist (vsock_loopback): without it
	 * every guest connection would fail later with ENODEV. */
	if (fcid == VMADDR_CID_LOCAL) {
		struct sockaddr_vm sa = {
			.svm_family = AF_VSOCK,
			.svm_cid = VMADDR_CID_LOCAL,
			.svm_port = VMADDR_PORT_ANY,
		};
		if (bind(probe, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			r = -errno;
			snprintf(err, errlen, "forward-cid 1: cannot bind to CID 1: %s%s",
				 strerror(errno), modprobe_hint(fcid));
			close(probe);
			return r;
		}
	}
	close(probe);
	f = calloc(1, sizeof(*f) + n * sizeof(f->l[0]));
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		bool seq = i >= n_stream;

		f->l[i].fd = -1;
		f->l[i].port = seq ? cfg->forward_listen_seqpacket[i - n_stream]
				   : cfg->forward_listen[i];
		f->l[i].type = seq ? VIRTIO_VSOCK_TYPE_SEQPACKET : VIRTIO_VSOCK_TYPE_STREAM;
		f->l[i].b = b;
		snprintf(f->l[i].what, sizeof(f->l[i].what), "%s port %u",
			 listen_key(f->l[i].type), f->l[i].port);
		accept_pause_init(&f->l[i].pause, listener_resume, &f->l[i]);
	}
	f->n = n;
	b->priv = f;
	for (size_t i = 0; i < n; i++) {
		struct fwd_listener *l = &f->l[i];
		struct sockaddr_vm sa = {
			.svm_family = AF_VSOCK,
			.svm_cid = bind_cid,
			.svm_port = l->port,
		};
		int fd = socket(AF_VSOCK,
				vsock_socket_type(l->type) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(fd, 128) < 0) {
			r = -errno;
			snprintf(err, errlen, "%s port %u (bound to cid %u): %s%s",
				 listen_key(l->type), sa.svm_port, bind_cid, strerror(errno),
				 errno == EADDRINUSE ? " (another socket holds this port)"
						     : modprobe_hint(fcid));
			if (fd >= 0)
				close(fd);
			fwd_stop(b);
			return r;
		}
		l->fd = fd;
		r = ev_add(vsock_dev_loop(b->dev), fd, EPOLLIN, fwd_on_accept, b);
		if (r < 0) {
			snprintf(err, errlen, "%s port %u: %s", listen_key(l->type), sa.svm_port,
				 strerror(-r));
			fwd_stop(b);
			return r;
		}
	}
	return 0;
}

static int fwd_connect(struct vsock_backend *b, const struct vsock_hdr *h, uint32_t *wait_events)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		/* every destination is forwarded to forward-cid */
		.svm_cid = vsock_dev_cfg(b->dev)->forward_cid,
		.svm_port = h->dst_port,
	};
	int fd = socket(AF_VSOCK,
			vsock_socket_type(h->type) | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);

	*wait_events = 0;
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		if (e == EINPROGRESS) {
			*wait_events = EPOLLOUT;
			return fd;
		}
		close(fd);
		return -e;
	}
	return fd;
}

/* The connect in progress finished: did it succeed? */
static int fwd_connect_done(struct vsock_conn *c, uint32_t events)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		return 0;
	if (getsockopt(vsock_conn_fd(c), SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	return err ? -err : 1;
}

static int fwd_established(struct vsock_conn *c)
{
	(void)c; /* a vsock peer needs no word from us: its connect is done */
	return 0;
}

const struct vsock_backend_ops vsock_fwd_backend_ops = {
	.name = "forward-cid",
	.start = fwd_start,
	.stop = fwd_stop,
	.connect = fwd_connect,
	.connect_done = fwd_connect_done,
	.established = fwd_established,
	/* no handshake: accepted connections are offered to the guest at once */
};
