/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "record.h"

/*
 * Runnable tasks other than this one (/proc/stat procs_running counts the
 * reader too), median of 21 looks 10 ms apart, or -1. Any of them competes
 * for the CPUs the figures need, also a nice-19 or SCHED_IDLE batch job:
 * the daemon's polling yields to it (README, Performance).
 */
static int others_running(void)
{
	double v[21];

	for (unsigned i = 0; i < 21; i++) {
		char line[128];
		FILE *f = fopen("/proc/stat", "r");
		int n = -1;

		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "procs_running %d", &n) == 1)
				break;
		if (f)
			fclose(f);
		if (n < 1)
			return -1;
		v[i] = n - 1;
		if (i < 20)
			usleep(10000);
	}
	return (int)res_median(v, 21);
}

void run_info_fill(struct run_info *ri, const struct bench_cfg *c)
{
	struct utsname u;
	char line[256];
	time_t t = time(NULL);
	FILE *f;

	memset(ri, 0, sizeof(*ri));
	strftime(ri->date, sizeof(ri->date), "%Y-%m-%dT%H:%M:%S%z", localtime(&t));
	if (!uname(&u))
		snprintf(ri->kernel, sizeof(ri->kernel), "%s %s %s", u.sysname, u.release,
			 u.machine);
	ri->ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	f = fopen("/proc/loadavg", "r");
	if (f && fgets(ri->load, sizeof(ri->load), f))
		ri->load[strcspn(ri->load, "\n")] = 0;
	if (f)
		fclose(f);
	ri->others_running = others_running();
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && p) {
			snprintf(ri->cpu, sizeof(ri->cpu), "%s", p + 2);
			ri->cpu[strcspn(ri->cpu, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	if (!getcwd(ri->cwd, sizeof(ri->cwd)))
		snprintf(ri->cwd, sizeof(ri->cwd), "?");
	for (int d = 0; d < 2; d++)
		if (c->daemon[d])
			prov_daemon(c->daemon[d], c->commit[d], c->timeout_ms, &ri->daemon[d]);
}

static unsigned ndaemons(const struct bench *b)
{
	return b->cfg.daemon[1] ? 2 : 1;
}

/* One value in the figure's unit, as the table shows it. */
static const char *fmt_num(const struct fig *f, double v, char *buf, size_t cap)
{
	const char *u = f->unit;

	if (isnan(v))
		snprintf(buf, cap, "-");
	else if (!strcmp(u, "index") || !strcmp(u, "ratio"))
		snprintf(buf, cap, "%.3f", v);
	else if (v >= 1000 || !strcmp(u, "B") || !strcmp(u, "KiB"))
		snprintf(buf, cap, "%.0f", v);
	else
		snprintf(buf, cap, "%.1f", v);
	return buf;
}

static const char *fmt_value(const struct fig *f, int which, char *buf, size_t cap)
{
	if (f->failed[which] && f->n[which] == 0)
		snprintf(buf, cap, "FAILED");
	else if (f->na[which][0])
		snprintf(buf, cap, "n/a");
	else
		fmt_num(f, fig_median(f, which), buf, cap);
	return buf;
}

/* A command-line word as a shell reads it back: bare when it is safe. */
static void put_quoted(FILE *out, const char *s)
{
	if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			    "_-+=/.,:@%") == strlen(s)) {
		fputs(s, out);
		return;
	}
	fputc('\'', out);
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", out);
		else
			fputc(*s, out);
	fputc('\'', out);
}

static void put_command(FILE *out, const struct bench_cfg *c)
{
	for (int i = 0; i < c->argc; i++) {
		if (i)
			fputc(' ', out);
		put_quoted(out, c->argv[i]);
	}
}
static const char *fmt_ratio(double r, char *buf, size_t cap)
{
	if (isnan(r))
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.2f", r);
	return buf;
}

static const char *fmt_cpu(const struct fig *f, int which, char *buf, size_t cap)
{
	double d = fig_cpu_daemon(f, which), s = fig_cpu_self(f, which);

	if (isnan(s))
		buf[0] = 0;
	else if (which == T_BASE)
		snprintf(buf, cap, "-/%.0f%%", 100 * s);
	else
		snprintf(buf, cap, "%.0f%%/%.0f%%", 100 * d, 100 * s);
	return buf;
}

