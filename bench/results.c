/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "results.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fig *res_define(struct results *r, const char *id, const char *label, const char *unit,
		       bool higher_better, bool has_baseline, enum fig_target tgt,
		       double target)
{
	struct fig *f = res_find(r, id);

	if (f)
		return f;
	if (r->n == RES_MAX_FIGS)
		return NULL;
	f = &r->figs[r->n++];
	memset(f, 0, sizeof(*f));
	snprintf(f->id, sizeof(f->id), "%s", id);
	snprintf(f->label, sizeof(f->label), "%s", label);
	f->unit = unit;
	f->higher_better = higher_better;
	f->has_baseline = has_baseline;
	f->tgt = tgt;
	f->target = target;
	return f;
}

struct fig *res_find(struct results *r, const char *id)
{
	for (unsigned i = 0; i < r->n; i++)
		if (!strcmp(r->figs[i].id, id))
			return &r->figs[i];
	return NULL;
}

void res_add(struct results *r, const char *id, int which, double v)
{
	struct fig *f = res_find(r, id);

	if (f && f->n[which] < RES_MAX_ROUNDS)
		f->v[which][f->n[which]++] = v;
}

void res_add_cpu(struct results *r, const char *id, int which, double daemon, double self)
{
	struct fig *f = res_find(r, id);

	if (f && f->ncpu[which] < RES_MAX_ROUNDS) {
		f->cpu_daemon[which][f->ncpu[which]] = daemon;
		f->cpu_self[which][f->ncpu[which]++] = self;
	}
}

void res_na(struct results *r, const char *id, int which, const char *why)
{
	struct fig *f = res_find(r, id);

	if (f)
		snprintf(f->na[which], sizeof(f->na[which]), "%s", why);
}

void res_fail(struct results *r, const char *id, int which)
{
	struct fig *f = res_find(r, id);

	if (f)
		f->failed[which] = true;
}

