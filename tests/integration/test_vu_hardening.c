/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * What a VMM cannot do to the daemon through its vhost-user socket: hold
 * the VM's thread with a message it never finishes, with replies it never
 * reads or with a call fd that blocks, keep a second frontend waiting
 * forever, make SIGTERM hang, or
 * have the daemon delete a file it did not create. Also the socket's mode
 * and group, set from the configuration.
 */
#include "itest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A raw connection to the daemon's vhost-user socket (asserts). */
static int raw_connect(const struct itest *t)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t->d.socket_path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Waits up to timeout_ms for EOF (or a reset) on fd, discarding data:
 * 0, or -ETIMEDOUT. */
static int wait_eof(int fd, int timeout_ms)
{
	int64_t end = sim_now_ms() + timeout_ms;
	char buf[256];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = end - sim_now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -ETIMEDOUT;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
	}
}

/* Reaps the daemon within timeout_ms (for tests that stop it themselves,
 * so that sim_daemon_stop does not remove the evidence first): 0, or
 * -ETIMEDOUT. */
/* ---- 6: a frontend cannot hold the VM's thread ---- */

/* A VMM trickling a message one byte per second: once, each byte reset a
 * 5 s receive timeout and the thread stayed in the read for as long as the
 * VMM liked; now one deadline (a timer of the loop, which serves other VMs
 * meanwhile: test_vu_nonblock) covers the whole message. */
static void test_trickling_vmm_is_cut(void **state)
{
	struct itest *t = *state;
	struct vu_msg_header h = {
		.request = VHOST_USER_GET_FEATURES, .flags = VHOST_USER_VERSION, .size = 0,
	};
	const uint8_t *bytes = (const uint8_t *)&h;
	int fd = raw_connect(t), r = -ETIMEDOUT;
	int64_t t0 = sim_now_ms(), took;

	/* 12 header bytes at 1 per second: 11 s if nobody cuts us off. */
	for (size_t i = 0; i < sizeof(h) && r != 0; i++) {
		if (send(fd, bytes + i, 1, MSG_NOSIGNAL) != 1)
			break; /* already closed: the wait below sees the EOF */
		r = wait_eof(fd, 1000);
	}
	if (r != 0)
		r = wait_eof(fd, 3000);
	took = sim_now_ms() - t0;
	close(fd);
	if (r != 0)
		fail_msg("the daemon never cut off a VMM sending one byte per second "
			 "(waited %lld ms)", (long long)took);
	if (took >= 7000)
		fail_msg("a VMM sending one byte per second was cut after %lld ms (want < 7000)",
			 (long long)took);
	print_message("trickling VMM cut after %lld ms\n", (long long)took);
	assert_true(itest_log_contains(t, "Connection timed out"));
	itest_fresh_frontend_ok(t);
}

/* A pipe as call fd would block the VM's thread in vq_notify once the pipe
 * is full: only eventfds are taken. */