/* CPU seconds spent per GiB delivered: robust to other load on the
 * machine, which steals CPU time from the run but adds none to its cost.
 * Daemon runs count the daemon and the bench process (guest + host app). */
static double cost_per_gib(const struct fig *f, int which)
{
	return fig_cpu_per_gib(f, which, false);
}

static void header_daemon(FILE *out, const char *name, const char *path,
			  const struct daemon_prov *d)
{
	size_t vlen = strcspn(d->version, "\n");

	fprintf(out, "daemon %s: %s (", name, path);
	if (d->version[0])
		fprintf(out, "%.*s", (int)vlen, d->version);
	else
		fprintf(out, "no version: %s", d->version_err);
	if (d->commit[0])
		fprintf(out, ", commit %s%s%s)\n", d->commit,
			!strcmp(d->commit_src, "option") ? " (--commit)" : "",
			d->dirty == 1 ? ", tree modified since" : "");
	else
		fprintf(out, ", no commit: %s)\n", d->commit_err);
}

void report_header(const struct bench *b, const struct run_info *ri, FILE *out)
{
	fprintf(out, "vdv-bench %s on %s, %ld CPUs (%s), loadavg %s\n", ri->date, ri->kernel,
		ri->ncpu, ri->cpu, ri->load);
	if (ri->others_running > 0)
		fprintf(out, "warning: %d other task%s running at the start (also nice or idle "
			     "ones take CPU from polling threads): figures will swing more\n",
			ri->others_running, ri->others_running == 1 ? " was" : "s were");
	fputs("command: ", out);
	put_command(out, &b->cfg);
	fputc('\n', out);
	header_daemon(out, "A", b->cfg.daemon[0], &ri->daemon[0]);
	if (b->cfg.daemon[1])
		header_daemon(out, "B", b->cfg.daemon[1], &ri->daemon[1]);
	for (unsigned i = 0; i < b->cfg.n_daemon_args; i++)
		fprintf(out, "daemon arg: %s\n", b->cfg.daemon_args[i]);
	fprintf(out,
		"queue size %u, guest rx buffers %zu B, guest buf_alloc %u B, readers %zu B, "
		"%.2f s x %u rounds (median), data %s, guest app syscalls %s\n",
		b->cfg.queue_size, b->cfg.rx_buf_size, b->cfg.guest_buf_alloc, b->cfg.read_size,
		b->cfg.duration_s, b->cfg.rounds, b->cfg.verify ? "checksum-verified" : "counted",
		b->cfg.guest_syscalls ? "on" : "off");
}

/* The second line of a figure measured over two rounds or more: min..max
 * of each side, and which side is unstable. */
static void range_line(const struct bench *b, const struct fig *f, FILE *out)
{
	bool cmp = ndaemons(b) == 2;
	char lo[24], hi[24], bad[32] = "";
	unsigned most = 0;

	for (int w = 0; w < T_N; w++)
		most = f->n[w] > most ? f->n[w] : most;
	if (most < 2)
		return;
	fprintf(out, "%-44s", "    min..max");
	for (int w = f->has_baseline ? T_BASE : T_A; w <= (cmp ? T_B : T_A); w++) {
		const char *who = w == T_BASE ? "baseline" : cmp ? bench_who(w) : "daemon";

		if (!f->n[w])
			continue;
		fprintf(out, " %s %s..%s", who, fmt_num(f, fig_min(f, w), lo, sizeof(lo)),
			fmt_num(f, fig_max(f, w), hi, sizeof(hi)));
		if (fig_unstable(f, w) == 1)
			snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad), "%s%s",
				 bad[0] ? ", " : "", who);
	}
	if (bad[0])
		fprintf(out, "  UNSTABLE: %s", bad);
	if (cmp && !isnan(fig_paired_ratio(f, T_B, T_A))) {
		double plo, phi;

		fprintf(out, "  B/A per round %.2f", fig_paired_ratio(f, T_B, T_A));
		if (!fig_paired_interval(f, T_B, T_A, &plo, &phi))
			fprintf(out, " [%.2f..%.2f]", plo, phi);
	}
	fputc('\n', out);
}

/* With --compare: which way B/A per round points beyond this run's noise.
 * -1 B worse, 1 B better, 0 its interval holds 1 (or there is none). */
