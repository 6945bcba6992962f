/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * What the daemon does with the paths it is told to listen on. A VMM's
 * socket path is often typed by hand or templated, so the daemon must never
 * destroy something that is not its own (a regular file, a directory, a
 * symlink's target), must not steal a socket another process serves, must
 * take over a socket left behind by a crashed instance, and must leave
 * nothing behind when it fails half-way or is told to stop.
 *
 * Each test gets its own directory for the paths under test; the daemon's
 * log lives in the separate temp dir sim_daemon creates.
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

/* A refusal is decided before any socket is served: a few ms in practice;
 * generous for sanitizer builds on a loaded machine. */
#define EXIT_TIMEOUT_MS 5000
#define PORT 1234
#define PATH_MAX_LOCAL 256


struct ctx {
	struct itest t;         /* first: itest helpers take a struct itest * */
	char dir[64];           /* our paths live here */
	char path[8][SIM_DAEMON_PATH_MAX];
	unsigned npaths;
	int listen_fd;          /* a foreign listener, for the "in use" tests */
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->listen_fd = -1;
	strcpy(c->dir, "/tmp/vdv-paths-XXXXXX");
	if (!mkdtemp(c->dir)) {
		free(c);
		return -1;
	}
	*state = c;
	return 0;
}

/* Removes dir and what the tests put there (files, sockets, symlinks and
 * one level of subdirectory). */
static void rm_tree(const char *dir, int depth)
{
	char p[PATH_MAX_LOCAL];
	struct dirent *de;
	struct stat st;
	DIR *dp = opendir(dir);

	if (dp) {
		while ((de = readdir(dp))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) >= (int)sizeof(p))
				continue;
			if (!lstat(p, &st) && S_ISDIR(st.st_mode) && depth < 2)
				rm_tree(p, depth + 1);
			else
				unlink(p);
		}
		closedir(dp);
	}
	rmdir(dir);
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	if (!c)
		return 0;
	if (getenv("VDV_TEST_VERBOSE"))
		sim_daemon_dump_log(&c->t.d, stderr, 8192);
	/* Kills a daemon still running and removes its log dir. */
	sim_daemon_stop(&c->t.d, 3000, NULL);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	rm_tree(c->dir, 0);
	free(c);
	return 0;
}

/* DIR/name, kept in the context so argv can point at it. */
static const char *cpath(struct ctx *c, const char *name)
{
	char *p;

	assert_true(c->npaths < sizeof(c->path) / sizeof(c->path[0]));
	p = c->path[c->npaths++];
	assert_true(snprintf(p, SIM_DAEMON_PATH_MAX, "%s/%s", c->dir, name) <
		    SIM_DAEMON_PATH_MAX);
	return p;
}


static void assert_absent(const char *path, const char *why)
{
	struct stat st;

	if (!lstat(path, &st))
		fail_msg("%s still exists (mode 0%o): %s", path, st.st_mode, why);
	assert_int_equal(errno, ENOENT);
}

/* Binds a Unix socket to path and closes it without unlinking: what a
 * daemon killed with SIGKILL leaves behind. */
static void make_stale_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	close(fd);
}

/* connect() to path: 0 or -errno. */
static int try_connect(const char *path, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r;

	assert_true(fd >= 0);
	strcpy(sa.sun_path, path);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	if (r || !out)
		close(fd);
	else
		*out = fd;
	return r;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}

