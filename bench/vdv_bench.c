/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * vdv-bench: measures a vhost-user vsock daemon through the frontend
 * simulator, next to an AF_UNIX baseline measured in the same run, and
 * optionally against a second daemon (A B A B ...). See bench/README.md for
 * what exactly each figure measures.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "check.h"
#include "dut.h"
#include "record.h"
#include "report.h"

const char *bench_who(int which)
{
	return which == T_BASE ? "baseline" : which == T_A ? "A" : "B";
}

const char *bench_size_name(size_t size, char *buf, size_t cap)
{
	if (size >= 1024 && size % 1024 == 0)
		snprintf(buf, cap, "%zu KiB", size / 1024);
	else
		snprintf(buf, cap, "%zu B", size);
	return buf;
}

void bench_fail(struct bench *b, const char *fig_id, int which, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vdv-bench: FAILED %s (%s): ", fig_id, bench_who(which));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	res_fail(&b->res, fig_id, which);
	b->failures++;
}

static bool wanted(const struct bench *b, const char *name)
{
	const char *p = b->cfg.only;
	size_t n = strlen(name);

	if (!p)
		return true;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (len == n && !strncmp(p, name, n))
			return true;
		p += len + (p[len] == ',');
	}
	return false;
}

/* The project's targets, as ratios to the baseline. */
static double stream_target(size_t size)
{
	return size <= 64 ? 1.0 : size <= 4096 ? 0.6 : 0.8;
}