static int paired_verdict(const struct fig *f)
{
	double lo, hi;

	if (fig_paired_interval(f, T_B, T_A, &lo, &hi))
		return 0;
	if (hi < 1)
		return f->higher_better ? -1 : 1;
	if (lo > 1)
		return f->higher_better ? 1 : -1;
	return 0;
}

/* The figures whose whole 90 % interval of B/A per round lies on one side
 * of 1: a difference this run's noise does not explain. */
static void compare_summary(const struct bench *b, FILE *out)
{
	bool any_interval = false;

	for (unsigned i = 0; i < b->res.n; i++) {
		double lo, hi;

		any_interval |= !fig_paired_interval(&b->res.figs[i], T_B, T_A, &lo, &hi);
	}
	if (!any_interval) {
		fprintf(out, "B vs A not judged: an interval needs 5 rounds or more\n");
		return;
	}
	for (int want = -1; want <= 1; want += 2) {
		const char *head = want < 0 ? "B worse than A:" : "B better than A:";
		unsigned n = 0;

		for (unsigned i = 0; i < b->res.n; i++) {
			const struct fig *f = &b->res.figs[i];

			if (paired_verdict(f) == want)
				fprintf(out, "%s %s", n++ ? "," : head, f->id);
		}
		fprintf(out, "%s%s\n", n ? "" : head, n ? "" : " none");
	}
	fprintf(out, "(beyond noise: the whole 90 %% interval of B/A per round, in brackets, on\n"
		     "one side of 1; every other figure is within this run's noise. A figure\n"
		     "that did not change lands here by chance up to 1 time in 10: confirm one\n"
		     "with --only <its scenario> and more rounds)\n");
}

/* #15's rule over every figure: which ones swing by 2x or more. */
static void stability_summary(const struct bench *b, FILE *out)
{
	bool cmp = ndaemons(b) == 2, judged = false;
	unsigned n = 0;

	for (unsigned i = 0; i < b->res.n; i++) {
		const struct fig *f = &b->res.figs[i];

		for (int w = 0; w <= (cmp ? T_B : T_A); w++) {
			int u = fig_unstable(f, w);

			judged |= u >= 0;
			if (u != 1)
				continue;
			fprintf(out, "%s %s (%s)", n++ ? "," : "\nunstable (slowest round under half the fastest):",
				f->id, w == T_BASE ? "baseline" : cmp ? bench_who(w) : "daemon");
		}
	}
	if (n)
		fputc('\n', out);
	else if (judged)
		fprintf(out, "\nstable: every figure's slowest round is at least half its fastest\n");
	else
		fprintf(out, "\nstability not judged: one round per figure\n");
}

