/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The session with one frontend on a connection its owner attached: read
 * its messages and hand them to the dispatcher, watch the queues' kick fds,
 * and clean up when it goes so that the next one can be attached.
 */
#include "vhost_user/vu_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/stat.h"
#include "vhost_user/vu_dispatch.h"
#include "vhost_user/vu_msg_io.h"

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

static void queue_watch(struct vu_dev *dev, unsigned q)
{
	struct vq *vq = &dev->vqs[q];

	if (vq->kick_fd < 0)
		return;
	/* Edge-triggered: every kick (eventfd write) is an edge, so the
	 * counter never has to be read back: one syscall less per kick. */
	if (ev_add(dev->loop, vq->kick_fd, EPOLLIN | EPOLLET, kick_handler, dev) < 0)
		log_warn("%s: cannot watch queue %u kick fd", dev->name, q);
}

static void queue_unwatch(struct vu_dev *dev, unsigned q)
{
	if (dev->vqs[q].kick_fd >= 0)
		ev_del(dev->loop, dev->vqs[q].kick_fd);
}

/* Releases rings, memory and negotiated state; tells the device to reset.
 * The connection itself stays (RESET_OWNER) or is gone already (detach). */
static void session_reset(struct vu_dev *dev)
{
	if (dev->ops->reset)
		dev->ops->reset(dev);
	for (unsigned q = 0; q < VU_MAX_QUEUES; q++) {
		queue_unwatch(dev, q);
		vq_reset(&dev->vqs[q]);
	}
	gm_clear(&dev->mem);
	dev->stopped_queues = 0;
	dev->reset_seen = false;
	dev->features = 0;
	dev->features_set = false;
	dev->protocol_features = 0;
}

static const struct vu_session_hooks session_hooks = {
	.reset = session_reset,
	.watch_queue = queue_watch,
	.unwatch_queue = queue_unwatch,
};

int vu_dev_handle_msg(struct vu_dev *dev, struct vu_msg *msg, int *fds, unsigned nfds)
{
	int r;

	if (dev->conn_fd < 0) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		return -ENOTCONN;
	}
	r = vu_dispatch(dev, &session_hooks, msg, fds, nfds);
	if (r == -ENOBUFS) {
		/* A reply did not fit in the socket (vu_msg_reply). Waiting
		 * for room would hold every VM of this thread; queueing would
		 * only delay the same verdict: the kernel's send buffer holds
		 * a hundred and more of our small replies, and a VMM has one
		 * request, rarely a few, waiting for an answer (QEMU waits for
		 * each reply before its next request). A full socket means
		 * the VMM stopped reading. */
		log_warn("%s: the frontend does not read its replies (the socket is full at "
			 "%s); dropping it", dev->name, vu_request_name(msg->hdr.request));
		vu_dev_detach(dev, "not reading its replies");
	} else if (r < 0) {
		vu_dev_detach(dev, strerror(-r));
	}
	return r;
}

/* A message read so far is refused or cut short (also by its deadline). */
static void bad_message(struct vu_dev *dev, int err)
{
	STAT_INC(dev->stats.bad_messages);
	log_warn("%s: unreadable vhost-user message: %s", dev->name, strerror(-err));
	vu_dev_detach(dev, "protocol error");
}

/* The message's first byte came VU_MSG_TIMEOUT_MS ago and it is still not
 * whole: a frontend that trickles bytes costs its own session only. */
static void on_msg_timeout(struct ev_loop *loop, void *opaque)
{
	struct vu_dev *dev = opaque;
	(void)loop;

	log_debug("%s: %u bytes of a message within %d ms", dev->name, dev->rx.have,
		  VU_MSG_TIMEOUT_MS);
	bad_message(dev, -ETIMEDOUT);
}

/* Whole messages handled per wake-up at most: a frontend that keeps its
 * socket full must not hold the thread from the other VMs on it. The rest
 * waits in the socket (level-triggered: the next turn comes back). A
 * message that was answered ends the wake-up too: see on_conn. */
#define VU_MSGS_PER_WAKEUP 32

