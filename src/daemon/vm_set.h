/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The VMs the daemon serves, as a set that can change while it runs:
 * created together at start-up (all or none), and changed by a reload
 * (SIGHUP re-reading --config FILE): VMs added start, VMs removed stop,
 * a VM whose entry changed restarts, every other VM is left alone - its
 * VMM, its connections and its thread never notice.
 *
 * Each VM owns its configuration entry (moved out of the parsed
 * configuration), so a VM that outlives several reloads keeps the entry
 * it was started with. The main thread alone changes the set; the lock
 * is for readers on other threads (the metrics server), and is never held
 * while a VM thread is started or stopped.
 */
#ifndef VDV_DAEMON_VM_SET_H
#define VDV_DAEMON_VM_SET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "daemon/activation.h"
#include "daemon/vm.h"
#include "daemon/worker.h"

struct vm_slot {
	struct vm vm;
	struct vm_config cfg; /* owned: vm.cfg points here */
};

struct vm_set {
	struct worker_pool *pool; /* the threads the VMs are spread over */
	pthread_mutex_t lock;   /* slots/n, for readers on other threads */
	struct vm_slot **slots;
	size_t n;
	/* VMs whose thread did not stop in time: their memory stays (the
	 * thread still uses it) and is reachable here, not leaked. */
	struct vm_slot **stuck;
	size_t n_stuck;
};

/* What a reload did, for its log line. */
struct vm_set_diff {
	size_t added, removed, restarted, kept, failed;
};

void vm_set_init(struct vm_set *s, struct worker_pool *pool);

/* Creates a VM for every entry of cfg (moving the entries out of it; cfg
 * still needs config_free), binding its sockets or taking them from act.
 * All or nothing: 0, or -errno with a message in err and nothing left. */
int vm_set_create(struct vm_set *s, struct vdv_config *cfg, struct activation *act,
		  char *err, size_t errlen);

/* Starts serving every VM (their workers' threads start with their first
 * VM): 0, or -errno (message in err). */
int vm_set_start(struct vm_set *s, char *err, size_t errlen);

/*
 * Makes the set what next describes, VMs matched by guest CID and
 * compared by their whole entry (as --print-config writes it). Removed and
 * changed VMs stop first (freeing their socket paths), then added and
 * changed ones start; a VM that cannot start is logged and left out
 * (counted in diff->failed), the others go on. Moves the entries it uses
 * out of next. Refuses (-EINVAL, logged, nothing changed) to add or change
 * a VM with socket-fd: an inherited descriptor serves only the VM started
 * with it. 0, or -errno when nothing was changed.
 */
int vm_set_reload(struct vm_set *s, struct vdv_config *next, struct vm_set_diff *diff);

/* Stops the worker threads, then destroys every VM. Returns whether every
 * thread ever asked to stop did (otherwise the stuck ones are left
 * running, see above, and the process should exit without freeing more). */
bool vm_set_destroy(struct vm_set *s);

/* For readers on other threads: the set does not change between lock
 * and unlock. */
void vm_set_lock(struct vm_set *s);
void vm_set_unlock(struct vm_set *s);

#endif
