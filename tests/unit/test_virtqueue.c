/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Split virtqueue, device side: ring setup validation and descriptor chain
 * walking. The driver in these tests is hostile on purpose: everything it
 * writes (indices, addresses, lengths, flags, next pointers) must be
 * validated, and a malformed chain must come back used with length 0
 * without stalling the queue.
 */
#include "vq_test_ring.h"
#include "stderr_capture.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/eventfd.h>

#define F_NEXT  VRING_DESC_F_NEXT
#define F_WRITE VRING_DESC_F_WRITE
#define F_IND   VRING_DESC_F_INDIRECT

static int setup8(void **state)
{
	return tr_fixture(state, 8);
}

static int setup128(void **state)
{
	return tr_fixture(state, 128);
}

static int teardown(void **state)
{
	return tr_fixture_free(state);
}

/* Pops one element and checks that it is a good chain with this head. */
static void pop_ok(struct test_ring *tr, struct vq_elem *e, uint16_t head)
{
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, e), 1);
	assert_int_equal(e->head, head);
}

/*
 * Makes head available, followed by a good one-descriptor chain in the last
 * descriptor (num - 1, which the tests keep out of their chains), pops, and
 * checks that head was rejected: vq_pop skipped it, returned the good one,
 * and head is in the used ring with length 0 once flushed.
 */
static void expect_bad_chain(struct test_ring *tr, uint16_t head)
{
	struct vq_elem e;
	uint16_t good = (uint16_t)(tr->num - 1);
	uint64_t bad_before = tr->vq.stats.bad_chains;
	uint16_t used_before = tr_used_idx(tr);
	struct vring_used_elem u;

	assert_int_equal(tr->vq.used_idx, used_before);
	tr_desc(tr, good, tr_buf(tr, 16), 16, 0, 0);
	tr_avail_add(tr, head);
	tr_avail_add(tr, good);
	pop_ok(tr, &e, good);
	assert_int_equal(tr->vq.stats.bad_chains, bad_before + 1);
	vq_push(&tr->vq, e.head, 0);
	vq_flush(&tr->vq);
	assert_int_equal(tr_used_idx(tr), (uint16_t)(used_before + 2));
	u = tr_used_elem(tr, used_before);
	assert_int_equal(u.id, head);
	assert_int_equal(u.len, 0);
	u = tr_used_elem(tr, (uint16_t)(used_before + 1));
	assert_int_equal(u.id, good);
	assert_int_equal(tr->vq.inflight, 0);
	assert_false(tr->vq.broken);
}

/* ---- ring setup ---- */

static void test_set_num(void **state)
{
	struct test_ring *tr = *state;
	struct vq vq;

	vq_init(&vq);
	assert_int_equal(vq_set_num(&vq, 0), -EINVAL);
	assert_int_equal(vq_set_num(&vq, 3), -EINVAL);
	assert_int_equal(vq_set_num(&vq, 96), -EINVAL);
	assert_int_equal(vq_set_num(&vq, 65536), -EINVAL);
	assert_int_equal(vq_set_num(&vq, 65535), -EINVAL);
	assert_int_equal(vq_set_num(&vq, UINT32_MAX), -EINVAL);
	assert_int_equal(vq.num, 0);
	assert_int_equal(vq_set_num(&vq, 1), 0);
	assert_int_equal(vq.num, 1);
	assert_int_equal(vq_set_num(&vq, 256), 0);
	assert_int_equal(vq.num, 256);
	/* 32768 is the spec's maximum and must not truncate in 16 bits. */
	assert_int_equal(vq_set_num(&vq, 32768), 0);
	assert_int_equal(vq.num, 32768);
	assert_int_equal(vq_set_num(&vq, 3), -EINVAL);
	assert_int_equal(vq.num, 32768);

	/* A new size invalidates the translated ring: a size-8 ring's
	 * pointers are wrong for 16 entries. */
	assert_true(vq_ready(&tr->vq));
	assert_int_equal(vq_set_num(&tr->vq, 16), 0);
	assert_false(vq_ready(&tr->vq));
}

