/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Driver side of a split virtqueue, modelled on Linux's virtio_ring.c: a
 * descriptor free list, the avail ring with its shadow index, kick
 * suppression (EVENT_IDX avail_event or VRING_USED_F_NO_NOTIFY), and used
 * ring consumption with used_event kept up to date while callbacks are on.
 * The rings live in guest RAM shared with the backend, so every access that
 * orders against the other side goes through an atomic or a fence.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <endian.h>

#include "sim/sim_priv.h"

static uint16_t load16(const volatile uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

static void store16(volatile uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELEASE);
}

int sim_vq_init(struct sim_vq *vq, struct sim_mem *mem, unsigned idx, unsigned num)
{
	unsigned i;

	memset(vq, 0, sizeof(*vq));
	vq->kickfd = vq->callfd = -1;
	if (!num || num > 32768 || (num & (num - 1)))
		return -EINVAL;
	vq->idx = idx;
	vq->num = num;
	/* Three separate allocations, as VERSION_1 allows: with several memory
	 * regions they land in different ones. */
	vq->desc = sim_mem_alloc(mem, 16 * num, 16, &vq->desc_gpa);
	vq->avail = sim_mem_alloc(mem, 6 + 2 * num, 2, &vq->avail_gpa);
	vq->used = sim_mem_alloc(mem, 6 + 8 * num, 4, &vq->used_gpa);
	vq->shadow_next = calloc(num, sizeof(*vq->shadow_next));
	vq->chains = calloc(num, sizeof(*vq->chains));
	if (!vq->desc || !vq->avail || !vq->used || !vq->shadow_next || !vq->chains) {
		sim_vq_fini(vq, mem);
		return -ENOMEM;
	}
	memset(vq->desc, 0, 16 * num);
	memset(vq->avail, 0, 6 + 2 * num);
	memset(vq->used, 0, 6 + 8 * num);
	for (i = 0; i < num; i++)
		vq->shadow_next[i] = (uint16_t)(i + 1);
	vq->free_head = 0;
	vq->num_free = (uint16_t)(num > 65535 ? 65535 : num);
	vq->cb_enabled = true;
	vq->kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->callfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vq->kickfd < 0 || vq->callfd < 0) {
		int err = -errno;

		sim_vq_fini(vq, mem);
		return err;
	}
	return 0;
}

void sim_vq_fini(struct sim_vq *vq, struct sim_mem *mem)
{
	if (vq->desc)
		sim_mem_free(mem, vq->desc_gpa, 16 * vq->num);
	if (vq->avail)
		sim_mem_free(mem, vq->avail_gpa, 6 + 2 * vq->num);
	if (vq->used)
		sim_mem_free(mem, vq->used_gpa, 6 + 8 * vq->num);
	free(vq->shadow_next);
	free(vq->chains);
	if (vq->kickfd >= 0)
		close(vq->kickfd);
	if (vq->callfd >= 0)
		close(vq->callfd);
	memset(vq, 0, sizeof(*vq));
	vq->kickfd = vq->callfd = -1;
}

/* Takes n descriptors off the free list; slots[0] becomes the head. */
int sim_vq_take(struct sim_vq *vq, unsigned n, uint16_t *slots)
{
	unsigned i;

	if (!n || n > vq->num_free)
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		slots[i] = vq->free_head;
		vq->free_head = vq->shadow_next[vq->free_head];
	}
	vq->num_free -= (uint16_t)n;
	return 0;
}

static void vq_put_back(struct sim_vq *vq, uint16_t head, unsigned n)
{
	uint16_t last = head;
	unsigned i;

	/* The chain's slots are still linked through shadow_next (taken in
	 * free-list order); splice the whole run back at the front. */
	for (i = 1; i < n; i++)
		last = vq->shadow_next[last];
	vq->shadow_next[last] = vq->free_head;
	vq->free_head = head;
	vq->num_free += (uint16_t)n;
}

void sim_vq_publish(struct sim_vq *vq, uint16_t head, const struct sim_chain *c)
{
	vq->chains[head] = *c;
	vq->avail->ring[vq->avail_idx & (vq->num - 1)] = htole16(head);
	vq->avail_idx++;
	/* Release: the descriptors and ring entry are visible before idx. */
	store16(&vq->avail->idx, vq->avail_idx);
	vq->num_added++;
	vq->st.added++;
}

int sim_vq_add_descs(struct sim_vq *vq, const struct vring_desc *descs, unsigned n,
		     struct sim_chain *c)
{
	uint16_t head = vq->free_head;
	unsigned i;

