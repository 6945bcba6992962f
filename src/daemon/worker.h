/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The worker threads that serve the VMs (--threads N): each runs one event
 * loop, and each VM lives on exactly one of them, so nothing of a VM's
 * data path is shared between threads. A worker's thread starts with its
 * first VM; a VM goes to the worker with the fewest VMs.
 *
 * Other threads change what a running worker serves only through
 * ev_call() on its loop (registrations are the loop thread's alone).
 */
#ifndef VDV_DAEMON_WORKER_H
#define VDV_DAEMON_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/event_loop.h"

struct worker {
	struct ev_loop *loop;
	pthread_t thread;
	unsigned idx;
	unsigned nvms;          /* VMs placed here (main thread only) */
	bool started;           /* its thread runs (until worker_pool_stop) */
	bool stuck;             /* its thread did not stop in time */
};

struct worker_pool {
	struct worker *w;
	unsigned n;
};

/* n workers (0: the number of online CPUs), threads not started. 0, or
 * -errno with a message in err. */
int worker_pool_init(struct worker_pool *p, unsigned n, char *err, size_t errlen);

/* The worker with the fewest VMs (the lowest index among equals); counts
 * the VM in. worker_put() when the VM goes. */
struct worker *worker_pool_pick(struct worker_pool *p);
void worker_put(struct worker *w);

/* Starts w's thread unless it runs: 0 or -errno. */
int worker_start(struct worker *w);

/* Stops every thread, waiting a bounded time for each; a thread that does
 * not stop is logged and left (w->stuck). True when all stopped. */
bool worker_pool_stop(struct worker_pool *p);

/* Frees the loops of the workers that stopped (after the VMs on them
 * were destroyed). */
void worker_pool_free(struct worker_pool *p);

#endif
