/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Operations, with the real daemon binary: readiness (--ready-fd,
 * NOTIFY_SOCKET), lifetime (--exit-with-fd), the log (level sources, the
 * first line, journald prefixes) and the dry runs (--check,
 * --print-config, --config -), with their exit statuses: 0 stop or pass,
 * 1 runtime error or failed --check, 2 usage error.
 *
 * Each test runs the daemon in a private directory with its own
 * environment, standard input and inherited descriptors.
 */
#include "itest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_MS 5000
#define MAX_ARGV 24

struct run {
	pid_t pid;
	int status;
	bool exited;
	char dir[64];
	char sock[SIM_DAEMON_PATH_MAX];
	char uds[SIM_DAEMON_PATH_MAX];
	char out[SIM_DAEMON_PATH_MAX];
	char log[SIM_DAEMON_PATH_MAX];
	struct stat log_st;  /* the log file: for JOURNAL_STREAM */
	char text[16384];    /* read_file() buffer */
};

/* What the child gets besides argv. */
struct spawn_opts {
	const char *env[6];  /* "K=V" sets K, "K" unsets it */
	int stdin_fd;        /* -1: /dev/null */
	int keep[3];         /* descriptors left open in the daemon */
	int nkeep;
};

static int setup(void **state)
{
	struct run *r = calloc(1, sizeof(*r));

	if (!r)
		return -1;
	strcpy(r->dir, "/tmp/vdv-ops-XXXXXX");
	if (!mkdtemp(r->dir)) {
		free(r);
		return -1;
	}
	snprintf(r->sock, sizeof(r->sock), "%s/vhost.sock", r->dir);
	snprintf(r->uds, sizeof(r->uds), "%s/vm.vsock", r->dir);
	snprintf(r->out, sizeof(r->out), "%s/stdout", r->dir);
	snprintf(r->log, sizeof(r->log), "%s/daemon.log", r->dir);
	*state = r;
	return 0;
}

static int wait_exit(struct run *r, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;

	while (!r->exited) {
		pid_t p = waitpid(r->pid, &r->status, WNOHANG);

		if (p == r->pid) {
			r->exited = true;
			break;
		}
		if (sim_now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(5 * 1000);
	}
	return 0;
}

static int teardown(void **state)
{
	struct run *r = *state;
	struct dirent *de;
	DIR *d;

	if (r->pid > 0 && !r->exited) {
		kill(r->pid, SIGTERM);
		if (wait_exit(r, WAIT_MS)) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &r->status, 0);
		}
	}
	d = opendir(r->dir);
	if (d) {
		char p[SIM_DAEMON_PATH_MAX + 64];

		while ((de = readdir(d)))
			if (snprintf(p, sizeof(p), "%s/%s", r->dir, de->d_name) < (int)sizeof(p))
				unlink(p);
		closedir(d);
	}
	rmdir(r->dir);
	free(r);
	return 0;
}

static const char *read_file(struct run *r, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, r->text, sizeof(r->text) - 1) : -1;

	if (fd >= 0)
		close(fd);
	r->text[n > 0 ? n : 0] = '\0';
	return r->text;
}

static const char *daemon_log(struct run *r)
{
	return read_file(r, r->log);
}

