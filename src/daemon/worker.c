/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The worker threads; see worker.h. */
#include "daemon/worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"

/* How long a worker gets to leave its loop once told to stop. Every
 * blocking call it makes is bounded (vhost-user messages and replies by
 * 5 s), but a stop must not wait for the worst case of each, nor forever
 * if something else blocks: a stop request has to end the process. */
#define WORKER_STOP_TIMEOUT_MS 2000

int worker_pool_init(struct worker_pool *p, unsigned n, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	if (n == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		n = cpus > 0 ? (unsigned)cpus : 1;
	}
	p->w = calloc(n, sizeof(*p->w));
	if (!p->w) {
		snprintf(err, errlen, "worker threads: out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		p->w[i].idx = i;
		p->w[i].loop = ev_loop_new();
		if (!p->w[i].loop) {
			int r = -errno;

			snprintf(err, errlen, "worker %u: cannot create its event loop: %s", i,
				 strerror(errno));
			p->n = i;
			worker_pool_free(p);
			return r ? r : -ENOMEM;
		}
	}
	p->n = n;
	return 0;
}

struct worker *worker_pool_pick(struct worker_pool *p)
{
	struct worker *best = &p->w[0];

	for (unsigned i = 1; i < p->n; i++)
		if (p->w[i].nvms < best->nvms)
			best = &p->w[i];
	best->nvms++;
	return best;
}

void worker_put(struct worker *w)
{
	if (w && w->nvms)
		w->nvms--;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];
	int r;

	snprintf(name, sizeof(name), "vdv-worker-%u", w->idx);
	pthread_setname_np(pthread_self(), name);
	r = ev_run(w->loop);
	if (r < 0)
		log_error("worker %u: event loop failed: %s", w->idx, strerror(-r));
	return NULL;
}

int worker_start(struct worker *w)
{
	int r;

	if (w->started)
		return 0;
	r = pthread_create(&w->thread, NULL, worker_main, w);
	if (r != 0)
		return -r;
	w->started = true;
	return 0;
}

bool worker_pool_stop(struct worker_pool *p)
{
	bool all = true;

	for (unsigned i = 0; i < p->n; i++)
		if (p->w[i].started)
			ev_stop(p->w[i].loop);
	for (unsigned i = 0; i < p->n; i++) {
		struct worker *w = &p->w[i];
		struct timespec until;
		int r;

		if (!w->started)
			continue;
		until = vdv_realtime_in_ms(WORKER_STOP_TIMEOUT_MS);
		r = pthread_timedjoin_np(w->thread, NULL, &until);
		if (r != 0) {
			/* The thread still uses its VMs: leave them and the
			 * loop alone (the process is about to exit). */
			log_error("worker %u: thread did not stop within %d ms (%s); exiting "
				  "without it", w->idx, WORKER_STOP_TIMEOUT_MS, strerror(r));
			w->stuck = true;
			all = false;
		}
		w->started = false;
	}
	return all;
}

void worker_pool_free(struct worker_pool *p)
{
	for (unsigned i = 0; i < p->n; i++)
		if (!p->w[i].stuck)
			ev_loop_free(p->w[i].loop);
	/* A stuck worker's struct stays: its thread still reads it. */
	for (unsigned i = 0; i < p->n; i++)
		if (p->w[i].stuck)
			return;
	free(p->w);
	p->w = NULL;
	p->n = 0;
}
