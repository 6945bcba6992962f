/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "vmset.h"
#include "sim/sim_daemon.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture.h"
#include "dut.h"
#include "host_io.h"
#include "sim/sim.h"

#define SPAWN_WAIT_MS 60000
#define STOP_TIMEOUT_MS 10000
#define MAX_ARGV (BENCH_MAX_DAEMON_ARGS + 16)
/* How long a daemon's --help may take. */
#define HELP_TIMEOUT_MS 5000

int vmset_write_config(const char *dir, unsigned n, char *path, size_t cap)
{
	FILE *f;

	snprintf(path, cap, "%s/vms.yaml", dir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "vms:\n");
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "  - {guest_cid: %u, socket: %s/v%u.sock, uds_path: %s/u%u.vsock}\n",
			VMSET_FIRST_CID + i, dir, VMSET_FIRST_CID + i, dir, VMSET_FIRST_CID + i);
	return fclose(f) ? -errno : 0;
}

/* Whether `exe --help` mentions option opt, read within timeout_ms: 1, 0,
 * or -errno. */
static int daemon_takes(const char *exe, const char *opt, int timeout_ms)
{
	char *const argv[] = { (char *)exe, (char *)"--help", NULL };
	const struct capture_opts o = { .want_stderr = true, .timeout_ms = timeout_ms };
	size_t olen = strlen(opt);
	char *text = malloc(65536);
	int r, status;

	if (!text)
		return -ENOMEM;
	r = capture_output(argv, &o, text, 65536, &status);
	if (!r) {
		/* The option as a word: not a prefix of a longer one. */
		for (const char *q = text; (q = strstr(q, opt)); q += olen) {
			char next = q[olen];

			if (next != '-' && next != '_' && !(next >= 'a' && next <= 'z')) {
				r = 1;
				break;
			}
		}
	}
	free(text);
	return r;
}

bool vmset_daemon_has(const struct bench *b, int which, const char *opt)
{
	/* A few options are ever asked: 0 not asked yet, 1 yes, -1 no. */
	static struct {
		const char *opt;
		int has[2];
	} seen[4];
	int i = which == T_B;

	for (unsigned j = 0; j < sizeof(seen) / sizeof(seen[0]); j++) {
		if (seen[j].opt && strcmp(seen[j].opt, opt))
			continue;
		seen[j].opt = opt;
		if (!seen[j].has[i])
			seen[j].has[i] = daemon_takes(b->cfg.daemon[i], opt, HELP_TIMEOUT_MS) == 1
						 ? 1
						 : -1;
		return seen[j].has[i] > 0;
	}
	return daemon_takes(b->cfg.daemon[i], opt, HELP_TIMEOUT_MS) == 1; /* table full */
}

unsigned vmset_daemon_argv(const struct bench *b, int which, const char *cfg, const char **argv)
{
	unsigned k = 0;

	argv[k++] = b->cfg.daemon[which - T_A];
	argv[k++] = "--config";
	argv[k++] = cfg;
	if (vmset_daemon_has(b, which, "--log-level")) {
		argv[k++] = "--log-level";
		argv[k++] = "warn";
	}
	for (unsigned i = 0; i < b->cfg.n_daemon_args; i++)
		argv[k++] = b->cfg.daemon_args[i];
	return k;
}

const char *vmset_start_error(int err)
{
	return err == -ECHILD ? "the daemon exited at start (its log follows)" : strerror(-err);
}

const char *vmset_uds_path(const struct vmset *s, unsigned i, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/u%u.vsock", s->dir, VMSET_FIRST_CID + i);
	return buf;
}

/* Frees what vmset_start made, without judging the run. */
static void teardown(struct vmset *s)
{
	for (unsigned i = 0; s->g && i < s->n; i++)
		sg_close(s->g[i]);
	free(s->g);
	free(s->pfd);
	s->g = NULL;
	s->pfd = NULL;
	/* Also after the daemon died: this removes its temp dir. */
	if (s->d.dir[0])
		sim_daemon_stop(&s->d, STOP_TIMEOUT_MS, NULL);
	if (s->dir[0])
		sim_rm_tree(s->dir);
	s->dir[0] = 0;
}