static void test_set_addr(void **state)
{
	struct test_ring *tr = *state;
	struct vq vq;
	const uint64_t d = tr_uva(TR_DESC_OFF), a = tr_uva(TR_AVAIL_OFF),
		       u = tr_uva(TR_USED_OFF);

	vq_init(&vq);
	/* Needs a size first. */
	assert_int_equal(vq_set_addr(&vq, &tr->gm, d, a, u), -EINVAL);
	assert_int_equal(vq_set_num(&vq, 8), 0);
	/* Alignment: desc 16, avail 2, used 4 (virtio 1.x 2.7). */
	assert_int_equal(vq_set_addr(&vq, &tr->gm, d + 8, a, u), -EINVAL);
	assert_int_equal(vq_set_addr(&vq, &tr->gm, d, a + 1, u), -EINVAL);
	assert_int_equal(vq_set_addr(&vq, &tr->gm, d, a, u + 2), -EINVAL);
	assert_false(vq.addr_set);
	/* The minimum alignments are accepted. */
	assert_int_equal(vq_set_addr(&vq, &tr->gm, d + 16, a + 2, u + 4), 0);
	assert_true(vq.addr_set);
	assert_ptr_equal(vq.desc, tr_dev(tr, tr_gpa(TR_DESC_OFF + 16)));

	/* Ring addresses are UVAs: the GPA of the same ring is not mapped. */
	assert_int_equal(vq_set_addr(&vq, &tr->gm, tr_gpa(TR_DESC_OFF), a, u), -EFAULT);
	assert_false(vq.addr_set);
	assert_int_equal(vq_set_addr(&vq, &tr->gm, d, tr_gpa(TR_AVAIL_OFF), u), -EFAULT);
	assert_int_equal(vq_set_addr(&vq, &tr->gm, d, a, tr_gpa(TR_USED_OFF)), -EFAULT);

	/* Each ring must fit entirely, including its event index field. */
	assert_int_equal(vq_set_addr(&vq, &tr->gm, tr_uva(TR_MEM_SIZE - 16 * 8), a, u), 0);
	assert_int_equal(vq_set_addr(&vq, &tr->gm, tr_uva(TR_MEM_SIZE - 16 * 8 + 16), a, u),
			 -EFAULT);
	/* avail: flags, idx, ring[8], used_event = 22 bytes. */
	assert_int_equal(vq_set_addr(&vq, &tr->gm, d, tr_uva(TR_MEM_SIZE - 22), u), 0);
	assert_int_equal(vq_set_addr(&vq, &tr->gm, d, tr_uva(TR_MEM_SIZE - 20), u), -EFAULT);
	/* used: flags, idx, ring[8] of 8 bytes, avail_event = 70 bytes;
	 * the last 2 (avail_event) out of memory must fail. */
	assert_int_equal(vq_set_addr(&vq, &tr->gm, d, a, tr_uva(TR_MEM_SIZE - 72)), 0);
	assert_int_equal(vq_set_addr(&vq, &tr->gm, d, a, tr_uva(TR_MEM_SIZE - 68)), -EFAULT);
	assert_false(vq.addr_set);
	vq_reset(&vq);
}

/* A region whose UVA and mmap offset differ modulo 16: ring UVAs that are
 * aligned would map to misaligned host addresses, which must be refused. */
static void test_set_addr_misaligned_host(void **state)
{
	struct test_ring *tr = *state;
	const uint64_t uva = 0x7e0000000042ull;
	struct guest_mem gm;
	struct vq vq;

	gm_init(&gm);
	assert_int_equal(gm_add_region(&gm, tr->fd, TR_GPA_BASE, TR_MEM_SIZE, uva, 0), 0);
	vq_init(&vq);
	assert_int_equal(vq_set_num(&vq, 8), 0);
	/* uva + 0x0e is 16-aligned, its host address is base + 0x0e: not. */
	assert_int_equal(vq_set_addr(&vq, &gm, uva + 0x0e, uva + 0x10e, uva + 0x20e), -EINVAL);
	assert_false(vq.addr_set);
	/* Host-aligned but UVA-misaligned is refused by the UVA check too. */
	assert_int_equal(vq_set_addr(&vq, &gm, uva + 0x1e - 0x0e, uva + 0x200, uva + 0x300),
			 -EINVAL);
	vq_reset(&vq);
	gm_clear(&gm);
}

static void test_set_addr_resumes_used_idx(void **state)
{
	struct test_ring *tr = *state;

	/* A ring a previous backend served: used->idx says where to resume. */
	tr->used->idx = 1234;
	tr_readdr(tr);
	assert_int_equal(tr->vq.used_idx, 1234);
	assert_false(tr->vq.signalled_used_valid);
}

static void test_not_ready(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;

	tr_desc(tr, 0, tr_buf(tr, 8), 8, 0, 0);
	tr_avail_add(tr, 0);
	tr->vq.started = false;
	assert_int_equal(vq_avail_count(&tr->vq), 0);
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 0);
	tr->vq.started = true;
	tr->vq.enabled = false;
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 0);
	tr->vq.enabled = true;
	assert_int_equal(vq_avail_count(&tr->vq), 1);
	pop_ok(tr, &e, 0);
}

/* ---- chain walking ---- */

static void test_single_desc(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;
	uint64_t buf = tr_buf(tr, 44);

	memcpy(tr_drv(tr, buf), "hello from the driver", 22);
	tr_desc(tr, 3, buf, 44, 0, 0);
	assert_int_equal(vq_avail_count(&tr->vq), 0);
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 0);
	tr_avail_add(tr, 3);
	assert_int_equal(vq_avail_count(&tr->vq), 1);
	pop_ok(tr, &e, 3);
	assert_int_equal(e.out_num, 1);
	assert_int_equal(e.in_num, 0);
	assert_int_equal(e.out_len, 44);
	assert_int_equal(e.in_len, 0);
	/* The iovec points into the device's mapping of the GPA, not at the
	 * driver's pointer, and sees what the driver wrote. */
	assert_ptr_equal(e.iov[0].iov_base, tr_dev(tr, buf));
	assert_ptr_not_equal(e.iov[0].iov_base, tr_drv(tr, buf));
	assert_int_equal(e.iov[0].iov_len, 44);
	assert_memory_equal(e.iov[0].iov_base, "hello from the driver", 22);
	assert_int_equal(tr->vq.inflight, 1);
	assert_int_equal(tr->vq.stats.popped, 1);
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 0);

	vq_push(&tr->vq, 3, 0);
	assert_int_equal(tr->vq.inflight, 0);
	/* Not visible before the flush. */
	assert_int_equal(tr_used_idx(tr), 0);
	vq_flush(&tr->vq);
	assert_int_equal(tr_used_idx(tr), 1);
	assert_int_equal(tr_used_elem(tr, 0).id, 3);
}

