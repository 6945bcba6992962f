/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * vq_pop() over guest memory the input controls.
 *
 * Input: an 8-byte header, then the initial contents of a 64 KiB memfd
 * (zero-filled past the input) that backs three guest memory regions:
 *
 *   region  gpa            size     memfd offset  uva
 *   0       0x10000        0x8000   0x0000        0x7f0000010000
 *   1       0x18000        0x6000   0x8000        0x7f0000100000  (gpa-adjacent to 0)
 *   2       0x100000000    0x2000   0xe000        0x7f0000200000
 *
 * The descriptor table is at gpa 0x10000 (memfd offset 0), the avail ring
 * at 0x11000 (offset 0x1000) and the used ring at 0x12000 (offset 0x2000).
 *
 * Header: [0] bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 NOTIFY_ON_EMPTY,
 * bit 3 call eventfd, bit 4 exercise vq_unpop, bit 5 disable notifications
 * first; [1] log2 of the ring size (mod 9); [2..3] base (last_avail_idx);
 * [4] push length policy; [5..7] unused.
 *
 * Checked: every iovec lies inside one mapped region and is non-empty,
 * out_len/in_len equal the iovec sums, at most VQ_ELEM_MAX_IOV iovecs,
 * head < num, no more chains consumed than the driver made available,
 * vq_unpop() gives back the same chain, and used->idx after a flush.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "virtio/guest_mem.h"
#include "virtio/virtqueue.h"

#define MEM_SIZE 0x10000u
#define HDR_SIZE 8u
#define DESC_OFF 0x0000u
#define AVAIL_OFF 0x1000u
#define USED_OFF 0x2000u
#define UVA0 0x7f0000010000ull

static const struct {
	uint64_t gpa, size, off, uva;
} layout[] = {
	{ 0x10000, 0x8000, 0x0000, UVA0 },
	{ 0x18000, 0x6000, 0x8000, 0x7f0000100000ull },
	{ 0x100000000ull, 0x2000, 0xe000, 0x7f0000200000ull },
};

static struct guest_mem gm;
static uint8_t *mem;    /* our own view of the whole memfd */
static int call_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;
	(void)argc, (void)argv;

	fuzz_quiet_logs();
	fd = memfd_create("fuzz_vring", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, MEM_SIZE) < 0)
		abort();
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		abort();
	gm_init(&gm);
	for (size_t i = 0; i < sizeof(layout) / sizeof(layout[0]); i++)
		if (gm_add_region(&gm, fd, layout[i].gpa, layout[i].size, layout[i].uva,
				  layout[i].off) < 0)
			abort();
	close(fd); /* the mappings stay */
	call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (call_fd < 0)
		abort();
	return 0;
}

static void check_iov_inside(const struct iovec *v)
{
	const uint8_t *p = v->iov_base;

	FUZZ_ASSERT(v->iov_len > 0);
	for (unsigned i = 0; i < gm.nregions; i++) {
		const struct gm_region *r = &gm.regions[i];
		if (p >= r->host && p < r->host + r->size) {
			FUZZ_ASSERT(v->iov_len <= (size_t)(r->host + r->size - p));
			return;
		}
	}
	FUZZ_ASSERT(!"iovec outside guest memory");
}

