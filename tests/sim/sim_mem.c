/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Guest RAM of the simulator: one memfd, mapped once, announced to the
 * backend as nregions equal regions separated by a hole in GPA space (like a
 * PC's RAM below and above the PCI hole), so that the backend's multi-region
 * translation is exercised. Allocation is first-fit over per-region free
 * lists; buffers never straddle two regions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sim/sim_priv.h"

#define SIM_PAGE 4096ull

int sim_mem_init(struct sim_mem *mem, size_t size, unsigned nregions, uint64_t gap)
{
	uint64_t part, gpa = 0;
	unsigned i;

	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
	if (!nregions || nregions > SIM_MAX_REGIONS || size < nregions * SIM_PAGE)
		return -EINVAL;
	/* Backends mmap each region at its mmap_offset: keep both page-aligned. */
	part = (size / nregions) & ~(SIM_PAGE - 1);
	gap = (gap + SIM_PAGE - 1) & ~(SIM_PAGE - 1);

	mem->fd = memfd_create("vdv-sim-guest-ram", MFD_CLOEXEC);
	if (mem->fd < 0)
		return -errno;
	mem->size = part * nregions;
	if (ftruncate(mem->fd, (off_t)mem->size) < 0)
		goto err;
	mem->base = mmap(NULL, mem->size, PROT_READ | PROT_WRITE, MAP_SHARED, mem->fd, 0);
	if (mem->base == MAP_FAILED) {
		mem->base = NULL;
		goto err;
	}
	mem->nregions = nregions;
	for (i = 0; i < nregions; i++) {
		struct sim_region *r = &mem->r[i];

		r->gpa = gpa;
		r->size = part;
		r->offset = i * part;
		r->hva = mem->base + r->offset;
		r->capfree = 16;
		r->free = calloc(r->capfree, sizeof(*r->free));
		if (!r->free) {
			errno = ENOMEM;
			goto err;
		}
		r->free[0].off = 0;
		r->free[0].len = part;
		r->nfree = 1;
		gpa += part + gap;
	}
	return 0;
err:
	i = (unsigned)errno;
	sim_mem_fini(mem);
	return -(int)i;
}

void sim_mem_forget_all(struct sim_mem *mem)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		struct sim_region *r = &mem->r[i];

		r->free[0].off = 0;
		r->free[0].len = r->size;
		r->nfree = 1;
	}
	mem->next_region = 0;
}

void sim_mem_fini(struct sim_mem *mem)
{
	unsigned i;

	for (i = 0; i < SIM_MAX_REGIONS; i++)
		free(mem->r[i].free);
	if (mem->base)
		munmap(mem->base, mem->size);
	if (mem->fd >= 0)
		close(mem->fd);
	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
}

static void *region_alloc(struct sim_region *r, uint64_t size, uint64_t align, uint64_t *gpa)
{
	unsigned i;

	for (i = 0; i < r->nfree; i++) {
		struct sim_extent *e = &r->free[i];
		uint64_t start = (e->off + align - 1) & ~(align - 1);
		uint64_t pad = start - e->off;

		if (pad + size > e->len)
			continue;
		if (pad) {
			/* Keep the alignment padding as its own free extent. */
			if (r->nfree == r->capfree) {
				struct sim_extent *n = realloc(r->free, 2 * r->capfree * sizeof(*n));

				if (!n)
					return NULL;
				r->free = n;
				r->capfree *= 2;
				e = &r->free[i];
			}
			memmove(&r->free[i + 1], &r->free[i], (r->nfree - i) * sizeof(*e));
			r->nfree++;
			r->free[i].len = pad;
			e = &r->free[i + 1];
			e->off = start;
			e->len -= pad;
		}
		e->off += size;
		e->len -= size;
		if (!e->len) {
			unsigned k = (unsigned)(e - r->free);

			memmove(e, e + 1, (r->nfree - k - 1) * sizeof(*e));
			r->nfree--;
		}
		*gpa = r->gpa + start;
		return r->hva + start;
	}
	return NULL;
}

