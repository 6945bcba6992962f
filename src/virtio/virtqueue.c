/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "virtio/virtqueue.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

/* The driver may change ring memory at any time: read every shared field
 * exactly once, through these helpers, and work on the copy. */
static inline uint16_t load16(const volatile uint16_t *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
}

static inline void store16(volatile uint16_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELAXED);
}

static inline uint16_t *avail_event_ptr(struct vq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

static inline uint16_t *used_event_ptr(struct vq *vq)
{
	return (uint16_t *)&vq->avail->ring[vq->num];
}

void vq_init(struct vq *vq)
{
	memset(vq, 0, sizeof(*vq));
	vq->kick_fd = vq->call_fd = vq->err_fd = -1;
	vq->notify_enabled = true;
}

void vq_set_name(struct vq *vq, const char *owner, unsigned index)
{
	vq->owner = owner;
	vq->index = index;
}

void vq_reset(struct vq *vq)
{
	const char *owner = vq->owner;
	unsigned index = vq->index;

	if (vq->kick_fd >= 0)
		close(vq->kick_fd);
	if (vq->call_fd >= 0)
		close(vq->call_fd);
	if (vq->err_fd >= 0)
		close(vq->err_fd);
	vq_init(vq);
	vq_set_name(vq, owner, index);
}

/* The ring stops here until the frontend restarts it: say so once, or a
 * guest whose device went silent leaves no trace of why. Not when guest
 * memory faulted (it reads as zeros now): the owner logs that, once. */
static void mark_broken(struct vq *vq, const struct guest_mem *gm, const char *why,
			unsigned value)
{
	if (vq->broken)
		return;
	vq->broken = true;
	if (gm->faulted)
		return;
	log_error("%s: queue %u is broken and stops until the ring is restarted: %s %u"
		  " (ring size %u, next avail index %u)",
		  vq->owner ? vq->owner : "virtqueue", vq->index, why, value, vq->num,
		  vq->last_avail_idx);
}

/* SET_VRING_BASE or _ADDR: the frontend (re)starts the ring, e.g. after a
 * guest reboot; one that was broken is usable again. */
static void restart(struct vq *vq)
{
	if (!vq->broken)
		return;
	vq->broken = false;
	log_info("%s: queue %u restarted after it was broken",
		 vq->owner ? vq->owner : "virtqueue", vq->index);
}

int vq_set_num(struct vq *vq, uint32_t num)
{
	if (num == 0 || num > VQ_MAX_SIZE || (num & (num - 1)))
		return -EINVAL;
	vq->num = (uint16_t)num;
	/* A new size invalidates translated ring pointers. */
	vq->addr_set = false;
	return 0;
}

static int translate_rings(struct vq *vq, const struct guest_mem *gm)
{
	uint64_t n = vq->num;
	void *d = gm_uva_to_host(gm, vq->desc_uva, 16 * n);
	/* +2 for the event index fields, used with EVENT_IDX. */
	void *a = gm_uva_to_host(gm, vq->avail_uva, 4 + 2 * n + 2);
	void *u = gm_uva_to_host(gm, vq->used_uva, 4 + 8 * n + 2);

	if (!d || !a || !u) {
		vq->addr_set = false;
		return -EFAULT;
	}
	/* Aligned UVAs can still land on misaligned host addresses when a
	 * region's UVA and mmap offset differ modulo 16: refuse those rather
	 * than access the rings through misaligned pointers. */
	if (((uintptr_t)d & 15) || ((uintptr_t)a & 1) || ((uintptr_t)u & 3)) {
		vq->addr_set = false;
		return -EINVAL;
	}
	vq->desc = d;
	vq->avail = a;
	vq->used = u;
	vq->addr_set = true;
	return 0;
}

int vq_set_addr(struct vq *vq, const struct guest_mem *gm, uint64_t desc_uva,
		uint64_t avail_uva, uint64_t used_uva)
{
	int r;

	if (vq->num == 0)
		return -EINVAL;
	if ((desc_uva & 15) || (avail_uva & 1) || (used_uva & 3))
		return -EINVAL;
	vq->desc_uva = desc_uva;
	vq->avail_uva = avail_uva;
	vq->used_uva = used_uva;
	r = translate_rings(vq, gm);
	if (r < 0)
		return r;
	/* Resume from what the ring says was already used (VM restart with
	 * a ring the previous backend instance had been serving). */
	vq->used_idx = load16(&vq->used->idx);
	vq->signalled_used_valid = false;
	restart(vq);
	return 0;
}

int vq_remap(struct vq *vq, const struct guest_mem *gm)
{
	if (vq->num == 0 || (!vq->addr_set && !vq->desc_uva))
		return 0;
	return translate_rings(vq, gm);
}

void vq_set_base(struct vq *vq, uint16_t base)
{
	vq->last_avail_idx = base;
	vq->inflight = 0;
	restart(vq);
}

uint16_t vq_stop(struct vq *vq)
{
	/* What the device did must be visible in the ring the frontend now
	 * reads (or hands to the next backend). */
	if (vq->addr_set)
		vq_notify(vq);
	vq->started = false;
	if (vq->kick_fd >= 0) {
		close(vq->kick_fd);
		vq->kick_fd = -1;
	}
	vq->stop = (struct vq_stop_point){
		.valid = true,
		.base = vq->last_avail_idx,
		.num = vq->num,
		.desc_uva = vq->desc_uva,
		.avail_uva = vq->avail_uva,
		.used_uva = vq->used_uva,
	};
	return vq->last_avail_idx;
}

enum vq_start_kind vq_start(struct vq *vq)
{
	const struct vq_stop_point *s = &vq->stop;
	bool same;

	vq->started = true;
	if (!s->valid)
		return VQ_START_FRESH;
	vq->stop.valid = false;
	same = s->base == vq->last_avail_idx && s->num == vq->num &&
	       s->desc_uva == vq->desc_uva && s->avail_uva == vq->avail_uva &&
	       s->used_uva == vq->used_uva;
	return same ? VQ_START_RESUME : VQ_START_RESET;
}

uint16_t vq_avail_count(const struct vq *vq)
{
	uint16_t n;

	if (!vq_ready(vq))
		return 0;
	n = (uint16_t)(load16(&vq->avail->idx) - vq->last_avail_idx);
	return n > vq->num ? 0 : n;
}

/*
 * Walks the chain starting at head into elem. Returns 0 or a negative errno
 * describing why the chain is malformed.
 */
static int walk_chain(struct vq *vq, const struct guest_mem *gm, uint16_t head,
		      struct vq_elem *elem)
{
	/* Bytes, not struct pointers: an indirect table need not be aligned. */
	const uint8_t *table = (const uint8_t *)vq->desc;
	uint32_t table_size = vq->num;
	uint32_t idx = head, count = 0, total = 0;
	bool in_indirect = false;

	elem->head = head;
	elem->out_num = elem->in_num = 0;
	elem->out_len = elem->in_len = 0;
	for (;;) {
		struct vring_desc desc;
		uint64_t addr;
		uint32_t len;
		uint16_t flags, next;
		unsigned n, before;
		int r;

		if (idx >= table_size)
			return -EINVAL;
		/* A chain can visit each descriptor of its table once at most:
		 * more means the driver built a loop. */
		if (++count > table_size)
			return -ELOOP;
		/* One budget for the whole chain, indirect table included. */
		if (++total > VQ_CHAIN_MAX_DESC)
			return -E2BIG;
		vq->stats.descs++;
		/* One copy: the driver may rewrite the descriptor meanwhile. */
		memcpy(&desc, table + (size_t)idx * sizeof(desc), sizeof(desc));
		addr = desc.addr;
		len = desc.len;
		flags = desc.flags;
		next = desc.next;

		if (flags & VRING_DESC_F_INDIRECT) {
			if (!vq->indirect || in_indirect || (flags & VRING_DESC_F_NEXT))
				return -EINVAL;
			if (len == 0 || len % sizeof(struct vring_desc) ||
			    len / sizeof(struct vring_desc) > VQ_MAX_SIZE)
				return -EINVAL;
			table = gm_gpa_to_host(gm, addr, len);
			if (!table)
				return -EFAULT;
			table_size = len / sizeof(struct vring_desc);
			idx = 0;
			count = 0;
			in_indirect = true;
			continue;
		}
		/* Device-readable descriptors must all come first. */
		if (!(flags & VRING_DESC_F_WRITE) && elem->in_num > 0)
			return -EINVAL;
		before = n = elem->out_num + elem->in_num;
		r = gm_gpa_to_iov(gm, addr, len, elem->iov, VQ_ELEM_MAX_IOV, &n);
		if (r < 0)
			return r;
		if (flags & VRING_DESC_F_WRITE) {
			elem->in_num += n - before;
			elem->in_len += len;
		} else {
			elem->out_num += n - before;
			elem->out_len += len;
		}
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		idx = next;
	}
}

int vq_pop(struct vq *vq, const struct guest_mem *gm, struct vq_elem *elem)
{
	if (!vq_ready(vq))
		return 0;
	/* Each round consumes one avail entry, so this is bounded by the
	 * number of entries the driver made available. */
	for (uint32_t tries = 0; tries <= vq->num; tries++) {
		uint16_t avail_idx = load16(&vq->avail->idx);
		uint16_t pending = (uint16_t)(avail_idx - vq->last_avail_idx);
		uint16_t head;
		int r;

		if (pending == 0)
			return 0;
		if (pending > vq->num) {
			mark_broken(vq, gm, "the driver made available more entries than the ring holds:",
				    pending);
			return -EIO;
		}
		/* Read ring entries only after seeing the index that covers them. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		head = load16(&vq->avail->ring[vq->last_avail_idx & (vq->num - 1)]);
		if (head >= vq->num) {
			/* Nothing valid to give back: the ring is unusable. */
			mark_broken(vq, gm, "avail entry names descriptor", head);
			return -EIO;
		}
		vq->last_avail_idx++;
		if (vq->event_idx && vq->notify_enabled)
			store16(avail_event_ptr(vq), vq->last_avail_idx);
		r = walk_chain(vq, gm, head, elem);
		vq->inflight++;
		if (r < 0) {
			vq->stats.bad_chains++;
			vq_push(vq, head, 0);
			continue;
		}
		vq->stats.popped++;
		return 1;
	}
	return 0;
}

