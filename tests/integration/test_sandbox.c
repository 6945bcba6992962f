/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The seccomp sandbox (--sandbox): on by default with no_new_privs, off
 * with --sandbox none, and a forbidden system call ends the daemon with
 * the line users are told to report. Every other integration test runs
 * the daemon under the filter too (it is the default): they are what shows
 * the allowlist covers serving a VMM, the guests' connections and a clean
 * shutdown.
 *
 * A test runner may itself run under seccomp (a container's profile) or
 * no_new_privs: the daemon's status is compared with this process's own.
 */
#include "itest.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Long enough for a sanitizer build on a loaded machine. */
#define EXIT_TIMEOUT_MS 10000

/* The value of "Name:" in /proc/PID/status (pid 0: this process), or -1. */
static void test_default_is_seccomp(void **state)
{
	struct itest *t = *state;
	long own_filters = sim_proc_status(0, "Seccomp_filters");

	/* The vhost-user socket exists before the filter is loaded, but a VMM
	 * is served only by the VM's thread, which starts after it: once a
	 * frontend has negotiated and started its rings, the filter is in. */
	itest_fresh_frontend_ok(t);
	assert_int_equal(sim_proc_status(t->d.pid, "Seccomp"), 2);
	assert_int_equal(sim_proc_status(t->d.pid, "NoNewPrivs"), 1);
	/* One filter more than we run under (kernels since 5.9 say). */
	if (own_filters >= 0)
		assert_int_equal(sim_proc_status(t->d.pid, "Seccomp_filters"), own_filters + 1);
}

static void test_none_is_unconfined(void **state)
{
	struct itest *t = *state;

	/* Served first, as above: a filter would be in by then. */
	itest_fresh_frontend_ok(t);
	/* As we are: 0 and 0 on a plain host. */
	assert_int_equal(sim_proc_status(t->d.pid, "Seccomp"), sim_proc_status(0, "Seccomp"));
	assert_int_equal(sim_proc_status(t->d.pid, "NoNewPrivs"), sim_proc_status(0, "NoNewPrivs"));
	assert_int_equal(sim_proc_status(t->d.pid, "Seccomp_filters"),
			 sim_proc_status(0, "Seccomp_filters"));
}

static const char *const none_args[] = { "--sandbox", "none", NULL };

/* Waits (bounded) for the daemon to exit by itself: its wait status. */
static int wait_exit(struct sim_daemon *d)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (int waited = 0; waited < EXIT_TIMEOUT_MS; waited += 10) {
		if (!sim_daemon_alive(d))
			return d->status;
		nanosleep(&ts, NULL);
	}
	fail_msg("the daemon is still running after %d ms", EXIT_TIMEOUT_MS);
	return -1;
}

/* The daemon's log, whole (small: a few lines). */
static char *read_log(const struct sim_daemon *d)
{
	static char buf[16384];
	FILE *f = fopen(d->log_path, "re");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Waits (bounded) until the log holds needle. */
static void wait_log(const struct sim_daemon *d, const char *needle)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (int waited = 0; waited < EXIT_TIMEOUT_MS; waited += 10) {
		if (strstr(read_log(d), needle))
			return;
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "%s", read_log(d));
	fail_msg("no \"%s\" in the log after %d ms", needle, EXIT_TIMEOUT_MS);
}

/* Spawns the daemon with VDV_SANDBOX_SELFTEST=1 (and VDV_SANDBOX_LOG if
 * log is set), which makes it call syslog once its filter is loaded. */
static void spawn_selftest(struct sim_daemon *d, const char *const *extra, bool log)
{
	int r;

	setenv("VDV_SANDBOX_SELFTEST", "1", 1);
	/* Whatever the runner set: this test decides. */
	if (log)
		setenv("VDV_SANDBOX_LOG", "1", 1);
	else
		unsetenv("VDV_SANDBOX_LOG");
	r = sim_daemon_spawn(d, sim_daemon_exe(), ITEST_CID, extra, EXIT_TIMEOUT_MS);
	unsetenv("VDV_SANDBOX_SELFTEST");
	unsetenv("VDV_SANDBOX_LOG");
	/* The socket exists before the filter: either is possible. */
	if (r != 0 && r != -ECHILD)
		fail_msg("spawn: %s", strerror(-r));
}

/* What a user sees when the allowlist misses a call: one line naming it,
 * and the process dies by SIGSYS, as SECCOMP_RET_KILL_PROCESS would. */
static void test_forbidden_call_message(void **state)
{
	struct sim_daemon d;
	const char *log;
	int st;
	(void)state;

	spawn_selftest(&d, NULL, false);
	st = wait_exit(&d);
	log = read_log(&d);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS) {
		fprintf(stderr, "%s", log);
		fail_msg("wait status 0x%x: expected death by SIGSYS", st);
	}
	if (!strstr(log, "vhost-device-vsock: sandbox: system call ") ||
	    !strstr(log, " (syslog) is not allowed; run with --sandbox none and report this\n")) {
		fprintf(stderr, "%s", log);
		fail_msg("the log does not name the forbidden call");
	}
	sim_daemon_stop(&d, EXIT_TIMEOUT_MS, NULL);
}

/* VDV_SANDBOX_LOG=1: the same line, the call fails, the daemon serves on. */
static void test_log_mode_keeps_running(void **state)
{
	struct sim_daemon d;
	int r, st = 0;
	(void)state;

	spawn_selftest(&d, NULL, true);
	wait_log(&d, " (syslog) is not allowed; VDV_SANDBOX_LOG is set: it fails with ENOSYS\n");
	/* Serving came after the call. */
	wait_log(&d, "listening on");
	assert_true(sim_daemon_alive(&d));
	r = sim_daemon_stop(&d, EXIT_TIMEOUT_MS, &st);
	if (r != 0)
		fail_msg("daemon did not stop cleanly: %s (status 0x%x)", strerror(-r), st);
}

/* --sandbox none: the hook's syslog is just a call. */
static void test_none_allows_everything(void **state)
{
	struct sim_daemon d;
	int r, st = 0;
	(void)state;

	spawn_selftest(&d, none_args, false);
	wait_log(&d, "listening on");
	assert_true(sim_daemon_alive(&d));
	assert_null(strstr(read_log(&d), "is not allowed"));
	r = sim_daemon_stop(&d, EXIT_TIMEOUT_MS, &st);
	if (r != 0)
		fail_msg("daemon did not stop cleanly: %s (status 0x%x)", strerror(-r), st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITEST_T(test_default_is_seccomp),
		ITEST_T_ARGS(test_none_is_unconfined, none_args),
		cmocka_unit_test(test_forbidden_call_message),
		cmocka_unit_test(test_log_mode_keeps_running),
		cmocka_unit_test(test_none_allows_everything),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
