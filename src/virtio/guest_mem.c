/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "virtio/guest_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

void gm_init(struct guest_mem *gm)
{
	memset(gm, 0, sizeof(*gm));
}

void gm_set_name(struct guest_mem *gm, const char *name)
{
	gm->name = name;
}

static const char *gm_name(const struct guest_mem *gm)
{
	return gm->name ? gm->name : "guest memory";
}

/* [a, a+alen) and [b, b+blen) intersect; lengths are non-zero and the
 * ends do not overflow (checked by the callers). */
static int ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/*
 * The file behind fd must hold [mmap_offset, mmap_offset + size): a mapping
 * past its end raises SIGBUS on first access. Only regular files (memfd,
 * tmpfs, hugetlbfs) have a size to check; other fds are taken as they are.
 */
static int check_file(const struct guest_mem *gm, int fd, uint64_t gpa, uint64_t size,
		      uint64_t mmap_offset)
{
	struct stat st;
	int seals;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return 0;
	if (st.st_size < 0 || (uint64_t)st.st_size < mmap_offset + size) {
		log_warn("%s: memory region gpa 0x%" PRIx64 " size 0x%" PRIx64
			 " at file offset 0x%" PRIx64 " ends at 0x%" PRIx64
			 ", beyond its file's size 0x%llx: refused",
			 gm_name(gm), gpa, size, mmap_offset, mmap_offset + size,
			 (unsigned long long)st.st_size);
		return -EINVAL;
	}
	/* Only shmem files (memfd, tmpfs) answer F_GET_SEALS. Without
	 * F_SEAL_SHRINK the VMM can still cut the file short under us: the
	 * SIGBUS that follows costs this VM its session (mem_fault.c). */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals >= 0 && !(seals & F_SEAL_SHRINK))
		log_warn("%s: memory region gpa 0x%" PRIx64 " size 0x%" PRIx64
			 " is a shared-memory file not sealed against shrinking (F_SEAL_SHRINK):"
			 " if the VMM shrinks it, this VM's session is dropped",
			 gm_name(gm), gpa, size);
	return 0;
}

int gm_add_region(struct guest_mem *gm, int fd, uint64_t gpa, uint64_t size,
		  uint64_t uva, uint64_t mmap_offset)
{
	struct gm_region *r;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), delta, map_off, map_len;
	void *base;
	int ret;

	if (size == 0 || gpa + size < gpa || uva + size < uva ||
	    mmap_offset + size < mmap_offset)
		return -EINVAL;
	/* Map from the page that holds mmap_offset: an mmap offset must be
	 * page aligned, and mapping from 0 would waste address space (and
	 * fail for a large offset). */
	delta = mmap_offset % page;
	map_off = mmap_offset - delta;
	map_len = delta + size;
	if (map_len < size || map_len > SIZE_MAX || map_off > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (gm->nregions >= GM_MAX_REGIONS)
		return -ENOSPC;
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct gm_region *o = &gm->regions[i];
		if (ranges_overlap(gpa, size, o->gpa, o->size) ||
		    ranges_overlap(uva, size, o->uva, o->size))
			return -EEXIST;
	}
	ret = check_file(gm, fd, gpa, size, mmap_offset);
	if (ret < 0)
		return ret;
	base = mmap(NULL, (size_t)map_len, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_NORESERVE, fd, (off_t)map_off);
	if (base == MAP_FAILED)
		return -errno;
	r = &gm->regions[gm->nregions];
	r->gpa = gpa;
	r->size = size;
	r->uva = uva;
	r->map_base = base;
	r->map_len = (size_t)map_len;
	r->host = (uint8_t *)base + delta;
	/* Publish the region only once it is complete: the SIGBUS handler
	 * of this thread reads the table (a compiler barrier suffices). */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	gm->nregions++;
	return 0;
}

int gm_remove_region(struct guest_mem *gm, uint64_t gpa, uint64_t size, uint64_t uva)
{
	for (unsigned i = 0; i < gm->nregions; i++) {
		struct gm_region *r = &gm->regions[i];
		if (r->gpa != gpa || r->size != size || r->uva != uva)
			continue;
		munmap(r->map_base, r->map_len);
		gm->regions[i] = gm->regions[--gm->nregions];
		memset(&gm->regions[gm->nregions], 0, sizeof(*r));
		return 0;
	}
	return -ENOENT;
}

void gm_clear(struct guest_mem *gm)
{
	const char *name = gm->name;
	struct guest_mem *next = gm->fault_next;
	bool attached = gm->fault_attached;

	for (unsigned i = 0; i < gm->nregions; i++)
		munmap(gm->regions[i].map_base, gm->regions[i].map_len);
	gm_init(gm);
	gm->name = name;
	/* Still on its thread's SIGBUS list (virtio/mem_fault.c). */
	gm->fault_next = next;
	gm->fault_attached = attached;
}

/* The region holding addr (by GPA or UVA); len bytes from addr must fit. */
static const struct gm_region *find(const struct guest_mem *gm, uint64_t addr,
				    uint64_t len, int by_uva)
{
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		uint64_t start = by_uva ? r->uva : r->gpa;
		if (addr < start || addr - start >= r->size)
			continue;
		if (len > r->size - (addr - start))
			return NULL;
		return r;
	}
	return NULL;
}

void *gm_gpa_to_host(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	const struct gm_region *r = find(gm, gpa, len ? len : 1, 0);

	return r ? r->host + (gpa - r->gpa) : NULL;
}

void *gm_uva_to_host(const struct guest_mem *gm, uint64_t uva, uint64_t len)
{
	const struct gm_region *r = find(gm, uva, len ? len : 1, 1);

	return r ? r->host + (uva - r->uva) : NULL;
}

int gm_gpa_to_iov(const struct guest_mem *gm, uint64_t gpa, uint64_t len,
		  struct iovec *iov, unsigned max, unsigned *n)
{
	if (gpa + len < gpa)
		return -EFAULT;
	while (len > 0) {
		const struct gm_region *r = find(gm, gpa, 1, 0);
		uint64_t off, chunk;

		if (!r)
			return -EFAULT;
		if (*n >= max)
			return -E2BIG;
		off = gpa - r->gpa;
		chunk = r->size - off;
		if (chunk > len)
			chunk = len;
		iov[*n].iov_base = r->host + off;
		iov[*n].iov_len = (size_t)chunk;
		(*n)++;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}
