/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The figures of a run: for each, the values per round of the baseline
 * (AF_UNIX) and of each daemon, the CPU they used, and why a value is
 * missing. Figures are registered in display order; the summary of a
 * figure is the median over rounds.
 */
#ifndef VDV_BENCH_RESULTS_H
#define VDV_BENCH_RESULTS_H

#include <stdbool.h>

#define RES_MAX_FIGS 80
#define RES_MAX_ROUNDS 64

enum { T_BASE = 0, T_A = 1, T_B = 2, T_N = 3 };

enum fig_target {
	TGT_NONE = 0,
	TGT_RATIO_MIN,  /* daemon/baseline >= target */
	TGT_RATIO_MAX,  /* daemon/baseline <= target */
	TGT_ABS_MAX,    /* absolute value < target */
	TGT_ABS_LE,     /* absolute value <= target (a ratio within one daemon) */
};

struct fig {
	char id[32];
	char label[64];
	const char *unit;
	bool higher_better;
	bool has_baseline;
	enum fig_target tgt;
	double target;
	double v[T_N][RES_MAX_ROUNDS];
	unsigned n[T_N];
	double cpu_daemon[T_N][RES_MAX_ROUNDS]; /* fraction of a CPU */
	double cpu_self[T_N][RES_MAX_ROUNDS];
	unsigned ncpu[T_N];
	char na[T_N][96];   /* not measured, and why */
	bool failed[T_N];
};

struct results {
	struct fig figs[RES_MAX_FIGS];
	unsigned n;
};

struct fig *res_define(struct results *r, const char *id, const char *label, const char *unit,
		       bool higher_better, bool has_baseline, enum fig_target tgt,
		       double target);
struct fig *res_find(struct results *r, const char *id);
void res_add(struct results *r, const char *id, int which, double v);
void res_add_cpu(struct results *r, const char *id, int which, double daemon, double self);
void res_na(struct results *r, const char *id, int which, const char *why);
void res_fail(struct results *r, const char *id, int which);

/* Measured, failed or n/a for some side: not a scenario left out. */
bool fig_touched(const struct fig *f);
/* The median of n values (NAN for none or more than RES_MAX_ROUNDS). */
double res_median(const double *v, unsigned n);
/* NAN when there is no value. */
double fig_median(const struct fig *f, int which);
double fig_min(const struct fig *f, int which);
double fig_max(const struct fig *f, int which);
/* #15's stability rule: the slowest round is less than half the fastest.
 * For throughput that is min < max / 2, for latency and memory max > 2 *
 * min: both are min < max / 2 for positive values. 1 unstable, 0 stable,
 * -1 unknown (fewer than two rounds, or no positive value to compare). */
int fig_unstable(const struct fig *f, int which);
/* CPU-seconds per GiB delivered, for MiB/s figures (NAN otherwise): the
 * median over rounds of each round's CPU over its bytes. Daemon runs count
 * the daemon and the bench process (guest and host app); daemon_only
 * counts the daemon alone. */
double fig_cpu_per_gib(const struct fig *f, int which, bool daemon_only);
/* The same for round r, NAN without a value or CPU for it. */
double fig_cpu_per_gib_round(const struct fig *f, int which, unsigned r, bool daemon_only);
double fig_cpu_daemon(const struct fig *f, int which);
double fig_cpu_self(const struct fig *f, int which);
/* which / baseline (or which / other), NAN if either is missing. */
double fig_ratio(const struct fig *f, int which, int other);
/* The median over rounds of which / other, each pair from the same round
 * (measured back to back, so both met the machine in the same state): a
 * slow moment of the machine moves both sides of its round, where it moves
 * only one side's median. NAN with fewer than two rounds, unequal round
 * counts or a failed round. */
double fig_paired_ratio(const struct fig *f, int which, int other);
/* A distribution-free interval for that median: the k-th smallest and
 * k-th largest of the rounds' ratios, k the largest for which the interval
 * holds the true median with at least 90 % probability (binomial, p =
 * 1/2; it needs 5 rounds or more). 0 with *lo, *hi set, -1 without. */
int fig_paired_interval(const struct fig *f, int which, int other, double *lo, double *hi);
/* Which order statistic that is for n rounds (0: none). */
unsigned res_interval_rank(unsigned n);
/* 1 met, 0 missed, -1 no target or no value. */
int fig_target_met(const struct fig *f, int which);
const char *fig_target_text(const struct fig *f, char *buf, unsigned cap);

#endif
