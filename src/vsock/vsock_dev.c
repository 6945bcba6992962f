/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Glue: the vsock device's vhost-user callbacks, its event loop thread,
 * and the entry points the host backends call. */
#include "vsock/vsock_internal.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util/log.h"

#define VSOCK_CONFIG_SIZE 8u /* le64 guest_cid */

static struct vsock_dev *dev_of(struct vu_dev *vu)
{
	return vu->opaque;
}

static void vsock_get_config(struct vu_dev *vu, uint32_t offset, uint32_t size, uint8_t *out)
{
	uint64_t cid = htole64(dev_of(vu)->cfg->guest_cid);

	memcpy(out, (const uint8_t *)&cid + offset, size);
}

static void vsock_queue_kick(struct vu_dev *vu, unsigned q)
{
	struct vsock_dev *d = dev_of(vu);

	if (q == VSOCK_TX_Q)
		vsock_tx_process(d);
	else if (q == VSOCK_RX_Q)
		d->rx_work = true; /* new rx buffers: pending data can flow */
	/* The event queue only matters for transport resets, which we never
	 * send while a guest runs: its buffers stay posted. */
}

/* One line per guest session, so an operator sees what went through and
 * what was refused without turning on debug logging. */
static void log_stats(struct vsock_dev *d)
{
	const struct vsock_dev_stats *s = &d->stats;
	struct ev_poll_stats p;

	ev_get_poll_stats(d->loop, &p);
	if (!s->tx_packets && !s->rx_packets) {
		d->poll_base = p;
		return;
	}
	log_info("%s: session: from guest %llu packets / %llu data bytes, to guest %llu packets / "
		 "%llu data bytes; RST sent %llu; dropped: %llu spoofed, %llu malformed, "
		 "%llu replies (queue full); connection limit hit %llu times; "
		 "polling: %llu of %llu windows found work, %llu sleeps",
		 d->vu.name, (unsigned long long)s->tx_packets, (unsigned long long)s->tx_bytes,
		 (unsigned long long)s->rx_packets, (unsigned long long)s->rx_bytes,
		 (unsigned long long)s->rst_sent, (unsigned long long)s->dropped_spoofed,
		 (unsigned long long)s->dropped_malformed, (unsigned long long)s->dropped_ctrl_full,
		 (unsigned long long)s->conn_limit_hits,
		 (unsigned long long)(p.hits - d->poll_base.hits),
		 (unsigned long long)(p.polls - d->poll_base.polls),
		 (unsigned long long)(p.sleeps - d->poll_base.sleeps));
	d->poll_base = p;
}

static void vsock_reset(struct vu_dev *vu)
{
	struct vsock_dev *d = dev_of(vu);

	/* The guest is gone: its connections die with it. Host peers see
	 * their sockets close. */
	atomic_store(&d->accepting, false);
	conn_free_all(d);
	d->rx_work = d->tx_work = d->rx_deferred = false;
	d->rx_small = false;
	log_stats(d);
	memset(&d->stats, 0, sizeof(d->stats));
}

static const struct vu_dev_ops vsock_ops = {
	.device_features = 1ull << VIRTIO_VSOCK_F_STREAM_BIT,
	.num_queues = VSOCK_NUM_QUEUES,
	.config_size = VSOCK_CONFIG_SIZE,
	.get_config = vsock_get_config,
	.queue_kick = vsock_queue_kick,
	.reset = vsock_reset,
};

/* Batched work runs once per loop turn, after all events were taken in. */
static bool vsock_before_sleep(struct ev_loop *loop, void *opaque)
{
	struct vsock_dev *d = opaque;
	(void)loop;

	if (d->tx_work)
		vsock_tx_process(d);
	if (d->rx_work)
		vsock_rx_process(d);
	/* Cheap enough per loop turn, and always current for the siblings. */
	atomic_store_explicit(&d->accepting, vsock_guest_ready(d), memory_order_relaxed);
	return d->tx_work || d->rx_work;
}

