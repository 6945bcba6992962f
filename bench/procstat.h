/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * What a run cost: CPU time of the daemon (/proc/PID/stat) and of the bench
 * process itself (getrusage), and the daemon's resident memory
 * (/proc/PID/status). CPU is reported next to throughput so that a faster
 * figure bought with more CPU is visible as such.
 */
#ifndef VDV_BENCH_PROCSTAT_H
#define VDV_BENCH_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

struct cpu_mark {
	pid_t pid;         /* daemon, or 0 for none */
	int64_t wall_ns;
	double daemon_s;   /* user + system seconds */
	double self_s;
};

struct cpu_use {
	double daemon;     /* fraction of one CPU over the interval */
	double self;
};

void cpu_mark(struct cpu_mark *m, pid_t daemon);
struct cpu_use cpu_since(const struct cpu_mark *m);

struct mem_use {
	long rss_kib;      /* VmRSS */
	long anon_kib;     /* RssAnon: the daemon's own heap and stacks */
	long shmem_kib;    /* RssShmem: mostly guest RAM it touched */
};

int mem_read(pid_t pid, struct mem_use *out);

#endif
