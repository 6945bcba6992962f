/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "record.h"

#include <inttypes.h>
#include <stdio.h>

#include "stats.h"

const char *rec_id(char *buf, size_t cap, const char *prefix, size_t size)
{
	snprintf(buf, cap, "%s_%zu", prefix, size);
	return buf;
}

const char *rec_multi_id(char *buf, size_t cap, bool g2h, const char *what)
{
	snprintf(buf, cap, "mc_%s_%s", g2h ? "g2h" : "h2g", what);
	return buf;
}

int rec_check_stream(struct bench *b, const char *id, int which, uint64_t sent,
		     const struct csum *ssum, uint64_t got, const struct csum *gsum)
{
	if (sent != got) {
		bench_fail(b, id, which, "sent %" PRIu64 " bytes, received %" PRIu64, sent, got);
		return -1;
	}
	if (b->cfg.verify && csum_value(ssum) != csum_value(gsum)) {
		bench_fail(b, id, which, "data corrupted: checksums differ over %" PRIu64 " bytes",
			   got);
		return -1;
	}
	if (!got) {
		bench_fail(b, id, which, "no data moved");
		return -1;
	}
	return 0;
}

int rec_check_multi(struct bench *b, const char *id, int which, const uint64_t *sent,
		    const struct csum *ssums, const uint64_t *got, const struct csum *gsums,
		    unsigned n)
{
	uint64_t st = 0, gt = 0, ss = 0, gs = 0;

	for (unsigned i = 0; i < n; i++) {
		st += sent[i];
		gt += got[i];
		ss += csum_value(&ssums[i]);
		gs += csum_value(&gsums[i]);
	}
	if (st != gt) {
		bench_fail(b, id, which, "sent %" PRIu64 " bytes, received %" PRIu64, st, gt);
		return -1;
	}
	if (b->cfg.verify && ss != gs) {
		bench_fail(b, id, which, "data corrupted: checksums differ");
		return -1;
	}
	if (!gt) {
		bench_fail(b, id, which, "no data moved");
		return -1;
	}
	return 0;
}

void rec_stream(struct bench *b, const char *id, int which, uint64_t bytes, int64_t ns,
		struct cpu_use cpu)
{
	res_add(&b->res, id, which, stats_mibps(bytes, ns));
	res_add_cpu(&b->res, id, which, cpu.daemon, cpu.self);
}

void rec_rr(struct bench *b, int which, double *samples_us, unsigned n, struct cpu_use cpu)
{
	res_add(&b->res, "rr_p50", which, stats_percentile(samples_us, n, 50));
	res_add(&b->res, "rr_p99", which, stats_percentile(samples_us, n, 99));
	res_add_cpu(&b->res, "rr_p50", which, cpu.daemon, cpu.self);
	/* The floor figures' daemon side is the daemon's own round trip, so
	 * that their ratio is daemon / floor (their baseline: relay.c). */
	if (which != T_BASE) {
		res_add(&b->res, "rr_floor_p50", which, stats_percentile(samples_us, n, 50));
		res_add(&b->res, "rr_floor_p99", which, stats_percentile(samples_us, n, 99));
	}
}

void rec_multi(struct bench *b, int which, bool g2h, const uint64_t *bytes, unsigned n,
	       int64_t ns, struct cpu_use cpu)
{
	uint64_t total = 0;
	char id[32];

	for (unsigned i = 0; i < n; i++)
		total += bytes[i];
	res_add(&b->res, rec_multi_id(id, sizeof(id), g2h, "aggr"), which,
		stats_mibps(total, ns));
	res_add_cpu(&b->res, id, which, cpu.daemon, cpu.self);
	res_add(&b->res, rec_multi_id(id, sizeof(id), g2h, "jain"), which, stats_jain(bytes, n));
	res_add(&b->res, rec_multi_id(id, sizeof(id), g2h, "minmax"), which,
		stats_min_over_max(bytes, n));
}

void rec_connrate(struct bench *b, int which, unsigned cycles, int64_t ns, struct cpu_use cpu)
{
	res_add(&b->res, "connrate", which, ns > 0 ? cycles / ((double)ns / 1e9) : 0);
	res_add_cpu(&b->res, "connrate", which, cpu.daemon, cpu.self);
}
