/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "virtio/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

void gm_init(struct guest_mem *gm)
{
	memset(gm, 0, sizeof(*gm));
}

/* [a, a+alen) and [b, b+blen) intersect; lengths are non-zero and the
 * ends do not overflow (checked by the callers). */
static int ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int gm_add_region(struct guest_mem *gm, int fd, uint64_t gpa, uint64_t size,
		  uint64_t uva, uint64_t mmap_offset)
{
	struct gm_region *r;
	uint64_t map_len;
	void *base;

	if (size == 0 || gpa + size < gpa || uva + size < uva ||
	    mmap_offset + size < mmap_offset)
		return -EINVAL;
	map_len = mmap_offset + size;
	if (map_len > SIZE_MAX)
		return -EINVAL;
	if (gm->nregions >= GM_MAX_REGIONS)
		return -ENOSPC;
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct gm_region *o = &gm->regions[i];
		if (ranges_overlap(gpa, size, o->gpa, o->size) ||
		    ranges_overlap(uva, size, o->uva, o->size))
			return -EEXIST;
	}
	/* Map from offset 0 so that mmap_offset need not be page aligned. */
	base = mmap(NULL, (size_t)map_len, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (base == MAP_FAILED)
		return -errno;
	r = &gm->regions[gm->nregions++];
	r->gpa = gpa;
	r->size = size;
	r->uva = uva;
	r->map_base = base;
	r->map_len = (size_t)map_len;
	r->host = (uint8_t *)base + mmap_offset;
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
	for (unsigned i = 0; i < gm->nregions; i++)
		munmap(gm->regions[i].map_base, gm->regions[i].map_len);
	gm_init(gm);
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