static void test_pipe_as_call_fd_refused(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_connect(t, NULL);
	uint64_t idx = SIM_VQ_RX;
	int p[2];

	assert_int_equal(sim_negotiate(s), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	itest_expect_rejected(sim_set_msg(s, VHOST_USER_SET_VRING_CALL, &idx, sizeof(idx), &p[1], 1),
			      "SET_VRING_CALL with a pipe");
	itest_expect_rejected(sim_set_msg(s, VHOST_USER_SET_VRING_KICK, &idx, sizeof(idx), &p[0], 1),
			      "SET_VRING_KICK with a pipe");
	close(p[0]);
	close(p[1]);
	assert_true(itest_log_contains(t, "SET_VRING_CALL queue 0: the fd is not an eventfd"));
	sim_close(s);
	itest_fresh_frontend_ok(t);
}

/* A VMM that sends requests and never reads the replies: before, the VM's
 * thread blocked in the reply's send (5 s send timeout) and SIGTERM had to
 * give up on it after the 2 s join bound. Now a reply the socket cannot
 * take ends the session at once (the log says why), nothing waits, and
 * SIGTERM stops the daemon cleanly. */
static void test_unread_replies_end_session(void **state)
{
	struct itest *t = *state;
	struct vu_msg_header h = {
		.request = VHOST_USER_GET_FEATURES, .flags = VHOST_USER_VERSION, .size = 0,
	};
	enum { N = 8192 };
	static struct vu_msg_header reqs[N];
	int fd = raw_connect(t), queued = 0;
	int64_t t0;

	for (size_t i = 0; i < N; i++)
		reqs[i] = h;
	/* As many requests as fit; the daemon answers each with a reply we
	 * do not read, until its replies fill the socket. */
	t0 = sim_now_ms();
	assert_true(send(fd, reqs, sizeof(reqs), MSG_DONTWAIT | MSG_NOSIGNAL) > 0);
	/* The session ends: EOF after the replies it managed to send. */
	assert_int_equal(itest_wait_fd(fd, POLLIN, ITEST_TIMEOUT_MS), 0);
	for (int64_t end = sim_now_ms() + ITEST_TIMEOUT_MS;
	     !itest_log_contains(t, "frontend disconnected (not reading its replies)");) {
		if (sim_now_ms() > end)
			fail_msg("the session of a VMM that reads no replies did not end within "
				 "%d ms", ITEST_TIMEOUT_MS);
		usleep(10000);
	}
	assert_int_equal(ioctl(fd, FIONREAD, &queued), 0);
	print_message("session dropped after %lld ms with %d reply bytes unread\n",
		      (long long)(sim_now_ms() - t0), queued);
	assert_true(queued > 0 && queued % (int)(sizeof(h) + sizeof(uint64_t)) == 0);
	assert_true(itest_log_contains(t, "vm cid 5: the frontend does not read its replies "
					  "(the socket is full at GET_FEATURES); dropping it"));
	assert_int_equal(wait_eof(fd, ITEST_TIMEOUT_MS), 0);
	close(fd);
	itest_fresh_frontend_ok(t);
	/* Nothing is stuck: SIGTERM is a clean, quick stop. */
	t0 = sim_now_ms();
	assert_int_equal(kill(t->d.pid, SIGTERM), 0);
	if (sim_daemon_wait_exit(&t->d, 10000))
		fail_msg("daemon still running 10 s after SIGTERM");
	if (sim_now_ms() - t0 >= 2000)
		fail_msg("SIGTERM took %lld ms (want < 2000)", (long long)(sim_now_ms() - t0));
	assert_false(itest_log_contains(t, "thread did not stop"));
	assert_true(WIFEXITED(t->d.status));
	assert_int_equal(WEXITSTATUS(t->d.status), 0);
	assert_int_equal(access(t->d.socket_path, F_OK), -1);
}

/* ---- 13: one frontend at a time, socket mode and group ---- */

/* A second VMM on a busy socket sees EOF at once, the log says why, and
 * the first one keeps working. */
static void test_second_vmm_refused(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_pkt *p = sim_pkt_new();
	uint64_t f;
	int64_t t0;
	int fd;

	t0 = sim_now_ms();
	fd = raw_connect(t);
	if (wait_eof(fd, 1000))
		fail_msg("a second VMM got no EOF within 1000 ms");
	assert_true(sim_now_ms() - t0 < 1000);
	close(fd);
	assert_true(itest_log_contains(t, "vm cid 5: a frontend is already connected; "
					  "refusing the second one"));
	/* The first frontend: vhost-user and the rings still work (a REQUEST
	 * to a port nobody listens on is answered with RST). */
	assert_int_equal(sim_get_features(s, &f), 0);
	itest_send_op(s, 1000, 4321, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0);
	itest_expect_pkt(s, p, ITEST_TIMEOUT_MS);
	assert_int_equal(p->op, VIRTIO_VSOCK_OP_RST);
	free(p);
	assert_int_equal(sim_stop(s), 0);
	sim_close(s);
	itest_fresh_frontend_ok(t);
}

static char own_gid[16];
static const char *const access_args[] = { "--socket-mode", "0604", "--socket-group", own_gid,
					   NULL };

static void test_socket_mode_and_group(void **state)
{
	struct itest *t = *state;
	struct stat st;

	assert_int_equal(lstat(t->d.socket_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	if ((st.st_mode & 07777) != 0604)
		fail_msg("socket mode %04o, want 0604", (unsigned)(st.st_mode & 07777));
	assert_int_equal(st.st_gid, getegid());
	itest_fresh_frontend_ok(t);
}

/* ---- 8: exit removes only our own socket ---- */

static void test_foreign_file_at_socket_path_survives(void **state)
{
	struct itest *t = *state;

	/* Someone replaces the socket with a regular file meanwhile. */
	assert_int_equal(unlink(t->d.socket_path), 0);
	itest_write_marker(t->d.socket_path);
	assert_int_equal(kill(t->d.pid, SIGTERM), 0);
	if (sim_daemon_wait_exit(&t->d, 5000))
		fail_msg("daemon still running 5 s after SIGTERM");
	assert_true(WIFEXITED(t->d.status));
	assert_int_equal(WEXITSTATUS(t->d.status), 0);
	itest_assert_marker_intact(t->d.socket_path);
	assert_true(itest_log_contains(t, "is no longer our socket; left in place"));
	unlink(t->d.socket_path);
}

/* For tests that stop the daemon themselves: clean up whatever is left
 * (the daemon if still running, the temp dir), whatever its status. */
static int teardown_any(void **state)
{
	struct itest *t = *state;

	if (!t)
		return 0;
	if (getenv("VDV_TEST_VERBOSE"))
		sim_daemon_dump_log(&t->d, stderr, 16384);
	sim_daemon_stop(&t->d, 5000, NULL);
	free(t);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITEST_T(test_trickling_vmm_is_cut),
		ITEST_T(test_pipe_as_call_fd_refused),
		cmocka_unit_test_setup_teardown(test_unread_replies_end_session, itest_setup,
						teardown_any),
		ITEST_T(test_second_vmm_refused),
		ITEST_T_ARGS(test_socket_mode_and_group, access_args),
		cmocka_unit_test_setup_teardown(test_foreign_file_at_socket_path_survives,
						itest_setup, teardown_any),
	};

	snprintf(own_gid, sizeof(own_gid), "%u", (unsigned)getegid());
	return cmocka_run_group_tests_name("vhost-user hardening", tests, NULL, NULL);
}