static void test_header_payload(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;
	uint64_t hdr = tr_buf(tr, 44), pay = tr_buf(tr, 1000);

	tr_desc(tr, 5, hdr, 44, F_NEXT, 2);
	tr_desc(tr, 2, pay, 1000, 0, 0);
	tr_avail_add(tr, 5);
	pop_ok(tr, &e, 5);
	assert_int_equal(e.out_num, 2);
	assert_int_equal(e.in_num, 0);
	assert_int_equal(e.out_len, 1044);
	assert_ptr_equal(e.iov[0].iov_base, tr_dev(tr, hdr));
	assert_int_equal(e.iov[0].iov_len, 44);
	assert_ptr_equal(e.iov[1].iov_base, tr_dev(tr, pay));
	assert_int_equal(e.iov[1].iov_len, 1000);
}

static void test_readable_then_writable(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;
	uint64_t r0 = tr_buf(tr, 10), w0 = tr_buf(tr, 44), w1 = tr_buf(tr, 300),
		 w2 = tr_buf(tr, 7);

	tr_desc(tr, 0, r0, 10, F_NEXT, 1);
	tr_desc(tr, 1, w0, 44, F_WRITE | F_NEXT, 2);
	tr_desc(tr, 2, w1, 300, F_WRITE | F_NEXT, 3);
	tr_desc(tr, 3, w2, 7, F_WRITE, 0);
	tr_avail_add(tr, 0);
	pop_ok(tr, &e, 0);
	assert_int_equal(e.out_num, 1);
	assert_int_equal(e.in_num, 3);
	assert_int_equal(e.out_len, 10);
	assert_int_equal(e.in_len, 351);
	assert_ptr_equal(e.iov[0].iov_base, tr_dev(tr, r0));
	assert_ptr_equal(e.iov[1].iov_base, tr_dev(tr, w0));
	assert_ptr_equal(e.iov[2].iov_base, tr_dev(tr, w1));
	assert_ptr_equal(e.iov[3].iov_base, tr_dev(tr, w2));
	assert_int_equal(e.iov[3].iov_len, 7);

	/* Writes through the writable iovecs reach the driver. */
	memcpy(e.iov[1].iov_base, "RESPONSE", 8);
	assert_memory_equal(tr_drv(tr, w0), "RESPONSE", 8);

	/* A writable-only chain (an rx buffer). */
	tr_desc(tr, 4, w1, 300, F_WRITE, 0);
	tr_avail_add(tr, 4);
	pop_ok(tr, &e, 4);
	assert_int_equal(e.out_num, 0);
	assert_int_equal(e.in_num, 1);
	assert_int_equal(e.in_len, 300);
}

static void test_readable_after_writable(void **state)
{
	struct test_ring *tr = *state;

	tr_desc(tr, 0, tr_buf(tr, 8), 8, F_WRITE | F_NEXT, 1);
	tr_desc(tr, 1, tr_buf(tr, 8), 8, 0, 0);
	expect_bad_chain(tr, 0);
}

static void test_zero_length_desc(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;
	uint64_t b = tr_buf(tr, 20);

	/* Zero-length descriptors contribute no iovec but do not end or
	 * break the chain. */
	tr_desc(tr, 0, b, 0, F_NEXT, 1);
	tr_desc(tr, 1, b, 20, F_NEXT, 2);
	tr_desc(tr, 2, b, 0, F_WRITE | F_NEXT, 3);
	tr_desc(tr, 3, b, 4, F_WRITE, 0);
	tr_avail_add(tr, 0);
	pop_ok(tr, &e, 0);
	assert_int_equal(e.out_num, 1);
	assert_int_equal(e.out_len, 20);
	assert_int_equal(e.in_num, 1);
	assert_int_equal(e.in_len, 4);
	assert_ptr_equal(e.iov[1].iov_base, tr_dev(tr, b));

	/* A chain of a single empty descriptor is a valid, empty element. */
	tr_desc(tr, 4, b, 0, 0, 0);
	tr_avail_add(tr, 4);
	pop_ok(tr, &e, 4);
	assert_int_equal(e.out_num + e.in_num, 0);
	assert_int_equal(e.out_len + e.in_len, 0);
}

static void test_desc_outside_memory(void **state)
{
	struct test_ring *tr = *state;

	/* Entirely outside. */
	tr_desc(tr, 0, 0x1000, 16, 0, 0);
	expect_bad_chain(tr, 0);
	/* Straddling the end of guest memory, in the second descriptor. */
	tr_desc(tr, 1, tr_buf(tr, 16), 16, F_NEXT, 2);
	tr_desc(tr, 2, tr_gpa(TR_MEM_SIZE - 8), 16, F_WRITE, 0);
	expect_bad_chain(tr, 1);
	/* A UVA where a GPA belongs. */
	tr_desc(tr, 3, tr_uva(TR_DATA_OFF), 16, 0, 0);
	expect_bad_chain(tr, 3);
	/* A length that would wrap the address space. */
	tr_desc(tr, 4, UINT64_MAX - 4, 16, 0, 0);
	expect_bad_chain(tr, 4);
}

static void test_next_out_of_range(void **state)
{
	struct test_ring *tr = *state;

	tr_desc(tr, 0, tr_buf(tr, 16), 16, F_NEXT, 8);
	expect_bad_chain(tr, 0);
	tr_desc(tr, 1, tr_buf(tr, 16), 16, F_NEXT, 0xffff);
	expect_bad_chain(tr, 1);
}

