/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Child-process management for the daemon under test. Everything is bounded
 * in time, and the child gets PR_SET_PDEATHSIG so that a crashed or killed
 * test never leaves a daemon behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/sim_daemon.h"
#include "sim/sim_priv.h"

#define MAX_ARGS 64
#define PATH_MAX_SIM 256

const char *sim_daemon_exe(void)
{
	const char *e = getenv("VDV_DAEMON");

	return e && *e ? e : "vhost-device-vsock";
}

static void rm_dir(const char *dir)
{
	char path[PATH_MAX_SIM];
	struct dirent *de;
	DIR *dp;

	if (!*dir)
		return;
	dp = opendir(dir);
	if (dp) {
		while ((de = readdir(dp))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) <
			    (int)sizeof(path))
				unlink(path);
		}
		closedir(dp);
	}
	rmdir(dir);
}

bool sim_daemon_alive(struct sim_daemon *d)
{
	pid_t r;

	if (d->pid <= 0)
		return false;
	r = waitpid(d->pid, &d->status, WNOHANG);
	if (r == d->pid || (r < 0 && errno == ECHILD)) {
		d->pid = 0;
		return false;
	}
	return true;
}

int sim_daemon_wait_path(struct sim_daemon *d, const char *path, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	struct stat st;

	for (;;) {
		if (!stat(path, &st) && S_ISSOCK(st.st_mode))
			return 0;
		if (!sim_daemon_alive(d))
			return -ECHILD;
		if (!sim_remaining_ms(deadline))
			return -ETIMEDOUT;
		usleep(5 * 1000);
	}
}

int sim_daemon_spawn_argv(struct sim_daemon *d, const char *const *argv,
			  const char *wait_rel, int timeout_ms)
{
	char *args[MAX_ARGS + 1];
	char wait_path[PATH_MAX_SIM];
	unsigned n, i;
	int logfd, r;
	pid_t pid;

	memset(d, 0, sizeof(*d));
	for (n = 0; argv[n]; n++)
		if (n == MAX_ARGS)
			return -E2BIG;
	if (!n)
		return -EINVAL;
	strcpy(d->dir, "/tmp/vdv-test-XXXXXX");
	if (!mkdtemp(d->dir)) {
		d->dir[0] = 0;
		return -errno;
	}
	snprintf(d->socket_path, sizeof(d->socket_path), "%s/vhost.sock", d->dir);
	snprintf(d->uds_path, sizeof(d->uds_path), "%s/vm.vsock", d->dir);
	snprintf(d->log_path, sizeof(d->log_path), "%s/daemon.log", d->dir);

	/* Build argv before fork: the child may only do async-signal-safe work. */
	memset(args, 0, sizeof(args));
	for (i = 0; i < n; i++) {
		const char *a = argv[i];
		size_t nd = 0, len;

		for (const char *q = strstr(a, "%D"); q; q = strstr(q + 2, "%D"))
			nd++;
		len = strlen(a) + nd * strlen(d->dir) + 1;
		args[i] = malloc(len);
		if (args[i]) {
			/* Every "%D" becomes the dir (e.g. "socket=%D/v3.sock"). */
			char *o = args[i];

			while (*a) {
				if (a[0] == '%' && a[1] == 'D') {
					o = stpcpy(o, d->dir);
					a += 2;
				} else {
					*o++ = *a++;
				}
			}
			*o = 0;
		}
		if (!args[i]) {
			r = -ENOMEM;
			goto out_free;
		}
	}
	logfd = open(d->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (logfd < 0) {
		r = -errno;
		goto out_free;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(logfd);
		goto out_free;
	}
	if (pid == 0) {
		int nullfd = open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (nullfd >= 0)
			dup2(nullfd, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		execv(args[0], args);
		execvp(args[0], args);
		_exit(127);
	}
	close(logfd);
	d->pid = pid;
	r = 0;
	if (wait_rel) {
		snprintf(wait_path, sizeof(wait_path), "%s/%s", d->dir, wait_rel);
		r = sim_daemon_wait_path(d, wait_path, timeout_ms);
		if (r == -ETIMEDOUT) {
			/* Hung at start-up: kill it, keep the log for the caller. */
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &d->status, 0);
			d->pid = 0;
		}
	}
out_free:
	for (i = 0; i < n; i++)
		free(args[i]);
	return r;
}

int sim_daemon_spawn(struct sim_daemon *d, const char *exe, uint64_t guest_cid,
		     const char *const *extra, int timeout_ms)
{
	const char *argv[MAX_ARGS + 1];
	char cid[24];
	unsigned n = 0, i;

	snprintf(cid, sizeof(cid), "%llu", (unsigned long long)guest_cid);
	argv[n++] = exe;
	argv[n++] = "--guest-cid";
	argv[n++] = cid;
	argv[n++] = "--socket";
	argv[n++] = "%D/vhost.sock";
	argv[n++] = "--uds-path";
	argv[n++] = "%D/vm.vsock";
	for (i = 0; extra && extra[i]; i++) {
		if (n == MAX_ARGS)
			return -E2BIG;
		argv[n++] = extra[i];
	}
	argv[n] = NULL;
	return sim_daemon_spawn_argv(d, argv, "vhost.sock", timeout_ms);
}

int sim_daemon_wait_exit(struct sim_daemon *d, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;

	while (sim_daemon_alive(d)) {
		if (sim_now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(5 * 1000);
	}
	return 0;
}

int sim_daemon_stop(struct sim_daemon *d, int timeout_ms, int *status)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	int r = 0;

	if (d->pid <= 0 || !sim_daemon_alive(d)) {
		r = -ECHILD;
		goto out;
	}
	kill(d->pid, SIGTERM);
	while (sim_daemon_alive(d)) {
		if (!sim_remaining_ms(deadline)) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &d->status, 0);
			d->pid = 0;
			r = -ETIMEDOUT;
			goto out;
		}
		usleep(5 * 1000);
	}
	if (!WIFEXITED(d->status) || WEXITSTATUS(d->status) != 0)
		r = -EIO;
