/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * What idle VMs cost: the daemon started with N VMs (uds-path backend, no
 * VMM connected), from one --config file, measured once every vhost-user
 * socket exists and the daemon has settled (2 s, as a user would look):
 * VmRSS, threads and open descriptors. Absolute figures, no baseline; with
 * --compare both daemons are measured, so a change of the threading model
 * shows as A vs B.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "procstat.h"
#include "sim/sim_daemon.h"
#include "vmset.h"

#define SETTLE_US (2000 * 1000)
#define SETTLE_SMOKE_US (100 * 1000)
#define WAIT_MS 60000

const unsigned scale_vm_counts[SCALE_STEPS] = { 1, 16, 256, 1000 };

static long count_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int run_scale(struct bench *b, int which, unsigned step)
{
	unsigned n = scale_vm_counts[step];
	char dir[64] = "/tmp/vdv-scale-XXXXXX", cfg[128], last[160], id[32];
	const char *argv[VMSET_ARGV_BASE + BENCH_MAX_DAEMON_ARGS + 1];
	struct sim_daemon d;
	struct mem_use m;
	unsigned k = 0;
	long threads, fds;
	int r;

	if (which == T_BASE)
		return 0;
	snprintf(id, sizeof(id), "scale_%u_rss", n);
	if (!mkdtemp(dir)) {
		bench_fail(b, id, which, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	r = vmset_write_config(dir, n, cfg, sizeof(cfg));
	k = vmset_daemon_argv(b, which, cfg, argv);
	argv[k] = NULL;
	if (!r)
		r = sim_daemon_spawn_argv(&d, argv, NULL, 0);
	/* The sockets are bound in order: the last one means all. */
	snprintf(last, sizeof(last), "%s/v%u.sock", dir, VMSET_FIRST_CID + n - 1);
	if (!r)
		r = sim_daemon_wait_path(&d, last, WAIT_MS);
	if (!r) {
		usleep(b->cfg.smoke ? SETTLE_SMOKE_US : SETTLE_US);
		threads = sim_proc_status(d.pid, "Threads");
		fds = count_fds(d.pid);
		r = mem_read(d.pid, &m);
		if (!r && (threads < 0 || fds < 0))
			r = -EIO;
	}
	if (r) {
		bench_fail(b, id, which, "%u idle VMs: %s", n, vmset_start_error(r));
		sim_daemon_dump_log(&d, stderr, 4096);
	} else {
		res_add(&b->res, id, which, (double)m.rss_kib);
		snprintf(id, sizeof(id), "scale_%u_threads", n);
		res_add(&b->res, id, which, (double)threads);
		snprintf(id, sizeof(id), "scale_%u_fds", n);
		res_add(&b->res, id, which, (double)fds);
	}
	if (d.pid && sim_daemon_stop(&d, 10000, NULL) && !r) {
		bench_fail(b, id, which, "%u idle VMs: the daemon did not stop cleanly", n);
		r = -EIO;
	}
	sim_rm_tree(dir);
	return r ? -1 : 0;
}