bool fig_touched(const struct fig *f)
{
	for (int w = 0; w < T_N; w++)
		if (f->n[w] || f->na[w][0] || f->failed[w])
			return true;
	return false;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double res_median(const double *v, unsigned n)
{
	double tmp[RES_MAX_ROUNDS];

	if (!n || n > RES_MAX_ROUNDS)
		return NAN;
	memcpy(tmp, v, n * sizeof(*v));
	qsort(tmp, n, sizeof(*tmp), cmp_double);
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

double fig_median(const struct fig *f, int which)
{
	return res_median(f->v[which], f->n[which]);
}

/* Each round's which / other into r: n, or 0 when the rounds cannot be
 * paired (fewer than 2, unequal counts, a failure, a zero). */
static unsigned paired_ratios(const struct fig *f, int which, int other, double *r)
{
	unsigned n = f->n[which];

	if (n < 2 || n != f->n[other] || f->failed[which] || f->failed[other])
		return 0;
	for (unsigned i = 0; i < n; i++) {
		if (!(f->v[other][i] > 0))
			return 0;
		r[i] = f->v[which][i] / f->v[other][i];
	}
	return n;
}

double fig_paired_ratio(const struct fig *f, int which, int other)
{
	double r[RES_MAX_ROUNDS];
	unsigned n = paired_ratios(f, which, other, r);

	return n ? res_median(r, n) : NAN;
}

unsigned res_interval_rank(unsigned n)
{
	/* P(median < k-th smallest) = P(Binomial(n, 1/2) <= k - 1); the
	 * interval misses on either side with that probability. */
	double term = 1, cdf = 0, total = ldexp(1, (int)n);
	unsigned k = 0;

	if (n > RES_MAX_ROUNDS)
		return 0;
	for (unsigned j = 0; 2 * j < n; j++) {
		cdf += term;          /* sum of C(n, 0..j) */
		if (1 - 2 * cdf / total < 0.90)
			break;
		k = j + 1;
		term = term * (n - j) / (j + 1); /* C(n, j + 1) */
	}
	return k;
}

int fig_paired_interval(const struct fig *f, int which, int other, double *lo, double *hi)
{
	double r[RES_MAX_ROUNDS];
	unsigned n = paired_ratios(f, which, other, r), k = res_interval_rank(n);

	if (!n || !k)
		return -1;
	qsort(r, n, sizeof(r[0]), cmp_double);
	*lo = r[k - 1];
	*hi = r[n - k];
	return 0;
}

double fig_min(const struct fig *f, int which)
{
	double lo = NAN;

	for (unsigned r = 0; r < f->n[which]; r++)
		if (isnan(lo) || f->v[which][r] < lo)
			lo = f->v[which][r];
	return lo;
}

double fig_max(const struct fig *f, int which)
{
	double hi = NAN;

	for (unsigned r = 0; r < f->n[which]; r++)
		if (isnan(hi) || f->v[which][r] > hi)
			hi = f->v[which][r];
	return hi;
}

int fig_unstable(const struct fig *f, int which)
{
	double lo = fig_min(f, which), hi = fig_max(f, which);

	/* A figure that can be zero or negative (a memory delta) has no
	 * "half as fast": only positive ranges are judged. */
	if (f->n[which] < 2 || isnan(lo) || !(hi > 0))
		return -1;
	return lo < hi / 2;
}

double fig_cpu_per_gib_round(const struct fig *f, int which, unsigned r, bool daemon_only)
{
	double v, cpu;

	if (strcmp(f->unit, "MiB/s") || r >= f->n[which] || r >= f->ncpu[which])
		return NAN;
	v = f->v[which][r];
	cpu = daemon_only ? 0 : f->cpu_self[which][r];
	/* The baseline has no daemon: both its ends are the bench process. */
	if (which != T_BASE)
		cpu += f->cpu_daemon[which][r];
	if (isnan(v) || isnan(cpu) || v <= 0)
		return NAN;
	return cpu / (v / 1024.0);
}

double fig_cpu_per_gib(const struct fig *f, int which, bool daemon_only)
{
	double c[RES_MAX_ROUNDS];
	unsigned n = 0;

	if (which == T_BASE && daemon_only)
		return NAN;
	/* Values and CPU are recorded together, one pair per round; a figure
	 * where they are not paired gets no cost rather than a wrong one. */
	if (f->n[which] != f->ncpu[which])
		return NAN;
	for (unsigned r = 0; r < f->n[which]; r++) {
		double x = fig_cpu_per_gib_round(f, which, r, daemon_only);

		if (!isnan(x))
			c[n++] = x;
	}
	return res_median(c, n);
}

double fig_cpu_daemon(const struct fig *f, int which)
{
	return res_median(f->cpu_daemon[which], f->ncpu[which]);
}

double fig_cpu_self(const struct fig *f, int which)
{
	return res_median(f->cpu_self[which], f->ncpu[which]);
}

double fig_ratio(const struct fig *f, int which, int other)
{
	double a = fig_median(f, which), b = fig_median(f, other);

	if (isnan(a) || isnan(b) || b == 0)
		return NAN;
	return a / b;
}

int fig_target_met(const struct fig *f, int which)
{
	double v;

	switch (f->tgt) {
	case TGT_RATIO_MIN:
		v = fig_ratio(f, which, T_BASE);
		return isnan(v) ? -1 : v >= f->target;
	case TGT_RATIO_MAX:
		v = fig_ratio(f, which, T_BASE);
		return isnan(v) ? -1 : v <= f->target;
	case TGT_ABS_MAX:
		v = fig_median(f, which);
		return isnan(v) ? -1 : v < f->target;
	case TGT_ABS_LE:
		v = fig_median(f, which);
		return isnan(v) ? -1 : v <= f->target;
	default:
		return -1;
	}
}

const char *fig_target_text(const struct fig *f, char *buf, unsigned cap)
{
	switch (f->tgt) {
	case TGT_RATIO_MIN:
		snprintf(buf, cap, ">= %.1fx", f->target);
		break;
	case TGT_RATIO_MAX:
		snprintf(buf, cap, "<= %.1fx", f->target);
		break;
	case TGT_ABS_MAX:
		snprintf(buf, cap, "< %g %s", f->target, f->unit);
		break;
	case TGT_ABS_LE:
		if (!strcmp(f->unit, "ratio"))
			snprintf(buf, cap, "<= %.1fx", f->target);
		else
			snprintf(buf, cap, "<= %g %s", f->target, f->unit);
		break;
	default:
		snprintf(buf, cap, "-");
		break;
	}
	return buf;
}