out:
	if (status)
		*status = d->status;
	if (!getenv("VDV_KEEP_TMP"))
		rm_dir(d->dir);
	d->dir[0] = 0;
	return r;
}

void sim_daemon_dump_log(const struct sim_daemon *d, FILE *out, size_t max)
{
	char buf[4096];
	size_t n;
	long size;
	FILE *f;

	if (!d->log_path[0])
		return;
	f = fopen(d->log_path, "r");
	if (!f)
		return;
	if (!fseek(f, 0, SEEK_END) && (size = ftell(f)) > (long)max)
		fseek(f, size - (long)max, SEEK_SET);
	else
		fseek(f, 0, SEEK_SET);
	fprintf(out, "---- daemon log (%s) ----\n", d->log_path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, out);
	fprintf(out, "---- end of daemon log ----\n");
	fclose(f);
}

void sim_rm_tree(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	char p[PATH_MAX_SIM + 258];

	if (!dp)
		return;
	while ((de = readdir(dp))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(dp);
	rmdir(dir);
}

long sim_proc_status(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

int sim_daemon_finish(struct sim_daemon *d, const char *dir, bool show_log, int timeout_ms)
{
	int r, status = 0;

	if (show_log || getenv("VDV_TEST_VERBOSE") || !sim_daemon_alive(d))
		sim_daemon_dump_log(d, stderr, 32768);
	r = sim_daemon_stop(d, timeout_ms, &status);
	if (r) {
		fprintf(stderr, "daemon did not exit cleanly on SIGTERM: %s (status 0x%x)\n",
			strerror(-r), status);
		sim_daemon_dump_log(d, stderr, 32768);
	}
	if (dir && dir[0] && !getenv("VDV_KEEP_TMP"))
		sim_rm_tree(dir);
	return r ? -1 : 0;
}