int vmset_start(struct bench *b, int which, const char *fig, unsigned n,
		const char *const *extra, size_t tx_max_payload, struct vmset *s)
{
	const char *argv[MAX_ARGV];
	char cfg[128], sock[128];
	struct sg_cfg gcfg;
	const char *what = "mkdtemp";
	unsigned k = 0, i;
	int r;

	memset(s, 0, sizeof(*s));
	s->b = b;
	s->which = which;
	s->fig = fig;
	s->n = n;
	snprintf(s->dir, sizeof(s->dir), "/tmp/vdv-vms-XXXXXX");
	if (!mkdtemp(s->dir)) {
		s->dir[0] = 0;
		bench_fail(b, fig, which, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	s->g = calloc(n, sizeof(*s->g));
	s->pfd = calloc(3 * (size_t)n, sizeof(*s->pfd));
	r = s->g && s->pfd ? 0 : -ENOMEM;
	if (!r) {
		what = "writing the config";
		r = vmset_write_config(s->dir, n, cfg, sizeof(cfg));
	}
	k = vmset_daemon_argv(b, which, cfg, argv);
	for (i = 0; extra && extra[i] && k + 1 < MAX_ARGV; i++)
		argv[k++] = extra[i];
	argv[k] = NULL;
	if (!r) {
		what = "spawning the daemon";
		r = sim_daemon_spawn_argv(&s->d, argv, NULL, 0);
	}
	/* The sockets are bound in order: the last one means all. */
	snprintf(sock, sizeof(sock), "%s/v%u.sock", s->dir, VMSET_FIRST_CID + n - 1);
	if (!r)
		r = sim_daemon_wait_path(&s->d, sock, SPAWN_WAIT_MS);
	dut_sg_cfg(b, tx_max_payload, &gcfg);
	for (i = 0; !r && i < n; i++) {
		what = "starting a guest";
		snprintf(sock, sizeof(sock), "%s/v%u.sock", s->dir, VMSET_FIRST_CID + i);
		r = sg_open(sock, &gcfg, &s->g[i]);
		if (r)
			s->g[i] = NULL;
	}
	if (r) {
		bench_fail(b, fig, which, "%u VMs: %s%s%s: %s", n, what,
			   i ? " for VM " : "", i ? sock : "", vmset_start_error(r));
		if (s->d.dir[0])
			sim_daemon_dump_log(&s->d, stderr, 4096);
		teardown(s);
		return -1;
	}
	return 0;
}

int vmset_poll_all(struct vmset *s)
{
	int total = 0;

	for (unsigned i = 0; i < s->n; i++) {
		int r = sg_poll(s->g[i], 0);

		if (r < 0)
			return r;
		total += r;
	}
	return total;
}

int vmset_wait(struct vmset *s, int timeout_ms)
{
	unsigned np = 0, i;
	int r;

	/* Arm every guest's callbacks, then re-check (an entry used meanwhile
	 * would raise no signal), as sg_poll does for one guest. tx too: a
	 * writer out of slots waits for tx completions. */
	for (i = 0; i < s->n; i++) {
		struct sim *sim = sg_sim(s->g[i]);
		struct sim_vq_rings rx, tx;

		if (sim_vq_wait_used(sim, SIM_VQ_RX, 0) == 0 ||
		    sim_vq_wait_used(sim, SIM_VQ_TX, 0) == 0)
			return 1;
		sim_vq_rings(sim, SIM_VQ_RX, &rx);
		sim_vq_rings(sim, SIM_VQ_TX, &tx);
		s->pfd[np++] = (struct pollfd){ .fd = rx.callfd, .events = POLLIN };
		s->pfd[np++] = (struct pollfd){ .fd = tx.callfd, .events = POLLIN };
		s->pfd[np++] = (struct pollfd){ .fd = sim_socket_fd(sim), .events = 0 };
	}
	r = poll(s->pfd, np, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 1 : -errno;
	for (i = 0; r > 0 && i < s->n; i++) {
		struct sim *sim = sg_sim(s->g[i]);

		if (s->pfd[3 * i].revents & POLLIN)
			sim_vq_drain_calls(sim, SIM_VQ_RX);
		if (s->pfd[3 * i + 1].revents & POLLIN)
			sim_vq_drain_calls(sim, SIM_VQ_TX);
		if (s->pfd[3 * i + 2].revents & (POLLHUP | POLLERR))
			return -ECONNRESET;
	}
	return r > 0;
}

int vmset_poll_join(struct vmset *s, pthread_t th, int timeout_ms)
{
	int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;
	bool guests_ok = true;

	while (pthread_tryjoin_np(th, NULL) == EBUSY) {
		int r = 1;

		if (now_ns() > deadline) {
			fprintf(stderr, "vdv-bench: %s (%s): host thread hung; aborting\n", s->fig,
				bench_who(s->which));
			exit(2);
		}
		if (guests_ok)
			r = vmset_poll_all(s);
		if (r < 0)
			guests_ok = false;
		/* Short sleeps: the thread's end is not an event we can poll. */
		if (r == 0 && vmset_wait(s, 2) < 0)
			guests_ok = false;
		else if (!guests_ok)
			usleep(2000);
	}
	return guests_ok ? 0 : -EIO;
}

int vmset_stop(struct vmset *s)
{
	bool alive = sim_daemon_alive(&s->d);
	int status = 0, r = 0;

	for (unsigned i = 0; i < s->n; i++) {
		struct sg *g = s->g[i];

		if (g && s->b->cfg.verbose) {
			char line[512];

			sg_describe(g, line, sizeof(line));
			fprintf(stderr, "  %s (%s) VM %u: %s\n", s->fig, bench_who(s->which),
				VMSET_FIRST_CID + i, line);
		}
		if (g && sg_stall(g))
			fprintf(stderr, "vdv-bench: %s (%s) VM %u: %s\n", s->fig,
				bench_who(s->which), VMSET_FIRST_CID + i, sg_stall(g));
		if (g && sg_error(g) && !r) {
			bench_fail(s->b, s->fig, s->which, "VM %u: guest driver error: %s",
				   VMSET_FIRST_CID + i, strerror(-sg_error(g)));
			r = -1;
		}
	}
	if (!alive) {
		bench_fail(s->b, s->fig, s->which, "the daemon died during the run (status 0x%x)",
			   s->d.status);
		sim_daemon_dump_log(&s->d, stderr, 4096);
		r = -1;
	}
	for (unsigned i = 0; i < s->n; i++)
		sg_close(s->g[i]);
	memset(s->g, 0, s->n * sizeof(*s->g));
	/* As dut_stop: a slow SIGTERM is only reported. */
	if (alive && sim_daemon_stop(&s->d, STOP_TIMEOUT_MS, &status) == -ETIMEDOUT)
		fprintf(stderr, "note: daemon %s had to be killed after SIGTERM\n",
			bench_who(s->which));
	teardown(s);
	return r;
}
