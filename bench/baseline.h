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

int base_stream(struct bench *b, const char *id, size_t size);
int base_rr(struct bench *b);
int base_connrate(struct bench *b);
int base_multi(struct bench *b, bool g2h);

#endif
