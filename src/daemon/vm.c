/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* One VM of the daemon, wired together; see vm.h. */
#include "daemon/vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/log.h"
#include "virtio/mem_fault.h"

/* How long a running worker gets to create, attach or tear down a VM for
 * the main thread. The worker serves other VMs meanwhile, and each of its
 * blocking calls is bounded (a vhost-user message by 5 s): past this, the
 * worker counts as stuck and the VM is left to it. */
#define VM_CALL_TIMEOUT_MS 10000

/* Everything of the VM closed and freed, its sockets removed; on the
 * worker's thread when that runs. */
static void teardown_here(struct vm *vm)
{
	if (vm->attached) {
		gm_fault_detach(&vsock_dev_vu(vm->dev)->mem);
		vm->attached = false;
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
}

/* The VM's device, backends and listener, on its worker's loop; on the
 * worker's thread when that runs. On error nothing is left open. */
static int init_here(struct vm *vm, const struct vm_config *cfg, int listen_fd, char *err,
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

	vm->dev = vsock_dev_new(cfg, vm->loop);
	if (!vm->dev) {
		snprintf(err, errlen, "%s: cannot create the device: %s", vm->name, strerror(errno));
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
	teardown_here(vm);
	return r;
}

/* What a call to the worker's thread carries. Allocated: a call that
 * times out still runs later, and must find it. */
struct init_call {
	struct vm *vm;
	const struct vm_config *cfg;
	int listen_fd;
	int r;
	char err[512];
};

static void init_on_worker(void *opaque)
{
	struct init_call *c = opaque;

	c->r = init_here(c->vm, c->cfg, c->listen_fd, c->err, sizeof(c->err));
}

int vm_init(struct vm *vm, const struct vm_config *cfg, struct worker *w, char *err,
	    size_t errlen)
{
	return vm_init_fd(vm, cfg, -1, w, err, errlen);
}

int vm_init_fd(struct vm *vm, const struct vm_config *cfg, int listen_fd, struct worker *w,
	       char *err, size_t errlen)
{
	struct init_call *c;
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->worker = w;
	vm->loop = w->loop;
	vm_socket_label(cfg, vm->socket_label, sizeof(vm->socket_label));
	snprintf(vm->name, sizeof(vm->name), "vm cid %llu", (unsigned long long)cfg->guest_cid);
	if (!w->started)
		return init_here(vm, cfg, listen_fd, err, errlen);
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "%s: out of memory", vm->name);
		return -ENOMEM;
	}
	*c = (struct init_call){ .vm = vm, .cfg = cfg, .listen_fd = listen_fd };
	r = ev_call(w->loop, init_on_worker, c, VM_CALL_TIMEOUT_MS);
	if (r < 0) {
		snprintf(err, errlen, "%s: worker %u did not answer: %s", vm->name, w->idx,
			 strerror(-r));
		/* The call may still run: vm and c stay allocated. */
		vm->stuck = true;
		return r;
	}
	r = c->r;
	if (r < 0)
		snprintf(err, errlen, "%s", c->err);
	free(c);
	return r;
}

static void attach_on_worker(void *opaque)
{
	struct vm *vm = opaque;
	int r;

	/* This thread alone touches the VM's guest memory: a SIGBUS in it
	 * drops this VM's session, not the process (virtio/mem_fault.h). */
	r = gm_fault_attach(&vsock_dev_vu(vm->dev)->mem);
	if (r < 0)
		log_warn("%s: cannot install the SIGBUS handler: %s", vm->name, strerror(-r));
	else
		vm->attached = true;
}

int vm_start(struct vm *vm)
{
	int r = worker_start(vm->worker);

	if (r == 0)
		r = ev_call(vm->loop, attach_on_worker, vm, VM_CALL_TIMEOUT_MS);
	if (r == -ETIMEDOUT)
		vm->stuck = true;
	return r;
}

static void teardown_on_worker(void *opaque)
{
	teardown_here(opaque);
}

void vm_destroy(struct vm *vm)
{
	if (!vm->worker)
		return;
	if (vm->worker->stuck)
		vm->stuck = true; /* its thread may still run it */
	if (!vm->stuck && vm->worker->started &&
	    ev_call(vm->loop, teardown_on_worker, vm, VM_CALL_TIMEOUT_MS) < 0) {
		log_error("%s: worker %u did not tear it down within %d ms; leaving it",
			  vm->name, vm->worker->idx, VM_CALL_TIMEOUT_MS);
		vm->stuck = true;
	}
	if (vm->stuck) {
		/* Only the vhost-user socket's path is removed (if still
		 * ours): nothing the worker may still read is touched. */
		vu_listen_unlink(&vm->listen);
		return;
	}
	if (!vm->worker->started)
		teardown_here(vm);
	worker_put(vm->worker);
	vm->worker = NULL;
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
