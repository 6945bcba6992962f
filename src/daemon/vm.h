/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * One VM of the daemon, wired together: its event loop and thread, its
 * vsock device, the device's backends (sibling VMs first, then uds-path or
 * forward-cid) and the vhost-user socket a VMM connects to. This is the
 * only layer that opens sockets and starts threads.
 */
#ifndef VDV_DAEMON_VM_H
#define VDV_DAEMON_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "vhost_user/vu_listen.h"
#include "vsock/vsock.h"

#define VM_MAX_BACKENDS 2

struct vm {
	const struct vm_config *cfg;
	char name[48];
	struct ev_loop *loop;
	struct vsock_dev *dev;
	struct vsock_backend backends[VM_MAX_BACKENDS];
	unsigned nstarted;              /* backends started, in order */
	struct vu_listen listen;
	pthread_t thread;
	bool thread_started;
	bool stuck;                     /* its thread did not stop in time */
	/* Its vhost-user socket for messages and metrics: the path, or
	 * "socket-fd N" (with the path that fd is bound to, if any). */
	char socket_label[160];
};

/* Creates the VM's loop, device, backends (their listeners) and then its
 * vhost-user socket. Returns 0 or -errno with a message naming the VM and
 * the path in err; on error nothing is left open. */
int vm_init(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen);
/* The same, serving listen_fd (a socket passed by the service manager,
 * or cfg's socket-fd, which vm takes over on success) instead of binding
 * cfg->socket; -1 binds. */
int vm_init_fd(struct vm *vm, const struct vm_config *cfg, int listen_fd, char *err,
	       size_t errlen);
/* Starts the VM's thread. */
int vm_start(struct vm *vm);
/* Stops the thread (if started), waiting a bounded time for it: a thread
 * that does not stop is logged and left running (vm->stuck). Stop every VM
 * before destroying any: a running VM may still hand connections to
 * another. */
void vm_stop(struct vm *vm);
/* Stops the thread, closes everything, removes the sockets. Safe on a
 * zeroed struct. A stuck VM is only unlinked from its vhost-user path: its
 * thread still runs, so nothing it uses is freed (the process exits). */
void vm_destroy(struct vm *vm);

/* What messages call a VM's vhost-user socket: its path, or "socket-fd N"
 * and the path that descriptor is bound to. */
void vm_socket_label(const struct vm_config *cfg, char *buf, size_t len);

#endif
