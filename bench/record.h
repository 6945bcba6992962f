/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Turning one measurement into figures, shared by the baseline and daemon
 * halves so that both are computed the same way; and the data checks every
 * measurement must pass before its figure counts.
 */
#ifndef VDV_BENCH_RECORD_H
#define VDV_BENCH_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench.h"
#include "csum.h"
#include "procstat.h"

/* "g2h_4096" etc. */
const char *rec_id(char *buf, size_t cap, const char *prefix, size_t size);
const char *rec_multi_id(char *buf, size_t cap, bool g2h, const char *what);

/* Sent and received must match in length and checksum, and something must
 * have been moved at all. Returns 0 or -1 (reported). */
int rec_check_stream(struct bench *b, const char *id, int which, uint64_t sent,
		     const struct csum *ssum, uint64_t got, const struct csum *gsum);

/* The same for n connections whose two ends may be paired in any order:
 * totals and the sum of the per-connection checksums must match. */
int rec_check_multi(struct bench *b, const char *id, int which, const uint64_t *sent,
		    const struct csum *ssums, const uint64_t *got, const struct csum *gsums,
		    unsigned n);

void rec_stream(struct bench *b, const char *id, int which, uint64_t bytes, int64_t ns,
		struct cpu_use cpu);
void rec_rr(struct bench *b, int which, double *samples_us, unsigned n, struct cpu_use cpu);
void rec_multi(struct bench *b, int which, bool g2h, const uint64_t *bytes, unsigned n,
	       int64_t ns, struct cpu_use cpu);
void rec_connrate(struct bench *b, int which, unsigned cycles, int64_t ns, struct cpu_use cpu);

#endif
