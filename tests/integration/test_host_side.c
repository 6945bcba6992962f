/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Hardening of the host-socket side (issue #12): running out of file
 * descriptors must not spin the daemon, guest connections must not follow
 * symlinks planted at "<uds-path>_<port>", lines any peer can provoke must
 * not flood the log, and stopping must not remove a file that replaced a
 * uds listener. Unix sockets only, never AF_VSOCK.
 */
#include "itest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define PORT 1234
#define FLOOD 40
/* Lines one rate-limited key may write per 10 s (util/log.h LOG_RL_BURST),
 * plus one "suppressed" line. */
#define RL_MAX_LINES 6


/* "<uds-path>_<port>" of the test's daemon. */
static void service_path(struct itest *t, uint32_t port, char *out, size_t cap)
{
	assert_true((size_t)snprintf(out, cap, "%s_%u", t->d.uds_path, port) < cap);
}

static int listen_at(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}


/* The lowest fd number pid does not use: the next one the kernel gives
 * it, so a limit of that many leaves it none. */
static unsigned lowest_free_fd(pid_t pid)
{
	bool used[4096] = { false };
	struct dirent *de;
	char p[64];
	unsigned n;
	DIR *d;

	snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
	d = opendir(p);
	assert_non_null(d);
	while ((de = readdir(d))) {
		unsigned long v = strtoul(de->d_name, NULL, 10);

		if (de->d_name[0] != '.' && v < 4096)
			used[v] = true;
	}
	closedir(d);
	for (n = 0; n < 4096 && used[n]; n++)
		;
	return n;
}

/* Soft and hard "Max open files" of pid. */
static void read_nofile(pid_t pid, unsigned long long *soft, unsigned long long *hard)
{
	char p[64], line[256], s[32], h[32];
	bool found = false;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/limits", (int)pid);
	f = fopen(p, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Max open files", 14) &&
		    sscanf(line + 14, "%31s %31s", s, h) == 2) {
			found = true;
			break;
		}
	fclose(f);
	assert_true(found);
	*soft = strcmp(s, "unlimited") ? strtoull(s, NULL, 10) : ~0ull;
	*hard = strcmp(h, "unlimited") ? strtoull(h, NULL, 10) : ~0ull;
}

/* Sets the daemon's soft limit (the hard one stays, so that the test can
 * raise it again). */
static void set_daemon_nofile(struct itest *t, rlim_t n)
{
	struct rlimit rl;

	assert_int_equal(prlimit(t->d.pid, RLIMIT_NOFILE, NULL, &rl), 0);
	rl.rlim_cur = n;
	assert_int_equal(prlimit(t->d.pid, RLIMIT_NOFILE, &rl, NULL), 0);
}

/* ---- point 2: file descriptors ---- */

/* main() lowered our soft limit below the hard one before any daemon
 * started; the daemon inherits it and must raise it back. */
static void test_nofile_raised(void **state)
{
	struct itest *t = *state;
	unsigned long long soft, hard;
	struct rlimit ours;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &ours), 0);
	read_nofile(t->d.pid, &soft, &hard);
	print_message("spawned with soft %llu, daemon runs with soft %llu hard %llu\n",
		      (unsigned long long)ours.rlim_cur, soft, hard);
	assert_true(ours.rlim_cur < ours.rlim_max); /* the test means something */
	assert_true(soft == hard);
}

/* CPU ms the daemon burns over ms of wall time. */
static uint64_t cpu_over(struct itest *t, unsigned ms)
{
	uint64_t c0, c1;

	assert_int_equal(itest_proc_cpu_ms(t->d.pid, &c0), 0);
	usleep(ms * 1000);
	assert_int_equal(itest_proc_cpu_ms(t->d.pid, &c1), 0);
	return c1 - c0;
}

/*
 * The daemon at its fd limit with host connections waiting in the uds
 * listener's backlog: it must not spin (a level-triggered listener whose
 * accept4() fails with EMFILE is readable for ever), must say so once, and
 * must accept again once fds are free.
 */
static void test_uds_emfile_no_spin(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	int clients[FLOOD], hfd;
	uint64_t cpu;
	char line[64];

	/* Room for a few handshakes; the rest of the flood hits EMFILE. */
	set_daemon_nofile(t, lowest_free_fd(t->d.pid) + 4);
	for (unsigned i = 0; i < FLOOD; i++)
		clients[i] = itest_host_dial(t);
	usleep(200 * 1000);
	cpu = cpu_over(t, 1000);
	print_message("daemon CPU over 1 s at EMFILE: %llu ms\n", (unsigned long long)cpu);
	assert_true(sim_daemon_alive(&t->d));
	assert_true(cpu < 250);
	assert_true(itest_log_contains(t, "Too many open files; pausing it"));
	assert_int_equal(itest_log_count(t, "pausing it"), 1); /* one per episode */

	/* Free the fds: the daemon reads EOF on the handshakes it holds, and
	 * accepts the backlog again. */
	for (unsigned i = 0; i < FLOOD; i++)
		close(clients[i]);
	hfd = itest_host_connect(t, "CONNECT 1234\n");
	assert_int_equal(sim_stream_accept(s, &st, PORT, 0, false, 5000), 0);
	assert_true(itest_host_read_line(hfd, line, sizeof(line), ITEST_TIMEOUT_MS) > 0);
	assert_string_equal(line, "OK 1234\n");
	assert_true(itest_log_contains(t, "accepting on"));
	close(hfd);
	sim_stream_fini(&st);
	sim_close(s);
}

