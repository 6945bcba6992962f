/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Socket activation (LISTEN_FDS): a launcher binds the vhost-user socket
 * and passes it as fd 3, the way systemd does; the daemon serves it
 * instead of binding, a VMM connects through it, and at exit the socket
 * file stays (it is the launcher's). A passed socket no VM claims, or one
 * that is not a listening Unix socket, stops the start with a message
 * naming the descriptor; LISTEN_PID of another process is ignored.
 */
#include "itest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define PORT 1234

struct launcher {
	char dir[64];
	char path[100];   /* the passed socket's path (fits sun_path) */
	int fd;           /* listening, inherited by the daemon */
	char script[512]; /* sh -c: fd -> 3, LISTEN_* for the daemon's own pid */
};

/* Binds dir/vhost.sock and prepares the wrapper that passes it; pid_expr
 * is what LISTEN_PID is set to ("$$": the daemon itself). */
static void launcher_init(struct launcher *l, const char *names, const char *pid_expr)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strcpy(l->dir, "/tmp/vdv-act-XXXXXX");
	assert_non_null(mkdtemp(l->dir));
	snprintf(l->path, sizeof(l->path), "%s/vhost.sock", l->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->path);
	l->fd = socket(AF_UNIX, SOCK_STREAM, 0); /* no CLOEXEC: the daemon inherits it */
	assert_true(l->fd >= 0);
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l->fd, 8), 0);
	/* The shell keeps its pid across exec, so $$ is the daemon's. */
	if (l->fd == 3) /* already where the daemon expects it */
		snprintf(l->script, sizeof(l->script),
			 "export LISTEN_PID=%s LISTEN_FDS=1 LISTEN_FDNAMES=%s; exec \"$@\"",
			 pid_expr, names);
	else
		snprintf(l->script, sizeof(l->script),
			 "exec 3<&%d %d<&-; export LISTEN_PID=%s LISTEN_FDS=1 "
			 "LISTEN_FDNAMES=%s; exec \"$@\"",
			 l->fd, l->fd, pid_expr, names);
}

static void launcher_fini(struct launcher *l)
{
	close(l->fd);
	unlink(l->path);
	rmdir(l->dir);
}

/* Starts the daemon through the launcher with --socket socket_path. */
static int spawn(struct itest *t, struct launcher *l, const char *socket_path, bool wait)
{
	const char *argv[] = { "/bin/sh", "-c", l->script, "sh", sim_daemon_exe(),
			       "--guest-cid", "5", "--socket", socket_path,
			       "--uds-path", "%D/vm.vsock", NULL };

	return sim_daemon_spawn_argv(&t->d, argv, wait ? "vm.vsock" : NULL, 10000);
}

/* Waits (bounded) for the line the daemon logs once the VM is served
 * (after its thread started, so later than the files spawn() waits for). */
static void wait_serving(struct itest *t)
{
	for (int64_t end = sim_now_ms() + ITEST_TIMEOUT_MS;
	     !itest_log_contains(t, "vm cid 5: listening on ");) {
		assert_true(sim_now_ms() < end);
		usleep(5000);
	}
}

/* Waits (bounded) for the daemon to exit; returns its exit status. */
static int exit_status(struct itest *t)
{
	assert_int_equal(sim_daemon_wait_exit(&t->d, ITEST_TIMEOUT_MS), 0);
	assert_true(WIFEXITED(t->d.status));
	return WEXITSTATUS(t->d.status);
}