static void test_loop(void **state)
{
	struct test_ring *tr = *state;

	/* 0 -> 1 -> 0 -> ... */
	tr_desc(tr, 0, tr_buf(tr, 16), 16, F_NEXT, 1);
	tr_desc(tr, 1, tr_buf(tr, 16), 16, F_NEXT, 0);
	expect_bad_chain(tr, 0);
	/* A descriptor pointing at itself, reached from the head. */
	tr_desc(tr, 2, tr_buf(tr, 16), 16, F_NEXT, 3);
	tr_desc(tr, 3, tr_buf(tr, 16), 16, F_NEXT, 3);
	expect_bad_chain(tr, 2);
	/* Zero-length descriptors use no iovec: only the loop check stops
	 * this one. */
	tr_desc(tr, 4, 0, 0, F_NEXT, 5);
	tr_desc(tr, 5, 0, 0, F_NEXT, 4);
	expect_bad_chain(tr, 4);
}

static void test_longest_chain_is_not_a_loop(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;

	/* Every descriptor of the table, once: the loop check must allow
	 * exactly num steps. */
	for (uint16_t i = 0; i < 8; i++)
		tr_desc(tr, i, tr_buf(tr, 4), 4, i < 7 ? F_NEXT : 0, (uint16_t)(i + 1));
	tr_avail_add(tr, 0);
	pop_ok(tr, &e, 0);
	assert_int_equal(e.out_num, 8);
	assert_int_equal(e.out_len, 32);
}

static void test_too_many_iovecs(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;
	uint64_t b = tr_buf(tr, 1);

	/* VQ_ELEM_MAX_IOV descriptors fit exactly... */
	for (uint16_t i = 0; i < VQ_ELEM_MAX_IOV; i++)
		tr_desc(tr, i, b, 1, i + 1u < VQ_ELEM_MAX_IOV ? F_NEXT : 0, (uint16_t)(i + 1));
	tr_avail_add(tr, 0);
	pop_ok(tr, &e, 0);
	assert_int_equal(e.out_num, VQ_ELEM_MAX_IOV);
	assert_int_equal(e.out_len, VQ_ELEM_MAX_IOV);
	vq_push(&tr->vq, 0, 0);
	vq_flush(&tr->vq);

	/* ...one more is rejected, not written past iov[]. */
	for (uint16_t i = 0; i <= VQ_ELEM_MAX_IOV; i++)
		tr_desc(tr, i, b, 1, i < VQ_ELEM_MAX_IOV ? F_NEXT : 0, (uint16_t)(i + 1));
	expect_bad_chain(tr, 0);
}

static void test_desc_spanning_regions(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;
	int fd = memfd_create("vq-test-2", MFD_CLOEXEC);
	const uint64_t gpa2 = tr_gpa(TR_MEM_SIZE);
	uint64_t b = tr_gpa(TR_MEM_SIZE - 16);

	/* A second region right after the first: a buffer across the seam
	 * needs two iovecs for one descriptor. */
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 0x1000), 0);
	assert_int_equal(gm_add_region(&tr->gm, fd, gpa2, 0x1000, TR_UVA_DELTA + gpa2, 0), 0);
	close(fd);
	tr_desc(tr, 0, b, 48, F_WRITE, 0);
	tr_avail_add(tr, 0);
	pop_ok(tr, &e, 0);
	assert_int_equal(e.in_num, 2);
	assert_int_equal(e.in_len, 48);
	assert_ptr_equal(e.iov[0].iov_base, tr_dev(tr, b));
	assert_int_equal(e.iov[0].iov_len, 16);
	assert_ptr_equal(e.iov[1].iov_base, tr_dev(tr, gpa2));
	assert_int_equal(e.iov[1].iov_len, 32);
	vq_push(&tr->vq, 0, 0);

	/* 63 one-iovec descriptors plus one that splits: 65 iovecs. */
	for (uint16_t i = 0; i < VQ_ELEM_MAX_IOV - 1; i++)
		tr_desc(tr, i, tr_gpa(TR_DATA_OFF), 1, F_WRITE | F_NEXT, (uint16_t)(i + 1));
	tr_desc(tr, VQ_ELEM_MAX_IOV - 1, b, 48, F_WRITE, 0);
	vq_flush(&tr->vq);
	expect_bad_chain(tr, 0);
	assert_int_equal(tr->vq.stats.bad_chains, 1);
}

/* ---- indirect descriptors ---- */

static void test_indirect(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;
	uint64_t table = tr_buf(tr, 3 * 16);
	uint64_t hdr = tr_buf(tr, 44), w0 = tr_buf(tr, 100), w1 = tr_buf(tr, 200);

	tr->vq.indirect = true;
	/* Indirect next indices are relative to the table, out of order. */
	tr_idesc(tr, table, 0, hdr, 44, F_NEXT, 2);
	tr_idesc(tr, table, 2, w0, 100, F_WRITE | F_NEXT, 1);
	tr_idesc(tr, table, 1, w1, 200, F_WRITE, 0);
	/* WRITE on the descriptor naming the table must be ignored, and so
	 * must its next field (no NEXT flag): the table starts at entry 0. */
	tr_desc(tr, 6, table, 3 * 16, F_IND | F_WRITE, 2);
	tr_avail_add(tr, 6);
	pop_ok(tr, &e, 6);
	assert_int_equal(e.out_num, 1);
	assert_int_equal(e.in_num, 2);
	assert_int_equal(e.out_len, 44);
	assert_int_equal(e.in_len, 300);
	assert_ptr_equal(e.iov[0].iov_base, tr_dev(tr, hdr));
	assert_ptr_equal(e.iov[1].iov_base, tr_dev(tr, w0));
	assert_ptr_equal(e.iov[2].iov_base, tr_dev(tr, w1));
}

