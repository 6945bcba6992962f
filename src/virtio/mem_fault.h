/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Surviving SIGBUS in guest memory. A region the VMM announced is an mmap of
 * its file; if the file is shorter than the region (cut short after the
 * mapping: add-time sizes are checked in guest_mem.c), touching the missing
 * part raises SIGBUS, which would kill every VM of the process.
 *
 * A thread that serves VMs attaches each VM's guest memory (a worker thread
 * serves many). The handler, when the faulting address lies in a region
 * of one of the memories attached by the faulting thread,
 * maps anonymous zero pages over the whole region and returns: the access
 * is repeated and succeeds, the code that made it goes on with zeros (which
 * it must cope with anyway: guest memory is untrusted), and the region is
 * recorded as faulted. The owner looks once per loop turn (gm_fault_take)
 * and drops the session. The fast path costs nothing: no arming per access,
 * no jump buffer, only a flag read per turn. A SIGBUS anywhere else goes to
 * the previous disposition (by default: the process dies as it would have).
 */
#ifndef VDV_VIRTIO_MEM_FAULT_H
#define VDV_VIRTIO_MEM_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/guest_mem.h"

/*
 * Installs the process' SIGBUS handler (unless it is in place already) and
 * adds gm to the guest memories of the calling thread. gm must stay valid
 * until this thread detaches it or ends. Returns 0 or -errno from
 * sigaction.
 */
int gm_fault_attach(struct guest_mem *gm);
/* Takes gm off the calling thread's list (the thread that attached it). */
void gm_fault_detach(struct guest_mem *gm);

/* What the handler recorded. */
struct gm_fault {
	uint64_t gpa;          /* the first address that faulted */
	uint64_t region_gpa;   /* its region */
	uint64_t region_size;
};

/* True (once per fault) when an access to gm faulted since the last call;
 * fills *f. The faulted region stays mapped to zero pages until the memory
 * table is replaced or cleared. */
bool gm_fault_take(struct guest_mem *gm, struct gm_fault *f);

#endif