/* Runs the daemon with argv (after the executable; NULL-terminated). */
static void spawn(struct run *r, const char *const *args, const struct spawn_opts *o)
{
	const char *argv[MAX_ARGV + 2];
	int outfd, logfd, infd, n = 0;

	argv[n++] = sim_daemon_exe();
	while (args[n - 1] && n <= MAX_ARGV) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	outfd = open(r->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	logfd = open(r->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	infd = o && o->stdin_fd >= 0 ? o->stdin_fd : open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(outfd >= 0 && logfd >= 0 && infd >= 0);
	assert_int_equal(fstat(logfd, &r->log_st), 0);
	r->exited = false;
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (r->pid == 0) {
		/* Only what the test says: none of the caller's settings. */
		unsetenv("VDV_LOG");
		unsetenv("RUST_LOG");
		unsetenv("JOURNAL_STREAM");
		unsetenv("NOTIFY_SOCKET");
		for (int i = 0; o && i < 6 && o->env[i]; i++) {
			const char *eq = strchr(o->env[i], '=');

			if (eq) {
				char name[64];

				snprintf(name, sizeof(name), "%.*s", (int)(eq - o->env[i]), o->env[i]);
				setenv(name, eq + 1, 1);
			} else {
				unsetenv(o->env[i]);
			}
		}
		dup2(infd, 0);
		dup2(outfd, 1);
		dup2(logfd, 2);
		for (int i = 0; o && i < o->nkeep; i++)
			fcntl(o->keep[i], F_SETFD, 0);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(outfd);
	close(logfd);
	if (!o || o->stdin_fd < 0)
		close(infd);
}

/* Expects the daemon to exit by itself with status want, within WAIT_MS. */
static void expect_exit(struct run *r, int want, const char *what)
{
	if (wait_exit(r, WAIT_MS))
		fail_msg("%s: daemon still running after %d ms; log:\n%s", what, WAIT_MS,
			 daemon_log(r));
	if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != want)
		fail_msg("%s: expected exit status %d, got wait status 0x%x; log:\n%s", what, want,
			 r->status, daemon_log(r));
}

static void expect_log(struct run *r, const char *needle)
{
	const char *log = daemon_log(r);

	if (!strstr(log, needle))
		fail_msg("log should contain \"%s\"; log:\n%s", needle, log);
}

static bool is_socket(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Waits (bounded) for path to be a socket while the daemon runs. */
static void wait_sock(struct run *r, const char *path)
{
	int64_t deadline = sim_now_ms() + WAIT_MS;

	while (!is_socket(path)) {
		if (waitpid(r->pid, &r->status, WNOHANG) == r->pid) {
			r->exited = true;
			fail_msg("daemon exited (status 0x%x) before %s appeared; log:\n%s",
				 r->status, path, daemon_log(r));
		}
		if (sim_now_ms() >= deadline)
			fail_msg("%s did not appear within %d ms; log:\n%s", path, WAIT_MS,
				 daemon_log(r));
		usleep(5 * 1000);
	}
}

/* Reads from fd until n bytes, EOF or the timeout; NUL-terminates. */
static ssize_t read_timeout(int fd, char *buf, size_t cap, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return -ETIMEDOUT;
	n = read(fd, buf, cap - 1);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* SIGTERM: status 0 and both sockets gone. */
static void stop_clean(struct run *r)
{
	assert_int_equal(kill(r->pid, SIGTERM), 0);
	expect_exit(r, 0, "SIGTERM");
	assert_false(exists(r->sock));
	assert_false(exists(r->uds));
}

#define ONE_VM(r) "--guest-cid", "5", "--socket", (r)->sock, "--uds-path", (r)->uds

/* ---- readiness ---- */

static void test_ready_fd(void **state)
{
	struct run *r = *state;
	char fdnum[16], buf[64];
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	snprintf(fdnum, sizeof(fdnum), "%d", p[1]);
	const char *const args[] = { ONE_VM(r), "--ready-fd", fdnum, NULL };
	struct spawn_opts o = { .stdin_fd = -1, .keep = { p[1] }, .nkeep = 1 };

	spawn(r, args, &o);
	close(p[1]);
	if (read_timeout(p[0], buf, sizeof(buf), WAIT_MS) != 8)
		fail_msg("no READY=1 on --ready-fd; log:\n%s", daemon_log(r));
	assert_string_equal(buf, "READY=1\n");
	/* Ready means listening: both sockets are there. */
	assert_true(is_socket(r->sock));
	assert_true(is_socket(r->uds));
	/* And the daemon closed its end. */
	assert_int_equal(read_timeout(p[0], buf, sizeof(buf), WAIT_MS), 0);
	close(p[0]);
	stop_clean(r);
}

static void test_ready_fd_bad(void **state)
{
	struct run *r = *state;
	char fdnum[16];
	int p[2];

	const char *const closed[] = { ONE_VM(r), "--ready-fd", "57", NULL };
	spawn(r, closed, NULL);
	expect_exit(r, 2, "--ready-fd 57 (not open)");
	expect_log(r, "vhost-device-vsock: error: --ready-fd 57: not an open file descriptor");
	assert_false(exists(r->sock));

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	snprintf(fdnum, sizeof(fdnum), "%d", p[0]);
	const char *const ro[] = { ONE_VM(r), "--ready-fd", fdnum, NULL };
	struct spawn_opts o = { .stdin_fd = -1, .keep = { p[0] }, .nkeep = 1 };
	spawn(r, ro, &o);
	expect_exit(r, 2, "--ready-fd on a read end");
	expect_log(r, "not writable");
	assert_false(exists(r->sock));
	close(p[0]);
	close(p[1]);
}

static int bind_dgram(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0 && len <= sizeof(sa.sun_path));
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
			 0);
	return fd;
}

static void expect_dgram(struct run *r, int fd, const char *want)
{
	char buf[256];

	if (read_timeout(fd, buf, sizeof(buf), WAIT_MS) < 0)
		fail_msg("no \"%s\" on NOTIFY_SOCKET; log:\n%s", want, daemon_log(r));
	assert_string_equal(buf, want);
}

static void test_notify_path(void **state)
{
	struct run *r = *state;
	char ns[SIM_DAEMON_PATH_MAX], env[SIM_DAEMON_PATH_MAX + 16], vm1[512], vm2[512];
	int fd;

	snprintf(ns, sizeof(ns), "%s/notify", r->dir);
	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", ns);
	snprintf(vm1, sizeof(vm1), "guest-cid=5,socket=%s,uds-path=%s", r->sock, r->uds);
	snprintf(vm2, sizeof(vm2), "guest-cid=6,socket=%s/v6.sock,uds-path=%s/v6.vsock", r->dir,
		 r->dir);
	fd = bind_dgram(ns);
	const char *const args[] = { "--vm", vm1, "--vm", vm2, NULL };
	struct spawn_opts o = { .env = { env }, .stdin_fd = -1 };

	spawn(r, args, &o);
	expect_dgram(r, fd, "READY=1\nSTATUS=serving 2 VMs");
	assert_true(is_socket(r->sock));
	assert_int_equal(kill(r->pid, SIGTERM), 0);
	expect_dgram(r, fd, "STOPPING=1");
	expect_exit(r, 0, "SIGTERM");
	assert_false(exists(r->sock));
	close(fd);
	unlink(ns);
}

static void test_notify_abstract(void **state)
{
	struct run *r = *state;
	char name[64], env[96];
	int fd;

	snprintf(name, sizeof(name), "@vdv-itest-notify-%d", (int)getpid());
	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", name);
	fd = bind_dgram(name);
	const char *const args[] = { ONE_VM(r), NULL };
	struct spawn_opts o = { .env = { env }, .stdin_fd = -1 };

	spawn(r, args, &o);
	expect_dgram(r, fd, "READY=1\nSTATUS=serving 1 VM");
	stop_clean(r);
	close(fd);
}

/* A NOTIFY_SOCKET we cannot use is a warning, not a reason to stop. */
static void test_notify_ignored(void **state)
{
	struct run *r = *state;
	char fdnum[16], buf[16];
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	snprintf(fdnum, sizeof(fdnum), "%d", p[1]);
	const char *const args[] = { ONE_VM(r), "--ready-fd", fdnum, NULL };
	struct spawn_opts o = { .env = { "NOTIFY_SOCKET=vsock:2:9999" }, .stdin_fd = -1,
				.keep = { p[1] }, .nkeep = 1 };

	spawn(r, args, &o);
	close(p[1]);
	assert_int_equal(read_timeout(p[0], buf, sizeof(buf), WAIT_MS), 8);
	close(p[0]);
	expect_log(r, "warn: NOTIFY_SOCKET='vsock:2:9999' is neither an absolute path");
	stop_clean(r);
}

/* ---- lifetime ---- */

static void exit_with(struct run *r, int watch, int other)
{
	char fdnum[16], rfd[16], buf[16];
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	snprintf(fdnum, sizeof(fdnum), "%d", watch);
	snprintf(rfd, sizeof(rfd), "%d", p[1]);
	const char *const args[] = { ONE_VM(r), "--exit-with-fd", fdnum, "--ready-fd", rfd, NULL };
	struct spawn_opts o = { .stdin_fd = -1, .keep = { watch, p[1] }, .nkeep = 2 };

	spawn(r, args, &o);
	close(p[1]);
	close(watch);
	assert_int_equal(read_timeout(p[0], buf, sizeof(buf), WAIT_MS), 8);
	close(p[0]);
	/* Data is not hang-up. */
	assert_int_equal(write(other, "x", 1), 1);
	usleep(100 * 1000);
	assert_int_equal(waitpid(r->pid, &r->status, WNOHANG), 0);
	close(other);
	expect_exit(r, 0, "--exit-with-fd hang-up");
	assert_false(exists(r->sock));
	assert_false(exists(r->uds));
	expect_log(r, "hang-up: shutting down");
}

static void test_exit_with_pipe(void **state)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	exit_with(*state, p[0], p[1]);
}

static void test_exit_with_socket(void **state)
{
	int sp[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	exit_with(*state, sp[0], sp[1]);
}

static void test_exit_with_bad(void **state)
{
	struct run *r = *state;
	char fdnum[16];
	int fd = open(r->out, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	snprintf(fdnum, sizeof(fdnum), "%d", fd);
	const char *const args[] = { ONE_VM(r), "--exit-with-fd", fdnum, NULL };
	struct spawn_opts o = { .stdin_fd = -1, .keep = { fd }, .nkeep = 1 };

	spawn(r, args, &o);
	expect_exit(r, 2, "--exit-with-fd on a regular file");
	expect_log(r, "not a pipe, FIFO or socket");
	assert_false(exists(r->sock));
	close(fd);
}

/* ---- exit statuses ---- */

static void test_usage_errors_exit_2(void **state)
{
	struct run *r = *state;

	const char *const cid[] = { "--guest-cid", "2", "--socket", r->sock, "--uds-path", r->uds,
				    NULL };
	spawn(r, cid, NULL);
	expect_exit(r, 2, "--guest-cid 2");
	expect_log(r, "vhost-device-vsock: error: --guest-cid 2 is reserved");

	const char *const unknown[] = { "--bogus", NULL };
	spawn(r, unknown, NULL);
	expect_exit(r, 2, "--bogus");

	const char *const level[] = { ONE_VM(r), "--log-level", "loud", NULL };
	spawn(r, level, NULL);
	expect_exit(r, 2, "--log-level loud");
	expect_log(r, "--log-level: 'loud' is not a log level");

	const char *const ok[] = { ONE_VM(r), NULL };
	struct spawn_opts o = { .env = { "VDV_LOG=loud" }, .stdin_fd = -1 };
	spawn(r, ok, &o);
	expect_exit(r, 2, "VDV_LOG=loud");
	expect_log(r, "error: VDV_LOG='loud' is not a log level");
	assert_false(exists(r->sock));
}

/* ---- dry runs ---- */

static void test_check(void **state)
{
	struct run *r = *state;
	char missing[SIM_DAEMON_PATH_MAX];

	const char *const ok[] = { ONE_VM(r), "--check", NULL };
	spawn(r, ok, NULL);
	expect_exit(r, 0, "--check");
	assert_string_equal(read_file(r, r->out), "configuration OK: 1 VM\n");
	assert_false(exists(r->sock));
	assert_false(exists(r->uds));

	snprintf(missing, sizeof(missing), "%s/no/such.sock", r->dir);
	const char *const nodir[] = { "--check", "--socket", missing, "--uds-path", r->uds, NULL };
	spawn(r, nodir, NULL);
	expect_exit(r, 1, "--check, missing directory");
	expect_log(r, "directory '");
	expect_log(r, "/no': No such file or directory");

	/* Under --check, a usage error is a failed check too: 1. */
	const char *const bad[] = { "--check", "--guest-cid", "1", "--socket", r->sock,
				    "--uds-path", r->uds, NULL };
	spawn(r, bad, NULL);
	expect_exit(r, 1, "--check, bad guest-cid");
	expect_log(r, "--guest-cid 1 is reserved");
	assert_false(exists(r->sock));
}

static void test_print_config_roundtrip(void **state)
{
	struct run *r = *state;
	char vm1[512], vm2[512], first[sizeof(r->text)], printed[SIM_DAEMON_PATH_MAX + 8];
	int in;

	snprintf(vm1, sizeof(vm1), "guest-cid=5,socket=%s,uds-path=%s,groups=a+b,poll-us=0",
		 r->sock, r->uds);
	snprintf(vm2, sizeof(vm2),
		 "guest-cid=0x10,socket=%s/v16.sock,forward-cid=1,forward-listen=9000+9001,"
		 "forward-listen-seqpacket=9002,queue-size=128",
		 r->dir);
	const char *const a[] = { "--vm", vm1, "--vm", vm2, "--print-config", NULL };
	spawn(r, a, NULL);
	expect_exit(r, 0, "--print-config");
	snprintf(first, sizeof(first), "%s", read_file(r, r->out));
	assert_non_null(strstr(first, "guest_cid: 16\n"));
	assert_non_null(strstr(first, "forward_listen: 9000+9001\n"));
	assert_non_null(strstr(first, "forward_listen_seqpacket: 9002\n"));
	assert_false(exists(r->sock));

	/* Feed it back on standard input, print again: the same text. */
	snprintf(printed, sizeof(printed), "%s/printed", r->dir);
	assert_int_equal(rename(r->out, printed), 0);
	in = open(printed, O_RDONLY | O_CLOEXEC);
	assert_true(in >= 0);
	const char *const b[] = { "--config", "-", "--print-config", NULL };
	struct spawn_opts o = { .stdin_fd = in };
	spawn(r, b, &o);
	close(in);
	expect_exit(r, 0, "--config - --print-config");
	assert_string_equal(read_file(r, r->out), first);

	/* And it passes --check (not started: the forward-cid VM would open
	 * an AF_VSOCK socket, which these tests never do). */
	in = open(printed, O_RDONLY | O_CLOEXEC);
	assert_true(in >= 0);
	const char *const c[] = { "--config", "-", "--check", NULL };
	struct spawn_opts o2 = { .stdin_fd = in };
	spawn(r, c, &o2);
	close(in);
	expect_exit(r, 0, "--config - --check");
	assert_false(exists(r->sock));
	unlink(printed);
}

/* ---- the log ---- */

static void level_from(struct run *r, const char *env, const char *opt, const char *want)
{
	const char *const with_opt[] = { ONE_VM(r), "--check", "--log-level", opt, NULL };
	const char *const without[] = { ONE_VM(r), "--check", NULL };
	struct spawn_opts o = { .env = { env }, .stdin_fd = -1 };

	spawn(r, opt ? with_opt : without, env ? &o : NULL);
	expect_exit(r, 0, want);
	expect_log(r, want);
}

static void test_log_level_sources(void **state)
{
	struct run *r = *state;

	level_from(r, NULL, "debug", "debug: log level debug (from --log-level)");
	level_from(r, "VDV_LOG=error", "trace", "log level trace (from --log-level)");
	level_from(r, "VDV_LOG=DEBUG", NULL, "log level debug (from VDV_LOG)");
	level_from(r, "RUST_LOG=info,vhost_device_vsock=trace", NULL,
		   "debug: log level trace (from RUST_LOG)");
	/* Not ours, not a warning, and no debug line at the default level. */
	level_from(r, "RUST_LOG=hyper=trace", NULL, "");
	assert_null(strstr(daemon_log(r), "log level"));
	assert_null(strstr(daemon_log(r), "warn"));
}

/* RUST_LOG belongs to other programs too: a bad value is a warning. */
static void test_rust_log_invalid(void **state)
{
	struct run *r = *state;
	const char *const args[] = { ONE_VM(r), NULL };
	struct spawn_opts o = { .env = { "RUST_LOG=vhost_device_vsock=loud" }, .stdin_fd = -1 };

	spawn(r, args, &o);
	wait_sock(r, r->uds);
	expect_log(r, "warn: RUST_LOG: 'vhost_device_vsock=loud'");
	/* Still the second line: the first one says who we are. */
	assert_non_null(strstr(daemon_log(r), "info: vhost-device-vsock "));
	assert_true(strstr(daemon_log(r), "info: vhost-device-vsock ") <
		    strstr(daemon_log(r), "warn: RUST_LOG"));
	stop_clean(r);
}

static bool timestamped(const char *line)
{
	/* 2026-12-06T06:15:25.123Z */
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ ";

	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == 'd' ? !(line[i] >= '0' && line[i] <= '9') : line[i] != shape[i])
			return false;
	}
	return true;
}

static void test_first_line(void **state)
{
	struct run *r = *state;
	char want[1024], vms[6][512];
	const char *log;

	const char *const one[] = { ONE_VM(r), NULL };
	spawn(r, one, NULL);
	wait_sock(r, r->uds);
	log = daemon_log(r);
	assert_true(timestamped(log));
	snprintf(want, sizeof(want), "Z vhost-device-vsock: info: vhost-device-vsock %s, pid %d, 1 VM: %s\n",
		 VDV_VERSION, (int)r->pid, r->sock);
	if (strncmp(log + 23, want, strlen(want)) != 0)
		fail_msg("first line should end with \"%s\"; log:\n%s", want + 2, log);
	stop_clean(r);

	/* Many VMs: four paths and a count. */
	const char *args[13];
	for (int i = 0; i < 6; i++) {
		snprintf(vms[i], sizeof(vms[i]), "guest-cid=%d,socket=%s/s%d,uds-path=%s/u%d",
			 i + 3, r->dir, i, r->dir, i);
		args[2 * i] = "--vm";
		args[2 * i + 1] = vms[i];
	}
	args[12] = NULL;
	snprintf(want, sizeof(want), "6 VMs: %s/s0, %s/s1, %s/s2, %s/s3 and 2 more\n", r->dir,
		 r->dir, r->dir, r->dir);
	spawn(r, args, NULL);
	char last[SIM_DAEMON_PATH_MAX + 8];
	snprintf(last, sizeof(last), "%s/u5", r->dir);
	wait_sock(r, last);
	expect_log(r, want);
	assert_int_equal(kill(r->pid, SIGTERM), 0);
	expect_exit(r, 0, "SIGTERM");
}

static void test_journal_prefix(void **state)
{
	struct run *r = *state;
	char env[96], want[256];
	const char *log;

	/* spawn() opens the log before fork: its dev:inode is known after
	 * the first run; the file is truncated, not replaced, each time. */
	const char *const args[] = { ONE_VM(r), "--log-level", "debug", NULL };
	spawn(r, args, NULL);
	wait_sock(r, r->uds);
	stop_clean(r);

	snprintf(env, sizeof(env), "JOURNAL_STREAM=%llu:%llu", (unsigned long long)r->log_st.st_dev,
		 (unsigned long long)r->log_st.st_ino);
	struct spawn_opts o = { .env = { env }, .stdin_fd = -1 };
	spawn(r, args, &o);
	wait_sock(r, r->uds);
	log = daemon_log(r);
	snprintf(want, sizeof(want), "<6>vhost-device-vsock %s, pid %d, 1 VM: %s\n"
		 "<7>log level debug (from --log-level)\n", VDV_VERSION, (int)r->pid, r->sock);
	if (strncmp(log, want, strlen(want)) != 0)
		fail_msg("expected journal lines \"%s\"; log:\n%s", want, log);
	stop_clean(r);

	/* Another file's dev:inode: timestamps as usual. */
	struct spawn_opts other = { .env = { "JOURNAL_STREAM=1:1" }, .stdin_fd = -1 };
	spawn(r, args, &other);
	wait_sock(r, r->uds);
	assert_true(timestamped(daemon_log(r)));
	stop_clean(r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ready_fd),
		T(test_ready_fd_bad),
		T(test_notify_path),
		T(test_notify_abstract),
		T(test_notify_ignored),
		T(test_exit_with_pipe),
		T(test_exit_with_socket),
		T(test_exit_with_bad),
		T(test_usage_errors_exit_2),
		T(test_check),
		T(test_print_config_roundtrip),
		T(test_log_level_sources),
		T(test_rust_log_invalid),
		T(test_first_line),
		T(test_journal_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