static void define_figures(struct bench *b)
{
	struct results *r = &b->res;
	char id[32], label[128], sz[32];
	bool std;

	for (int dir = 0; dir < 2; dir++) {
		for (unsigned i = 0; i < b->cfg.n_sizes; i++) {
			size_t s = b->cfg.sizes[i];

			std = s == 64 || s == 4096 || s == 65536;
			snprintf(label, sizeof(label), "stream %s, %s writes",
				 dir ? "host->guest" : "guest->host",
				 bench_size_name(s, sz, sizeof(sz)));
			res_define(r, rec_id(id, sizeof(id), dir ? "h2g" : "g2h", s), label, "MiB/s",
				   true, true, std ? TGT_RATIO_MIN : TGT_NONE, stream_target(s));
			/* Baseline column: the ideal relay (relay.h); daemon column:
			 * the figure above again, so that the ratio is daemon / floor. */
			if (dir)
				res_define(r, rec_id(id, sizeof(id), "h2g_floor", s),
					   "  floor: ideal relay (daemon / floor)", "MiB/s", true,
					   true, TGT_NONE, 0);
		}
	}
	snprintf(label, sizeof(label), "round trip %zu B (host<->guest), p50", b->cfg.rr_msg);
	res_define(r, "rr_p50", label, "us", false, true, TGT_RATIO_MAX, 1.5);
	snprintf(label, sizeof(label), "round trip %zu B (host<->guest), p99", b->cfg.rr_msg);
	res_define(r, "rr_p99", label, "us", false, true, TGT_NONE, 0);
	/* Baseline column: the ideal relay (relay.h); daemon column: the
	 * daemon's round trip again, so that the ratio is daemon / floor. */
	res_define(r, "rr_floor_p50", "  floor: ideal relay, p50 (daemon / floor)", "us", false,
		   true, TGT_NONE, 0);
	res_define(r, "rr_floor_p99", "  floor: ideal relay, p99", "us", false, true, TGT_NONE, 0);
	res_define(r, "connrate", "host connect+CONNECT/OK+close cycles", "conn/s", true, true,
		   TGT_NONE, 0);
	for (int dir = 0; dir < 2; dir++) {
		bool g2h = dir == 1;

		snprintf(label, sizeof(label), "%u conns %s, %s writes: aggregate", b->cfg.mc_conns,
			 g2h ? "guest->host" : "host->guest",
			 bench_size_name(b->cfg.mc_write, sz, sizeof(sz)));
		res_define(r, rec_multi_id(id, sizeof(id), g2h, "aggr"), label, "MiB/s", true, true,
			   TGT_NONE, 0);
		res_define(r, rec_multi_id(id, sizeof(id), g2h, "jain"),
			   "  fairness (Jain's index)", "index", true, true, TGT_NONE, 0);
		res_define(r, rec_multi_id(id, sizeof(id), g2h, "minmax"),
			   "  min/max bytes per connection", "ratio", true, true, TGT_NONE, 0);
	}
	res_define(r, "sib_65536", "sibling VM->VM, 64 KiB writes", "MiB/s", true, true, TGT_NONE,
		   0);
	res_define(r, "rss_start", "daemon VmRSS at start (no frontend)", "KiB", false, false,
		   TGT_NONE, 0);
	res_define(r, "rss_vm", "daemon VmRSS, one idle VM", "KiB", false, false, TGT_NONE, 0);
	res_define(r, "rss_vm_priv", "  own (VmRSS - RssShmem)", "KiB", false, false, TGT_NONE,
		   0);
	snprintf(label, sizeof(label), "own memory per idle connection (%u)", b->cfg.idle_conns);
	res_define(r, "rss_conn", label, "B", false, false, TGT_ABS_MAX, 1024);
	res_define(r, "rss_conn_vmrss", "  VmRSS delta incl. guest RAM touched", "B", false, false,
		   TGT_NONE, 0);
	/* guest->host first: the figure the issue asks for. */
	for (int dir = 0; dir < 2; dir++) {
		const char *d = dir ? "h2g" : "g2h";

		snprintf(label, sizeof(label), "%u VMs %s, %s writes: aggregate",
			 b->cfg.multivm_vms, dir ? "host->guest" : "guest->host",
			 bench_size_name(b->cfg.mc_write, sz, sizeof(sz)));
		snprintf(id, sizeof(id), "mvm_%s_aggr", d);
		res_define(r, id, label, "MiB/s", true, false, TGT_NONE, 0);
		snprintf(id, sizeof(id), "mvm_%s_jain", d);
		res_define(r, id, "  fairness over VMs (Jain's index)", "index", true, false,
			   TGT_NONE, 0);
		snprintf(id, sizeof(id), "mvm_%s_minmax", d);
		res_define(r, id, "  min/max bytes per VM", "ratio", true, false, TGT_NONE, 0);
		snprintf(id, sizeof(id), "mvm_%s_alone", d);
		res_define(r, id, "  1 VM alone (same guest model)", "MiB/s", true, false,
			   TGT_NONE, 0);
		snprintf(id, sizeof(id), "mvm_%s_vs_alone", d);
		res_define(r, id, "  aggregate / 1 VM alone", "ratio", true, false, TGT_NONE, 0);
	}
	snprintf(label, sizeof(label), "rr %zu B next to a streaming VM (1 thr), p50",
		 b->cfg.rr_msg);
	res_define(r, "nb_p50", label, "us", false, false, TGT_NONE, 0);
	res_define(r, "nb_p99", "  p99", "us", false, false, TGT_NONE, 0);
	res_define(r, "nb_alone_p50", "  same VM, neighbour idle, p50", "us", false, false,
		   TGT_NONE, 0);
	res_define(r, "nb_alone_p99", "  same VM, neighbour idle, p99", "us", false, false,
		   TGT_NONE, 0);
	res_define(r, "nb_p99_ratio", "  p99 with neighbour / neighbour idle", "ratio", false,
		   false, TGT_ABS_LE, 2.0);
	res_define(r, "nb_stream", "  neighbour's 64 KiB g->h stream meanwhile", "MiB/s", true,
		   false, TGT_NONE, 0);
	/* Baseline column: the same ratio with no daemon (relay.h); daemon
	 * column: nb_p99_ratio again, so that the ratio is daemon / floor. */
	res_define(r, "nb_floor_p99_ratio", "  floor: ideal relay beside a 3-thread stream",
		   "ratio", false, true, TGT_NONE, 0);
	res_define(r, "nb_sep_p50", "  A on a worker of its own (--threads 2), p50", "us", false,
		   false, TGT_NONE, 0);
	res_define(r, "nb_sep_p99", "  p99", "us", false, false, TGT_NONE, 0);
	res_define(r, "nb_sep_p99_ratio", "  p99 separate workers / neighbour idle", "ratio",
		   false, false, TGT_NONE, 0);
	res_define(r, "nb_sep_stream", "  neighbour's stream meanwhile", "MiB/s", true, false,
		   TGT_NONE, 0);
	for (unsigned i = 0; i < SCALE_STEPS; i++) {
		unsigned n = scale_vm_counts[i];

		snprintf(id, sizeof(id), "scale_%u_rss", n);
		snprintf(label, sizeof(label), "%u idle VM%s: daemon VmRSS", n, n == 1 ? "" : "s");
		res_define(r, id, label, "KiB", false, false, TGT_NONE, 0);
		snprintf(id, sizeof(id), "scale_%u_threads", n);
		res_define(r, id, "  threads", "", false, false, TGT_NONE, 0);
		snprintf(id, sizeof(id), "scale_%u_fds", n);
		res_define(r, id, "  open descriptors", "", false, false, TGT_NONE, 0);
	}
}

