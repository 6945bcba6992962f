/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Generic vhost-user backend: one listening socket, at most one frontend
 * (VMM) at a time, the guest memory table and the device's virtqueues.
 * Knows nothing of vsock: a device plugs in through struct vu_dev_ops.
 *
 * Everything runs on the event loop given at creation (one thread per VM).
 * When the frontend disconnects, rings and memory are released, the device
 * is told to reset, and the socket accepts the next frontend.
 */
#ifndef VDV_VHOST_USER_VU_DEV_H
#define VDV_VHOST_USER_VU_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "util/event_loop.h"
#include "vhost_user/vu_protocol.h"
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
};

struct vu_stats {
	uint64_t messages;
	uint64_t bad_messages;
	uint64_t frontends;     /* connections served */
};

struct vu_dev {
	char name[48];          /* for log lines, e.g. "vm cid 3" */
	struct ev_loop *loop;
	const struct vu_dev_ops *ops;
	void *opaque;           /* the device's own state */

	char *socket_path;
	int listen_fd;
	int conn_fd;            /* the frontend, or -1 */

	uint32_t max_queue_size; /* SET_VRING_NUM limit (0: VQ_MAX_SIZE) */
	uint64_t features;      /* negotiated virtio features */
	bool features_set;
	uint64_t protocol_features;
	struct guest_mem mem;
	struct vq vqs[VU_MAX_QUEUES];
	struct vu_stats stats;
};

/*
 * Creates the listening socket at socket_path (a stale socket file is
 * replaced; any other existing file is an error) and starts accepting on
 * loop. Returns 0 or -errno; on error, err holds a message naming the path.
 */
int vu_dev_init(struct vu_dev *dev, struct ev_loop *loop, const char *name,
		const char *socket_path, const struct vu_dev_ops *ops, void *opaque,
		char *err, size_t errlen);

/* Disconnects any frontend, closes and removes the socket. */
void vu_dev_destroy(struct vu_dev *dev);

/* True when guest memory is mapped and at least one queue is usable. */
bool vu_dev_has_memory(const struct vu_dev *dev);

static inline struct vq *vu_queue(struct vu_dev *dev, unsigned q)
{
	return &dev->vqs[q];
}

/* Offered transport + device features. */
uint64_t vu_offered_features(const struct vu_dev *dev);
/* Offered protocol features. */
uint64_t vu_offered_protocol_features(void);

#endif