static void test_direct_then_indirect(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;
	uint64_t table = tr_buf(tr, 2 * 16), hdr = tr_buf(tr, 44), w = tr_buf(tr, 64);

	/* virtio 1.x 2.7.5.3.2: the device MUST handle normal chained
	 * descriptors followed by a single indirect one. */
	tr->vq.indirect = true;
	tr_idesc(tr, table, 0, w, 32, F_WRITE | F_NEXT, 1);
	tr_idesc(tr, table, 1, w + 32, 32, F_WRITE, 0);
	tr_desc(tr, 0, hdr, 44, F_NEXT, 1);
	tr_desc(tr, 1, table, 2 * 16, F_IND, 0);
	tr_avail_add(tr, 0);
	pop_ok(tr, &e, 0);
	assert_int_equal(e.out_num, 1);
	assert_int_equal(e.in_num, 2);
	assert_int_equal(e.out_len, 44);
	assert_int_equal(e.in_len, 64);
	assert_ptr_equal(e.iov[2].iov_base, tr_dev(tr, w + 32));
	vq_push(&tr->vq, 0, 0);
	vq_flush(&tr->vq);

	/* The readable-before-writable rule spans both parts. */
	tr_idesc(tr, table, 0, w, 32, 0, 0);
	tr_desc(tr, 0, hdr, 44, F_WRITE | F_NEXT, 1);
	expect_bad_chain(tr, 0);
}

static void test_indirect_bigger_than_ring(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;
	const uint16_t n = 20;                 /* > num = 8 */
	uint64_t table = tr_buf(tr, 16u * n), b = tr_buf(tr, 4);

	tr->vq.indirect = true;
	for (uint16_t i = 0; i < n; i++)
		tr_idesc(tr, table, i, b, 4, i + 1 < n ? F_NEXT : 0, (uint16_t)(i + 1));
	tr_desc(tr, 0, table, 16u * n, F_IND, 0);
	tr_avail_add(tr, 0);
	pop_ok(tr, &e, 0);
	assert_int_equal(e.out_num, n);
	assert_int_equal(e.out_len, 4u * n);
}

/* Zero-length descriptors take no iovec: without one budget for the whole
 * chain, one avail entry could walk a 32768-entry indirect table of them
 * (plus the ring). The walk stops at VQ_CHAIN_MAX_DESC descriptors. */
static void test_zero_length_flood_bounded(void **state)
{
	struct test_ring *tr = *state;   /* num = 128 */
	const uint16_t n = 4096;
	uint64_t table = tr_buf(tr, 16u * n), b = tr_buf(tr, 16), descs;

	tr->vq.indirect = true;
	for (uint16_t i = 0; i < n; i++)
		tr_idesc(tr, table, i, b, 0, i + 1 < n ? F_NEXT : 0, (uint16_t)(i + 1));
	tr_desc(tr, 0, table, 16u * n, F_IND, 0);
	descs = tr->vq.stats.descs;
	expect_bad_chain(tr, 0);
	/* The refused chain, then the good one-descriptor chain. */
	assert_true(tr->vq.stats.descs - descs <= VQ_CHAIN_MAX_DESC + 1);

	/* Direct and indirect count together: 100 + 1 + 100 > the budget. */
	for (uint16_t i = 1; i <= 100; i++)
		tr_desc(tr, i, b, 0, F_NEXT, (uint16_t)(i + 1));
	tr_desc(tr, 101, table, 16u * 100, F_IND, 0);
	tr_idesc(tr, table, 99, b, 0, 0, 0);
	descs = tr->vq.stats.descs;
	expect_bad_chain(tr, 1);
	assert_true(tr->vq.stats.descs - descs <= VQ_CHAIN_MAX_DESC + 1);
}

/* A chain as large as the iovec limit allows, with some zero-length
 * descriptors among its entries, is still one good element. */
static void test_chain_within_budget(void **state)
{
	struct test_ring *tr = *state;   /* num = 128 */
	struct vq_elem e;
	const uint16_t n = VQ_ELEM_MAX_IOV + 60;   /* + the indirect one: 125 */
	uint64_t table = tr_buf(tr, 16u * n), b = tr_buf(tr, 1);

	tr->vq.indirect = true;
	for (uint16_t i = 0; i < n; i++)
		tr_idesc(tr, table, i, b, i < VQ_ELEM_MAX_IOV ? 1 : 0, i + 1 < n ? F_NEXT : 0,
			 (uint16_t)(i + 1));
	tr_desc(tr, 0, table, 16u * n, F_IND, 0);
	tr_avail_add(tr, 0);
	pop_ok(tr, &e, 0);
	assert_int_equal(e.out_num, VQ_ELEM_MAX_IOV);
	assert_int_equal(e.out_len, VQ_ELEM_MAX_IOV);
	assert_int_equal(tr->vq.stats.bad_chains, 0);
}

static void test_indirect_not_negotiated(void **state)
{
	struct test_ring *tr = *state;
	uint64_t table = tr_buf(tr, 16);

	tr_idesc(tr, table, 0, tr_buf(tr, 8), 8, 0, 0);
	tr_desc(tr, 0, table, 16, F_IND, 0);
	expect_bad_chain(tr, 0);
}

