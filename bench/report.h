/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The run's output: a table on stdout, a JSON file, a gnuplot data file. */
#ifndef VDV_BENCH_REPORT_H
#define VDV_BENCH_REPORT_H

#include <stdio.h>

#include "bench.h"
#include "provenance.h"

/* Where and how the run happened, for the header and the JSON. */
struct run_info {
	char date[32];
	char kernel[256];
	char cpu[128];
	long ncpu;
	char load[64];      /* /proc/loadavg at the start: others' work skews */
	int others_running; /* other runnable tasks at the start (-1: unknown) */
	char cwd[512];      /* relative paths on the command line start here */
	struct daemon_prov daemon[2];
};

/* Also runs each daemon's --version and git (bounded by timeout_ms). */
void run_info_fill(struct run_info *ri, const struct bench_cfg *c);

void report_header(const struct bench *b, const struct run_info *ri, FILE *out);
void report_table(const struct bench *b, FILE *out);
int report_json(const struct bench *b, const struct run_info *ri, const char *path);
/* One line per write size: baseline, A (and B) for g2h and h2g, MiB/s. */
int report_dat(const struct bench *b, const char *path);

#endif
