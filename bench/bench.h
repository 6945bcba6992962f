/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * vdv-bench: the run's configuration and context, and the scenarios. Each
 * scenario has a baseline half (baseline.c: two host applications over
 * AF_UNIX) and a daemon half (dut_*.c: the host application on one end of
 * the daemon, the simulated guest on the other), and records its figures
 * in the results under the same ids.
 */
#ifndef VDV_BENCH_BENCH_H
#define VDV_BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "results.h"

#define BENCH_MAX_SIZES 8
#define BENCH_MAX_DAEMON_ARGS 16

struct bench_cfg {
	const char *daemon[2];      /* A, and B with --compare */
	const char *daemon_args[BENCH_MAX_DAEMON_ARGS];
	unsigned n_daemon_args;
	unsigned rounds;
	double duration_s;          /* each timed measurement */
	size_t sizes[BENCH_MAX_SIZES];
	unsigned n_sizes;
	unsigned queue_size;        /* every virtqueue */
	size_t rx_buf_size;         /* guest rx buffer payload room */
	uint32_t guest_buf_alloc;   /* guest socket buffer (credit we give) */
	size_t read_size;           /* every reader's buffer */
	size_t rr_msg;
	unsigned rr_iters;          /* most round trips per measurement */
	unsigned mc_conns;
	size_t mc_write;
	unsigned idle_conns;
	unsigned multivm_vms;       /* VMs streaming at once (multivm) */
	unsigned conn_window;       /* connections being torn down at once */
	bool verify;
	bool smoke;
	bool verbose;               /* guest driver counters per run */
	bool guest_syscalls;        /* guest apps pay a syscall per call */
	int timeout_ms;             /* bound of any single wait */
	const char *only;           /* comma-separated scenario names, or NULL */
	const char *json_path;
	const char *dat_path;
	const char *commit[2];      /* --commit / --compare-commit, or NULL: git */
	const char *check_path;     /* --check-against FILE */
	int argc;                   /* the command line, for the record */
	char **argv;
};

struct bench {
	struct bench_cfg cfg;
	struct results res;
	unsigned failures;
};

/* Parses argv into cfg (defaults first). Returns 0, 1 after --help, or -1
 * with a message printed. */
int bench_parse_args(int argc, char **argv, struct bench_cfg *cfg);

/* Records a failed measurement: prints why and marks the figure. */
void bench_fail(struct bench *b, const char *fig_id, int which, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "A" or "B" or "baseline", for messages. */
const char *bench_who(int which);

/* Human-readable size: "64 B", "4 KiB", "64 KiB". */
const char *bench_size_name(size_t size, char *buf, size_t cap);

/* ---- scenarios: which is T_BASE for the baseline, T_A/T_B for a daemon ---- */

/* Stream throughput of `size`-byte writes, guest -> host (g2h) or host ->
 * guest. Figure ids "g2h_<size>", "h2g_<size>". */
int run_stream(struct bench *b, int which, bool g2h, size_t size);
/* Round trips of rr_msg bytes: "rr_p50", "rr_p99". */
int run_rr(struct bench *b, int which);
/* Host-initiated CONNECT/OK/close cycles: "connrate". */
int run_connrate(struct bench *b, int which);
/* mc_conns concurrent streams: "mc_<dir>_aggr", "_jain", "_minmax". */
int run_multi(struct bench *b, int which, bool g2h);
/* Daemon memory: "rss_vm", "rss_vm_anon", "rss_conn", "rss_conn_anon". */
int run_rss(struct bench *b, int which);
/* VM -> VM through the daemon: "sib_<size>". */
int run_sibling(struct bench *b, int which, size_t size);
/* Idle VMs: scale_vm_counts[step] VMs, "scale_<n>_rss", "_threads", "_fds". */
#define SCALE_STEPS 4
extern const unsigned scale_vm_counts[SCALE_STEPS];
int run_scale(struct bench *b, int which, unsigned step);
/* multivm_vms VMs in one daemon, one guest and one connection each, all
 * streaming mc_write-byte writes, and one such VM alone: "mvm_<dir>_aggr",
 * "_jain", "_minmax", "_alone", "_vs_alone". Absolute (no baseline). */
int run_multivm(struct bench *b, int which, bool g2h);
/* Two VMs on one worker (--threads 1): B's 64 B round trips while A streams
 * 64 KiB writes guest->host, and with A idle: "nb_p50", "nb_p99",
 * "nb_alone_p50", "nb_alone_p99", "nb_p99_ratio", "nb_stream"; the control
 * with A on a worker of its own (--threads 2): "nb_sep_p50", "nb_sep_p99",
 * "nb_sep_p99_ratio", "nb_sep_stream". */
int run_neighbour(struct bench *b, int which);

#endif