void vq_unpop(struct vq *vq)
{
	vq->last_avail_idx--;
	if (vq->inflight)
		vq->inflight--;
	vq->stats.popped--;
	if (vq->event_idx && vq->notify_enabled)
		store16(avail_event_ptr(vq), vq->last_avail_idx);
}

void vq_push(struct vq *vq, uint16_t head, uint32_t len)
{
	struct vring_used_elem *u = &vq->used->ring[vq->used_idx & (vq->num - 1)];

	u->id = head;
	u->len = len;
	vq->used_idx++;
	if (vq->inflight)
		vq->inflight--;
}

void vq_flush(struct vq *vq)
{
	if (!vq->addr_set)
		return;
	/* Used entries must be visible before the index that publishes them. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	store16(&vq->used->idx, vq->used_idx);
}

bool vq_should_notify(struct vq *vq)
{
	uint16_t old = vq->signalled_used, new_idx = vq->used_idx;
	bool valid = vq->signalled_used_valid;

	/* Publish the used index before reading the driver's suppression
	 * state, or we could miss a driver that just re-enabled interrupts. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->notify_on_empty && vq->inflight == 0 &&
	    load16(&vq->avail->idx) == vq->last_avail_idx)
		goto yes;
	if (!vq->event_idx) {
		if (load16(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT)
			return false;
		goto yes;
	}
	vq->signalled_used = new_idx;
	vq->signalled_used_valid = true;
	return !valid || vq_need_event(load16(used_event_ptr(vq)), new_idx, old);
yes:
	vq->signalled_used = new_idx;
	vq->signalled_used_valid = true;
	return true;
}

void vq_notify(struct vq *vq)
{
	uint64_t one = 1;

	if (!vq->addr_set || vq->broken)
		return;
	/* Nothing new since the last decision: nothing to tell. */
	if (vq->signalled_used_valid && vq->signalled_used == vq->used_idx)
		return;
	vq_flush(vq);
	if (!vq_should_notify(vq)) {
		vq->stats.suppressed++;
		return;
	}
	vq->stats.notifications++;
	if (vq->call_fd >= 0) {
		ssize_t r = write(vq->call_fd, &one, sizeof(one));
		(void)r; /* EAGAIN means a call is already pending: fine. */
	}
}

