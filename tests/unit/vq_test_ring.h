/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * A driver-side split ring for virtqueue unit tests.
 *
 * Guest memory is a memfd. The device sees it through a guest_mem region
 * (its own mmap, found by GPA or by the frontend's UVA); the "driver" in the
 * test writes descriptors and rings through a second, independent mmap of
 * the same memfd. The frontend UVA is a made-up number (TR_UVA_DELTA + gpa)
 * that is mapped nowhere in this process, so a device that bypassed the
 * region table (used a GPA or UVA as a pointer, or our driver pointer) would
 * fault or read the wrong bytes instead of passing by accident.
 *
 * Layout of the memory (offsets from TR_GPA_BASE), sized for num <= 4096:
 *   0x00000 descriptor table
 *   0x10000 avail ring (+ used_event)
 *   0x14000 used ring (+ avail_event)
 *   0x20000.. data buffers, handed out by tr_buf()
 */
#ifndef VDV_TESTS_UNIT_VQ_TEST_RING_H
#define VDV_TESTS_UNIT_VQ_TEST_RING_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "virtio/guest_mem.h"
#include "virtio/virtqueue.h"

#define TR_GPA_BASE   0x40000000ull
#define TR_UVA_DELTA  0x7f0000000000ull
#define TR_MEM_SIZE   (1u << 20)
#define TR_DESC_OFF   0x00000u
#define TR_AVAIL_OFF  0x10000u
#define TR_USED_OFF   0x14000u
#define TR_DATA_OFF   0x20000u
#define TR_MAX_NUM    4096u

struct test_ring {
	int fd;
	uint8_t *drv;                /* the driver's own mapping of the memfd */
	struct guest_mem gm;
	struct vq vq;
	uint16_t num;
	struct vring_desc *desc;     /* driver views of the rings */
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;          /* driver's shadow of avail->idx */
	uint64_t data_next;          /* bump allocator for tr_buf() */
};

static inline uint64_t tr_gpa(uint64_t off)
{
	return TR_GPA_BASE + off;
}

static inline uint64_t tr_uva(uint64_t off)
{
	return TR_UVA_DELTA + TR_GPA_BASE + off;
}

/* The driver's pointer for a GPA inside the test memory. */
static inline void *tr_drv(struct test_ring *tr, uint64_t gpa)
{
	assert_true(gpa >= TR_GPA_BASE && gpa < TR_GPA_BASE + TR_MEM_SIZE);
	return tr->drv + (gpa - TR_GPA_BASE);
}

/* The device's pointer for a GPA (what iovecs must point at). */
static inline uint8_t *tr_dev(struct test_ring *tr, uint64_t gpa)
{
	return gm_gpa_to_host(&tr->gm, gpa, 1);
}

/* Allocates len bytes (16-aligned) of guest memory for data; returns its GPA. */
static inline uint64_t tr_buf(struct test_ring *tr, uint32_t len)
{
	uint64_t gpa = tr_gpa(tr->data_next);

	tr->data_next = (tr->data_next + len + 15) & ~15ull;
	assert_true(tr->data_next <= TR_MEM_SIZE);
	return gpa;
}

static inline void tr_desc(struct test_ring *tr, uint16_t i, uint64_t addr,
			   uint32_t len, uint16_t flags, uint16_t next)
{
	assert_true(i < tr->num);
	tr->desc[i].addr = addr;
	tr->desc[i].len = len;
	tr->desc[i].flags = flags;
	tr->desc[i].next = next;
}

/* Writes an entry of an indirect table placed at GPA table. */
static inline void tr_idesc(struct test_ring *tr, uint64_t table, uint16_t i,
			    uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc *d = tr_drv(tr, table + 16ull * i);

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* Makes head available, publishing the new avail->idx as a driver does. */
static inline void tr_avail_add(struct test_ring *tr, uint16_t head)
{
	tr->avail->ring[tr->avail_idx & (tr->num - 1)] = head;
	tr->avail_idx++;
	__atomic_store_n(&tr->avail->idx, tr->avail_idx, __ATOMIC_RELEASE);
}

/* Sets both the driver's shadow and the published avail->idx. */
static inline void tr_set_avail_idx(struct test_ring *tr, uint16_t idx)
{
	tr->avail_idx = idx;
	tr->avail->idx = idx;
}

static inline uint16_t tr_used_idx(struct test_ring *tr)
{
	return __atomic_load_n(&tr->used->idx, __ATOMIC_ACQUIRE);
}

static inline struct vring_used_elem tr_used_elem(struct test_ring *tr, uint16_t idx)
{
	return tr->used->ring[idx & (tr->num - 1)];
}

/* used_event lives after the avail ring, avail_event after the used ring. */
static inline void tr_set_used_event(struct test_ring *tr, uint16_t v)
{
	*(uint16_t *)&tr->avail->ring[tr->num] = v;
}

static inline uint16_t tr_avail_event(struct test_ring *tr)
{
	return *(uint16_t *)&tr->used->ring[tr->num];
}

/* Calls signalled on the call eventfd since the last read (0 if none). */
static inline uint64_t tr_calls(struct test_ring *tr)
{
	uint64_t v = 0;

	if (read(tr->vq.call_fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return 0;
	return v;
}

/*
 * Builds memory, the driver's rings (all zero) and a started, enabled queue
 * of num entries with a non-blocking eventfd as its call fd. Features are
 * set afterwards by the tests, as negotiation would.
 */
static inline void tr_setup(struct test_ring *tr, uint16_t num)
{
	memset(tr, 0, sizeof(*tr));
	assert_true(num > 0 && num <= TR_MAX_NUM);
	tr->num = num;
	tr->fd = memfd_create("vq-test-ring", MFD_CLOEXEC);
	assert_true(tr->fd >= 0);
	assert_int_equal(ftruncate(tr->fd, TR_MEM_SIZE), 0);
	tr->drv = mmap(NULL, TR_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, tr->fd, 0);
	assert_true(tr->drv != MAP_FAILED);
	tr->desc = (struct vring_desc *)(tr->drv + TR_DESC_OFF);
	tr->avail = (struct vring_avail *)(tr->drv + TR_AVAIL_OFF);
	tr->used = (struct vring_used *)(tr->drv + TR_USED_OFF);
	tr->data_next = TR_DATA_OFF;

	gm_init(&tr->gm);
	assert_int_equal(gm_add_region(&tr->gm, tr->fd, TR_GPA_BASE, TR_MEM_SIZE,
				       tr_uva(0), 0), 0);
	/* The device must not see memory through the driver's mapping. */
	assert_ptr_not_equal(tr_dev(tr, tr_gpa(0)), tr->drv);

	vq_init(&tr->vq);
	assert_int_equal(vq_set_num(&tr->vq, num), 0);
	assert_int_equal(vq_set_addr(&tr->vq, &tr->gm, tr_uva(TR_DESC_OFF),
				     tr_uva(TR_AVAIL_OFF), tr_uva(TR_USED_OFF)), 0);
	tr->vq.call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(tr->vq.call_fd >= 0);
	tr->vq.started = true;
	tr->vq.enabled = true;
}

/* Re-reads used->idx and resets notification state, as on SET_VRING_ADDR. */
static inline void tr_readdr(struct test_ring *tr)
{
	assert_int_equal(vq_set_addr(&tr->vq, &tr->gm, tr_uva(TR_DESC_OFF),
				     tr_uva(TR_AVAIL_OFF), tr_uva(TR_USED_OFF)), 0);
}

static inline void tr_teardown(struct test_ring *tr)
{
	vq_reset(&tr->vq);      /* closes the call fd */
	gm_clear(&tr->gm);
	munmap(tr->drv, TR_MEM_SIZE);
	close(tr->fd);
}

/* cmocka fixtures: state is a heap test_ring of the given size. */
static inline int tr_fixture(void **state, uint16_t num)
{
	struct test_ring *tr = test_malloc(sizeof(*tr));

	tr_setup(tr, num);
	*state = tr;
	return 0;
}

static inline int tr_fixture_free(void **state)
{
	struct test_ring *tr = *state;

	tr_teardown(tr);
	test_free(tr);
	return 0;
}

#endif