void report_table(const struct bench *b, FILE *out)
{
	bool cmp = ndaemons(b) == 2;
	char v0[24], v1[48], v2[48], r1[16], r2[16], r3[16], t[24], c[24];

	fprintf(out, "\n%-44s %-6s %10s %10s %6s", "figure", "unit", "baseline",
		cmp ? "A" : "daemon", cmp ? "A/base" : "ratio");
	if (cmp)
		fprintf(out, " %10s %6s %6s", "B", "B/base", "B/A");
	fprintf(out, " %-9s %-6s %s\n", "target", "met", cmp ? "" : "cpu d/b");
	for (unsigned i = 0; i < b->res.n; i++) {
		const struct fig *f = &b->res.figs[i];
		int met = fig_target_met(f, T_A), met_b = fig_target_met(f, T_B);
		char mets[16];

		if (!fig_touched(f))
			continue; /* a scenario left out with --only */

		fprintf(out, "%-44s %-6s %10s %10s %6s", f->label, f->unit,
			f->has_baseline ? fmt_value(f, T_BASE, v0, sizeof(v0)) : "",
			fmt_value(f, T_A, v1, sizeof(v1)),
			f->has_baseline ? fmt_ratio(fig_ratio(f, T_A, T_BASE), r1, sizeof(r1)) : "");
		if (cmp)
			fprintf(out, " %10s %6s %6s", fmt_value(f, T_B, v2, sizeof(v2)),
				f->has_baseline ? fmt_ratio(fig_ratio(f, T_B, T_BASE), r2,
							    sizeof(r2))
						: "",
				fmt_ratio(fig_ratio(f, T_B, T_A), r3, sizeof(r3)));
		if (cmp && (met >= 0 || met_b >= 0))
			snprintf(mets, sizeof(mets), "%s/%s", met < 0 ? "-" : met ? "yes" : "NO",
				 met_b < 0 ? "-" : met_b ? "yes" : "NO");
		else
			snprintf(mets, sizeof(mets), "%s", met < 0 ? "" : met ? "yes" : "NO");
		fprintf(out, " %-9s %-6s %s\n", fig_target_text(f, t, sizeof(t)), mets,
			cmp ? "" : fmt_cpu(f, T_A, c, sizeof(c)));
		range_line(b, f, out);
		for (int w = T_A; w <= (cmp ? T_B : T_A); w++)
			if (f->na[w][0])
				fprintf(out, "%-44s   %s: %s\n", "", cmp ? bench_who(w) : "daemon",
					f->na[w]);
	}
	stability_summary(b, out);
	if (cmp)
		compare_summary(b, out);
	fprintf(out, "\nCPU cost, CPU-seconds per GiB delivered (daemon runs: daemon + guest + host app):\n");
	for (unsigned i = 0; i < b->res.n; i++) {
		const struct fig *f = &b->res.figs[i];
		double base = cost_per_gib(f, T_BASE), a = cost_per_gib(f, T_A);

		if (isnan(base) && isnan(a))
			continue;
		if (f->has_baseline)
			fprintf(out, "  %-42s baseline %6.3f   %s %6.3f", f->label, base,
				cmp ? "A" : "daemon", a);
		else /* absolute figures: there is no baseline run */
			fprintf(out, "  %-42s baseline %6s   %s %6.3f", f->label, "-",
				cmp ? "A" : "daemon", a);
		if (!isnan(fig_cpu_per_gib(f, T_A, true)))
			fprintf(out, " (daemon %.3f)", fig_cpu_per_gib(f, T_A, true));
		if (cmp)
			fprintf(out, "   B %6.3f", cost_per_gib(f, T_B));
		if (cmp && !isnan(fig_cpu_per_gib(f, T_B, true)))
			fprintf(out, " (daemon %.3f)", fig_cpu_per_gib(f, T_B, true));
		fputc('\n', out);
	}
	fprintf(out,
		"\nratio = daemon / baseline (throughput: higher is better; latency and memory:\n"
		"lower is better), of the medians over rounds. cpu d/b = daemon / bench process\n"
		"CPU, %% of one CPU; the bench process runs the simulated guest and the host\n"
		"application (baseline: both ends). CPU-s/GiB: median over rounds of each\n"
		"round's CPU time over its bytes.%s\n",
		cmp ? " B/A per round: the median of each round's B / A, both\n"
		      "measured back to back in that round (less moved by a slow moment of the\n"
		      "machine than the ratio of the medians); in brackets the interval that\n"
		      "holds the true median with at least 90 % probability (order statistics of\n"
		      "the rounds' ratios, 5 rounds or more)." : "");
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.6g", v);
}

/* B/A per round's interval and what it says (null: fewer than 5 rounds). */
static void json_paired(FILE *f, const struct fig *fg)
{
	double lo, hi;
	int verdict;

	if (fig_paired_interval(fg, T_B, T_A, &lo, &hi)) {
		fputs(", \"ratio_b_a_per_round_interval\": null, \"b_vs_a\": null", f);
		return;
	}
	fputs(", \"ratio_b_a_per_round_interval\": [", f);
	json_num(f, lo);
	fputs(", ", f);
	json_num(f, hi);
	fputs("], \"b_vs_a\": ", f);
	verdict = paired_verdict(fg);
	json_str(f, verdict < 0 ? "worse" : verdict > 0 ? "better" : "within noise");
}

