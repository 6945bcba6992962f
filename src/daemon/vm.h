/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * One VM of the daemon, wired together on one worker thread (its event
 * loop, shared with the worker's other VMs): its vsock device, the
 * device's backends (sibling VMs first, then uds-path or forward-cid) and
 * the vhost-user socket a VMM connects to. This layer (with worker.c) is
 * the only one that opens sockets and starts threads.
 */
#ifndef VDV_DAEMON_VM_H
#define VDV_DAEMON_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "daemon/worker.h"
#include "vhost_user/vu_listen.h"
#include "vsock/vsock.h"

#define VM_MAX_BACKENDS 2

struct vm {
	const struct vm_config *cfg;
	char name[48];
	struct worker *worker;          /* the thread serving it */
	struct ev_loop *loop;           /* the worker's */
	struct vsock_dev *dev;
	struct vsock_backend backends[VM_MAX_BACKENDS];
	unsigned nstarted;              /* backends started, in order */
	struct vu_listen listen;
	bool attached;                  /* guest memory on the worker's SIGBUS list */
	bool stuck;                     /* its worker did not answer in time */
	/* Its vhost-user socket for messages and metrics: the path, or
	 * "socket-fd N" (with the path that fd is bound to, if any). */
	char socket_label[160];
};

/* Creates the VM on worker w (the caller picked it: worker_pool_pick):
 * device, backends (their listeners), then its vhost-user socket; on w's
 * thread when w runs, here otherwise. Returns 0 or -errno with a message
 * naming the VM and the path in err; on error nothing is left open (unless
 * the worker did not answer: vm->stuck, see vm_destroy). */
int vm_init(struct vm *vm, const struct vm_config *cfg, struct worker *w, char *err,
	    size_t errlen);
/* The same, serving listen_fd (a socket passed by the service manager,
 * or cfg's socket-fd, which vm takes over on success) instead of binding
 * cfg->socket; -1 binds. */
int vm_init_fd(struct vm *vm, const struct vm_config *cfg, int listen_fd, struct worker *w,
	       char *err, size_t errlen);
/* Serves the VM: starts its worker unless it runs, and puts the VM's guest
 * memory under the worker's SIGBUS recovery. 0 or -errno. */
int vm_start(struct vm *vm);
/* Closes everything and removes the sockets, on the worker's thread while
 * it runs (the worker's other VMs go on), here once the workers stopped.
 * Safe on a zeroed struct. A VM whose worker does not answer in time is
 * stuck: only its vhost-user path is unlinked and nothing is freed (the
 * caller must keep vm). */
void vm_destroy(struct vm *vm);

/* What messages call a VM's vhost-user socket: its path, or "socket-fd N"
 * and the path that descriptor is bound to. */
void vm_socket_label(const struct vm_config *cfg, char *buf, size_t len);

#endif
