/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * socket-fd=N: the test binds and listens on the vhost-user socket itself,
 * spawns the daemon with the descriptor inherited (no close-on-exec) and
 * --vm ...,socket-fd=N; a simulated VMM connects through the path and moves
 * data both ways. At exit the daemon leaves the socket file alone (it did
 * not create it). The same fd also passed by LISTEN_FDS is served once,
 * without an "unclaimed" error; a descriptor that is not listening stops
 * the start with exit status 2, naming it.
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
#define G2H (1u << 20)
#define H2G (1u << 20)

struct bound {
	char dir[64];
	char path[100];
	int fd; /* inherited by the daemon */
};

static void bound_init(struct bound *b, bool listening)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strcpy(b->dir, "/tmp/vdv-sfd-XXXXXX");
	assert_non_null(mkdtemp(b->dir));
	snprintf(b->path, sizeof(b->path), "%s/vhost.sock", b->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", b->path);
	b->fd = socket(AF_UNIX, SOCK_STREAM, 0); /* no CLOEXEC: the daemon inherits it */
	assert_true(b->fd >= 0);
	assert_int_equal(bind(b->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (listening)
		assert_int_equal(listen(b->fd, 8), 0);
}

static void bound_fini(struct bound *b)
{
	close(b->fd);
	unlink(b->path);
	rmdir(b->dir);
}

/* The daemon with "--vm guest-cid=5,socket-fd=<fd>,uds-path=%D/vm.vsock",
 * through sh -c script (NULL: directly). */
static int spawn(struct itest *t, const char *script, int fd, const char *wait_rel)
{
	char vm[128];
	const char *direct[] = { sim_daemon_exe(), "--vm", vm, NULL };
	const char *shell[] = { "/bin/sh", "-c", script, "sh", sim_daemon_exe(), "--vm", vm, NULL };

	snprintf(vm, sizeof(vm), "guest-cid=5,socket-fd=%d,uds-path=%%D/vm.vsock", fd);
	return sim_daemon_spawn_argv(&t->d, script ? shell : direct, wait_rel, 10000);
}

static void wait_log(struct itest *t, const char *needle)
{
	for (int64_t end = sim_now_ms() + ITEST_TIMEOUT_MS; !itest_log_contains(t, needle);) {
		if (sim_now_ms() > end) {
			sim_daemon_dump_log(&t->d, stderr, 4096);
			fail_msg("no log line '%s'", needle);
		}
		usleep(5000);
	}
}

/* A guest connection to the host through the VMM on path: 1 MiB each way. */
static void move_data(struct itest *t, const char *path)
{
	struct itest_pump hp = { .tx_seed = 7, .tx_len = H2G, .rx_seed = 8, .rx_len = G2H };
	struct itest_xfer x = { .tx_seed = 8, .tx_len = G2H, .rx_seed = 7, .rx_len = H2G };
	struct sim_stream st;
	struct sim *s;
	int lfd;

	assert_int_equal(sim_connect(path, NULL, &s), 0);
	assert_int_equal(sim_start(s), 0);
	lfd = itest_host_listen(t, PORT, 8);
	assert_int_equal(sim_stream_connect(s, &st, ITEST_HOST_CID, PORT, 50000, 0,
					    ITEST_TIMEOUT_MS), 0);
	hp.fd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hp.fd >= 0);
	itest_pump_start(&hp);
	itest_stream_xfer(&st, &x, 20000);
	assert_int_equal(itest_pump_join(&hp), 0);
	assert_int_equal(x.tx_done, G2H);
	assert_int_equal(x.rx_done, H2G);
	close(hp.fd);
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
}

static void test_inherited_socket_served(void **state)
{
	struct itest *t = calloc(1, sizeof(*t));
	struct stat before, after;
	struct bound b;
	char want[160];
	int status, v = 0;
	socklen_t len = sizeof(v);
	(void)state;

	assert_non_null(t);
	bound_init(&b, true);
	assert_int_equal(stat(b.path, &before), 0);
	assert_int_equal(spawn(t, NULL, b.fd, "vm.vsock"), 0);
	snprintf(want, sizeof(want), "vm cid 5: listening on socket-fd %d (%s) (inherited)", b.fd,
		 b.path);
	wait_log(t, want);
	move_data(t, b.path);
	/* A second VMM session on the same inherited socket works too. */
	{
		struct sim *s;

		assert_int_equal(sim_connect(b.path, NULL, &s), 0);
		assert_int_equal(sim_start(s), 0);
		sim_close(s);
	}
	assert_int_equal(sim_daemon_stop(&t->d, 5000, &status), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Not ours: the same socket file is still there, still listening. */
	assert_int_equal(stat(b.path, &after), 0);
	assert_true(S_ISSOCK(after.st_mode) && after.st_ino == before.st_ino);
	assert_int_equal(getsockopt(b.fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len), 0);
	assert_int_equal(v, 1);
	bound_fini(&b);
	free(t);
}

/* The fd socket-fd names is also passed by LISTEN_FDS (a .socket unit and
 * ExecStart=... --socket-fd 3): that VM takes it, nothing is unclaimed. */
static void test_also_passed_by_listen_fds(void **state)
{
	struct itest *t = calloc(1, sizeof(*t));
	char script[256], want[160];
	struct bound b;
	struct sim *s;
	(void)state;

	assert_non_null(t);
	bound_init(&b, true);
	if (b.fd == 3)
		snprintf(script, sizeof(script),
			 "export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$@\"");
	else
		snprintf(script, sizeof(script),
			 "exec 3<&%d %d<&-; export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$@\"", b.fd,
			 b.fd);
	assert_int_equal(spawn(t, script, 3, "vm.vsock"), 0);
	snprintf(want, sizeof(want), "vm cid 5: listening on socket-fd 3 (%s) (inherited)", b.path);
	wait_log(t, want);
	assert_false(itest_log_contains(t, "is no VM's socket"));
	assert_int_equal(sim_connect(b.path, NULL, &s), 0);
	assert_int_equal(sim_start(s), 0);
	sim_close(s);
	assert_int_equal(sim_daemon_stop(&t->d, 5000, NULL), 0);
	bound_fini(&b);
	free(t);
}

/* Bound but not listening: a usage error, exit status 2, naming the fd. */
static void test_not_listening(void **state)
{
	struct itest *t = calloc(1, sizeof(*t));
	struct bound b;
	char want[160];
	(void)state;

	assert_non_null(t);
	bound_init(&b, false);
	assert_int_equal(spawn(t, NULL, b.fd, NULL), 0);
	assert_int_equal(sim_daemon_wait_exit(&t->d, ITEST_TIMEOUT_MS), 0);
	assert_true(WIFEXITED(t->d.status));
	assert_int_equal(WEXITSTATUS(t->d.status), 2);
	snprintf(want, sizeof(want), "socket-fd %d: descriptor %d is not listening", b.fd, b.fd);
	assert_true(itest_log_contains(t, want));
	sim_daemon_stop(&t->d, 1000, NULL);
	bound_fini(&b);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inherited_socket_served),
		cmocka_unit_test(test_also_passed_by_listen_fds),
		cmocka_unit_test(test_not_listening),
	};

	return cmocka_run_group_tests_name("socket_fd", tests, NULL, NULL);
}