static void on_conn(struct ev_loop *loop, int fd, uint32_t events, void *opaque)
{
	struct vu_dev *dev = opaque;
	uint32_t gen = dev->session_gen;
	(void)events;

	for (unsigned n = 0; n < VU_MSGS_PER_WAKEUP; n++) {
		int fds[VHOST_USER_MAX_FDS];
		unsigned nfds;
		int r = vu_msg_read(fd, &dev->rx);

		if (r == VU_RX_AGAIN)
			break;
		if (r == VU_RX_EOF) {
			vu_dev_detach(dev, "connection closed");
			return;
		}
		if (r < 0) {
			bad_message(dev, r);
			return;
		}
		ev_timer_cancel(loop, &dev->msg_timer);
		nfds = vu_msg_rx_take(&dev->rx, fds);
		dev->replied = false;
		vu_dev_handle_msg(dev, dev->rx.msg, fds, nfds);
		if (dev->session_gen != gen || dev->conn_fd != fd)
			return; /* the session ended (perhaps a new one began) */
		/* Answered: the frontend goes on as soon as it reads the
		 * reply (its guest may talk to another VM at once), so the
		 * loop's before-sleep hooks, which publish what the request
		 * changed to other threads (a device may tell other VMs that
		 * its rings run), come first, as when every message took a
		 * turn: reading on would put a system call, and a chance to
		 * be preempted, between the reply and them. A frontend waits
		 * for each reply, so this costs nothing: there is no next
		 * message yet. */
		if (dev->replied)
			return;
	}
	/* Armed at the end of the pass that read the first bytes: "now" is
	 * when they came, give or take this turn, and a message that comes
	 * whole in one pass never touches the timer heap. */
	if (vu_msg_rx_partial(&dev->rx) && !ev_timer_armed(&dev->msg_timer) &&
	    ev_timer_arm(loop, &dev->msg_timer,
			 vdv_now_ns() + (int64_t)VU_MSG_TIMEOUT_MS * 1000000) < 0) {
		/* Without its deadline the message could be held forever. */
		log_warn("%s: cannot time a vhost-user message: out of memory", dev->name);
		vu_dev_detach(dev, "out of memory");
	}
}

int vu_dev_init(struct vu_dev *dev, struct ev_loop *loop, const char *name,
		const struct vu_dev_ops *ops, void *opaque)
{
	memset(dev, 0, sizeof(*dev));
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	dev->loop = loop;
	dev->ops = ops;
	dev->opaque = opaque;
	dev->conn_fd = -1;
	ev_timer_init(&dev->msg_timer, on_msg_timeout, dev);
	gm_init(&dev->mem);
	gm_set_name(&dev->mem, dev->name);
	for (unsigned q = 0; q < VU_MAX_QUEUES; q++) {
		vq_init(&dev->vqs[q]);
		vq_set_name(&dev->vqs[q], dev->name, q);
	}
	if (ops->num_queues == 0 || ops->num_queues > VU_MAX_QUEUES) {
		log_error("%s: device has %u queues (max %u)", dev->name, ops->num_queues,
			  VU_MAX_QUEUES);
		return -EINVAL;
	}
	return 0;
}

int vu_dev_attach(struct vu_dev *dev, int conn_fd)
{
	int fl, r;

	if (dev->conn_fd >= 0)
		return -EBUSY;
	if (!dev->rx.msg) {
		struct vu_msg *m = malloc(sizeof(*m));

		if (!m)
			return -ENOMEM;
		vu_msg_rx_init(&dev->rx, m);
	}
	/* Non-blocking: this thread serves other VMs too. Every call on the
	 * socket passes MSG_DONTWAIT as well; the flag is for anything that
	 * would not. A message is taken in as it comes (on_conn), and a
	 * reply the socket cannot take ends the session (vu_dev_handle_msg). */
	fl = fcntl(conn_fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(conn_fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return -errno;
	r = ev_add(dev->loop, conn_fd, EPOLLIN, on_conn, dev);
	if (r < 0)
		return r;
	dev->conn_fd = conn_fd;
	dev->session_gen++;
	dev->owned = false; /* a new frontend claims the session again */
	STAT_INC(dev->stats.frontends);
	log_debug("%s: frontend attached", dev->name);
	return 0;
}

void vu_dev_detach(struct vu_dev *dev, const char *why)
{
	if (dev->conn_fd < 0)
		return;
	log_info("%s: frontend disconnected (%s)", dev->name, why);
	ev_del(dev->loop, dev->conn_fd);
	close(dev->conn_fd);
	dev->conn_fd = -1;
	dev->owned = false;
	/* A message cut short: its deadline and its fds go with it. */
	ev_timer_cancel(dev->loop, &dev->msg_timer);
	vu_msg_rx_clear(&dev->rx);
	STAT_INC(dev->stats.detaches);
	session_reset(dev);
	/* Last: the callback may attach the next frontend right away. */
	if (dev->detached)
		dev->detached(dev, dev->detached_opaque);
}

void vu_dev_on_detached(struct vu_dev *dev, vu_detached_fn fn, void *opaque)
{
	dev->detached = fn;
	dev->detached_opaque = opaque;
}

void vu_dev_destroy(struct vu_dev *dev)
{
	vu_dev_detach(dev, "shutting down");
	/* Kept from detach to here: a detach may come while a handler still
	 * reads the message (a device callback that drops the session). */
	free(dev->rx.msg);
	dev->rx.msg = NULL;
}

bool vu_dev_attached(const struct vu_dev *dev)
{
	return dev->conn_fd >= 0;
}

bool vu_dev_peer_gone(const struct vu_dev *dev)
{
	struct pollfd p = { .fd = dev->conn_fd, .events = POLLRDHUP };

	if (dev->conn_fd < 0)
		return false;
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

bool vu_dev_has_memory(const struct vu_dev *dev)
{
	return dev->conn_fd >= 0 && dev->mem.nregions > 0;
}