/* The same for the vhost-user listener, with no frontend attached. */
static void test_vhost_emfile_no_spin(void **state)
{
	struct itest *t = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint64_t cpu;

	set_daemon_nofile(t, lowest_free_fd(t->d.pid));
	assert_true(fd >= 0);
	strcpy(sa.sun_path, t->d.socket_path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	usleep(200 * 1000);
	cpu = cpu_over(t, 1000);
	print_message("daemon CPU over 1 s at EMFILE: %llu ms\n", (unsigned long long)cpu);
	assert_true(cpu < 250);
	assert_true(itest_log_contains(t, "Too many open files; pausing it"));
	/* fds again: the waiting frontend is served, then the next one. */
	set_daemon_nofile(t, 1024);
	close(fd);
	itest_fresh_frontend_ok(t);
}

/* A frontend's fd-carrying message while the daemon has no fd left: the
 * fds are lost (MSG_CTRUNC), and the log says so, not "Message too long". */
static void test_vhost_fds_lost_logged(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_connect(t, NULL);

	assert_int_equal(sim_negotiate(s), 0);
	set_daemon_nofile(t, lowest_free_fd(t->d.pid));
	/* The daemon drops the frontend: whatever the send says, it closes. */
	sim_send_mem(s);
	assert_int_equal(sim_wait_closed(s, ITEST_TIMEOUT_MS), 0);
	assert_true(itest_log_contains(t, "file descriptors lost"));
	sim_close(s);
	set_daemon_nofile(t, 1024);
	itest_fresh_frontend_ok(t);
}

/* ---- point 7: guest connections do not follow symlinks ---- */

static void test_service_symlink_refused(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	char svc[SIM_DAEMON_PATH_MAX], target[SIM_DAEMON_PATH_MAX];
	int lfd, r;

	assert_true((size_t)snprintf(target, sizeof(target), "%s/elsewhere.sock", t->d.dir) <
		    sizeof(target));
	service_path(t, PORT, svc, sizeof(svc));
	lfd = listen_at(target);
	assert_int_equal(symlink(target, svc), 0);
	r = sim_stream_connect(s, &st, ITEST_HOST_CID, PORT, 50001, 0, ITEST_TIMEOUT_MS);
	assert_int_equal(r, -ECONNREFUSED);
	assert_int_equal(itest_host_accept(lfd, 200), -ETIMEDOUT);
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
}

static void test_service_regular_file_refused(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	char svc[SIM_DAEMON_PATH_MAX];

	service_path(t, PORT, svc, sizeof(svc));
	itest_write_marker(svc);
	assert_int_equal(sim_stream_connect(s, &st, ITEST_HOST_CID, PORT, 50002, 0,
					    ITEST_TIMEOUT_MS), -ECONNREFUSED);
	sim_stream_fini(&st);
	sim_close(s);
}

static void test_service_socket_works(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	int lfd = itest_host_listen(t, PORT, 8), hfd;
	char buf[4];

	assert_int_equal(sim_stream_connect(s, &st, ITEST_HOST_CID, PORT, 50003, 0,
					    ITEST_TIMEOUT_MS), 0);
	hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	assert_int_equal(sim_stream_send(&st, "ping", 4, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_host_read(hfd, buf, 4, ITEST_TIMEOUT_MS), 4);
	assert_memory_equal(buf, "ping", 4);
	close(hfd);
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
}

/* ---- point 9: log lines a peer can provoke are rate limited ---- */

/* FLOOD host connections, each closed by the daemon: the daemon logged
 * each close (or not) before we see it. */
static void flood(struct itest *t, const char *handshake)
{
	for (unsigned i = 0; i < FLOOD; i++) {
		int fd = handshake ? itest_host_connect(t, handshake) : itest_host_dial(t);

		assert_int_equal(itest_host_wait_closed(fd, ITEST_TIMEOUT_MS, NULL), 0);
		close(fd);
	}
}

static void test_log_flood_vm_not_running(void **state)
{
	struct itest *t = *state;
	unsigned n;

	flood(t, NULL);
	n = itest_log_count(t, "the VM is not running");
	print_message("%u connections refused, %u log lines\n", FLOOD, n);
	assert_true(n >= 1 && n <= RL_MAX_LINES);
}

static void test_log_flood_bad_handshake(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	unsigned n;

	flood(t, "HELLO\n");
	n = itest_log_count(t, "malformed handshake");
	print_message("%u bad handshakes, %u log lines\n", FLOOD, n);
	assert_true(n >= 1 && n <= RL_MAX_LINES);
	sim_close(s);
}

/* uds-path in a directory anyone may write: one warning at start; with
 * the sticky bit (as /tmp): none. */
static void dir_mode_case(mode_t mode, bool want_warning)
{
	char dir[] = "/tmp/vdv-hs-XXXXXX", uds[SIM_DAEMON_PATH_MAX];
	struct itest t = { 0 };
	const char *argv[] = { sim_daemon_exe(), "--guest-cid", "5", "--socket",
			       "%D/vhost.sock", "--uds-path", uds, NULL };
	unsigned n;
	bool world;
	int r, stop;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, mode), 0);
	snprintf(uds, sizeof(uds), "%s/vm.vsock", dir);
	r = sim_daemon_spawn_argv(&t.d, argv, "vhost.sock", 10000);
	if (r) {
		sim_daemon_stop(&t.d, 5000, NULL);
		rmdir(dir);
		fail_msg("spawn: %s", strerror(-r));
	}
	/* The check comes before the uds listener is made. */
	r = sim_daemon_wait_path(&t.d, uds, 5000);
	n = itest_log_count(&t, "without the sticky bit");
	world = itest_log_contains(&t, "world-writable");
	/* Stop it before any assertion: a failure must not leave it running. */
	stop = sim_daemon_stop(&t.d, 5000, NULL);
	rmdir(dir);
	assert_int_equal(r, 0);
	assert_int_equal(n, want_warning ? 1 : 0);
	assert_true(world == want_warning);
	assert_int_equal(stop, 0);
}

