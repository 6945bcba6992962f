/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Device side of a split virtqueue (virtio 1.x, 2.7). Owns the ring
 * pointers, the avail/used indices and the kick/call/err eventfds of one
 * queue. Descriptor chains become iovecs over guest memory; everything the
 * driver wrote is validated (indices, addresses, lengths, loops).
 *
 * Used entries are written with vq_push() and become visible to the driver
 * only at vq_flush(); vq_notify() flushes and signals the driver if its
 * notification suppression (flags or EVENT_IDX) asks for it. Callers batch
 * pushes and notify once.
 */
#ifndef VDV_VIRTIO_VIRTQUEUE_H
#define VDV_VIRTIO_VIRTQUEUE_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/guest_mem.h"

#define VQ_MAX_SIZE 32768u
/* Most iovecs one element may have. Linux' vsock driver uses 1-2 per
 * chain (header + payload, or more for scattered payload pages); a chain
 * needing more than this is rejected as malformed. */
#define VQ_ELEM_MAX_IOV 64u
/* Most descriptors one chain may have, all tables together (an indirect
 * descriptor counts too). Every descriptor with bytes takes an iovec, so a
 * chain that passes the iovec limit has at most VQ_ELEM_MAX_IOV of them;
 * the rest of the budget is for zero-length ones, which take no iovec and
 * would otherwise let a chain walk the ring and a 32768-entry indirect
 * table per avail entry (CPU amplification). */
#define VQ_CHAIN_MAX_DESC (2u * VQ_ELEM_MAX_IOV)

struct vq_elem {
	uint16_t head;          /* returned to vq_push() */
	unsigned out_num;       /* driver-readable iovecs: iov[0 .. out_num) */
	unsigned in_num;        /* device-writable: iov[out_num .. out_num+in_num) */
	uint64_t out_len;       /* bytes in the readable part */
	uint64_t in_len;        /* bytes in the writable part */
	struct iovec iov[VQ_ELEM_MAX_IOV];
};

struct vq_stats {
	uint64_t popped;
	uint64_t bad_chains;    /* returned with len 0 because malformed */
	uint64_t descs;         /* descriptors read while walking chains */
	uint64_t notifications; /* calls signalled */
	uint64_t suppressed;    /* flushes that did not need a call */
};

/* Where and as what a ring stopped (GET_VRING_BASE), to tell how it is
 * restarted: as it was (pause/resume) or anew (the driver reset it). */
struct vq_stop_point {
	bool valid;                    /* stopped, not restarted since */
	uint16_t base, num;
	uint64_t desc_uva, avail_uva, used_uva;
};

/* How a ring (re)starts; see vq_start(). */
enum vq_start_kind {
	VQ_START_FRESH,                /* no stop before it (first start, or a new kick fd) */
	VQ_START_RESUME,               /* where and as it stopped: the driver kept it */
	VQ_START_RESET,                /* elsewhere: the driver re-initialised it */
};

struct vq {
	uint16_t num;                  /* ring size; 0 = not configured */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_uva, avail_uva, used_uva;
	bool addr_set;

	uint16_t last_avail_idx;       /* next avail entry we will pop */
	uint16_t used_idx;             /* entries written (published or not) */
	uint16_t signalled_used;       /* used_idx at the last call */
	bool signalled_used_valid;
	uint16_t inflight;             /* popped, not yet pushed */

	bool event_idx;                /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;                 /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool notify_on_empty;          /* VIRTIO_F_NOTIFY_ON_EMPTY negotiated */

	bool enabled;                  /* SET_VRING_ENABLE (or implied) */
	bool started;                  /* has a kick fd and ring addresses */
	bool broken;                   /* driver corrupted the ring: stop using it */
	bool notify_enabled;           /* we want kicks (see vq_disable_notify) */

	int kick_fd, call_fd, err_fd;
	struct vq_stats stats;
	struct vq_stop_point stop;

	const char *owner;             /* for log lines ("vm cid 3"), or NULL */
	unsigned index;                /* the queue's number in its device */
};