static void test_indirect_malformed(void **state)
{
	struct test_ring *tr = *state;
	uint64_t t1 = tr_buf(tr, 32), t2 = tr_buf(tr, 32), t3 = tr_buf(tr, 32),
		 t4 = tr_buf(tr, 32), b = tr_buf(tr, 8);

	tr->vq.indirect = true;

	/* Nested: an indirect table may not name another one. */
	tr_idesc(tr, t2, 0, b, 8, 0, 0);
	tr_idesc(tr, t1, 0, t2, 16, F_IND, 0);
	tr_desc(tr, 0, t1, 16, F_IND, 0);
	expect_bad_chain(tr, 0);

	/* INDIRECT together with NEXT. */
	tr_desc(tr, 1, t2, 16, F_IND | F_NEXT, 2);
	tr_desc(tr, 2, b, 8, 0, 0);
	expect_bad_chain(tr, 1);

	/* Length not a multiple of 16, and zero. */
	tr_desc(tr, 1, t2, 24, F_IND, 0);
	expect_bad_chain(tr, 1);
	tr_desc(tr, 1, t2, 0, F_IND, 0);
	expect_bad_chain(tr, 1);

	/* Table outside guest memory. */
	tr_desc(tr, 1, tr_gpa(TR_MEM_SIZE - 16), 32, F_IND, 0);
	expect_bad_chain(tr, 1);

	/* A loop inside the table. */
	tr_idesc(tr, t3, 0, b, 8, F_NEXT, 1);
	tr_idesc(tr, t3, 1, b, 8, F_NEXT, 0);
	tr_desc(tr, 1, t3, 32, F_IND, 0);
	expect_bad_chain(tr, 1);

	/* next beyond the table (but within the ring size). */
	tr_idesc(tr, t4, 0, b, 8, F_NEXT, 2);
	tr_idesc(tr, t4, 1, b, 8, 0, 0);
	tr_desc(tr, 1, t4, 32, F_IND, 0);
	expect_bad_chain(tr, 1);

	/* An entry pointing outside guest memory. */
	tr_idesc(tr, t4, 0, b, 8, F_NEXT, 1);
	tr_idesc(tr, t4, 1, 0x10, 8, F_WRITE, 0);
	expect_bad_chain(tr, 1);

	/* Readable after writable inside the table. */
	tr_idesc(tr, t4, 0, b, 8, F_WRITE | F_NEXT, 1);
	tr_idesc(tr, t4, 1, b, 8, 0, 0);
	expect_bad_chain(tr, 1);
	assert_int_equal(tr->vq.stats.bad_chains, 9);
}

/* ---- broken rings ---- */

static void test_head_out_of_range(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;

	tr_desc(tr, 0, tr_buf(tr, 8), 8, 0, 0);
	tr_avail_add(tr, 8);
	tr_avail_add(tr, 0);
	/* There is no head to give back: the whole queue is broken. */
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), -EIO);
	assert_true(tr->vq.broken);
	assert_false(vq_ready(&tr->vq));
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 0);
	assert_int_equal(vq_avail_count(&tr->vq), 0);
	/* Nothing was pushed for it. */
	vq_flush(&tr->vq);
	assert_int_equal(tr_used_idx(tr), 0);
}

static void test_avail_idx_jump(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;

	for (uint16_t i = 0; i < 8; i++)
		tr_desc(tr, i, tr_buf(tr, 8), 8, 0, 0);
	/* num entries ahead is a full ring: fine. */
	for (uint16_t i = 0; i < 8; i++)
		tr_avail_add(tr, i);
	assert_int_equal(vq_avail_count(&tr->vq), 8);
	pop_ok(tr, &e, 0);
	/* 1 popped, 8 pending: still fine... */
	tr_avail_add(tr, 0);
	assert_int_equal(vq_avail_count(&tr->vq), 8);
	pop_ok(tr, &e, 1);
	/* ...num + 1 pending is impossible for a correct driver. */
	tr_set_avail_idx(tr, (uint16_t)(tr->vq.last_avail_idx + 9));
	assert_int_equal(vq_avail_count(&tr->vq), 0);
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), -EIO);
	assert_true(tr->vq.broken);
	/* An index far behind us (as if it went backwards) too. */
	tr_teardown(tr);
	tr_setup(tr, 8);
	tr_set_avail_idx(tr, 0xfff0);
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), -EIO);
	assert_true(tr->vq.broken);
}


static unsigned count_of(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* A broken ring says so once, and SET_VRING_BASE / SET_VRING_ADDR (what a
 * guest reboot sends) make it usable again, said once too. */
static void test_restart_clears_broken(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;
	const char *log;

	vq_set_name(&tr->vq, "vm cid 9", 1);
	tr_desc(tr, 0, tr_buf(tr, 8), 8, 0, 0);
	cap_begin();
	tr_avail_add(tr, 200);                      /* no such descriptor */
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), -EIO);
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 0);
	log = cap_end();
	assert_true(tr->vq.broken);
	assert_int_equal(count_of(log, "vm cid 9: queue 1 is broken"), 1);
	assert_non_null(strstr(log, "avail entry names descriptor 200 (ring size 8"));

	/* The reboot: the driver starts from empty rings, the frontend
	 * sends the base, then the addresses. */
	memset(tr->avail, 0, 4 + 2 * 8 + 2);
	memset(tr->used, 0, 4 + 8 * 8 + 2);
	tr->avail_idx = 0;
	cap_begin();
	vq_set_base(&tr->vq, 0);
	tr_readdr(tr);
	log = cap_end();
	assert_false(tr->vq.broken);
	assert_true(vq_ready(&tr->vq));
	assert_int_equal(count_of(log, "vm cid 9: queue 1 restarted after it was broken"), 1);
	/* Traffic flows again. */
	tr_avail_add(tr, 0);
	pop_ok(tr, &e, 0);
	vq_push(&tr->vq, 0, 0);
	vq_flush(&tr->vq);
	assert_int_equal(tr_used_idx(tr), 1);

	/* A restart of a ring that was not broken says nothing; reset keeps
	 * the queue's name. */
	cap_begin();
	vq_set_base(&tr->vq, 1);
	log = cap_end();
	assert_string_equal(log, "");
	vq_reset(&tr->vq);
	assert_string_equal(tr->vq.owner, "vm cid 9");
	assert_int_equal(tr->vq.index, 1);
}