	if (!n || n > vq->num_free)
		return -ENOSPC;
	/* Slots in free-list order, as sim_vq_take() hands them out (and
	 * vq_put_back() expects them). */
	for (i = 0; i < n; i++) {
		uint16_t slot = vq->free_head;

		vq->free_head = vq->shadow_next[slot];
		vq->desc[slot] = descs[i];
		if (i + 1 < n)
			vq->desc[slot].next = htole16(vq->free_head);
	}
	vq->num_free -= (uint16_t)n;
	c->ndesc = (uint16_t)n;
	sim_vq_publish(vq, head, c);
	return head;
}

bool sim_vq_kick_prepare(struct sim_vq *vq)
{
	uint16_t new_idx = vq->avail_idx, old = (uint16_t)(new_idx - vq->num_added);
	bool need;

	/* The device may be about to read avail->idx while deciding to sleep:
	 * our idx store must be ordered before the load of its event index
	 * (store-load, hence a full fence, as virtio_mb() in Linux). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx) {
		uint16_t ev = load16((uint16_t *)&vq->used->ring[vq->num]);

		need = vring_need_event(ev, new_idx, old);
	} else {
		need = !(load16(&vq->used->flags) & VRING_USED_F_NO_NOTIFY);
	}
	vq->num_added = 0;
	return need;
}

int sim_vq_do_kick(struct sim_vq *vq)
{
	uint64_t one = 1;

	if (write(vq->kickfd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	vq->st.kicks++;
	return 0;
}

bool sim_vq_pending(const struct sim_vq *vq)
{
	return load16(&vq->used->idx) != vq->last_used;
}

int sim_vq_pop(struct sim_vq *vq, struct sim_used *out)
{
	struct vring_used_elem e;
	struct sim_chain *c;

	for (;;) {
		if (!sim_vq_pending(vq))
			return 0;
		/* The acquire load of used->idx orders this read after it. */
		e = vq->used->ring[vq->last_used & (vq->num - 1)];
		vq->last_used++;
		if (vq->cb_enabled && vq->event_idx)
			/* Ask for a signal at the very next used entry, and
			 * make it visible before the next check of used->idx. */
			store16(&vq->avail->ring[vq->num], vq->last_used);
		out->id = le32toh(e.id);
		out->len = le32toh(e.len);
		if (out->id >= vq->num || vq->chains[out->id].kind == SIM_CHAIN_FREE) {
			/* A device bug; count it and look at the next one. */
			vq->st.bad_used++;
			continue;
		}
		c = &vq->chains[out->id];
		out->chain = *c;
		vq_put_back(vq, (uint16_t)out->id, c->ndesc);
		c->kind = SIM_CHAIN_FREE;
		vq->st.used++;
		return 1;
	}
}

/* Returns true if used entries arrived meanwhile (the caller must not sleep). */
bool sim_vq_enable_cb(struct sim_vq *vq)
{
	vq->cb_enabled = true;
	if (vq->event_idx) {
		store16(&vq->avail->ring[vq->num], vq->last_used);
	} else {
		store16(&vq->avail->flags, 0);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return sim_vq_pending(vq);
}

void sim_vq_disable_cb(struct sim_vq *vq)
{
	vq->cb_enabled = false;
	/* With EVENT_IDX a stale used_event is enough (Linux does the same);
	 * the flag is only a hint without it. */
	if (!vq->event_idx)
		store16(&vq->avail->flags, VRING_AVAIL_F_NO_INTERRUPT);
}

int sim_vq_read_calls(struct sim_vq *vq)
{
	uint64_t v;

	if (read(vq->callfd, &v, sizeof(v)) != sizeof(v))
		return errno == EAGAIN ? 0 : -errno;
	/* eventfd adds up writes: v is the number of signals since last read. */
	vq->st.calls += v;
	return (int)(v > 0x7fffffff ? 0x7fffffff : v);
}

int sim_vq_wait(struct sim_vq *vq, int sockfd, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = vq->callfd, .events = POLLIN },
			{ .fd = sockfd, .events = 0 }, /* only HUP/ERR */
		};
		int left, r;

		if (sim_vq_pending(vq) || sim_vq_enable_cb(vq))
			return 0;
		left = sim_remaining_ms(deadline);
		if (!left)
			return -ETIMEDOUT;
		r = poll(pfd, sockfd >= 0 ? 2 : 1, left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0 && (pfd[0].revents & POLLIN))
			sim_vq_read_calls(vq);
		if (r > 0 && sockfd >= 0 && (pfd[1].revents & (POLLHUP | POLLERR)) &&
		    !sim_vq_pending(vq))
			return -ECONNRESET;
	}
}

