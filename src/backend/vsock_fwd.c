/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * AF_VSOCK forwarding (forward-cid): guest connections go to
 * (forward-cid, port) on the host's own vsock, and host connections to each
 * forward-listen port are relayed to the same port in the guest.
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

#include "backend/backend.h"
#include "util/log.h"
#include "vsock/vsock_internal.h"

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

static void fwd_on_accept(struct ev_loop *loop, int lfd, uint32_t events, void *opaque)
{
	struct vsock_dev *d = opaque;
	struct sockaddr_vm peer;
	socklen_t len = sizeof(peer);
	uint32_t port = 0;
	(void)loop, (void)events;

	for (size_t i = 0; i < d->n_listen_fds; i++)
		if (d->listen_fds[i] == lfd)
			port = d->cfg->forward_listen[i];
	/* One per event, as uds.c does: the listener is level-triggered. */
	int fd = accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (peer.svm_cid != d->cfg->forward_cid) {
		log_warn("%s: forward-listen port %u: refused a connection from cid %u "
			 "(only forward-cid %u may connect)", d->vu.name, port, peer.svm_cid,
			 d->cfg->forward_cid);
		close(fd);
		return;
	}
	if (!vsock_guest_ready(d)) {
		log_info("%s: forward-listen port %u: connection closed: the VM is not running",
			 d->vu.name, port);
		close(fd);
		return;
	}
	vsock_host_initiated(d, fd, port);
}

static void fwd_stop(struct vsock_dev *d)
{
	for (size_t i = 0; i < d->n_listen_fds; i++) {
		if (d->listen_fds[i] < 0)
			continue;
		ev_del(d->loop, d->listen_fds[i]);
		close(d->listen_fds[i]);
	}
	free(d->listen_fds);
	d->listen_fds = NULL;
	d->n_listen_fds = 0;
}

static int fwd_start(struct vsock_dev *d, char *err, size_t errlen)
{
	uint32_t fcid = d->cfg->forward_cid, bind_cid = listen_cid(fcid);
	size_t n = d->cfg->n_forward_listen;
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
	d->listen_fds = calloc(n ? n : 1, sizeof(int));
	if (!d->listen_fds) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		d->listen_fds[i] = -1;
	d->n_listen_fds = n;
	for (size_t i = 0; i < n; i++) {
		struct sockaddr_vm sa = {
			.svm_family = AF_VSOCK,
			.svm_cid = bind_cid,
			.svm_port = d->cfg->forward_listen[i],
		};
		int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(fd, 128) < 0) {
			r = -errno;
			snprintf(err, errlen, "forward-listen port %u (bound to cid %u): %s%s",
				 sa.svm_port, bind_cid, strerror(errno),
				 errno == EADDRINUSE ? " (another socket holds this port)"
						     : modprobe_hint(fcid));
			if (fd >= 0)
				close(fd);
			fwd_stop(d);
			return r;
		}
		d->listen_fds[i] = fd;
		r = ev_add(d->loop, fd, EPOLLIN, fwd_on_accept, d);
		if (r < 0) {
			snprintf(err, errlen, "forward-listen port %u: %s", sa.svm_port, strerror(-r));
			fwd_stop(d);
			return r;
		}
	}
	return 0;
}

static int fwd_connect(struct vsock_dev *d, uint64_t dst_cid, uint32_t port, bool *in_progress)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = d->cfg->forward_cid,
		.svm_port = port,
	};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	(void)dst_cid; /* every destination is forwarded to forward-cid */

	*in_progress = false;
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		if (e == EINPROGRESS) {
			*in_progress = true;
			return fd;
		}
		close(fd);
		return -e;
	}
	return fd;
}

static int fwd_established(struct vsock_conn *c)
{
	(void)c; /* a vsock peer needs no word from us: its connect is done */
	return 0;
}

const struct host_backend_ops vsock_fwd_backend_ops = {
	.name = "forward-cid",
	.start = fwd_start,
	.stop = fwd_stop,
	.connect = fwd_connect,
	.established = fwd_established,
	/* no handshake: accepted connections are offered to the guest at once */
};
