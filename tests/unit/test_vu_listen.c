/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The vhost-user listening socket in front of a session: which files at
 * the path it replaces or refuses, that it removes its socket (and only
 * its socket), the mode and group it gives it, and that it serves one
 * frontend at a time (a second VMM is closed at once, the first one keeps
 * its session).
 */
#include "vu_test_msg.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "vhost_user/vu_listen.h"

struct fixture {
	struct ev_loop *loop;
	struct vu_dev dev;
	struct vu_listen l;
	char dir[64];
	char path[96];          /* fits sun_path */
	char err[256];
};

static const struct vu_dev_ops toy_ops = {
	.num_queues = 1,
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_vu_listen.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/vhost.sock", f->dir);
	f->loop = ev_loop_new();
	assert_non_null(f->loop);
	assert_int_equal(vu_dev_init(&f->dev, f->loop, "test", &toy_ops, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vu_listen_destroy(&f->l);
	vu_dev_destroy(&f->dev);
	ev_loop_free(f->loop);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct sockaddr_un addr_of(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	return sa;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = addr_of(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static void test_one_frontend_at_a_time(void **state)
{
	struct fixture *f = *state;
	int a, b;

	assert_int_equal(vu_listen_init(&f->l, &f->dev, f->path, NULL, f->err, sizeof(f->err)), 0);
	a = connect_to(f->path);
	vt_pump(f->loop);
	assert_true(vu_dev_attached(&f->dev));

	/* A second VMM is accepted and closed at once: it sees EOF instead
	 * of waiting in the backlog for a reply that never comes. */
	b = connect_to(f->path);
	vt_send(b, VHOST_USER_GET_QUEUE_NUM, 0, NULL, 0, NULL, 0);
	vt_pump(f->loop);
	vt_expect_closed(b);
	close(b);
	/* The first one keeps its session. */
	vt_send(a, VHOST_USER_GET_QUEUE_NUM, 0, NULL, 0, NULL, 0);
	vt_pump(f->loop);
	assert_int_equal(vt_recv_u64(a, VHOST_USER_GET_QUEUE_NUM), 1);
	assert_int_equal(f->dev.stats.frontends, 1);

	/* The first one goes: the next one is served. */
	close(a);
	vt_pump(f->loop);
	assert_false(vu_dev_attached(&f->dev));
	b = connect_to(f->path);
	vt_send(b, VHOST_USER_GET_QUEUE_NUM, 0, NULL, 0, NULL, 0);
	vt_pump(f->loop);
	assert_true(vu_dev_attached(&f->dev));
	assert_int_equal(vt_recv_u64(b, VHOST_USER_GET_QUEUE_NUM), 1);
	assert_int_equal(f->dev.stats.frontends, 2);
	close(b);
	vt_pump(f->loop);
	assert_false(vu_dev_attached(&f->dev));
}

/* A VMM that restarts at once: its new connection and the old one's EOF
 * come in the same wake-up, the new connection first (epoll reports in
 * the order events came). The old session ends first; the new VMM is
 * served, not refused. */
static void test_reconnect_before_eof_handled(void **state)
{
	struct fixture *f = *state;
	int a, b;

	assert_int_equal(vu_listen_init(&f->l, &f->dev, f->path, NULL, f->err, sizeof(f->err)), 0);
	a = connect_to(f->path);
	vt_pump(f->loop);
	assert_true(vu_dev_attached(&f->dev));
	b = connect_to(f->path);
	close(a);
	vt_send(b, VHOST_USER_GET_QUEUE_NUM, 0, NULL, 0, NULL, 0);
	vt_pump(f->loop);
	assert_true(vu_dev_attached(&f->dev));
	assert_int_equal(vt_recv_u64(b, VHOST_USER_GET_QUEUE_NUM), 1);
	assert_int_equal(f->dev.stats.frontends, 2);
	close(b);
	vt_pump(f->loop);
}

/* socket-mode and socket-group are applied to the socket file. */
static void test_access_applied(void **state)
{
	struct fixture *f = *state;
	struct vu_listen_access acc = {
		.mode = 0604, .set_gid = true, .gid = getegid(), .group = "mine",
	};
	struct stat st;

	assert_int_equal(vu_listen_init(&f->l, &f->dev, f->path, &acc, f->err, sizeof(f->err)),
			 0);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0604);
	assert_int_equal(st.st_gid, getegid());
	vu_listen_destroy(&f->l);

	acc.mode = 0;
	acc.set_gid = false;
	assert_int_equal(vu_listen_init(&f->l, &f->dev, f->path, &acc, f->err, sizeof(f->err)),
			 0);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0);
}

/* Tries to give the socket to a group the process is not a member of;
 * 0 when init failed with -EPERM, a message naming the path and the group,
 * and nothing left at the path. */
static int chown_refused(struct fixture *f)
{
	struct vu_listen_access acc = { .mode = -1, .set_gid = true, .group = "theirs" };

	acc.gid = getegid() == 0 ? 1 : 0;
	if (vu_listen_init(&f->l, &f->dev, f->path, &acc, f->err, sizeof(f->err)) != -EPERM)
		return 1;
	if (!strstr(f->err, f->path) || !strstr(f->err, "group theirs") || exists(f->path))
		return 2;
	return 0;
}

/* A group the process may not give files to: a clear error, no socket
 * left. As root (which may chown to any group), a child drops to nobody. */
static void test_access_chown_refused(void **state)
{
	struct fixture *f = *state;
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		assert_int_equal(chown_refused(f), 0);
		return;
	}
	assert_int_equal(chmod(f->dir, 0777), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		_exit(chown_refused(f));
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* Exit removes the socket only while the path still names it: a regular
 * file put there meanwhile stays. */
static void test_destroy_keeps_foreign_file(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	int fd;

	assert_int_equal(vu_listen_init(&f->l, &f->dev, f->path, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(unlink(f->path), 0);
	fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	vu_listen_destroy(&f->l);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void test_stale_socket_replaced(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = addr_of(f->path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), c;

	/* A socket file nobody listens on any more (a crashed daemon's). */
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	assert_true(exists(f->path));
	assert_int_equal(vu_listen_init(&f->l, &f->dev, f->path, NULL, f->err, sizeof(f->err)), 0);
	c = connect_to(f->path);
	vt_pump(f->loop);
	assert_true(vu_dev_attached(&f->dev));
	close(c);
	vt_pump(f->loop);
}

static void test_other_files_refused(void **state)
{
	struct fixture *f = *state;
	int fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	char buf[8] = { 0 };

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_int_equal(vu_listen_init(&f->l, &f->dev, f->path, NULL, f->err, sizeof(f->err)),
			 -EEXIST);
	assert_non_null(strstr(f->err, f->path));
	/* Left alone. */
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "keep");
	close(fd);
	assert_null(f->dev.detached);
}

static void test_socket_in_use_refused(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = addr_of(f->path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 1), 0);
	assert_int_equal(vu_listen_init(&f->l, &f->dev, f->path, NULL, f->err, sizeof(f->err)),
			 -EADDRINUSE);
	assert_non_null(strstr(f->err, f->path));
	close(s);
}

/* Destroy removes the socket and gives the detached callback back; an
 * attached frontend stays until the session itself goes. */
static void test_destroy_removes_socket(void **state)
{
	struct fixture *f = *state;
	int c;

	assert_int_equal(vu_listen_init(&f->l, &f->dev, f->path, NULL, f->err, sizeof(f->err)), 0);
	assert_non_null(f->dev.detached);
	c = connect_to(f->path);
	vt_pump(f->loop);
	assert_true(vu_dev_attached(&f->dev));
	vu_listen_destroy(&f->l);
	assert_false(exists(f->path));
	assert_null(f->dev.detached);
	assert_true(vu_dev_attached(&f->dev));
	vu_dev_detach(&f->dev, "test");
	vt_expect_closed(c);
	close(c);
	vu_listen_destroy(&f->l); /* twice is harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_frontend_at_a_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_files_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_in_use_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_removes_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_before_eof_handled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_chown_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_keeps_foreign_file, setup, teardown),
	};

	return cmocka_run_group_tests_name("vu_listen", tests, NULL, NULL);
}