static void json_target(FILE *f, const struct fig *fg, int which)
{
	const char *names[] = { "baseline", "a", "b" };

	int u = fig_unstable(fg, which);

	fprintf(f, "\"%s\": {\"median\": ", names[which]);
	json_num(f, fig_median(fg, which));
	fputs(", \"min\": ", f);
	json_num(f, fig_min(fg, which));
	fputs(", \"max\": ", f);
	json_num(f, fig_max(fg, which));
	fprintf(f, ", \"unstable\": %s", u < 0 ? "null" : u ? "true" : "false");
	fputs(", \"rounds\": [", f);
	for (unsigned r = 0; r < fg->n[which]; r++) {
		if (r)
			fputs(", ", f);
		json_num(f, fg->v[which][r]);
	}
	fputs("], \"cpu_daemon\": ", f);
	json_num(f, fig_cpu_daemon(fg, which));
	fputs(", \"cpu_bench\": ", f);
	json_num(f, fig_cpu_self(fg, which));
	fputs(", \"cpu_s_per_gib\": ", f);
	json_num(f, cost_per_gib(fg, which));
	fputs(", \"cpu_s_per_gib_daemon\": ", f);
	json_num(f, fig_cpu_per_gib(fg, which, true));
	fputs(", \"cpu_s_per_gib_rounds\": [", f);
	for (unsigned r = 0; !strcmp(fg->unit, "MiB/s") && r < fg->n[which]; r++) {
		if (r)
			fputs(", ", f);
		json_num(f, fig_cpu_per_gib_round(fg, which, r, false));
	}
	fputs("]", f);
	fprintf(f, ", \"failed\": %s, \"na\": ", fg->failed[which] ? "true" : "false");
	if (fg->na[which][0])
		json_str(f, fg->na[which]);
	else
		fputs("null", f);
	fputs("}", f);
}

static void json_str_or_null(FILE *f, const char *s)
{
	if (s[0])
		json_str(f, s);
	else
		fputs("null", f);
}

static void json_prov(FILE *f, const struct daemon_prov *d)
{
	fputs("{\"version\": ", f);
	json_str_or_null(f, d->version);
	fputs(", \"version_error\": ", f);
	json_str_or_null(f, d->version_err);
	fputs(", \"commit\": ", f);
	json_str_or_null(f, d->commit);
	fputs(", \"commit_source\": ", f);
	json_str_or_null(f, d->commit_src);
	fputs(", \"commit_dir\": ", f);
	json_str_or_null(f, d->commit_dir);
	fputs(", \"commit_error\": ", f);
	json_str_or_null(f, d->commit_err);
	fprintf(f, ", \"tree_modified\": %s}",
		d->dirty < 0 ? "null" : d->dirty ? "true" : "false");
}

int report_json(const struct bench *b, const struct run_info *ri, const char *path)
{
	FILE *f = fopen(path, "w");
	char t[24];

	if (!f)
		return -errno;
	fputs("{\n  \"tool\": \"vdv-bench\",\n  \"date\": ", f);
	json_str(f, ri->date);
	fputs(",\n  \"machine\": {\"kernel\": ", f);
	json_str(f, ri->kernel);
	fputs(", \"cpu\": ", f);
	json_str(f, ri->cpu);
	fprintf(f, ", \"ncpu\": %ld, \"loadavg_at_start\": ", ri->ncpu);
	json_str(f, ri->load);
	if (ri->others_running >= 0)
		fprintf(f, ", \"others_running_at_start\": %d", ri->others_running);
	else
		fputs(", \"others_running_at_start\": null", f);
	fputs("},\n  \"command_line\": [", f);
	for (int i = 0; i < b->cfg.argc; i++) {
		if (i)
			fputs(", ", f);
		json_str(f, b->cfg.argv[i]);
	}
	fputs("],\n  \"cwd\": ", f);
	json_str(f, ri->cwd);
	fputs(",\n  \"daemon_info\": {\"a\": ", f);
	json_prov(f, &ri->daemon[0]);
	fputs(", \"b\": ", f);
	if (b->cfg.daemon[1])
		json_prov(f, &ri->daemon[1]);
	else
		fputs("null", f);
	fputs("},\n  \"daemons\": {\"a\": ", f);
	json_str(f, b->cfg.daemon[0]);
	fputs(", \"b\": ", f);
	if (b->cfg.daemon[1])
		json_str(f, b->cfg.daemon[1]);
	else
		fputs("null", f);
	fputs("},\n  \"daemon_args\": [", f);
	for (unsigned i = 0; i < b->cfg.n_daemon_args; i++) {
		if (i)
			fputs(", ", f);
		json_str(f, b->cfg.daemon_args[i]);
	}
	fprintf(f,
		"],\n  \"config\": {\"rounds\": %u, \"duration_s\": %g, \"queue_size\": %u, "
		"\"rx_buf_size\": %zu, \"guest_buf_alloc\": %u, \"read_size\": %zu, "
		"\"rr_msg\": %zu, \"mc_conns\": %u, \"mc_write\": %zu, \"idle_conns\": %u, "
		"\"verify\": %s, \"guest_syscalls\": %s, \"smoke\": %s},\n"
		"  \"failures\": %u,\n  \"figures\": [\n",
		b->cfg.rounds, b->cfg.duration_s, b->cfg.queue_size, b->cfg.rx_buf_size,
		b->cfg.guest_buf_alloc, b->cfg.read_size, b->cfg.rr_msg, b->cfg.mc_conns,
		b->cfg.mc_write, b->cfg.idle_conns, b->cfg.verify ? "true" : "false",
		b->cfg.guest_syscalls ? "true" : "false",
		b->cfg.smoke ? "true" : "false", b->failures);
	for (unsigned i = 0, first = 1; i < b->res.n; i++) {
		const struct fig *fg = &b->res.figs[i];

		if (!fig_touched(fg))
			continue;
		fputs(first ? "    {\"id\": " : ",\n    {\"id\": ", f);
		first = 0;
		json_str(f, fg->id);
		fputs(", \"label\": ", f);
		json_str(f, fg->label);
		fputs(", \"unit\": ", f);
		json_str(f, fg->unit);
		fprintf(f, ", \"better\": \"%s\", \"target\": ",
			fg->higher_better ? "higher" : "lower");
		if (fg->tgt)
			json_str(f, fig_target_text(fg, t, sizeof(t)));
		else
			fputs("null", f);
		fputs(",\n     ", f);
		if (fg->has_baseline) {
			json_target(f, fg, T_BASE);
			fputs(",\n     ", f);
		}
		json_target(f, fg, T_A);
		fputs(", \"ratio_a\": ", f);
		json_num(f, fg->has_baseline ? fig_ratio(fg, T_A, T_BASE) : NAN);
		if (b->cfg.daemon[1]) {
			fputs(",\n     ", f);
			json_target(f, fg, T_B);
			fputs(", \"ratio_b\": ", f);
			json_num(f, fg->has_baseline ? fig_ratio(fg, T_B, T_BASE) : NAN);
			fputs(", \"ratio_b_a\": ", f);
			json_num(f, fig_ratio(fg, T_B, T_A));
			fputs(", \"ratio_b_a_per_round\": ", f);
			json_num(f, fig_paired_ratio(fg, T_B, T_A));
			json_paired(f, fg);
		}
		fputs("}", f);
	}
	fputs("\n  ]\n}\n", f);
	return fclose(f) ? -errno : 0;
}

