/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The session object (struct vu_dev) and the contract a device plugs in
 * with (struct vu_dev_ops). Its own header so that every layer of
 * src/vhost_user/ can work on the session's state without including the
 * header of the layer above it: the session (vu_dev.h) owns the object and
 * its connection, the dispatcher (vu_dispatch.h) the negotiated state.
 * Users include vu_dev.h.
 */
#ifndef VDV_VHOST_USER_VU_TYPES_H
#define VDV_VHOST_USER_VU_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include "util/event_loop.h"
#include "vhost_user/vu_msg_io.h" /* struct vu_msg_rx */
#include "virtio/guest_mem.h"
#include "virtio/virtqueue.h"

#define VU_MAX_QUEUES 8

/* Transport feature bits (virtio spec 6). */
#define VIRTIO_F_NOTIFY_ON_EMPTY_BIT 24
#define VIRTIO_F_VERSION_1_BIT 32

struct vu_dev;

struct vu_dev_ops {
	/* Device-specific feature bits offered in addition to the transport
	 * ones (VERSION_1, EVENT_IDX, INDIRECT_DESC, NOTIFY_ON_EMPTY). */
	uint64_t device_features;
	unsigned num_queues;
	/* Reads config space bytes [offset, offset+size); the range has
	 * been checked against config_size. */
	uint32_t config_size;
	void (*get_config)(struct vu_dev *dev, uint32_t offset, uint32_t size, uint8_t *out);
	/* Queue q may have new buffers (kick, or it just became ready). */
	void (*queue_kick)(struct vu_dev *dev, unsigned q);
	/* The frontend went away or reset the device: rings and memory are
	 * about to be released. Drop all per-guest state. */
	void (*reset)(struct vu_dev *dev);
	/* The frontend restarted rings it had stopped (GET_VRING_BASE) at
	 * another index, size or place than where they stopped: the guest's
	 * driver reset the device (a guest reboot under the same VMM), and
	 * everything the guest had is gone. Memory and session stay. Called
	 * once per stop, at the first ring found restarted so, before that
	 * ring is kicked. NULL: nothing to do. */
	void (*driver_reset)(struct vu_dev *dev);
};

/* Told that the frontend went away (after the device's reset). */
typedef void (*vu_detached_fn)(struct vu_dev *dev, void *opaque);

/* Written by the VM's thread with STAT_ADD, readable from others with
 * STAT_GET (util/stat.h). */
struct vu_stats {
	uint64_t messages;
	uint64_t bad_messages;
	uint64_t frontends;     /* connections served */
	uint64_t detaches;      /* of them, ended (frontends - detaches: attached now) */
};

struct vu_dev {
	char name[48];          /* for log lines */
	struct ev_loop *loop;
	const struct vu_dev_ops *ops;
	void *opaque;           /* the device's own state */

	int conn_fd;            /* the attached frontend, or -1 */
	uint32_t session_gen;   /* counts attaches: tells a handler its session ended */
	/* The message being read from conn_fd, kept across loop turns until
	 * it is whole. Its buffer is allocated at the first attach (a VM that
	 * never had a frontend keeps no 4 KiB for it) and freed by
	 * vu_dev_destroy. Its deadline (VU_MSG_TIMEOUT_MS from its first
	 * byte) is a timer of the loop, armed while a message is incomplete. */
	struct vu_msg_rx rx;
	struct ev_timer msg_timer;
	bool replied;           /* vu_dispatch answered the request (see on_conn) */
	vu_detached_fn detached; /* see vu_dev_on_detached() */
	void *detached_opaque;

	bool owned;             /* SET_OWNER came on this connection */
	uint32_t max_queue_size; /* SET_VRING_NUM limit (0: VQ_MAX_SIZE) */
	uint64_t features;      /* negotiated virtio features */
	bool features_set;
	uint64_t protocol_features;
	struct guest_mem mem;
	struct vq vqs[VU_MAX_QUEUES];
	/* Rings stopped by GET_VRING_BASE and not restarted yet (bit per
	 * queue), and whether this stop was found to be a driver reset. */
	uint32_t stopped_queues;
	bool reset_seen;
	struct vu_stats stats;
};

static inline struct vq *vu_queue(struct vu_dev *dev, unsigned q)
{
	return &dev->vqs[q];
}

#endif