static void test_passed_socket_served(void **state)
{
	struct itest *t = calloc(1, sizeof(*t));
	struct launcher l;
	struct sim *s;
	struct sim_stream st;
	struct stat before, after;
	int lfd, hfd, status;
	char b[4];
	(void)state;

	assert_non_null(t);
	launcher_init(&l, "vm5", "$$");
	assert_int_equal(stat(l.path, &before), 0);
	assert_int_equal(spawn(t, &l, l.path, true), 0);
	wait_serving(t);
	assert_true(itest_log_contains(t, "(passed by the service manager)"));
	/* A VMM through the passed socket: a guest connection works. */
	assert_int_equal(sim_connect(l.path, NULL, &s), 0);
	assert_int_equal(sim_start(s), 0);
	lfd = itest_host_listen(t, PORT, 8);
	assert_int_equal(sim_stream_connect(s, &st, ITEST_HOST_CID, PORT, 50000, 0,
					    ITEST_TIMEOUT_MS), 0);
	hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	assert_int_equal(sim_stream_send(&st, "ping", 4, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_host_read(hfd, b, 4, ITEST_TIMEOUT_MS), 4);
	assert_memory_equal(b, "ping", 4);
	close(hfd);
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
	/* At exit the socket file is the launcher's: it stays, the same one. */
	assert_int_equal(sim_daemon_stop(&t->d, 5000, &status), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(stat(l.path, &after), 0);
	assert_true(S_ISSOCK(after.st_mode) && after.st_ino == before.st_ino);
	launcher_fini(&l);
	free(t);
}

/* Matched by its LISTEN_FDNAMES name when the paths differ. */
static void test_matched_by_name(void **state)
{
	struct itest *t = calloc(1, sizeof(*t));
	struct launcher l;
	struct sim *s;
	char name[160];
	(void)state;

	assert_non_null(t);
	launcher_init(&l, "/run/example/vm5.sock", "$$");
	snprintf(name, sizeof(name), "/run/example/vm5.sock");
	assert_int_equal(spawn(t, &l, name, true), 0);
	assert_int_equal(sim_connect(l.path, NULL, &s), 0);
	assert_int_equal(sim_start(s), 0);
	sim_close(s);
	sim_daemon_stop(&t->d, 5000, NULL);
	launcher_fini(&l);
	free(t);
}

static void test_unclaimed_socket_refused(void **state)
{
	struct itest *t = calloc(1, sizeof(*t));
	struct launcher l;
	char want[200];
	(void)state;

	assert_non_null(t);
	launcher_init(&l, "other", "$$");
	assert_int_equal(spawn(t, &l, "%D/vhost.sock", false), 0);
	assert_int_equal(exit_status(t), 1);
	snprintf(want, sizeof(want),
		 "LISTEN_FDS: descriptor 3 (name 'other', bound to '%s') is no VM's socket", l.path);
	assert_true(itest_log_contains(t, want));
	sim_daemon_stop(&t->d, 1000, NULL);
	launcher_fini(&l);
	free(t);
}

static void test_not_a_listening_socket(void **state)
{
	struct itest *t = calloc(1, sizeof(*t));
	struct launcher l;
	int p[2];
	(void)state;

	assert_non_null(t);
	launcher_init(&l, "vm5", "$$");
	/* fd 3 becomes a pipe instead of the socket. */
	assert_int_equal(pipe(p), 0);
	assert_true(p[0] != 3);
	snprintf(l.script, sizeof(l.script),
		 "exec 3<&%d; export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$@\"", p[0]);
	assert_int_equal(spawn(t, &l, l.path, false), 0);
	assert_int_equal(exit_status(t), 1);
	assert_true(itest_log_contains(t, "LISTEN_FDS: descriptor 3 is not a Unix socket"));
	sim_daemon_stop(&t->d, 1000, NULL);
	close(p[0]);
	close(p[1]);
	launcher_fini(&l);
	free(t);
}

/* LISTEN_PID names another process (e.g. our parent's activation): the
 * daemon binds its own socket and leaves fd 3 alone. */
static void test_other_pid_ignored(void **state)
{
	struct itest *t = calloc(1, sizeof(*t));
	struct launcher l;
	char pid[16];
	(void)state;

	assert_non_null(t);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	launcher_init(&l, "vm5", pid);
	assert_int_equal(spawn(t, &l, "%D/vhost.sock", true), 0);
	wait_serving(t);
	assert_false(itest_log_contains(t, "(passed by the service manager)"));
	assert_true(sim_daemon_alive(&t->d));
	sim_daemon_stop(&t->d, 5000, NULL);
	launcher_fini(&l);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passed_socket_served),
		cmocka_unit_test(test_matched_by_name),
		cmocka_unit_test(test_unclaimed_socket_refused),
		cmocka_unit_test(test_not_a_listening_socket),
		cmocka_unit_test(test_other_pid_ignored),
	};

	return cmocka_run_group_tests_name("activation", tests, NULL, NULL);
}
