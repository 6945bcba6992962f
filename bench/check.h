/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * --check-against FILE: this run's medians against a saved results.json.
 * A figure that got more than CHECK_TOLERANCE worse (throughput below,
 * latency or memory above the saved median, as its "better" says) is a
 * regression; figures on one side only are listed, not judged.
 */
#ifndef VDV_BENCH_CHECK_H
#define VDV_BENCH_CHECK_H

#include <stdio.h>

#include "bench.h"

#define CHECK_TOLERANCE 0.10
#define CHECK_MAX_FILE (16u << 20)
#define CHECK_MAX_CFG 16

struct saved_fig {
	char id[32];
	char unit[16];
	double med[T_N];    /* NAN: no value (null, absent, or no such side) */
};

struct check {
	const char *path;
	struct saved_fig *figs;
	unsigned n;
	char date[40];
	char commit[72];            /* daemon A's, "" if the file has none */
	struct {
		char key[24];
		double v;
	} cfg[CHECK_MAX_CFG];       /* the saved run's numeric and boolean settings */
	unsigned ncfg;
	char daemon_args[512];      /* joined with spaces */
	bool has_daemon_args;
};

/* Reads and checks path before any measurement, so that a bad file fails
 * at once. Returns 0, or -1 with the reason printed. */
int check_load(struct check *c, const char *path);
void check_free(struct check *c);

/* Prints the comparison to out; returns how many figures got worse. */
unsigned check_compare(const struct check *c, const struct bench *b, FILE *out);

#endif