void vq_disable_notify(struct vq *vq)
{
	vq->notify_enabled = false;
	if (!vq->addr_set)
		return;
	/* With EVENT_IDX, leaving avail_event behind already suppresses kicks. */
	if (!vq->event_idx)
		store16(&vq->used->flags, load16(&vq->used->flags) | VRING_USED_F_NO_NOTIFY);
}

bool vq_driver_waiting(const struct vq *vq)
{
	if (!vq_ready(vq))
		return true;
	if (vq->event_idx)
		return load16(used_event_ptr((struct vq *)vq)) == vq->used_idx;
	return !(load16(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
}

void vq_suppress_kicks(struct vq *vq)
{
	vq->notify_enabled = false;
	if (!vq->addr_set)
		return;
	/* An avail_event just behind what we consumed lies outside any
	 * window [old, new) the driver can produce (at most num < 2^16
	 * entries ahead), so vring_need_event() stays false. */
	if (vq->event_idx)
		store16(avail_event_ptr(vq), (uint16_t)(vq->last_avail_idx - 1));
	else
		store16(&vq->used->flags, load16(&vq->used->flags) | VRING_USED_F_NO_NOTIFY);
}

bool vq_enable_notify(struct vq *vq)
{
	vq->notify_enabled = true;
	if (!vq->addr_set)
		return false;
	if (vq->event_idx)
		store16(avail_event_ptr(vq), vq->last_avail_idx);
	else
		store16(&vq->used->flags,
			load16(&vq->used->flags) & (uint16_t)~VRING_USED_F_NO_NOTIFY);
	/* The driver may have added buffers before it saw the new setting:
	 * re-check after a full barrier so that no kick is lost. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_ready(vq) && load16(&vq->avail->idx) != vq->last_avail_idx;
}

void vq_drain_kick(struct vq *vq)
{
	uint64_t v;

	if (vq->kick_fd >= 0) {
		ssize_t r = read(vq->kick_fd, &v, sizeof(v));
		(void)r;
	}
}
