/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Guest memory as the frontend shared it: a small table of regions, each an
 * mmap of an fd the frontend sent. Owns the mappings. Every translation from
 * a guest-physical (GPA) or frontend-virtual (UVA) address is bounds-checked:
 * a range that is not entirely inside mapped memory yields NULL / -EFAULT.
 */
#ifndef VDV_VIRTIO_GUEST_MEM_H
#define VDV_VIRTIO_GUEST_MEM_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/uio.h>

#define GM_MAX_REGIONS 32

struct gm_region {
	uint64_t gpa;         /* guest-physical start */
	uint64_t size;
	uint64_t uva;         /* the frontend's virtual address of gpa */
	uint8_t *host;        /* our address of gpa */
	void *map_base;       /* what mmap returned (host minus mmap_offset's
			       * offset inside its page) */
	size_t map_len;
};

struct guest_mem {
	struct gm_region regions[GM_MAX_REGIONS];
	unsigned nregions;
	const char *name;     /* for log lines ("vm cid 3"); kept by gm_clear */
	/* Set by the SIGBUS handler (virtio/mem_fault.c) when an access to a
	 * region faulted: the region now maps anonymous zero pages, and the
	 * owner must drop the session (gm_fault_take). */
	volatile sig_atomic_t faulted;
	uint64_t fault_gpa;   /* the guest address that faulted first */
	uint64_t fault_region_gpa, fault_region_size;
	/* The thread's list of attached memories (mem_fault.c); kept by
	 * gm_clear. */
	struct guest_mem *fault_next;
	bool fault_attached;
};

void gm_init(struct guest_mem *gm);
/* Names the owner in log lines; name must outlive gm. */
void gm_set_name(struct guest_mem *gm, const char *name);

/*
 * Maps size bytes of fd starting at mmap_offset and records them as guest
 * memory [gpa, gpa+size) seen by the frontend at uva. The fd is not
 * consumed. Fails with -EINVAL for empty or overflowing ranges or when a
 * regular file is smaller than mmap_offset + size (logged with both sizes:
 * the access would raise SIGBUS), -EEXIST if the GPA or UVA range overlaps
 * a mapped region, -ENOSPC when the table is full, or the mmap error.
 * Warns (once, here) when fd is a shmem/memfd file whose shrinking is not
 * sealed (F_SEAL_SHRINK): the VMM could still cut it short later.
 */
int gm_add_region(struct guest_mem *gm, int fd, uint64_t gpa, uint64_t size,
		  uint64_t uva, uint64_t mmap_offset);

/* Unmaps the region that matches exactly (gpa, size, uva); -ENOENT if none. */
int gm_remove_region(struct guest_mem *gm, uint64_t gpa, uint64_t size, uint64_t uva);

/* Unmaps everything. */
void gm_clear(struct guest_mem *gm);

/* Host pointer for [gpa, gpa+len) if it lies within a single region. */
void *gm_gpa_to_host(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Same for a frontend-virtual address (vring addresses are given as UVAs). */
void *gm_uva_to_host(const struct guest_mem *gm, uint64_t uva, uint64_t len);

/*
 * Appends iovecs covering [gpa, gpa+len) to iov[*n..max), splitting where the
 * range crosses from one region into an adjacent one. Returns 0, -EFAULT if
 * any byte is unmapped, or -E2BIG if more than max entries would be needed.
 * len 0 appends nothing.
 */
int gm_gpa_to_iov(const struct guest_mem *gm, uint64_t gpa, uint64_t len,
		  struct iovec *iov, unsigned max, unsigned *n);

#endif