void *sim_mem_alloc(struct sim_mem *mem, size_t size, size_t align, uint64_t *gpa)
{
	unsigned k;

	if (!size || !mem->nregions)
		return NULL;
	if (align < 8)
		align = 8;
	if (align & (align - 1))
		return NULL;
	size = (size + 7) & ~(size_t)7;
	for (k = 0; k < mem->nregions; k++) {
		unsigned i = (mem->next_region + k) % mem->nregions;
		void *p = region_alloc(&mem->r[i], size, align, gpa);

		if (p) {
			mem->next_region = (i + 1) % mem->nregions;
			return p;
		}
	}
	return NULL;
}

static struct sim_region *region_of(struct sim_mem *mem, uint64_t gpa, uint64_t len)
{
	unsigned i;

	for (i = 0; i < mem->nregions; i++) {
		struct sim_region *r = &mem->r[i];

		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			return r;
	}
	return NULL;
}

void sim_mem_free(struct sim_mem *mem, uint64_t gpa, size_t size)
{
	struct sim_region *r;
	uint64_t off;
	unsigned i;

	size = (size + 7) & ~(size_t)7;
	r = region_of(mem, gpa, size);
	if (!size || !r)
		return;
	off = gpa - r->gpa;
	for (i = 0; i < r->nfree && r->free[i].off < off; i++)
		;
	/* Coalesce with the previous and/or next extent when they touch. */
	if (i > 0 && r->free[i - 1].off + r->free[i - 1].len == off) {
		r->free[i - 1].len += size;
		if (i < r->nfree && off + size == r->free[i].off) {
			r->free[i - 1].len += r->free[i].len;
			memmove(&r->free[i], &r->free[i + 1], (r->nfree - i - 1) * sizeof(r->free[0]));
			r->nfree--;
		}
		return;
	}
	if (i < r->nfree && off + size == r->free[i].off) {
		r->free[i].off = off;
		r->free[i].len += size;
		return;
	}
	if (r->nfree == r->capfree) {
		struct sim_extent *n = realloc(r->free, 2 * r->capfree * sizeof(*n));

		if (!n)
			return; /* leak the range rather than corrupt the list */
		r->free = n;
		r->capfree *= 2;
	}
	memmove(&r->free[i + 1], &r->free[i], (r->nfree - i) * sizeof(r->free[0]));
	r->free[i].off = off;
	r->free[i].len = size;
	r->nfree++;
}

void *sim_mem_ptr(struct sim_mem *mem, uint64_t gpa, size_t len)
{
	struct sim_region *r = region_of(mem, gpa, len);

	return r ? r->hva + (gpa - r->gpa) : NULL;
}

/* ---- public wrappers ---- */

void *sim_guest_alloc(struct sim *sim, size_t size, size_t align, uint64_t *gpa)
{
	return sim_mem_alloc(&sim->mem, size, align, gpa);
}

void sim_guest_free(struct sim *sim, uint64_t gpa, size_t size)
{
	sim_mem_free(&sim->mem, gpa, size);
}

void *sim_gpa_to_ptr(struct sim *sim, uint64_t gpa, size_t len)
{
	return sim_mem_ptr(&sim->mem, gpa, len);
}

unsigned sim_mem_nregions(const struct sim *sim)
{
	return sim->mem.nregions;
}

int sim_mem_region(const struct sim *sim, unsigned i, struct vu_mem_region *out)
{
	const struct sim_region *r;

	if (i >= sim->mem.nregions)
		return -EINVAL;
	r = &sim->mem.r[i];
	out->guest_phys_addr = r->gpa;
	out->memory_size = r->size;
	out->userspace_addr = (uint64_t)(uintptr_t)r->hva;
	out->mmap_offset = r->offset;
	return 0;
}

int sim_mem_fd(const struct sim *sim)
{
	return sim->mem.fd;
}
