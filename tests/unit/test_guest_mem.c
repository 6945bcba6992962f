/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Guest memory map: every translation is bounds-checked against the region
 * table, so the edges (first/last byte, one past, straddles, wrap-around of
 * 64-bit arithmetic, gaps and adjacent regions) are what matters here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "stderr_capture.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "virtio/guest_mem.h"
#include "virtio/mem_fault.h"

#define PAGE 0x1000ull
/* Frontend UVAs are arbitrary numbers, deliberately far from GPAs and
 * never mapped in this process. */
#define UVA_DELTA 0x7f0000000000ull

/* A memfd of size bytes whose byte i is (i * 7 + seed) & 0xff, so that a
 * wrong offset reads a wrong value. */
static int make_memfd(uint64_t size, unsigned seed)
{
	int fd = memfd_create("gm-test", MFD_CLOEXEC);
	uint8_t *p;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	for (uint64_t i = 0; i < size; i++)
		p[i] = (uint8_t)(i * 7 + seed);
	munmap(p, size);
	return fd;
}

static uint8_t pattern(uint64_t off, unsigned seed)
{
	return (uint8_t)(off * 7 + seed);
}

struct gm_fixture {
	struct guest_mem gm;
	int fd[3];
};

static int setup(void **state)
{
	struct gm_fixture *f = test_malloc(sizeof(*f));

	gm_init(&f->gm);
	for (int i = 0; i < 3; i++)
		f->fd[i] = make_memfd(4 * PAGE, (unsigned)i * 50 + 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct gm_fixture *f = *state;

	gm_clear(&f->gm);
	for (int i = 0; i < 3; i++)
		close(f->fd[i]);
	test_free(f);
	return 0;
}

#define A_GPA 0x10000ull
#define A_SIZE (4 * PAGE)

/* One region A = [A_GPA, A_GPA + A_SIZE) from fd[0]. */
static void add_a(struct gm_fixture *f)
{
	assert_int_equal(gm_add_region(&f->gm, f->fd[0], A_GPA, A_SIZE,
				       UVA_DELTA + A_GPA, 0), 0);
}

static void test_gpa_edges(void **state)
{
	struct gm_fixture *f = *state;
	uint8_t *first, *last;

	add_a(f);
	first = gm_gpa_to_host(&f->gm, A_GPA, 1);
	assert_non_null(first);
	assert_int_equal(*first, pattern(0, 1));
	last = gm_gpa_to_host(&f->gm, A_GPA + A_SIZE - 1, 1);
	assert_ptr_equal(last, first + A_SIZE - 1);
	assert_int_equal(*last, pattern(A_SIZE - 1, 1));
	/* The whole region in one go, and not a byte more. */
	assert_ptr_equal(gm_gpa_to_host(&f->gm, A_GPA, A_SIZE), first);
	assert_null(gm_gpa_to_host(&f->gm, A_GPA, A_SIZE + 1));
	/* One past the end, one before the start. */
	assert_null(gm_gpa_to_host(&f->gm, A_GPA + A_SIZE, 1));
	assert_null(gm_gpa_to_host(&f->gm, A_GPA - 1, 1));
	/* Ranges straddling either end. */
	assert_null(gm_gpa_to_host(&f->gm, A_GPA + A_SIZE - 4, 8));
	assert_null(gm_gpa_to_host(&f->gm, A_GPA - 4, 8));
	/* The same edges through the iovec path. */
	{
		struct iovec iov[4];
		unsigned n = 0;

		assert_int_equal(gm_gpa_to_iov(&f->gm, A_GPA + A_SIZE - 4, 4, iov, 4, &n), 0);
		assert_int_equal(n, 1);
		assert_ptr_equal(iov[0].iov_base, last - 3);
		assert_int_equal(iov[0].iov_len, 4);
		assert_int_equal(gm_gpa_to_iov(&f->gm, A_GPA + A_SIZE - 4, 5, iov, 4, &n),
				 -EFAULT);
		n = 0;
		assert_int_equal(gm_gpa_to_iov(&f->gm, A_GPA + A_SIZE, 1, iov, 4, &n),
				 -EFAULT);
	}
}

static void test_zero_length(void **state)
{
	struct gm_fixture *f = *state;
	struct iovec iov[2];
	unsigned n = 1;

	add_a(f);
	/* A zero-length range is checked like one byte at its address. */
	assert_non_null(gm_gpa_to_host(&f->gm, A_GPA + A_SIZE - 1, 0));
	assert_null(gm_gpa_to_host(&f->gm, A_GPA + A_SIZE, 0));
	/* gm_gpa_to_iov appends nothing for len 0, whatever the address. */
	assert_int_equal(gm_gpa_to_iov(&f->gm, A_GPA, 0, iov, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(gm_gpa_to_iov(&f->gm, 0xdead0000ull, 0, iov, 2, &n), 0);
	assert_int_equal(n, 1);
}

static void test_adjacent_regions(void **state)
{
	struct gm_fixture *f = *state;
	struct iovec iov[4];
	unsigned n;
	uint8_t *a_end, *b;

	add_a(f);
	/* B = [A end, +2 pages) from another fd: contiguous GPAs, unrelated
	 * host mappings, so a range across the seam needs two iovecs. */
	assert_int_equal(gm_add_region(&f->gm, f->fd[1], A_GPA + A_SIZE, 2 * PAGE,
				       UVA_DELTA + A_GPA + A_SIZE, 0), 0);
	a_end = gm_gpa_to_host(&f->gm, A_GPA + A_SIZE - 0x10, 0x10);
	b = gm_gpa_to_host(&f->gm, A_GPA + A_SIZE, 0x10);
	assert_non_null(a_end);
	assert_non_null(b);
	assert_int_equal(*b, pattern(0, 51));

	n = 0;
	assert_int_equal(gm_gpa_to_iov(&f->gm, A_GPA + A_SIZE - 0x10, 0x30, iov, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_ptr_equal(iov[0].iov_base, a_end);
	assert_int_equal(iov[0].iov_len, 0x10);
	assert_ptr_equal(iov[1].iov_base, b);
	assert_int_equal(iov[1].iov_len, 0x20);
	assert_int_equal(((uint8_t *)iov[0].iov_base)[0xf], pattern(A_SIZE - 1, 1));
	assert_int_equal(((uint8_t *)iov[1].iov_base)[0x1f], pattern(0x1f, 51));

	/* A single host pointer cannot cover two mappings. */
	assert_null(gm_gpa_to_host(&f->gm, A_GPA + A_SIZE - 0x10, 0x30));

	/* Appends after existing entries, and respects max. */
	n = 2;
	assert_int_equal(gm_gpa_to_iov(&f->gm, A_GPA + A_SIZE - 1, 2, iov, 4, &n), 0);
	assert_int_equal(n, 4);
	assert_ptr_equal(iov[2].iov_base, a_end + 0xf);
	assert_int_equal(iov[2].iov_len, 1);
	assert_ptr_equal(iov[3].iov_base, b);
	assert_int_equal(iov[3].iov_len, 1);
	n = 0;
	assert_int_equal(gm_gpa_to_iov(&f->gm, A_GPA + A_SIZE - 1, 2, iov, 1, &n), -E2BIG);
	n = 4;
	assert_int_equal(gm_gpa_to_iov(&f->gm, A_GPA, 1, iov, 4, &n), -E2BIG);
	/* Running past B's end still fails as a whole. */
	n = 0;
	assert_int_equal(gm_gpa_to_iov(&f->gm, A_GPA + A_SIZE - 1, 2 * PAGE + 2, iov, 4, &n),
			 -EFAULT);
}

static void test_gap(void **state)
{
	struct gm_fixture *f = *state;
	struct iovec iov[4];
	unsigned n = 0;
	uint64_t c_gpa = A_GPA + A_SIZE + PAGE;   /* one page of hole */

	add_a(f);
	assert_int_equal(gm_add_region(&f->gm, f->fd[1], c_gpa, PAGE, UVA_DELTA + c_gpa, 0), 0);
	assert_null(gm_gpa_to_host(&f->gm, A_GPA + A_SIZE, 1));
	assert_null(gm_gpa_to_host(&f->gm, c_gpa - 1, 1));
	assert_non_null(gm_gpa_to_host(&f->gm, c_gpa, 1));
	assert_int_equal(gm_gpa_to_iov(&f->gm, A_GPA + A_SIZE - 8, PAGE + 16, iov, 4, &n),
			 -EFAULT);
	n = 0;
	assert_int_equal(gm_gpa_to_iov(&f->gm, A_GPA + A_SIZE + 8, 8, iov, 4, &n), -EFAULT);
	n = 0;
	assert_int_equal(gm_gpa_to_iov(&f->gm, c_gpa - 1, 2, iov, 4, &n), -EFAULT);
}

static void test_overflow(void **state)
{
	struct gm_fixture *f = *state;
	struct iovec iov[4];
	unsigned n = 0;
	/* A region near the top of the 64-bit space, so that wrapping sums
	 * would land back inside "valid" arithmetic. */
	const uint64_t top = UINT64_MAX - 2 * PAGE + 1;   /* ends at 2^64 - PAGE */

	add_a(f);
	assert_null(gm_gpa_to_host(&f->gm, A_GPA, UINT64_MAX));
	assert_null(gm_gpa_to_host(&f->gm, A_GPA + 1, UINT64_MAX));
	assert_int_equal(gm_gpa_to_iov(&f->gm, A_GPA, UINT64_MAX, iov, 4, &n), -EFAULT);
	n = 0;
	/* gpa + len wraps to a small number that is inside A. */
	assert_int_equal(gm_gpa_to_iov(&f->gm, UINT64_MAX - 0xf, A_GPA + 0x20, iov, 4, &n),
			 -EFAULT);

	assert_int_equal(gm_add_region(&f->gm, f->fd[1], top, PAGE, UVA_DELTA, 0), 0);
	assert_non_null(gm_gpa_to_host(&f->gm, top + PAGE - 0x10, 0x10));
	assert_null(gm_gpa_to_host(&f->gm, top + PAGE - 0x10, 0x11));
	assert_null(gm_gpa_to_host(&f->gm, top + 0x10, UINT64_MAX - 8));
	n = 0;
	assert_int_equal(gm_gpa_to_iov(&f->gm, top + PAGE - 0x10, 0x10, iov, 4, &n), 0);
	assert_int_equal(n, 1);
	n = 0;
	/* top + 0x10 + len wraps into A: must not be split into A. */
	assert_int_equal(gm_gpa_to_iov(&f->gm, top + 0x10, (0 - (top + 0x10)) + A_GPA + 8,
				       iov, 4, &n), -EFAULT);

	/* Regions whose end does not fit in 64 bits are refused. A region
	 * ending exactly at 2^64 is refused too: keeping every end
	 * representable is what makes the "gpa + len < gpa" checks exact. */
	assert_int_equal(gm_add_region(&f->gm, f->fd[2], UINT64_MAX - PAGE + 2, PAGE,
				       UVA_DELTA + 0x100000000ull, 0), -EINVAL);
	assert_int_equal(gm_add_region(&f->gm, f->fd[2], UINT64_MAX - PAGE + 1, PAGE,
				       UVA_DELTA + 0x100000000ull, 0), -EINVAL);
	assert_int_equal(gm_add_region(&f->gm, f->fd[2], 0x100000000ull, PAGE,
				       UINT64_MAX - 10, 0), -EINVAL);
	assert_int_equal(gm_add_region(&f->gm, f->fd[2], 0x100000000ull, PAGE,
				       UVA_DELTA + 0x100000000ull, UINT64_MAX - 10), -EINVAL);
	assert_int_equal(gm_add_region(&f->gm, f->fd[2], 0x100000000ull, 0,
				       UVA_DELTA + 0x100000000ull, 0), -EINVAL);
	assert_int_equal(f->gm.nregions, 2);
}

static void test_overlap_rejected(void **state)
{
	struct gm_fixture *f = *state;

	add_a(f);
	/* GPA overlaps: inside, across either end, containing, identical. */
	assert_int_equal(gm_add_region(&f->gm, f->fd[1], A_GPA + PAGE, PAGE,
				       0x1000000000ull, 0), -EEXIST);
	assert_int_equal(gm_add_region(&f->gm, f->fd[1], A_GPA + A_SIZE - 1, PAGE,
				       0x1000000000ull, 0), -EEXIST);
	assert_int_equal(gm_add_region(&f->gm, f->fd[1], A_GPA - PAGE, PAGE + 1,
				       0x1000000000ull, 0), -EEXIST);
	assert_int_equal(gm_add_region(&f->gm, f->fd[1], 0, 0x100000, 0x1000000000ull, 0),
			 -EEXIST);
	assert_int_equal(gm_add_region(&f->gm, f->fd[1], A_GPA, A_SIZE, 0x1000000000ull, 0),
			 -EEXIST);
	/* Disjoint GPAs but the UVA range overlaps A's. */
	assert_int_equal(gm_add_region(&f->gm, f->fd[1], 0x100000, PAGE,
				       UVA_DELTA + A_GPA + A_SIZE - PAGE, 0), -EEXIST);
	assert_int_equal(f->gm.nregions, 1);
	/* Touching is not overlapping, on either side. */
	assert_int_equal(gm_add_region(&f->gm, f->fd[1], A_GPA + A_SIZE, PAGE,
				       UVA_DELTA + A_GPA + A_SIZE, 0), 0);
	assert_int_equal(gm_add_region(&f->gm, f->fd[2], A_GPA - PAGE, PAGE,
				       UVA_DELTA + A_GPA - PAGE, 0), 0);
	assert_int_equal(f->gm.nregions, 3);
	/* The failed attempts left A translating to its own memory. */
	assert_int_equal(*(uint8_t *)gm_gpa_to_host(&f->gm, A_GPA + 5, 1), pattern(5, 1));
}

static void test_table_full(void **state)
{
	struct gm_fixture *f = *state;

	/* The fd is not consumed: one fd may back many regions. */
	for (unsigned i = 0; i < GM_MAX_REGIONS; i++)
		assert_int_equal(gm_add_region(&f->gm, f->fd[0], i * 0x10000ull, PAGE,
					       UVA_DELTA + i * 0x10000ull, i * PAGE % A_SIZE), 0);
	assert_int_equal(f->gm.nregions, GM_MAX_REGIONS);
	assert_int_equal(gm_add_region(&f->gm, f->fd[0], 0x10000000ull, PAGE,
				       UVA_DELTA + 0x10000000ull, 0), -ENOSPC);
	/* The last one added still translates. */
	assert_non_null(gm_gpa_to_host(&f->gm, (GM_MAX_REGIONS - 1) * 0x10000ull, PAGE));
	/* Freeing a slot makes room again. */
	assert_int_equal(gm_remove_region(&f->gm, 0x30000, PAGE, UVA_DELTA + 0x30000), 0);
	assert_int_equal(gm_add_region(&f->gm, f->fd[0], 0x10000000ull, PAGE,
				       UVA_DELTA + 0x10000000ull, 0), 0);
	assert_int_equal(f->gm.nregions, GM_MAX_REGIONS);
}

static void test_remove_exact(void **state)
{
	struct gm_fixture *f = *state;
	const uint64_t b_gpa = 0x100000, c_gpa = 0x200000;

	add_a(f);
	assert_int_equal(gm_add_region(&f->gm, f->fd[1], b_gpa, PAGE, UVA_DELTA + b_gpa, 0), 0);
	assert_int_equal(gm_add_region(&f->gm, f->fd[2], c_gpa, 2 * PAGE, UVA_DELTA + c_gpa, 0), 0);

	/* Almost-matching triples remove nothing. */
	assert_int_equal(gm_remove_region(&f->gm, A_GPA, A_SIZE - PAGE, UVA_DELTA + A_GPA),
			 -ENOENT);
	assert_int_equal(gm_remove_region(&f->gm, A_GPA + PAGE, A_SIZE, UVA_DELTA + A_GPA),
			 -ENOENT);
	assert_int_equal(gm_remove_region(&f->gm, A_GPA, A_SIZE, UVA_DELTA + A_GPA + PAGE),
			 -ENOENT);
	assert_int_equal(f->gm.nregions, 3);
	assert_non_null(gm_gpa_to_host(&f->gm, A_GPA, 1));

	/* Removing the first entry must keep the others (moved in the
	 * table) translating to their own memory. */
	assert_int_equal(gm_remove_region(&f->gm, A_GPA, A_SIZE, UVA_DELTA + A_GPA), 0);
	assert_int_equal(f->gm.nregions, 2);
	assert_null(gm_gpa_to_host(&f->gm, A_GPA, 1));
	assert_null(gm_uva_to_host(&f->gm, UVA_DELTA + A_GPA, 1));
	assert_int_equal(*(uint8_t *)gm_gpa_to_host(&f->gm, b_gpa + 3, 1), pattern(3, 51));
	assert_int_equal(*(uint8_t *)gm_gpa_to_host(&f->gm, c_gpa + PAGE + 3, 1),
			 pattern(PAGE + 3, 101));
	assert_int_equal(gm_remove_region(&f->gm, A_GPA, A_SIZE, UVA_DELTA + A_GPA), -ENOENT);
	/* The freed range can be mapped again. */
	add_a(f);
	assert_int_equal(f->gm.nregions, 3);
}

static void test_uva(void **state)
{
	struct gm_fixture *f = *state;
	uint8_t *h = NULL;

	add_a(f);
	h = gm_gpa_to_host(&f->gm, A_GPA, 1);
	assert_ptr_equal(gm_uva_to_host(&f->gm, UVA_DELTA + A_GPA, 1), h);
	assert_ptr_equal(gm_uva_to_host(&f->gm, UVA_DELTA + A_GPA + 0x123, 0x10), h + 0x123);
	assert_ptr_equal(gm_uva_to_host(&f->gm, UVA_DELTA + A_GPA + A_SIZE - 1, 1),
			 h + A_SIZE - 1);
	assert_null(gm_uva_to_host(&f->gm, UVA_DELTA + A_GPA + A_SIZE, 1));
	assert_null(gm_uva_to_host(&f->gm, UVA_DELTA + A_GPA + A_SIZE - 2, 4));
	assert_null(gm_uva_to_host(&f->gm, UVA_DELTA + A_GPA - 1, 1));
	/* A GPA is not a UVA and vice versa. */
	assert_null(gm_uva_to_host(&f->gm, A_GPA, 1));
	assert_null(gm_gpa_to_host(&f->gm, UVA_DELTA + A_GPA, 1));
}

static void test_mmap_offset(void **state)
{
	struct gm_fixture *f = *state;
	const uint64_t off = 0x1234;          /* not page aligned */
	uint8_t *p;

	assert_int_equal(gm_add_region(&f->gm, f->fd[0], A_GPA, PAGE, UVA_DELTA + A_GPA, off), 0);
	p = gm_gpa_to_host(&f->gm, A_GPA, 1);
	assert_non_null(p);
	assert_int_equal(*p, pattern(off, 1));
	assert_int_equal(*(uint8_t *)gm_gpa_to_host(&f->gm, A_GPA + PAGE - 1, 1),
			 pattern(off + PAGE - 1, 1));
	assert_int_equal(*(uint8_t *)gm_uva_to_host(&f->gm, UVA_DELTA + A_GPA + 0x10, 1),
			 pattern(off + 0x10, 1));
	assert_null(gm_gpa_to_host(&f->gm, A_GPA + PAGE, 1));

	/* A page-aligned offset into the same fd, as a second region. */
	assert_int_equal(gm_add_region(&f->gm, f->fd[0], 0x100000, PAGE, UVA_DELTA + 0x100000,
				       3 * PAGE), 0);
	assert_int_equal(*(uint8_t *)gm_gpa_to_host(&f->gm, 0x100000 + 7, 1),
			 pattern(3 * PAGE + 7, 1));
}

static void test_shared_writes(void **state)
{
	struct gm_fixture *f = *state;
	uint8_t *dev, *drv;

	/* Device writes must reach the guest: the mapping has to be shared
	 * with the fd, not a private copy. */
	add_a(f);
	dev = gm_gpa_to_host(&f->gm, A_GPA + 0x40, 4);
	memcpy(dev, "vsck", 4);
	drv = mmap(NULL, A_SIZE, PROT_READ, MAP_SHARED, f->fd[0], 0);
	assert_true(drv != MAP_FAILED);
	assert_memory_equal(drv + 0x40, "vsck", 4);
	munmap(drv, A_SIZE);
}

static void test_bad_fd_and_clear(void **state)
{
	struct gm_fixture *f = *state;

	assert_int_equal(gm_add_region(&f->gm, -1, A_GPA, PAGE, UVA_DELTA + A_GPA, 0), -EBADF);
	assert_int_equal(f->gm.nregions, 0);
	add_a(f);
	assert_int_equal(gm_add_region(&f->gm, f->fd[1], 0x100000, PAGE,
				       UVA_DELTA + 0x100000, 0), 0);
	gm_clear(&f->gm);
	assert_int_equal(f->gm.nregions, 0);
	assert_null(gm_gpa_to_host(&f->gm, A_GPA, 1));
	assert_null(gm_gpa_to_host(&f->gm, 0x100000, 1));
	add_a(f);
	assert_non_null(gm_gpa_to_host(&f->gm, A_GPA, 1));
}


static void test_region_beyond_file(void **state)
{
	struct gm_fixture *f = *state;   /* fd[0] holds 4 pages */
	const char *log;

	gm_set_name(&f->gm, "vm cid 9");
	/* One page more than the file, and the file's size from an offset. */
	cap_begin();
	assert_int_equal(gm_add_region(&f->gm, f->fd[0], A_GPA, 5 * PAGE,
				       UVA_DELTA + A_GPA, 0), -EINVAL);
	log = cap_end();
	assert_non_null(strstr(log, "vm cid 9: memory region gpa 0x10000 size 0x5000"));
	assert_non_null(strstr(log, "ends at 0x5000, beyond its file's size 0x4000"));
	assert_int_equal(gm_add_region(&f->gm, f->fd[0], A_GPA, 4 * PAGE,
				       UVA_DELTA + A_GPA, PAGE), -EINVAL);
	assert_int_equal(gm_add_region(&f->gm, f->fd[0], A_GPA, 0x11,
				       UVA_DELTA + A_GPA, 4 * PAGE - 0x10), -EINVAL);
	assert_int_equal(f->gm.nregions, 0);
	/* Up to the file's last byte is fine. */
	assert_int_equal(gm_add_region(&f->gm, f->fd[0], A_GPA, 3 * PAGE,
				       UVA_DELTA + A_GPA, PAGE), 0);
	assert_int_equal(gm_add_region(&f->gm, f->fd[0], 0x100000, 0x10,
				       UVA_DELTA + 0x100000, 4 * PAGE - 0x10), 0);
	assert_int_equal(*(uint8_t *)gm_gpa_to_host(&f->gm, 0x100000 + 0xf, 1),
			 pattern(4 * PAGE - 1, 1));
	/* Not a regular file (a device has no size to check): mapped. */
	int zfd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	assert_true(zfd >= 0);
	assert_int_equal(gm_add_region(&f->gm, zfd, 0x200000, PAGE,
				       UVA_DELTA + 0x200000, 0), 0);
	close(zfd);
}

static void test_map_from_offset_page(void **state)
{
	struct gm_fixture *f = *state;
	const uint64_t off = (64ull << 20) + 0x234; /* large, not page aligned */
	int fd = memfd_create("gm-test-big", MFD_CLOEXEC);
	const struct gm_region *r;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(off + 2 * PAGE)), 0); /* sparse */
	assert_int_equal(pwrite(fd, "\x5a", 1, (off_t)off), 1);
	assert_int_equal(pwrite(fd, "\xa5", 1, (off_t)(off + PAGE - 1)), 1);
	assert_int_equal(gm_add_region(&f->gm, fd, A_GPA, PAGE, UVA_DELTA + A_GPA, off), 0);
	r = &f->gm.regions[0];
	/* Mapped from the page that holds the offset, not from 0. */
	assert_int_equal(r->map_len, 0x234 + PAGE);
	assert_ptr_equal(r->host, (uint8_t *)r->map_base + 0x234);
	assert_int_equal(*(uint8_t *)gm_gpa_to_host(&f->gm, A_GPA, 1), 0x5a);
	assert_int_equal(*(uint8_t *)gm_gpa_to_host(&f->gm, A_GPA + PAGE - 1, 1), 0xa5);
	close(fd);
}

static void test_unsealed_warning(void **state)
{
	struct gm_fixture *f = *state;
	int fd = memfd_create("gm-test-seal", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	const char *log;

	gm_set_name(&f->gm, "vm cid 9");
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(2 * PAGE)), 0);
	cap_begin();
	assert_int_equal(gm_add_region(&f->gm, fd, A_GPA, PAGE, UVA_DELTA + A_GPA, 0), 0);
	log = cap_end();
	assert_non_null(strstr(log, "vm cid 9: memory region gpa 0x10000 size 0x1000 is a "
				    "shared-memory file not sealed against shrinking"));
	/* Sealed as QEMU's memfd backend does by default: nothing to say. */
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	cap_begin();
	assert_int_equal(gm_add_region(&f->gm, fd, 0x100000, PAGE, UVA_DELTA + 0x100000,
				       PAGE), 0);
	log = cap_end();
	assert_string_equal(log, "");
	close(fd);
}

/* The VMM cuts the file short after the mapping: the next access raises
 * SIGBUS. With the memory attached to this thread it is survived: the
 * access reads zeros, and the fault is reported once. */
static void test_shrunk_after_mapping(void **state)
{
	struct gm_fixture *f = *state;
	volatile uint8_t *p;
	struct gm_fault flt;

	add_a(f);
	p = gm_gpa_to_host(&f->gm, A_GPA + 2 * PAGE + 5, 1);
	assert_int_equal(*p, pattern(2 * PAGE + 5, 1));
	assert_int_equal(gm_fault_attach(&f->gm), 0);
	assert_false(gm_fault_take(&f->gm, &flt));
	assert_int_equal(ftruncate(f->fd[0], (off_t)PAGE), 0);
	assert_int_equal(*p, 0);
	*p = 7; /* writes land too (in the zero pages, not the file) */
	assert_int_equal(*p, 7);
	assert_true(gm_fault_take(&f->gm, &flt));
	assert_int_equal(flt.gpa, A_GPA + 2 * PAGE + 5);
	assert_int_equal(flt.region_gpa, A_GPA);
	assert_int_equal(flt.region_size, A_SIZE);
	assert_false(gm_fault_take(&f->gm, &flt));
	gm_fault_detach(&f->gm);
}

/* A worker thread serves several VMs: with two memories attached to this
 * thread, a fault in the second is caught and charged to it alone; once
 * detached, a memory is no longer looked at (its fault would not be ours,
 * checked in a child, where it kills). */
static void test_two_memories_one_thread(void **state)
{
	struct gm_fixture *f = *state;
	struct guest_mem other;
	volatile uint8_t *p;
	struct gm_fault flt;

	gm_init(&other);
	add_a(f);
	assert_int_equal(gm_add_region(&other, f->fd[1], A_GPA, A_SIZE, UVA_DELTA + A_GPA, 0), 0);
	assert_int_equal(gm_fault_attach(&f->gm), 0);
	assert_int_equal(gm_fault_attach(&other), 0);
	p = gm_gpa_to_host(&other, A_GPA + PAGE, 1);
	assert_int_equal(*p, pattern(PAGE, 51));
	assert_int_equal(ftruncate(f->fd[1], 0), 0);
	assert_int_equal(*p, 0);
	assert_false(gm_fault_take(&f->gm, &flt));
	assert_true(gm_fault_take(&other, &flt));
	assert_int_equal(flt.gpa, A_GPA + PAGE);
	/* The first memory still works as before, and survives its own. */
	p = gm_gpa_to_host(&f->gm, A_GPA + 3 * PAGE, 1);
	assert_int_equal(*p, pattern(3 * PAGE, 1));
	assert_int_equal(ftruncate(f->fd[0], PAGE), 0);
	assert_int_equal(*p, 0);
	assert_true(gm_fault_take(&f->gm, &flt));
	gm_fault_detach(&other);
	gm_fault_detach(&f->gm);
	/* gm_clear keeps nothing attached once detached. */
	assert_false(other.fault_attached);
	gm_clear(&other);
}

/* A SIGBUS outside the attached memory is not swallowed: the process dies
 * of it as it would without the handler (checked in a child). */
static void test_fault_elsewhere_kills(void **state)
{
	struct gm_fixture *f = *state;
	int status = 0;
	pid_t pid, w = 0;

	add_a(f);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = memfd_create("gm-test-other", 0);
		volatile uint8_t *q;

		signal(SIGBUS, SIG_DFL); /* not cmocka's: the default */
		if (fd < 0 || ftruncate(fd, (off_t)PAGE) < 0 || gm_fault_attach(&f->gm) < 0)
			_exit(2);
		q = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
		if (q == MAP_FAILED || ftruncate(fd, 0) < 0)
			_exit(3);
		(void)*q;
		_exit(0);
	}
	/* Bounded wait: 5 s at most. */
	for (int i = 0; i < 500 && w == 0; i++) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == 0)
			nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail_msg("child did not end");
	}
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGBUS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_gpa_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adjacent_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uva, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmap_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_fd_and_clear, setup, teardown),
		cmocka_unit_test_setup_teardown(test_region_beyond_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_from_offset_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsealed_warning, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shrunk_after_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_memories_one_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_elsewhere_kills, setup, teardown),
	};

	return cmocka_run_group_tests_name("guest_mem", tests, NULL, NULL);
}