static char *read_log(const struct ctx *c)
{
	static char buf[16384];
	ssize_t n;
	int fd = open(c->t.d.log_path, O_RDONLY | O_CLOEXEC);

	buf[0] = 0;
	if (fd < 0)
		return buf;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

/* Waits (bounded) for the child to exit by itself: 0 or -ETIMEDOUT. */
static void spawn(struct ctx *c, const char *const *argv)
{
	int r = sim_daemon_spawn_argv(&c->t.d, argv, NULL, 0);

	if (r)
		fail_msg("spawning %s: %s", argv[0], strerror(-r));
}

/* SIGTERM: exit status 0 within EXIT_TIMEOUT_MS, and both sockets gone
 * (including one that replaced a stale file). */
static void term_and_check(struct ctx *c, const char *sock, const char *uds)
{
	struct sim_daemon *d = &c->t.d;

	assert_int_equal(kill(d->pid, SIGTERM), 0);
	if (sim_daemon_wait_exit(d, EXIT_TIMEOUT_MS))
		fail_msg("daemon still running %d ms after SIGTERM", EXIT_TIMEOUT_MS);
	if (!WIFEXITED(d->status) || WEXITSTATUS(d->status) != 0)
		fail_msg("expected exit status 0 after SIGTERM, got wait status 0x%x; log:\n%s",
			 d->status, read_log(c));
	assert_absent(sock, "vhost-user socket left behind after shutdown");
	assert_absent(uds, "uds-path socket left behind after shutdown");
}

/*
 * Runs the daemon with argv and expects it to give up at start-up: exit
 * status 1 within EXIT_TIMEOUT_MS, with one "error:" line on stderr that
 * names path and contains needle.
 */
static void expect_refused(struct ctx *c, const char *const *argv, const char *path,
			   const char *needle)
{
	int64_t t0 = sim_now_ms();
	const char *log, *line;
	int st;

	spawn(c, argv);
	if (sim_daemon_wait_exit(&c->t.d, EXIT_TIMEOUT_MS))
		fail_msg("daemon still running %d ms after start; expected it to refuse %s",
			 EXIT_TIMEOUT_MS, path);
	st = c->t.d.status;
	log = read_log(c);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 1)
		fail_msg("expected exit status 1 for %s, got wait status 0x%x; log:\n%s", path,
			 st, log);
	line = strstr(log, "vhost-device-vsock: error: ");
	if (!line)
		fail_msg("no 'vhost-device-vsock: error:' line for %s; log:\n%s", path, log);
	if (!strstr(line, path) || !strstr(line, needle))
		fail_msg("error message should name '%s' and say '%s'; log:\n%s", path, needle,
			 log);
	/* Quick, not a timeout somewhere. */
	assert_true(sim_now_ms() - t0 < EXIT_TIMEOUT_MS);
}

static void argv_one(const char *argv[8], const char *sock, const char *uds)
{
	argv[0] = sim_daemon_exe();
	argv[1] = "--guest-cid";
	argv[2] = "5";
	argv[3] = "--socket";
	argv[4] = sock;
	argv[5] = "--uds-path";
	argv[6] = uds;
	argv[7] = NULL;
}

/* ---- things that are not sockets ---- */

static void test_socket_is_regular_file(void **state)
{
	struct ctx *c = *state;
	const char *file = cpath(c, "vhost.sock"), *uds = cpath(c, "vm.vsock");
	const char *argv[8];

	itest_write_marker(file);
	argv_one(argv, file, uds);
	expect_refused(c, argv, file, "not a socket");
	itest_assert_marker_intact(file);
	/* The uds listener is created first; the failure must undo it. */
	assert_absent(uds, "uds-path socket left behind after the --socket failure");
}

static void test_uds_is_regular_file(void **state)
{
	struct ctx *c = *state;
	const char *sock = cpath(c, "vhost.sock"), *file = cpath(c, "vm.vsock");
	const char *argv[8];

	itest_write_marker(file);
	argv_one(argv, sock, file);
	expect_refused(c, argv, file, "not a socket");
	itest_assert_marker_intact(file);
	assert_absent(sock, "vhost-user socket created although uds-path failed");
}