/* Polling: the tx ring (the guest's packets) needs no system call to look
 * at; the rx ring matters only while data waits for buffers. */
static bool vsock_poll(void *opaque)
{
	struct vsock_dev *d = opaque;

	if (vq_avail_count(&d->vu.vqs[VSOCK_TX_Q])) {
		d->tx_work = true;
		return true;
	}
	if (d->rx_deferred && (vq_driver_waiting(&d->vu.vqs[VSOCK_RX_Q]) ||
			       vdv_now_ns() >= d->rx_defer_end_ns)) {
		d->rx_work = true;
		return true;
	}
	/* Data and replies that wait for rx buffers (not for the guest to
	 * catch up: that is the case above). */
	if (!d->rx_deferred && (d->ctrl_len || d->ready.head) &&
	    vq_avail_count(&d->vu.vqs[VSOCK_RX_Q])) {
		d->rx_work = true;
		return true;
	}
	return false;
}

static void vsock_poll_begin(void *opaque)
{
	struct vsock_dev *d = opaque;
	struct vq *tx = &d->vu.vqs[VSOCK_TX_Q];

	/* The guest's tx kicks would only wake us while we look anyway. */
	if (vq_ready(tx))
		vq_suppress_kicks(tx);
}

static bool vsock_poll_end(void *opaque)
{
	struct vsock_dev *d = opaque;
	struct vq *tx = &d->vu.vqs[VSOCK_TX_Q];
	bool more = false;

	if (vq_ready(tx) && vq_enable_notify(tx)) {
		d->tx_work = true;
		more = true;
	}
	/* Deferred reads never wait through a sleep: one more turn, which
	 * reads or, before the deadline, polls again. */
	if (d->rx_deferred) {
		d->rx_work = true;
		more = true;
	}
	return more;
}

static const struct ev_poll_ops vsock_poll_ops = {
	.poll = vsock_poll,
	.begin = vsock_poll_begin,
	.end = vsock_poll_end,
};

bool vsock_guest_ready(const struct vsock_dev *d)
{
	/* Memory alone is not enough: with its rings stopped (VM paused,
	 * driver reset) the guest could not answer, and the peer would wait
	 * for a timeout instead of being refused at once. */
	return vu_dev_has_memory(&d->vu) && vq_ready(&d->vu.vqs[VSOCK_RX_Q]) &&
	       vq_ready(&d->vu.vqs[VSOCK_TX_Q]);
}

int vsock_offer_to_guest(struct vsock_conn *c, uint64_t peer_cid, uint32_t peer_port,
			 uint32_t guest_port)
{
	struct vsock_dev *d = c->dev;

	if (!vsock_guest_ready(d))
		return -ENOTCONN;
	if (!peer_port)
		peer_port = conn_alloc_host_port(d, peer_cid, guest_port);
	if (!peer_port)
		return -EADDRINUSE;
	c->peer_cid = peer_cid;
	c->peer_port = peer_port;
	c->guest_port = guest_port;
	c->state = CONN_GUEST_CONNECTING;
	/* Bytes may already wait behind the handshake, and their edge was
	 * consumed by it: look once the guest accepts. */
	c->readable = true;
	conn_hash_insert(c);
	conn_want(c, PEND_REQUEST);
	timed_arm(c, VSOCK_TIMEOUT_MS);
	return 0;
}

int vsock_host_initiated(struct vsock_dev *d, int fd, uint32_t guest_port)
{
	struct vsock_conn *c = conn_new(d, fd, CONN_HANDSHAKE);
	int r;

	if (!c) {
		close(fd);
		return -EMFILE;
	}
	r = vsock_offer_to_guest(c, VSOCK_HOST_CID, 0, guest_port);
	if (r < 0)
		conn_free(c);
	return r;
}

struct vsock_conn *vsock_handshake_start(struct vsock_dev *d, int fd)
{
	struct vsock_conn *c = conn_new(d, fd, CONN_HANDSHAKE);

	if (!c) {
		close(fd);
		return NULL;
	}
	timed_arm(c, VSOCK_TIMEOUT_MS);
	return c;
}

