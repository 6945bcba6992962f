/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * vhost-device-vsock: parse the configuration, create one VM (a vsock
 * device, its backends and its thread: daemon/vm.c) per VM entry, then
 * wait for SIGINT/SIGTERM and shut down cleanly, removing the sockets we
 * created.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "util/log.h"
#include "daemon/vm.h"

static void destroy_all(struct vm *vms, size_t n)
{
	/* All threads first: a running VM may hand a connection to another. */
	for (size_t i = 0; i < n; i++)
		vm_stop(&vms[i]);
	for (size_t i = 0; i < n; i++)
		vm_destroy(&vms[i]);
}

int main(int argc, char **argv)
{
	struct vdv_config cfg = { 0 };
	char err[1024];
	struct vm *devs;
	sigset_t sigs;
	int sig = 0;
	size_t i;

	log_init_from_env();
	switch (config_parse_args(argc, argv, &cfg, err, sizeof(err))) {
	case CONFIG_OK:
		break;
	case CONFIG_EXIT_OK:
		return 0;
	default:
		fprintf(stderr, "vhost-device-vsock: error: %s\n", err);
		return 1;
	}

	/* Signals are taken synchronously by the main thread only; the VM
	 * threads inherit the blocked mask. A peer closing a socket must not
	 * kill the daemon: SIGPIPE is ignored and sends use MSG_NOSIGNAL. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	devs = calloc(cfg.n_vms, sizeof(*devs));
	if (!devs) {
		fprintf(stderr, "vhost-device-vsock: error: out of memory\n");
		config_free(&cfg);
		return 1;
	}
	/* Create every socket before serving any VM: a bad path in the last
	 * VM must not leave the first ones half running. */
	for (i = 0; i < cfg.n_vms; i++) {
		if (vm_init(&devs[i], &cfg.vms[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "vhost-device-vsock: error: %s\n", err);
			destroy_all(devs, i);
			free(devs);
			config_free(&cfg);
			return 1;
		}
	}
	for (i = 0; i < cfg.n_vms; i++) {
		int r = vm_start(&devs[i]);
		if (r < 0) {
			fprintf(stderr, "vhost-device-vsock: error: cannot start thread: %s\n",
				strerror(-r));
			destroy_all(devs, cfg.n_vms);
			free(devs);
			config_free(&cfg);
			return 1;
		}
		log_info("vm cid %llu: listening on %s", (unsigned long long)cfg.vms[i].guest_cid,
			 cfg.vms[i].socket);
	}

	while (sigwait(&sigs, &sig) != 0)
		;
	log_info("signal %d (%s): shutting down", sig, strsignal(sig));
	destroy_all(devs, cfg.n_vms);
	free(devs);
	config_free(&cfg);
	return 0;
}
