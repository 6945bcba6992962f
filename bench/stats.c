/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "stats.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double stats_percentile(double *v, unsigned n, double p)
{
	unsigned rank;

	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	rank = (unsigned)ceil(p / 100.0 * n);
	return v[rank ? rank - 1 : 0];
}

double stats_jain(const uint64_t *x, unsigned n)
{
	double s = 0, s2 = 0;

	for (unsigned i = 0; i < n; i++) {
		s += (double)x[i];
		s2 += (double)x[i] * (double)x[i];
	}
	return n && s2 > 0 ? s * s / (n * s2) : NAN;
}

double stats_min_over_max(const uint64_t *x, unsigned n)
{
	uint64_t lo = UINT64_MAX, hi = 0;

	for (unsigned i = 0; i < n; i++) {
		lo = x[i] < lo ? x[i] : lo;
		hi = x[i] > hi ? x[i] : hi;
	}
	return n && hi ? (double)lo / (double)hi : NAN;
}

double stats_mibps(uint64_t bytes, int64_t ns)
{
	return ns > 0 ? (double)bytes / (1024.0 * 1024.0) / ((double)ns / 1e9) : NAN;
}
