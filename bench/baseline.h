/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The baseline of every scenario, measured in the same run on the same
 * machine: the same host applications (app.c), both ends on a plain
 * AF_UNIX stream socketpair (or a listening Unix socket for connection
 * set-up), one thread per end. This is what the daemon's path is compared
 * with: a guest application talking to a host one can at best do as well
 * as two host applications talking directly.
 */
#ifndef VDV_BENCH_BASELINE_H
#define VDV_BENCH_BASELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "bench.h"

#include <pthread.h>

/* A socketpair whose ends time out after the run's --timeout; a failure
 * is reported for figure id. */
int base_pair(struct bench *b, const char *id, int sv[2]);
/* How long a baseline thread may take: the run's length plus slack. */
int base_join_ms(const struct bench *b);
/* Joins th within ms, or exits: a thread that did not end in time may
 * still use the caller's stack or statics. */
void base_join_or_die(pthread_t th, int ms, const char *id);

int base_stream(struct bench *b, const char *id, size_t size);
int base_rr(struct bench *b);
int base_connrate(struct bench *b);
int base_multi(struct bench *b, bool g2h);

#endif