static void test_uds_dir_world_writable_warned(void **state)
{
	(void)state;
	dir_mode_case(0777, true);
	dir_mode_case(01777, false);
	dir_mode_case(0700, false);
}

/* Host connections that never send their CONNECT line: each times out
 * (2 s), and the timeouts are rate limited too. */
static void test_log_flood_handshake_timeout(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	int fds[FLOOD];
	unsigned n;

	for (unsigned i = 0; i < FLOOD; i++)
		fds[i] = itest_host_dial(t);
	for (unsigned i = 0; i < FLOOD; i++) {
		assert_int_equal(itest_host_wait_closed(fds[i], 10000, NULL), 0);
		close(fds[i]);
	}
	n = itest_log_count(t, "sent no CONNECT line");
	print_message("%u handshake timeouts, %u log lines\n", FLOOD, n);
	assert_true(n >= 1 && n <= RL_MAX_LINES);
	sim_close(s);
}

/* ---- point 8: stopping removes only our uds listeners ---- */

static int teardown_stopped(void **state)
{
	struct itest *t = *state;

	if (!t)
		return 0;
	sim_daemon_stop(&t->d, 3000, NULL); /* the test stopped it: -ECHILD */
	free(t);
	return 0;
}


static void test_replaced_listener_kept(void **state)
{
	struct itest *t = *state;
	char seq[SIM_DAEMON_PATH_MAX];

	assert_true((size_t)snprintf(seq, sizeof(seq), "%s_seqpacket", t->d.uds_path) <
		    sizeof(seq));
	assert_int_equal(unlink(t->d.uds_path), 0);
	itest_write_marker(t->d.uds_path);
	assert_int_equal(unlink(seq), 0);
	itest_write_marker(seq);
	assert_int_equal(kill(t->d.pid, SIGTERM), 0);
	if (sim_daemon_wait_exit(&t->d, 5000))
		fail_msg("daemon still running 5 s after SIGTERM");
	assert_true(WIFEXITED(t->d.status) && WEXITSTATUS(t->d.status) == 0);
	itest_assert_marker_intact(t->d.uds_path);
	itest_assert_marker_intact(seq);
}

int main(void)
{
	struct rlimit rl;
	const struct CMUnitTest tests[] = {
		ITEST_T(test_nofile_raised),
		ITEST_T(test_uds_emfile_no_spin),
		ITEST_T(test_vhost_emfile_no_spin),
		ITEST_T(test_vhost_fds_lost_logged),
		ITEST_T(test_service_symlink_refused),
		ITEST_T(test_service_regular_file_refused),
		ITEST_T(test_service_socket_works),
		ITEST_T(test_log_flood_vm_not_running),
		ITEST_T(test_log_flood_bad_handshake),
		ITEST_T(test_log_flood_handshake_timeout),
		cmocka_unit_test(test_uds_dir_world_writable_warned),
		cmocka_unit_test_setup_teardown(test_replaced_listener_kept, itest_setup,
						teardown_stopped),
	};

	/* A soft limit below the hard one, for test_nofile_raised. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max > 64) {
		rl.rlim_cur = rl.rlim_max - 1 < 512 ? rl.rlim_max - 1 : 512;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
