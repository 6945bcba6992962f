/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The frontend connection's life cycle: listen, accept one frontend, read
 * its messages, and clean up when it goes so the next one can come. */
#include "vhost_user/vu_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/unix_socket.h"

/* A frontend that stops in the middle of a message is cut off after this. */
#define VU_MSG_TIMEOUT_S 5

static void on_listen(struct ev_loop *loop, int fd, uint32_t events, void *opaque);

static void kick_handler(struct ev_loop *loop, int fd, uint32_t events, void *opaque);

void vu_queue_watch(struct vu_dev *dev, unsigned q)
{
	struct vq *vq = &dev->vqs[q];

	if (vq->kick_fd < 0)
		return;
	/* Edge-triggered: every kick (eventfd write) is an edge, so the
	 * counter never has to be read back: one syscall less per kick. */
	if (ev_add(dev->loop, vq->kick_fd, EPOLLIN | EPOLLET, kick_handler, dev) < 0)
		log_warn("%s: cannot watch queue %u kick fd", dev->name, q);
}

void vu_queue_unwatch(struct vu_dev *dev, unsigned q)
{
	if (dev->vqs[q].kick_fd >= 0)
		ev_del(dev->loop, dev->vqs[q].kick_fd);
}

static void kick_handler(struct ev_loop *loop, int fd, uint32_t events, void *opaque)
{
	struct vu_dev *dev = opaque;
	(void)loop, (void)events;

	for (unsigned q = 0; q < dev->ops->num_queues; q++) {
		struct vq *vq = &dev->vqs[q];
		if (vq->kick_fd != fd)
			continue;
		if (vq_ready(vq) && dev->ops->queue_kick)
			dev->ops->queue_kick(dev, q);
		return;
	}
}

void vu_reset_session(struct vu_dev *dev)
{
	if (dev->ops->reset)
		dev->ops->reset(dev);
	for (unsigned q = 0; q < VU_MAX_QUEUES; q++) {
		vu_queue_unwatch(dev, q);
		vq_reset(&dev->vqs[q]);
	}
	gm_clear(&dev->mem);
	dev->features = 0;
	dev->features_set = false;
	dev->protocol_features = 0;
}

static void disconnect(struct vu_dev *dev, const char *why)
{
	if (dev->conn_fd < 0)
		return;
	log_info("%s: frontend disconnected (%s); waiting for the next one on %s",
		 dev->name, why, dev->socket_path);
	ev_del(dev->loop, dev->conn_fd);
	close(dev->conn_fd);
	dev->conn_fd = -1;
	vu_reset_session(dev);
	if (ev_add(dev->loop, dev->listen_fd, EPOLLIN, on_listen, dev) < 0)
		log_error("%s: cannot resume listening on %s", dev->name, dev->socket_path);
}

static void on_conn(struct ev_loop *loop, int fd, uint32_t events, void *opaque)
{
	struct vu_dev *dev = opaque;
	struct vu_msg msg;
	int fds[VHOST_USER_MAX_FDS];
	unsigned nfds;
	int r;
	(void)loop, (void)events;

	r = vu_msg_recv(fd, &msg, fds, &nfds);
	if (r == 0) {
		disconnect(dev, "connection closed");
		return;
	}
	if (r < 0) {
		dev->stats.bad_messages++;
		log_warn("%s: unreadable vhost-user message: %s", dev->name, strerror(-r));
		disconnect(dev, "protocol error");
		return;
	}
	r = vu_dispatch(dev, &msg, fds, nfds);
	if (r < 0)
		disconnect(dev, strerror(-r));
}

static void on_listen(struct ev_loop *loop, int fd, uint32_t events, void *opaque)
{
	struct vu_dev *dev = opaque;
	struct timeval tv = { .tv_sec = VU_MSG_TIMEOUT_S };
	int c;
	(void)loop, (void)events;

	c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	if (dev->conn_fd >= 0) {
		/* Only one frontend at a time; the listen fd is normally not
		 * watched while connected, this is a safety net. */
		log_warn("%s: refusing a second frontend while one is connected", dev->name);
		close(c);
		return;
	}
	/* Blocking reads with a timeout: a message is read whole once its
	 * first byte arrives, and a stalled frontend cannot hang the thread. */
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (ev_add(dev->loop, c, EPOLLIN, on_conn, dev) < 0) {
		close(c);
		return;
	}
	dev->conn_fd = c;
	dev->stats.frontends++;
	ev_del(dev->loop, dev->listen_fd);
	log_info("%s: frontend connected on %s", dev->name, dev->socket_path);
}

int vu_dev_init(struct vu_dev *dev, struct ev_loop *loop, const char *name,
		const char *socket_path, const struct vu_dev_ops *ops, void *opaque,
		char *err, size_t errlen)
{
	int r;

	memset(dev, 0, sizeof(*dev));
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	dev->loop = loop;
	dev->ops = ops;
	dev->opaque = opaque;
	dev->listen_fd = dev->conn_fd = -1;
	gm_init(&dev->mem);
	for (unsigned q = 0; q < VU_MAX_QUEUES; q++)
		vq_init(&dev->vqs[q]);
	if (ops->num_queues == 0 || ops->num_queues > VU_MAX_QUEUES) {
		snprintf(err, errlen, "device has %u queues (max %u)", ops->num_queues,
			 VU_MAX_QUEUES);
		return -EINVAL;
	}
	dev->socket_path = strdup(socket_path);
	if (!dev->socket_path) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = unix_listen(socket_path, err, errlen);
	if (r < 0)
		goto fail;
	dev->listen_fd = r;
	r = ev_add(loop, dev->listen_fd, EPOLLIN, on_listen, dev);
	if (r < 0) {
		snprintf(err, errlen, "cannot watch '%s': %s", socket_path, strerror(-r));
		goto fail;
	}
	return 0;
fail:
	if (dev->listen_fd >= 0) {
		close(dev->listen_fd);
		unlink(socket_path);
	}
	free(dev->socket_path);
	dev->socket_path = NULL;
	dev->listen_fd = -1;
	return r;
}

void vu_dev_destroy(struct vu_dev *dev)
{
	if (dev->conn_fd >= 0) {
		ev_del(dev->loop, dev->conn_fd);
		close(dev->conn_fd);
		dev->conn_fd = -1;
		vu_reset_session(dev);
	}
	if (dev->listen_fd >= 0) {
		ev_del(dev->loop, dev->listen_fd);
		close(dev->listen_fd);
		unlink(dev->socket_path);
		dev->listen_fd = -1;
	}
	free(dev->socket_path);
	dev->socket_path = NULL;
}

bool vu_dev_has_memory(const struct vu_dev *dev)
{
	return dev->conn_fd >= 0 && dev->mem.nregions > 0;
}
