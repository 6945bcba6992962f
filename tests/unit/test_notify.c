/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Tests of src/daemon/notify.c: NOTIFY_SOCKET's forms (path, abstract,
 * the ones we ignore, the length limit), the datagrams that arrive, and
 * --ready-fd's checks and message.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/notify.h"

/* A datagram socket bound at name ("/path" or "@abstract"). */
static int bind_dgram(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(len <= sizeof(sa.sun_path));
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
			 0);
	return fd;
}

static void expect_dgram(int fd, const char *want)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[256];
	ssize_t n;

	assert_int_equal(poll(&p, 1, 2000), 1);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void test_unset(void **state)
{
	struct notify n;
	char warn[256];
	(void)state;

	assert_int_equal(notify_init(&n, NULL, warn, sizeof(warn)), 0);
	assert_false(notify_active(&n));
	assert_string_equal(warn, "");
	assert_int_equal(notify_send(&n, "READY=1"), 0); /* a no-op */
	assert_int_equal(notify_init(&n, "", warn, sizeof(warn)), 0);
	assert_false(notify_active(&n));
	notify_close(&n);
}

static void test_ignored_forms(void **state)
{
	static const char *const bad[] = { "run/notify", "vsock:2:1234", "./x", " /x" };
	struct notify n;
	char warn[256];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(notify_init(&n, bad[i], warn, sizeof(warn)), 0);
		assert_false(notify_active(&n));
		assert_non_null(strstr(warn, "neither an absolute path"));
	}
}

static void test_length_limit(void **state)
{
	char path[200], warn[256];
	struct notify n;
	(void)state;

	/* A path: 107 bytes and its NUL fit, 108 do not. */
	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[107] = '\0';
	assert_int_equal(notify_init(&n, path, warn, sizeof(warn)), 0);
	assert_true(notify_active(&n));
	notify_close(&n);
	path[107] = 'p';
	path[108] = '\0';
	assert_int_equal(notify_init(&n, path, warn, sizeof(warn)), 0);
	assert_false(notify_active(&n));
	assert_non_null(strstr(warn, "108 bytes long; at most 107"));

	/* An abstract name: '@' + 107 bytes fill sun_path exactly. */
	path[0] = '@';
	assert_int_equal(notify_init(&n, path, warn, sizeof(warn)), 0);
	assert_true(notify_active(&n));
	notify_close(&n);
	path[108] = 'p';
	path[109] = '\0';
	assert_int_equal(notify_init(&n, path, warn, sizeof(warn)), 0);
	assert_false(notify_active(&n));
	assert_non_null(strstr(warn, "109 bytes long; at most 108"));
}

static void test_send_path(void **state)
{
	char dir[] = "/tmp/test_notify_XXXXXX", path[128], warn[256];
	struct notify n;
	int fd;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = bind_dgram(path);
	assert_int_equal(notify_init(&n, path, warn, sizeof(warn)), 0);
	assert_true(notify_active(&n));
	assert_int_equal(notify_send(&n, "READY=1\nSTATUS=serving 2 VMs"), 0);
	expect_dgram(fd, "READY=1\nSTATUS=serving 2 VMs");
	assert_int_equal(notify_send(&n, "STOPPING=1"), 0);
	expect_dgram(fd, "STOPPING=1");
	close(fd);
	/* Nobody listens any more: an error, no signal, no crash. */
	unlink(path);
	assert_true(notify_send(&n, "STOPPING=1") < 0);
	notify_close(&n);
	assert_false(notify_active(&n));
	rmdir(dir);
}

static void test_send_abstract(void **state)
{
	char name[64], warn[256];
	struct notify n;
	int fd;
	(void)state;

	snprintf(name, sizeof(name), "@vdv-test-notify-%d", (int)getpid());
	fd = bind_dgram(name);
	assert_int_equal(notify_init(&n, name, warn, sizeof(warn)), 0);
	assert_int_equal(notify_send(&n, "READY=1"), 0);
	expect_dgram(fd, "READY=1");
	notify_close(&n);
	close(fd);
}

static void test_ready_fd_check(void **state)
{
	int p[2], fd;
	char err[256];
	(void)state;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(ready_fd_check(p[1], err, sizeof(err)), 0);
	assert_int_equal(ready_fd_check(p[0], err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "not writable"));
	fd = p[0];
	close(p[0]);
	close(p[1]);
	assert_int_equal(ready_fd_check(fd, err, sizeof(err)), -EBADF);
	assert_non_null(strstr(err, "not an open file descriptor"));
	assert_int_equal(ready_fd_check(STDERR_FILENO, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--ready-fd 2"));
}

static void test_ready_fd_signal(void **state)
{
	char buf[32];
	int p[2];
	ssize_t n;
	(void)state;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(ready_fd_signal(p[1]), 0);
	n = read(p[0], buf, sizeof(buf));
	assert_int_equal(n, 8);
	assert_memory_equal(buf, "READY=1\n", 8);
	/* Closed after the message: the reader sees EOF. */
	assert_int_equal(read(p[0], buf, sizeof(buf)), 0);
	close(p[0]);

	/* A reader that is gone: -EPIPE (SIGPIPE ignored), fd closed anyway. */
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	assert_int_equal(ready_fd_signal(p[1]), -EPIPE);
	assert_int_equal(fcntl(p[1], F_GETFD), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unset),
		cmocka_unit_test(test_ignored_forms),
		cmocka_unit_test(test_length_limit),
		cmocka_unit_test(test_send_path),
		cmocka_unit_test(test_send_abstract),
		cmocka_unit_test(test_ready_fd_check),
		cmocka_unit_test(test_ready_fd_signal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
