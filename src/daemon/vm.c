/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* One VM of the daemon, wired together; see vm.h. */
#include "daemon/vm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/log.h"
#include "virtio/mem_fault.h"

/* How long a VM's thread gets to leave its loop once told to stop. Every
 * blocking call it makes is bounded (vhost-user messages and replies by
 * 5 s), but a stop must not wait for the worst case of each, nor forever if
 * something else blocks: a stop request has to end the process. */
#define VM_STOP_TIMEOUT_MS 2000

int vm_init(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen)
{
	return vm_init_fd(vm, cfg, -1, err, errlen);
}

int vm_init_fd(struct vm *vm, const struct vm_config *cfg, int listen_fd, char *err,
	       size_t errlen)
{
	/* Sibling VMs first: a CID of this daemon never leaves it. Exactly
	 * one of uds-path and forward-cid is configured (checked by config/). */
	const struct vsock_backend_ops *ops[VM_MAX_BACKENDS] = {
		&sibling_backend_ops,
		cfg->uds_path ? &uds_backend_ops : &vsock_fwd_backend_ops,
	};
	char why[256];
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm_socket_label(cfg, vm->socket_label, sizeof(vm->socket_label));
	snprintf(vm->name, sizeof(vm->name), "vm cid %llu", (unsigned long long)cfg->guest_cid);
	vm->loop = ev_loop_new();
	vm->dev = vm->loop ? vsock_dev_new(cfg, vm->loop) : NULL;
	if (!vm->dev) {
		snprintf(err, errlen, "%s: cannot create event loop: %s", vm->name, strerror(errno));
		r = -ENOMEM;
		goto fail;
	}
	/* The host side first: once the vhost-user socket exists, a VMM (and
	 * whoever waits for that socket) may assume the VM is fully served. */
	for (unsigned i = 0; i < VM_MAX_BACKENDS; i++) {
		struct vsock_backend *b = &vm->backends[i];

		b->ops = ops[i];
		r = vsock_dev_add_backend(vm->dev, b);
		if (r == 0)
			r = b->ops->start(b, why, sizeof(why));
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", vm->name, why);
			goto fail;
		}
		vm->nstarted++;
	}
	struct vu_listen_access acc = {
		.mode = cfg->has_socket_mode ? (int)cfg->socket_mode : -1,
		.set_gid = cfg->socket_group != NULL,
		.gid = cfg->socket_gid,
		.group = cfg->socket_group,
	};
	if (listen_fd >= 0) {
		/* Its mode and group are the service manager's (SocketMode=,
		 * SocketGroup=); it owns the file, we may not change it. (With
		 * socket-fd, config/ refuses these keys.) */
		if (acc.mode >= 0 || acc.set_gid)
			log_warn("%s: socket-mode/socket-group ignored: %s was passed by the "
				 "service manager, which sets them", vm->name, vm->socket_label);
		r = vu_listen_adopt(&vm->listen, vsock_dev_vu(vm->dev), listen_fd,
				    vm->socket_label, why, sizeof(why));
	} else {
		r = vu_listen_init(&vm->listen, vsock_dev_vu(vm->dev), cfg->socket, &acc, why,
				   sizeof(why));
	}
	if (r < 0) {
		snprintf(err, errlen, "%s: socket: %s", vm->name, why);
		goto fail;
	}
	return 0;
fail:
	vm_destroy(vm);
	return r;
}

static void *vm_thread(void *arg)
{
	struct vm *vm = arg;
	int r;

	/* This thread alone touches the VM's guest memory: a SIGBUS in it
	 * drops this VM's session, not the process (virtio/mem_fault.h). */
	r = gm_fault_attach(&vsock_dev_vu(vm->dev)->mem);
	if (r < 0)
		log_warn("%s: cannot install the SIGBUS handler: %s", vm->name, strerror(-r));
	r = ev_run(vm->loop);
	if (r < 0)
		log_error("%s: event loop failed: %s", vm->name, strerror(-r));
	return NULL;
}

int vm_start(struct vm *vm)
{
	int r = pthread_create(&vm->thread, NULL, vm_thread, vm);

	if (r != 0)
		return -r;
	vm->thread_started = true;
	return 0;
}

void vm_stop(struct vm *vm)
{
	struct timespec until;
	int r;

	if (!vm->thread_started)
		return;
	ev_stop(vm->loop);
	until = vdv_realtime_in_ms(VM_STOP_TIMEOUT_MS);
	r = pthread_timedjoin_np(vm->thread, NULL, &until);
	if (r != 0) {
		/* The thread still uses the VM: leave all of it alone (the
		 * process is about to exit) and never join it again. */
		log_error("%s: thread did not stop within %d ms (%s); exiting without it",
			  vm->name, VM_STOP_TIMEOUT_MS, strerror(r));
		vm->stuck = true;
	}
	vm->thread_started = false;
}

void vm_destroy(struct vm *vm)
{
	vm_stop(vm);
	if (vm->stuck) {
		/* Only the vhost-user socket's path is removed (if still
		 * ours): nothing the running thread reads is touched. */
		vu_listen_unlink(&vm->listen);
		return;
	}
	vu_listen_destroy(&vm->listen);
	/* The VMM goes first (its session's reset frees the connections),
	 * then the backends' listeners, then the device. */
	if (vm->dev)
		vu_dev_destroy(vsock_dev_vu(vm->dev));
	while (vm->nstarted) {
		struct vsock_backend *b = &vm->backends[--vm->nstarted];
		b->ops->stop(b);
	}
	vsock_dev_free(vm->dev);
	vm->dev = NULL;
	ev_loop_free(vm->loop);
	vm->loop = NULL;
}

void vm_socket_label(const struct vm_config *cfg, char *buf, size_t len)
{
	if (!cfg->has_socket_fd)
		snprintf(buf, len, "%s", cfg->socket);
	else if (cfg->socket_fd_path)
		snprintf(buf, len, "socket-fd %d (%s)", cfg->socket_fd, cfg->socket_fd_path);
	else
		snprintf(buf, len, "socket-fd %d", cfg->socket_fd);
}
