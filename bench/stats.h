/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Small statistics over one measurement's samples. */
#ifndef VDV_BENCH_STATS_H
#define VDV_BENCH_STATS_H

#include <stdint.h>

/* The p-th percentile (0..100, nearest rank) of v; sorts v. NAN if n = 0. */
double stats_percentile(double *v, unsigned n, double p);

/* Jain's fairness index of x: (sum x)^2 / (n * sum x^2); 1 = perfectly
 * fair, 1/n = one connection got everything. */
double stats_jain(const uint64_t *x, unsigned n);

/* min(x) / max(x); 1 = perfectly even. */
double stats_min_over_max(const uint64_t *x, unsigned n);

/* Bytes over nanoseconds, in MiB/s. */
double stats_mibps(uint64_t bytes, int64_t ns);

#endif
