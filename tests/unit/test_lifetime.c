/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Tests of src/daemon/lifetime.c: which descriptors --exit-with-fd takes,
 * and that the wait ends on a stop signal and on the descriptor's hang-up
 * (pipe writer gone, socket peer closed), but not on data.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/lifetime.h"

static void test_check_fd(void **state)
{
	char tmpl[] = "/tmp/test_lifetime_XXXXXX", err[256];
	int p[2], sp[2], f = mkstemp(tmpl), closed;
	(void)state;

	assert_true(f >= 0);
	unlink(tmpl);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	assert_int_equal(lifetime_check_fd(p[0], err, sizeof(err)), 0);
	assert_int_equal(lifetime_check_fd(sp[0], err, sizeof(err)), 0);
	assert_int_equal(lifetime_check_fd(p[1], err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "not readable"));
	assert_int_equal(lifetime_check_fd(f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a pipe, FIFO or socket"));
	closed = f;
	close(f);
	assert_int_equal(lifetime_check_fd(closed, err, sizeof(err)), -EBADF);
	assert_non_null(strstr(err, "not an open file descriptor"));
	close(p[0]);
	close(p[1]);
	close(sp[0]);
	close(sp[1]);
}

struct later {
	int fd;          /* closed after delay_ms, if >= 0 */
	int write_fd;    /* written to first, if >= 0 */
	int delay_ms;
	pthread_t th;
};

static void *later_main(void *arg)
{
	struct later *l = arg;
	struct timespec ts = { 0, (long)l->delay_ms * 1000000L };

	if (l->write_fd >= 0) {
		ssize_t r = write(l->write_fd, "data", 4);
		(void)r;
	}
	nanosleep(&ts, NULL);
	close(l->fd);
	return NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The waiter ends on hang-up only: data first is drained, not a reason. */
static void wait_for_hangup(int watch, int close_me, int write_me)
{
	struct later l = { .fd = close_me, .write_fd = write_me, .delay_ms = 200 };
	struct lifetime lt;
	char err[256], why[128];
	int64_t t0 = now_ms();

	assert_int_equal(lifetime_init(&lt, watch, err, sizeof(err)), 0);
	assert_int_equal(pthread_create(&l.th, NULL, later_main, &l), 0);
	assert_int_equal(lifetime_wait(&lt, why, sizeof(why)), 0);
	assert_true(now_ms() - t0 >= 150);
	pthread_join(l.th, NULL);
	assert_non_null(strstr(why, "--exit-with-fd"));
	assert_non_null(strstr(why, "hang-up"));
	lifetime_close(&lt);
}

static void test_pipe_hangup(void **state)
{
	int p[2];
	(void)state;

	assert_int_equal(pipe(p), 0);
	wait_for_hangup(p[0], p[1], -1);
	close(p[0]);
	assert_int_equal(pipe(p), 0);
	wait_for_hangup(p[0], p[1], p[1]);
	close(p[0]);
}

static void test_socket_hangup(void **state)
{
	int sp[2];
	(void)state;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	wait_for_hangup(sp[0], sp[1], sp[1]);
	close(sp[0]);
}

static void count_hup(void *opaque)
{
	(*(int *)opaque)++;
}

static void test_signal(void **state)
{
	struct lifetime lt;
	int hups = 0;
	char err[256], why[128];
	int p[2];
	(void)state;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(lifetime_init(&lt, p[0], err, sizeof(err)), 0);
	/* Blocked now: delivered to the signalfd, not to a handler. */
	assert_int_equal(kill(getpid(), SIGTERM), 0);
	assert_int_equal(lifetime_wait(&lt, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "signal 15"));
	/* SIGHUP is a reload: the callback runs and waiting goes on, until
	 * a stop signal; without a callback it is ignored. */
	lt.on_hup = count_hup;
	lt.hup_opaque = &hups;
	assert_int_equal(kill(getpid(), SIGHUP), 0);
	assert_int_equal(kill(getpid(), SIGINT), 0);
	assert_int_equal(lifetime_wait(&lt, why, sizeof(why)), 0);
	assert_int_equal(hups, 1);
	assert_non_null(strstr(why, "signal 2 "));
	lt.on_hup = NULL;
	assert_int_equal(kill(getpid(), SIGHUP), 0);
	assert_int_equal(kill(getpid(), SIGTERM), 0);
	assert_int_equal(lifetime_wait(&lt, why, sizeof(why)), 0);
	assert_int_equal(hups, 1);
	assert_non_null(strstr(why, "signal 15"));
	lifetime_close(&lt);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_fd),
		cmocka_unit_test(test_pipe_hangup),
		cmocka_unit_test(test_socket_hangup),
		cmocka_unit_test(test_signal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