/* ---- public API ---- */

static struct sim_vq *get_vq(const struct sim *sim, unsigned q)
{
	return q < SIM_NUM_VQS ? (struct sim_vq *)&sim->vq[q] : NULL;
}

int sim_vq_rings(struct sim *sim, unsigned q, struct sim_vq_rings *out)
{
	struct sim_vq *vq = get_vq(sim, q);

	if (!vq)
		return -EINVAL;
	out->num = vq->num;
	out->desc = vq->desc;
	out->avail = vq->avail;
	out->used = vq->used;
	out->desc_gpa = vq->desc_gpa;
	out->avail_gpa = vq->avail_gpa;
	out->used_gpa = vq->used_gpa;
	out->kickfd = vq->kickfd;
	out->callfd = vq->callfd;
	return 0;
}

int sim_vq_stats(const struct sim *sim, unsigned q, struct sim_vq_stats *out)
{
	struct sim_vq *vq = get_vq(sim, q);

	if (!vq)
		return -EINVAL;
	*out = vq->st;
	return 0;
}

void sim_stats_reset(struct sim *sim)
{
	unsigned q;

	for (q = 0; q < SIM_NUM_VQS; q++)
		memset(&sim->vq[q].st, 0, sizeof(sim->vq[q].st));
}

int sim_vq_add_raw_chain(struct sim *sim, unsigned q, const struct vring_desc *descs,
			 unsigned n, bool kick)
{
	struct sim_vq *vq = get_vq(sim, q);
	struct sim_chain c = { .kind = SIM_CHAIN_RAW };
	int head, r;

	if (!vq || !n || n > 256)
		return -EINVAL;
	head = sim_vq_add_descs(vq, descs, n, &c);
	if (head < 0)
		return head;
	if (kick) {
		vq->num_added = 0;
		r = sim_vq_do_kick(vq);
		if (r)
			return r;
	}
	return head;
}

int sim_vq_peek_free(const struct sim *sim, unsigned q, uint16_t *slots, unsigned n)
{
	const struct sim_vq *vq = get_vq(sim, q);
	uint16_t cur;
	unsigned i;

	if (!vq)
		return -EINVAL;
	if (n > vq->num_free)
		return -ENOSPC;
	for (i = 0, cur = vq->free_head; i < n; i++, cur = vq->shadow_next[cur])
		slots[i] = cur;
	return 0;
}

int sim_vq_get_used(struct sim *sim, unsigned q, uint32_t *id, uint32_t *len)
{
	struct sim_vq *vq = get_vq(sim, q);
	struct sim_used u;
	int r;

	if (!vq)
		return -EINVAL;
	r = sim_vq_pop(vq, &u);
	if (r <= 0)
		return r;
	sim_release_chain(sim, q, &u);
	if (id)
		*id = u.id;
	if (len)
		*len = u.len;
	return 1;
}

int sim_vq_kick(struct sim *sim, unsigned q)
{
	struct sim_vq *vq = get_vq(sim, q);

	if (!vq)
		return -EINVAL;
	vq->num_added = 0;
	return sim_vq_do_kick(vq);
}

int sim_vq_notify(struct sim *sim, unsigned q)
{
	struct sim_vq *vq = get_vq(sim, q);

	if (!vq)
		return -EINVAL;
	if (!vq->num_added)
		return 0;
	if (sim_vq_kick_prepare(vq))
		return sim_vq_do_kick(vq);
	vq->st.kicks_suppressed++;
	return 0;
}

int sim_vq_wait_used(struct sim *sim, unsigned q, int timeout_ms)
{
	struct sim_vq *vq = get_vq(sim, q);

	if (!vq)
		return -EINVAL;
	return sim_vq_wait(vq, sim->sock, timeout_ms);
}

int sim_vq_drain_calls(struct sim *sim, unsigned q)
{
	struct sim_vq *vq = get_vq(sim, q);

	if (!vq)
		return -EINVAL;
	return sim_vq_read_calls(vq);
}

unsigned sim_vq_in_flight(const struct sim *sim, unsigned q)
{
	const struct sim_vq *vq = get_vq(sim, q);
	unsigned n = 0, i;

	if (!vq)
		return 0;
	for (i = 0; i < vq->num; i++)
		n += vq->chains[i].kind != SIM_CHAIN_FREE;
	return n;
}