/* SET_VRING_NUM, _BASE and _ADDR as a frontend sends them to (re)start. */
static void restart_ring(struct test_ring *tr, uint16_t num, uint16_t base, uint64_t desc_off)
{
	assert_int_equal(vq_set_num(&tr->vq, num), 0);
	vq_set_base(&tr->vq, base);
	assert_int_equal(vq_set_addr(&tr->vq, &tr->gm, tr_uva(desc_off), tr_uva(TR_AVAIL_OFF),
				     tr_uva(TR_USED_OFF)), 0);
}

/* GET_VRING_BASE then a restart: as it stopped is a resume (pause/cont),
 * anything else a reset of the driver (a guest reboot). */
static void test_stop_start(void **state)
{
	struct test_ring *tr = *state;
	uint64_t buf = tr_buf(tr, 44);
	struct vq_elem e;

	/* Nothing to compare with: not a restart. */
	assert_int_equal(vq_start(&tr->vq), VQ_START_FRESH);
	tr_desc(tr, 0, buf, 44, 0, 0);
	tr_avail_add(tr, 0);
	pop_ok(tr, &e, 0);
	vq_push(&tr->vq, 0, 0);

	/* The stop publishes what the device did and reports where it is. */
	assert_int_equal(vq_stop(&tr->vq), 1);
	assert_int_equal(tr_used_idx(tr), 1);
	assert_false(vq_ready(&tr->vq));
	restart_ring(tr, 8, 1, TR_DESC_OFF);
	assert_int_equal(vq_start(&tr->vq), VQ_START_RESUME);
	assert_true(vq_ready(&tr->vq));
	/* A new kick fd on a running ring compares with nothing. */
	assert_int_equal(vq_start(&tr->vq), VQ_START_FRESH);

	/* The new driver starts over at 0. */
	assert_int_equal(vq_stop(&tr->vq), 1);
	restart_ring(tr, 8, 0, TR_DESC_OFF);
	assert_int_equal(vq_start(&tr->vq), VQ_START_RESET);
	/* Same base, rings elsewhere. */
	assert_int_equal(vq_stop(&tr->vq), 0);
	restart_ring(tr, 8, 0, TR_DESC_OFF + 0x1000);
	assert_int_equal(vq_start(&tr->vq), VQ_START_RESET);
	/* Same base and rings, another size. */
	assert_int_equal(vq_stop(&tr->vq), 0);
	restart_ring(tr, 4, 0, TR_DESC_OFF + 0x1000);
	assert_int_equal(vq_start(&tr->vq), VQ_START_RESET);
	/* A ring reset (vq_reset) forgets the stop. */
	assert_int_equal(vq_stop(&tr->vq), 0);
	assert_true(tr->vq.stop.valid);
	vq_reset(&tr->vq);
	assert_false(tr->vq.stop.valid);
}

static void test_bad_chains_bounded(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;

	/* A full ring of bad chains: vq_pop consumes them all, returns 0,
	 * and each one is in the used ring. */
	for (uint16_t i = 0; i < 8; i++) {
		tr_desc(tr, i, 0x10, 8, 0, 0);
		tr_avail_add(tr, i);
	}
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 0);
	assert_int_equal(tr->vq.stats.bad_chains, 8);
	assert_int_equal(tr->vq.stats.popped, 0);
	assert_int_equal(tr->vq.inflight, 0);
	assert_int_equal(tr->vq.last_avail_idx, 8);
	vq_flush(&tr->vq);
	assert_int_equal(tr_used_idx(tr), 8);
	for (uint16_t i = 0; i < 8; i++) {
		assert_int_equal(tr_used_elem(tr, i).id, i);
		assert_int_equal(tr_used_elem(tr, i).len, 0);
	}
}

/* ---- indices ---- */

/* A head for ring position idx that differs from the position itself, so
 * that a device mixing up ring slots and heads is caught. */
static uint16_t wrap_head(const struct test_ring *tr, uint16_t idx)
{
	return (uint16_t)((idx ^ 5) & (tr->num - 1));
}

/* Runs on different ring sizes: slot = index & (num - 1) must use the
 * queue's own size. */