void vq_init(struct vq *vq);
/* Names the queue in log lines (owner must outlive vq); kept by vq_reset. */
void vq_set_name(struct vq *vq, const char *owner, unsigned index);
/* Closes the eventfds and forgets the ring; the queue is unconfigured. */
void vq_reset(struct vq *vq);

/* Validates num (power of two, 1..VQ_MAX_SIZE). */
int vq_set_num(struct vq *vq, uint32_t num);
/* Translates and checks the three ring areas (need vq_set_num first).
 * vq_set_addr and vq_set_base (re)start the ring: a ring the driver had
 * broken is usable again (logged), e.g. after a guest reboot. */
int vq_set_addr(struct vq *vq, const struct guest_mem *gm, uint64_t desc_uva,
		uint64_t avail_uva, uint64_t used_uva);
/* Re-translates the ring pointers after the memory table changed.
 * Returns -EFAULT (and leaves the ring unusable) if they no longer map. */
int vq_remap(struct vq *vq, const struct guest_mem *gm);
void vq_set_base(struct vq *vq, uint16_t base);

/*
 * GET_VRING_BASE: the ring stops. Publishes the used entries written so
 * far (with a call if the driver wants one), closes the kick fd (the
 * caller unwatches it first), remembers where the ring stopped and returns
 * that avail index for the reply.
 */
uint16_t vq_stop(struct vq *vq);

/*
 * SET_VRING_KICK: the ring runs (again). After a vq_stop(), a ring
 * restarted at the avail index it stopped at, with the same size and ring
 * addresses, is a resume (QEMU's stop/cont sends back what GET_VRING_BASE
 * returned); any difference means the driver set the ring up anew (a
 * device reset, e.g. a guest reboot: the base starts over at 0).
 */
enum vq_start_kind vq_start(struct vq *vq);

/* True when the queue can be processed. */
static inline bool vq_ready(const struct vq *vq)
{
	return vq->started && vq->enabled && vq->addr_set && !vq->broken;
}

/*
 * Pops the next available chain. Returns 1 with *elem filled, 0 when the
 * ring is empty, or -EIO when the driver broke the ring (the queue is then
 * marked broken). A malformed chain (bad address, loop, too long, bad
 * indirect table) is returned to the driver as used with length 0 and
 * skipped; the next chain is tried (bounded by the ring size).
 */
int vq_pop(struct vq *vq, const struct guest_mem *gm, struct vq_elem *elem);

/* Gives back the element popped last (nothing was written to it), so the
 * next vq_pop() returns it again. Only valid right after a vq_pop(). */
void vq_unpop(struct vq *vq);

/* Writes a used entry for head with len bytes written (not yet visible). */
void vq_push(struct vq *vq, uint16_t head, uint32_t len);

/* Makes pushed entries visible to the driver (used->idx). */
void vq_flush(struct vq *vq);

/* Flushes, then signals the call fd if the driver wants a notification. */
void vq_notify(struct vq *vq);

/* Decision helper, exposed for tests: should the device notify now? */
bool vq_should_notify(struct vq *vq);

/* Asks the driver not to kick (flags or avail_event). */
void vq_disable_notify(struct vq *vq);
/* Asks the driver not to kick at all, even for the next buffer (a
 * polling device looks at the ring itself). vq_enable_notify() undoes it. */
void vq_suppress_kicks(struct vq *vq);
/*
 * Asks the driver to kick for the next buffer, then re-checks the ring:
 * returns true if buffers arrived meanwhile (the caller must drain again,
 * otherwise that kick could be lost).
 */
bool vq_enable_notify(struct vq *vq);

/* True when the driver has asked to hear about the next used entry we
 * publish (used_event at our index, or interrupts not suppressed): it has
 * taken what we gave it and waits. False while it is still working
 * through a batch. */
bool vq_driver_waiting(const struct vq *vq);

/* Entries available to pop (0 if the queue is not ready). */
uint16_t vq_avail_count(const struct vq *vq);

/* Consumes a pending kick on kick_fd (non-blocking). */
void vq_drain_kick(struct vq *vq);

/* The EVENT_IDX rule of the virtio spec (2.7.10): true when this batch
 * wrote the used entry the driver asked about, i.e. event_idx lies in
 * [old, new) modulo 2^16. */
static inline bool vq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old);
}

#endif