static void check_elem(const struct vq *vq, const struct vq_elem *e)
{
	uint64_t out = 0, in = 0;
	volatile uint8_t sink;

	FUZZ_ASSERT(e->head < vq->num);
	FUZZ_ASSERT(e->out_num + e->in_num <= VQ_ELEM_MAX_IOV);
	for (unsigned i = 0; i < e->out_num + e->in_num; i++) {
		const struct iovec *v = &e->iov[i];

		check_iov_inside(v);
		/* Touch both ends (a wild pointer would fault here). */
		sink = ((const uint8_t *)v->iov_base)[0];
		sink = ((const uint8_t *)v->iov_base)[v->iov_len - 1];
		(void)sink;
		if (i < e->out_num)
			out += v->iov_len;
		else
			in += v->iov_len;
	}
	FUZZ_ASSERT(out == e->out_len);
	FUZZ_ASSERT(in == e->in_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vq_elem elem, again;
	struct vq vq;
	uint8_t flags, policy;
	uint16_t base, avail_idx, pending;
	unsigned consumed, pops = 0;
	uint64_t v;
	int r;

	if (size < HDR_SIZE)
		return -1;
	flags = data[0];
	policy = data[4];
	base = fuzz_u16(data + 2);
	memset(mem, 0, MEM_SIZE);
	memcpy(mem, data + HDR_SIZE,
	       size - HDR_SIZE < MEM_SIZE ? size - HDR_SIZE : MEM_SIZE);
	while (read(call_fd, &v, sizeof(v)) > 0)
		;

	vq_init(&vq);
	FUZZ_ASSERT(vq_set_num(&vq, 1u << (data[1] % 9)) == 0);
	FUZZ_ASSERT(vq_set_addr(&vq, &gm, UVA0 + DESC_OFF, UVA0 + AVAIL_OFF,
				UVA0 + USED_OFF) == 0);
	vq_set_base(&vq, base);
	vq.event_idx = flags & 1;
	vq.indirect = flags & 2;
	vq.notify_on_empty = flags & 4;
	vq.call_fd = (flags & 8) ? call_fd : -1;
	vq.started = vq.enabled = true;
	if (flags & 32)
		vq_disable_notify(&vq);

	memcpy(&avail_idx, mem + AVAIL_OFF + 2, sizeof(avail_idx));
	pending = (uint16_t)(avail_idx - base);
	FUZZ_ASSERT(vq_avail_count(&vq) == (pending > vq.num ? 0 : pending));

	/* At most num chains can be pending: bound the loop well above. */
	for (unsigned i = 0; i < 2u * vq.num + 4; i++) {
		r = vq_pop(&vq, &gm, &elem);
		FUZZ_ASSERT(r == 0 || r == 1 || r == -EIO);
		if (r <= 0) {
			FUZZ_ASSERT(r == 0 || vq.broken);
			break;
		}
		pops++;
		check_elem(&vq, &elem);
		if ((flags & 16) && (pops & 1)) {
			vq_unpop(&vq);
			FUZZ_ASSERT(vq_pop(&vq, &gm, &again) == 1);
			FUZZ_ASSERT(again.head == elem.head);
			FUZZ_ASSERT(again.out_len == elem.out_len && again.in_len == elem.in_len);
			FUZZ_ASSERT(again.out_num == elem.out_num && again.in_num == elem.in_num);
		}
		switch (policy & 3) {
		case 0:
			vq_push(&vq, elem.head, 0);
			break;
		case 1:
			vq_push(&vq, elem.head, (uint32_t)elem.in_len);
			break;
		case 2:
			if (pops & 1)
				vq_push(&vq, elem.head, 1);
			break;
		default:
			vq_push(&vq, elem.head, (uint32_t)elem.in_len);
			vq_notify(&vq);
			break;
		}
	}
	consumed = (uint16_t)(vq.last_avail_idx - base);
	if (pending <= vq.num) {
		FUZZ_ASSERT(consumed <= pending);
		FUZZ_ASSERT(vq.stats.popped + vq.stats.bad_chains == consumed);
	} else {
		FUZZ_ASSERT(vq.broken && consumed == 0);
	}

	if (log_max_level >= LOG_DEBUG)
		fprintf(stderr, "fuzz: num %u pending %u popped %llu bad %llu broken %d\n", vq.num,
			pending, (unsigned long long)vq.stats.popped,
			(unsigned long long)vq.stats.bad_chains, vq.broken);
	vq_notify(&vq);
	if (vq.addr_set && !vq.broken) {
		uint16_t used_idx;
		memcpy(&used_idx, mem + USED_OFF + 2, sizeof(used_idx));
		FUZZ_ASSERT(used_idx == vq.used_idx);
	}
	vq_disable_notify(&vq);
	(void)vq_enable_notify(&vq);
	vq_notify(&vq);
	return 0;
}