static void test_wrap_around(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;
	const uint16_t start = 65533;

	/* Resume a ring whose indices are about to wrap. */
	tr->used->idx = start;
	tr_readdr(tr);
	vq_set_base(&tr->vq, start);
	tr_set_avail_idx(tr, start);
	for (uint16_t i = 0; i < tr->num; i++)
		tr_desc(tr, i, tr_buf(tr, 8), 8, F_WRITE, 0);

	/* Two rounds of 6 buffers: across 65535 -> 0 and beyond. */
	for (unsigned round = 0; round < 2; round++) {
		uint16_t base = (uint16_t)(start + round * 6);

		for (uint16_t k = 0; k < 6; k++)
			tr_avail_add(tr, wrap_head(tr, (uint16_t)(base + k)));
		assert_int_equal(vq_avail_count(&tr->vq), 6);
		for (uint16_t k = 0; k < 6; k++) {
			pop_ok(tr, &e, wrap_head(tr, (uint16_t)(base + k)));
			vq_push(&tr->vq, e.head, 100u * round + k);
		}
		assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 0);
		vq_flush(&tr->vq);
		assert_int_equal(tr_used_idx(tr), (uint16_t)(base + 6));
		assert_int_equal(tr->vq.last_avail_idx, (uint16_t)(base + 6));
		for (uint16_t k = 0; k < 6; k++) {
			struct vring_used_elem u = tr_used_elem(tr, (uint16_t)(base + k));

			assert_int_equal(u.id, wrap_head(tr, (uint16_t)(base + k)));
			assert_int_equal(u.len, 100u * round + k);
		}
		if (round == 0) {
			/* 65535 is the last slot, then the index wraps to 0,
			 * the first slot. */
			assert_int_equal(tr->used->ring[tr->num - 1].len, 2);
			assert_int_equal(tr->used->ring[0].len, 3);
			assert_int_equal(tr_used_idx(tr), 3);
		}
	}
	assert_int_equal(tr_used_idx(tr), 9);
}

static void test_unpop(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;

	tr_desc(tr, 2, tr_buf(tr, 8), 8, 0, 0);
	tr_desc(tr, 3, tr_buf(tr, 8), 8, 0, 0);
	tr_avail_add(tr, 2);
	tr_avail_add(tr, 3);
	pop_ok(tr, &e, 2);
	vq_unpop(&tr->vq);
	assert_int_equal(tr->vq.inflight, 0);
	assert_int_equal(tr->vq.stats.popped, 0);
	assert_int_equal(vq_avail_count(&tr->vq), 2);
	pop_ok(tr, &e, 2);
	pop_ok(tr, &e, 3);
}

static void test_remap(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;

	/* The memory table was replaced: the same UVAs now map to a new
	 * mapping, and the ring pointers must follow. */
	gm_clear(&tr->gm);
	assert_int_equal(vq_remap(&tr->vq, &tr->gm), -EFAULT);
	assert_false(vq_ready(&tr->vq));
	assert_int_equal(gm_add_region(&tr->gm, tr->fd, TR_GPA_BASE, TR_MEM_SIZE, tr_uva(0), 0), 0);
	assert_int_equal(vq_remap(&tr->vq, &tr->gm), 0);
	assert_ptr_equal(tr->vq.desc, tr_dev(tr, tr_gpa(TR_DESC_OFF)));
	assert_true(vq_ready(&tr->vq));
	tr_desc(tr, 1, tr_buf(tr, 8), 8, 0, 0);
	tr_avail_add(tr, 1);
	pop_ok(tr, &e, 1);
}

static void test_drain_kick_and_reset(void **state)
{
	struct test_ring *tr = *state;
	int k, c = tr->vq.call_fd;
	eventfd_t v;

	tr->vq.kick_fd = k = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(k >= 0);
	/* Several kicks are consumed at once; draining again is harmless. */
	assert_int_equal(eventfd_write(k, 3), 0);
	vq_drain_kick(&tr->vq);
	vq_drain_kick(&tr->vq);
	assert_int_equal(eventfd_read(k, &v), -1);
	assert_int_equal(errno, EAGAIN);

	vq_reset(&tr->vq);
	assert_int_equal(tr->vq.kick_fd, -1);
	assert_int_equal(tr->vq.call_fd, -1);
	assert_int_equal(tr->vq.num, 0);
	assert_false(vq_ready(&tr->vq));
	assert_int_equal(fcntl(k, F_GETFD), -1);
	assert_int_equal(fcntl(c, F_GETFD), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_set_num, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_set_addr, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_set_addr_misaligned_host, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_set_addr_resumes_used_idx, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_not_ready, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_single_desc, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_header_payload, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_readable_then_writable, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_readable_after_writable, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_zero_length_desc, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_desc_outside_memory, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_next_out_of_range, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_loop, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_longest_chain_is_not_a_loop, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_iovecs, setup128, teardown),
		cmocka_unit_test_setup_teardown(test_desc_spanning_regions, setup128, teardown),
		cmocka_unit_test_setup_teardown(test_indirect, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_direct_then_indirect, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_bigger_than_ring, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_zero_length_flood_bounded, setup128, teardown),
		cmocka_unit_test_setup_teardown(test_chain_within_budget, setup128, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_not_negotiated, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_malformed, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_head_out_of_range, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_avail_idx_jump, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_restart_clears_broken, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_stop_start, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_bad_chains_bounded, setup8, teardown),
		{ "test_wrap_around_8", test_wrap_around, setup8, teardown, NULL },
		{ "test_wrap_around_128", test_wrap_around, setup128, teardown, NULL },
		cmocka_unit_test_setup_teardown(test_unpop, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_remap, setup8, teardown),
		cmocka_unit_test_setup_teardown(test_drain_kick_and_reset, setup8, teardown),
	};

	return cmocka_run_group_tests_name("virtqueue", tests, NULL, NULL);
}