static void test_paths_are_directories(void **state)
{
	struct ctx *c = *state;
	const char *d = cpath(c, "dir"), *inner = cpath(c, "dir/keep");
	const char *other = cpath(c, "other");
	const char *argv[8];
	struct stat st;

	assert_int_equal(mkdir(d, 0700), 0);
	itest_write_marker(inner);

	argv_one(argv, d, other);
	expect_refused(c, argv, d, "not a socket");
	assert_int_equal(lstat(d, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	itest_assert_marker_intact(inner);
	assert_absent(other, "uds-path socket left behind");
	sim_daemon_stop(&c->t.d, 1000, NULL);

	argv_one(argv, other, d);
	expect_refused(c, argv, d, "not a socket");
	assert_int_equal(lstat(d, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	itest_assert_marker_intact(inner);
	assert_absent(other, "vhost-user socket created although uds-path failed");
}

static void test_symlink_to_regular_file(void **state)
{
	struct ctx *c = *state;
	const char *target = cpath(c, "target"), *link = cpath(c, "link");
	const char *other = cpath(c, "other");
	const char *argv[8];
	struct stat st;

	itest_write_marker(target);
	assert_int_equal(symlink(target, link), 0);

	/* Following the link would replace the target; unlinking it would
	 * remove something the user made. Both must stay. */
	argv_one(argv, link, other);
	expect_refused(c, argv, link, "not a socket");
	itest_assert_marker_intact(target);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	sim_daemon_stop(&c->t.d, 1000, NULL);

	argv_one(argv, other, link);
	expect_refused(c, argv, link, "not a socket");
	itest_assert_marker_intact(target);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
}

/* ---- stale sockets ---- */

static void test_stale_vhost_socket_replaced(void **state)
{
	struct ctx *c = *state;
	const char *sock = cpath(c, "vhost.sock"), *uds = cpath(c, "vm.vsock");
	const char *argv[8];
	struct sim *s;

	make_stale_socket(sock);
	/* Really stale: nobody answers. */
	assert_int_equal(try_connect(sock, NULL), -ECONNREFUSED);

	argv_one(argv, sock, uds);
	spawn(c, argv);
	/* The stale file already exists, so the path cannot tell us when the
	 * daemon is up: sim_connect retries while the socket refuses. */
	snprintf(c->t.d.socket_path, sizeof(c->t.d.socket_path), "%s", sock);
	snprintf(c->t.d.uds_path, sizeof(c->t.d.uds_path), "%s", uds);
	s = itest_connect(&c->t, NULL);
	if (sim_start(s)) {
		sim_close(s);
		fail_msg("frontend could not start on the replaced socket; log:\n%s",
			 read_log(c));
	}
	assert_int_equal(sim_info(s)->config_guest_cid, ITEST_CID);
	assert_int_equal(sim_stop(s), 0);
	sim_close(s);
	assert_true(sim_daemon_alive(&c->t.d));
	term_and_check(c, sock, uds);
}

static void test_stale_uds_socket_replaced(void **state)
{
	struct ctx *c = *state;
	const char *sock = cpath(c, "vhost.sock"), *uds = cpath(c, "vm.vsock");
	const char *argv[8];
	struct sim_stream st;
	unsigned port = 0;
	char line[64];
	struct sim *s;
	int hfd, r;

	make_stale_socket(uds);
	assert_int_equal(try_connect(uds, NULL), -ECONNREFUSED);

	argv_one(argv, sock, uds);
	spawn(c, argv);
	/* uds-path is set up before the vhost-user socket appears. */
	r = sim_daemon_wait_path(&c->t.d, sock, 10000);
	if (r)
		fail_msg("vhost-user socket did not appear: %s; log:\n%s", strerror(-r),
			 read_log(c));
	snprintf(c->t.d.socket_path, sizeof(c->t.d.socket_path), "%s", sock);
	snprintf(c->t.d.uds_path, sizeof(c->t.d.uds_path), "%s", uds);
	s = itest_start(&c->t, NULL);

	/* A host application connects through the replaced socket and its
	 * CONNECT reaches the guest. */
	hfd = itest_host_connect(&c->t, "CONNECT 1234\n");
	memset(&st, 0, sizeof(st));
	assert_int_equal(sim_stream_accept(s, &st, PORT, 0, false, ITEST_TIMEOUT_MS), 0);
	assert_true(itest_host_read_line(hfd, line, sizeof(line), ITEST_TIMEOUT_MS) > 0);
	assert_int_equal(sscanf(line, "OK %u", &port), 1);
	assert_int_equal(port, PORT);
	close(hfd);
	sim_stream_fini(&st);
	sim_close(s);
	assert_true(sim_daemon_alive(&c->t.d));
	term_and_check(c, sock, uds);
}

/* ---- sockets in use ---- */

/* Another process serves path: the daemon refuses, and that listener is
 * left alone (still bound to the path, still accepting). */
static void in_use(struct ctx *c, bool vhost)
{
	const char *sock = cpath(c, "vhost.sock"), *uds = cpath(c, "vm.vsock");
	const char *busy = vhost ? sock : uds, *argv[8];
	struct stat st;
	int cfd = -1, afd = -1, i;

	c->listen_fd = listen_on(busy);
	argv_one(argv, sock, uds);
	expect_refused(c, argv, busy, "in use");

	assert_int_equal(lstat(busy, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(try_connect(busy, &cfd), 0);
	/* The daemon's probe may sit in the backlog ahead of ours; either
	 * way accept() must work on the listener we own. */
	for (i = 0; i < 2 && afd < 0; i++) {
		assert_int_equal(itest_wait_fd(c->listen_fd, POLLIN, 1000), 0);
		afd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (afd >= 0 && i == 0 && itest_host_closed_now(afd)) {
			close(afd); /* the probe, already closed by the daemon */
			afd = -1;
		}
	}
	assert_true(afd >= 0);
	/* And it is our client that got through: bytes flow. */
	assert_int_equal(itest_host_write(cfd, "x", 1, 1000), 0);
	{
		char b = 0;

		assert_int_equal(itest_host_read(afd, &b, 1, 1000), 1);
		assert_int_equal(b, 'x');
	}
	close(afd);
	close(cfd);
	if (vhost)
		assert_absent(uds, "uds-path socket left behind after the --socket failure");
	else
		assert_absent(sock, "vhost-user socket created although uds-path failed");
}

static void test_vhost_socket_in_use(void **state)
{
	in_use(*state, true);
}

static void test_uds_socket_in_use(void **state)
{
	in_use(*state, false);
}

/* ---- several VMs: all or nothing ---- */

static void second_vm_bad(struct ctx *c, bool bad_socket)
{
	const char *a_sock = cpath(c, "a.sock"), *a_uds = cpath(c, "a.vsock");
	const char *b_sock = cpath(c, "b.sock"), *b_uds = cpath(c, "b.vsock");
	const char *file = bad_socket ? b_sock : b_uds;
	char vm1[3 * SIM_DAEMON_PATH_MAX], vm2[3 * SIM_DAEMON_PATH_MAX];
	const char *argv[6];

	itest_write_marker(file);
	snprintf(vm1, sizeof(vm1), "guest-cid=5,socket=%s,uds-path=%s", a_sock, a_uds);
	snprintf(vm2, sizeof(vm2), "guest-cid=6,socket=%s,uds-path=%s", b_sock, b_uds);
	argv[0] = sim_daemon_exe();
	argv[1] = "--vm";
	argv[2] = vm1;
	argv[3] = "--vm";
	argv[4] = vm2;
	argv[5] = NULL;
	expect_refused(c, argv, file, "not a socket");
	itest_assert_marker_intact(file);
	/* The first VM's sockets were created before the second failed:
	 * a refused start must not leave them for the next start to trip
	 * over (or a VMM to connect to a dead daemon). */
	assert_absent(a_sock, "first VM's vhost-user socket left behind");
	assert_absent(a_uds, "first VM's uds-path socket left behind");
	if (bad_socket)
		assert_absent(b_uds, "second VM's uds-path socket left behind");
	else
		assert_absent(b_sock, "second VM's vhost-user socket created");
}

static void test_second_vm_socket_is_file(void **state)
{
	second_vm_bad(*state, true);
}

static void test_second_vm_uds_is_file(void **state)
{
	second_vm_bad(*state, false);
}

/* ---- clean shutdown ---- */

static void stop_removes_sockets(struct ctx *c, int sig)
{
	struct sim_daemon *d = &c->t.d;
	struct sim *s;
	int r, hfd;

	r = sim_daemon_spawn(d, sim_daemon_exe(), ITEST_CID, NULL, 10000);
	if (r)
		fail_msg("spawn: %s; log:\n%s", strerror(-r), read_log(c));
	/* Busy at the time of the signal: a frontend with running rings and
	 * a host connection waiting for its CONNECT line. */
	s = itest_start(&c->t, NULL);
	hfd = itest_host_dial(&c->t);
	assert_int_equal(kill(d->pid, sig), 0);
	if (sim_daemon_wait_exit(d, EXIT_TIMEOUT_MS))
		fail_msg("daemon still running %d ms after signal %d", EXIT_TIMEOUT_MS, sig);
	if (!WIFEXITED(d->status) || WEXITSTATUS(d->status) != 0)
		fail_msg("expected exit status 0 after signal %d, got wait status 0x%x; log:\n%s",
			 sig, d->status, read_log(c));
	assert_absent(d->socket_path, "vhost-user socket left behind after shutdown");
	assert_absent(d->uds_path, "uds-path socket left behind after shutdown");
	/* Both peers see the daemon gone. */
	assert_int_equal(sim_wait_closed(s, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_host_wait_closed(hfd, ITEST_TIMEOUT_MS, NULL), 0);
	close(hfd);
	sim_close(s);
}

static void test_sigterm_removes_sockets(void **state)
{
	stop_removes_sockets(*state, SIGTERM);
}

static void test_sigint_removes_sockets(void **state)
{
	stop_removes_sockets(*state, SIGINT);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_socket_is_regular_file),
		T(test_uds_is_regular_file),
		T(test_paths_are_directories),
		T(test_symlink_to_regular_file),
		T(test_stale_vhost_socket_replaced),
		T(test_stale_uds_socket_replaced),
		T(test_vhost_socket_in_use),
		T(test_uds_socket_in_use),
		T(test_second_vm_socket_is_file),
		T(test_second_vm_uds_is_file),
		T(test_sigterm_removes_sockets),
		T(test_sigint_removes_sockets),
	};

	return cmocka_run_group_tests_name("socket paths", tests, NULL, NULL);
}