int report_dat(const struct bench *b, const char *path)
{
	FILE *f = fopen(path, "w");
	bool cmp = ndaemons(b) == 2;
	char id[32], name[32];

	if (!f)
		return -errno;
	/* Missing values are written as 0 (gnuplot skips them on its log
	 * scale) and the last columns label the daemon's bars. */
	fprintf(f, "# MiB/s per write size: size base_g2h A_g2h base_h2g A_h2g%s "
		   "label_A_g2h label_A_h2g\n", cmp ? " B_g2h B_h2g" : "");
	for (unsigned i = 0; i < b->cfg.n_sizes; i++) {
		size_t sz = b->cfg.sizes[i];
		const struct fig *g = res_find((struct results *)&b->res,
					       rec_id(id, sizeof(id), "g2h", sz));
		const struct fig *h = res_find((struct results *)&b->res,
					       rec_id(id, sizeof(id), "h2g", sz));
		double v[6] = { NAN, NAN, NAN, NAN, NAN, NAN };

		if (g) {
			v[0] = fig_median(g, T_BASE);
			v[1] = fig_median(g, T_A);
			v[4] = fig_median(g, T_B);
		}
		if (h) {
			v[2] = fig_median(h, T_BASE);
			v[3] = fig_median(h, T_A);
			v[5] = fig_median(h, T_B);
		}
		fprintf(f, "\"%s\"", bench_size_name(sz, name, sizeof(name)));
		for (int k = 0; k < (cmp ? 6 : 4); k++)
			fprintf(f, " %.3f", isnan(v[k]) ? 0.0 : v[k]);
		for (int k = 1; k <= 3; k += 2) {
			const struct fig *fg = k == 1 ? g : h;

			if (isnan(v[k]))
				fprintf(f, " \"%s\"", fg && fg->failed[T_A] ? "FAILED" : "n/a");
			else
				fprintf(f, " \"%.2fx\"", v[k] / v[k - 1]);
		}
		fputc('\n', f);
	}
	return fclose(f) ? -errno : 0;
}