/* Shows the last value of fig for each target of the round. */
static void progress(const struct bench *b, const char *id, unsigned round)
{
	const struct fig *f = res_find((struct results *)&b->res, id);

	if (!f)
		return;
	fprintf(stderr, "  %-14s round %u/%u:", id, round + 1, b->cfg.rounds);
	for (int w = T_BASE; w <= (b->cfg.daemon[1] ? T_B : T_A); w++) {
		if (w == T_BASE && !f->has_baseline)
			continue;
		if (f->n[w] > round)
			fprintf(stderr, " %s %.4g", bench_who(w), f->v[w][f->n[w] - 1]);
		else
			fprintf(stderr, " %s %s", bench_who(w), f->na[w][0] ? "n/a" : "-");
	}
	fprintf(stderr, " %s\n", f->unit);
}

typedef int (*run_fn)(struct bench *b, int which, size_t arg, bool flag);

static int do_stream(struct bench *b, int w, size_t size, bool g2h)
{
	return run_stream(b, w, g2h, size);
}

static int do_rr(struct bench *b, int w, size_t arg, bool flag)
{
	(void)arg, (void)flag;
	return run_rr(b, w);
}

static int do_connrate(struct bench *b, int w, size_t arg, bool flag)
{
	(void)arg, (void)flag;
	return run_connrate(b, w);
}

static int do_multi(struct bench *b, int w, size_t arg, bool g2h)
{
	(void)arg;
	return run_multi(b, w, g2h);
}

static int do_sibling(struct bench *b, int w, size_t size, bool flag)
{
	(void)flag;
	return run_sibling(b, w, size);
}

static int do_scale(struct bench *b, int w, size_t step, bool flag)
{
	(void)flag;
	return run_scale(b, w, (unsigned)step);
}

static int do_multivm(struct bench *b, int w, size_t arg, bool g2h)
{
	(void)arg;
	return run_multivm(b, w, g2h);
}

static int do_neighbour(struct bench *b, int w, size_t arg, bool flag)
{
	(void)arg, (void)flag;
	return run_neighbour(b, w);
}

static int do_rss(struct bench *b, int w, size_t arg, bool flag)
{
	(void)arg, (void)flag;
	return run_rss(b, w);
}

/* Baseline, A (, B) in every round, so that slow drifts of the machine
 * touch all of them alike. With two daemons, every other round runs B
 * before A: the second daemon after the baseline measured up to 13 %
 * faster than the first at 64 B guest->host (the same binary as A and B),
 * and alternating cancels that. */