void vsock_handshake_done(struct vsock_conn *c, int64_t guest_port, const char *why)
{
	struct vsock_dev *d = c->dev;
	int r;

	if (guest_port < 0) {
		log_info("%s: host connection on %s closed: %s", d->vu.name, d->cfg->uds_path, why);
		conn_free(c);
		return;
	}
	r = vsock_offer_to_guest(c, VSOCK_HOST_CID, 0, (uint32_t)guest_port);
	if (r < 0) {
		log_info("%s: host connection to guest port %u closed: %s", d->vu.name,
			 (uint32_t)guest_port, strerror(-r));
		conn_free(c);
	}
}

int vsock_dev_init(struct vsock_dev *d, const struct vm_config *cfg, char *err, size_t errlen)
{
	char name[48];
	char why[256];
	int r;

	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->backend_fd = -1;
	d->timer_fd = -1;
	d->inbox.efd = -1;
	d->next_host_port = VSOCK_HOST_PORT_BASE;
	d->backend = &uds_backend_ops;
	snprintf(name, sizeof(name), "vm cid %llu", (unsigned long long)cfg->guest_cid);
	/* Exactly one of the two is configured (checked by config/). */
	if (!cfg->uds_path)
		d->backend = &vsock_fwd_backend_ops;
	d->loop = ev_loop_new();
	d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!d->loop || d->timer_fd < 0 ||
	    ev_add(d->loop, d->timer_fd, EPOLLIN, vsock_timer_event, d) < 0) {
		snprintf(err, errlen, "%s: cannot create event loop: %s", name, strerror(errno));
		r = -ENOMEM;
		goto fail;
	}
	ev_set_before_sleep(d->loop, vsock_before_sleep, d);
	ev_set_poll(d->loop, &vsock_poll_ops, d, cfg->poll_us * 1000u);
	r = sibling_inbox_init(d);
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot create the sibling inbox: %s", name, strerror(-r));
		goto fail;
	}
	/* The host side first: once the vhost-user socket exists, a VMM (and
	 * whoever waits for that socket) may assume the VM is fully served. */
	r = d->backend->start(d, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", name, why);
		goto fail;
	}
	r = vu_dev_init(&d->vu, d->loop, name, &vsock_ops, d);
	if (r < 0)
		snprintf(why, sizeof(why), "%s", strerror(-r));
	else
		r = vu_listen_init(&d->listener, &d->vu, cfg->socket, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errlen, "%s: socket: %s", name, why);
		d->backend->stop(d);
		goto fail;
	}
	d->vu.max_queue_size = cfg->queue_size;
	return 0;
fail:
	if (d->loop)
		sibling_inbox_destroy(d);
	if (d->timer_fd >= 0)
		close(d->timer_fd);
	d->timer_fd = -1;
	ev_loop_free(d->loop);
	d->loop = NULL;
	return r;
}

static void *vsock_thread(void *arg)
{
	struct vsock_dev *d = arg;
	int r = ev_run(d->loop);

	if (r < 0)
		log_error("%s: event loop failed: %s", d->vu.name, strerror(-r));
	return NULL;
}

int vsock_dev_start(struct vsock_dev *d)
{
	int r = pthread_create(&d->thread, NULL, vsock_thread, d);

	if (r != 0)
		return -r;
	d->thread_started = true;
	return 0;
}

void vsock_dev_stop(struct vsock_dev *d)
{
	if (!d->loop || !d->thread_started)
		return;
	ev_stop(d->loop);
	pthread_join(d->thread, NULL);
	d->thread_started = false;
}

void vsock_dev_destroy(struct vsock_dev *d)
{
	if (!d->loop)
		return;
	vsock_dev_stop(d);
	sibling_inbox_destroy(d);
	conn_free_all(d);
	d->backend->stop(d);
	vu_listen_destroy(&d->listener);
	vu_dev_destroy(&d->vu);
	close(d->timer_fd);
	d->timer_fd = -1;
	ev_loop_free(d->loop);
	d->loop = NULL;
}