static void rounds(struct bench *b, const char *id, run_fn fn, size_t arg, bool flag)
{
	unsigned nd = b->cfg.daemon[1] ? 2 : 1;

	for (unsigned r = 0; r < b->cfg.rounds; r++) {
		fn(b, T_BASE, arg, flag);
		for (unsigned d = 0; d < nd; d++)
			fn(b, T_A + (int)(r % 2 && nd == 2 ? nd - 1 - d : d), arg, flag);
		progress(b, id, r);
	}
}

static void raise_fd_limit(unsigned need)
{
	struct rlimit rl;

	/* The daemon inherits it: it needs a socket per connection too. */
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	static struct bench b;
	static struct check chk;
	static struct run_info ri;
	unsigned worse = 0;
	char id[32];
	int r;

	r = bench_parse_args(argc, argv, &b.cfg);
	if (r)
		return r > 0 ? 0 : 2;
	/* A bad saved file is a usage error found now, not after the run. */
	if (b.cfg.check_path && check_load(&chk, b.cfg.check_path))
		return 2;
	signal(SIGPIPE, SIG_IGN);
	dut_app_calls(b.cfg.guest_syscalls);
	/* A simulated guest holds about 8 descriptors (socket, memfd, eventfds). */
	raise_fd_limit(4 * (b.cfg.idle_conns + b.cfg.mc_conns) + 16 * b.cfg.multivm_vms + 256);
	define_figures(&b);
	run_info_fill(&ri, &b.cfg);
	report_header(&b, &ri, stdout);
	fflush(stdout);

	if (wanted(&b, "stream")) {
		for (int dir = 0; dir < 2; dir++)
			for (unsigned i = 0; i < b.cfg.n_sizes; i++)
				rounds(&b, rec_id(id, sizeof(id), dir ? "h2g" : "g2h",
						  b.cfg.sizes[i]),
				       do_stream, b.cfg.sizes[i], dir == 0);
	}
	if (wanted(&b, "rr"))
		rounds(&b, "rr_p50", do_rr, 0, false);
	if (wanted(&b, "connrate"))
		rounds(&b, "connrate", do_connrate, 0, false);
	if (wanted(&b, "multi")) {
		rounds(&b, "mc_h2g_aggr", do_multi, 0, false);
		rounds(&b, "mc_g2h_aggr", do_multi, 0, true);
	}
	if (wanted(&b, "sibling"))
		rounds(&b, "sib_65536", do_sibling, 65536, false);
	if (wanted(&b, "rss"))
		rounds(&b, "rss_conn", do_rss, 0, false);
	if (wanted(&b, "scale"))
		for (unsigned i = 0; i < (b.cfg.smoke ? 2u : SCALE_STEPS); i++) {
			snprintf(id, sizeof(id), "scale_%u_rss", scale_vm_counts[i]);
			rounds(&b, id, do_scale, i, false);
		}

	if (wanted(&b, "multivm")) {
		rounds(&b, "mvm_g2h_aggr", do_multivm, 0, true);
		rounds(&b, "mvm_h2g_aggr", do_multivm, 0, false);
	}
	if (wanted(&b, "neighbour"))
		rounds(&b, "nb_p99_ratio", do_neighbour, 0, false);

	report_table(&b, stdout);
	if (b.cfg.json_path && (r = report_json(&b, &ri, b.cfg.json_path)))
		fprintf(stderr, "vdv-bench: %s: %s\n", b.cfg.json_path, strerror(-r));
	if (b.cfg.dat_path && (r = report_dat(&b, b.cfg.dat_path)))
		fprintf(stderr, "vdv-bench: %s: %s\n", b.cfg.dat_path, strerror(-r));
	if (b.cfg.check_path) {
		worse = check_compare(&chk, &b, stdout);
		check_free(&chk);
	}
	if (b.failures)
		fprintf(stdout, "\n%u measurement(s) FAILED (see above)\n", b.failures);
	/* A failed measurement says more than a slower one. */
	return b.failures ? 1 : worse ? 3 : 0;
}
