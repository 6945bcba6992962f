/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The hybrid-vsock "CONNECT <port>\n" handshake over a real Unix socket:
 * what real clients do (a line in pieces, lowercase, data right behind the
 * newline) must work; everything else must end with the host socket
 * closed, nothing offered to the guest, and the daemon bounded in time
 * (a silent client is dropped after ~2 s).
 */
#include "itest.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PORT 1234

/* Host fd wrote a CONNECT for port: the guest accepts, the host gets OK. */
static void accept_and_ok(struct sim *s, struct sim_stream *st, int hfd, uint32_t port)
{
	char line[32], want[32];

	assert_int_equal(sim_stream_accept(s, st, port, 0, false, ITEST_TIMEOUT_MS), 0);
	assert_true(itest_host_read_line(hfd, line, sizeof(line), ITEST_TIMEOUT_MS) > 0);
	snprintf(want, sizeof(want), "OK %u\n", port);
	assert_string_equal(line, want);
}

/* The host socket must be closed within max_ms without an "OK"; returns
 * how long it took. */
static int64_t expect_refused(int hfd, int64_t t0, int max_ms, const char *what)
{
	char line[64];
	int r = itest_host_read_line(hfd, line, sizeof(line), max_ms);

	if (r > 0)
		fail_msg("%s: got \"%s\" instead of a close", what, line);
	if (r != 0 && r != -ECONNRESET)
		fail_msg("%s: not closed within %d ms (%s)", what, max_ms, strerror(-r));
	return sim_now_ms() - t0;
}

static void test_split_line(void **state)
{
	static const char *const parts[] = { "CON", "NECT 1", "2", "34", "\n" };
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	int hfd = itest_host_dial(t);
	char b[4];

	for (unsigned i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		assert_int_equal(itest_host_write(hfd, parts[i], strlen(parts[i]),
						  ITEST_TIMEOUT_MS), 0);
		usleep(40 * 1000);
	}
	accept_and_ok(s, &st, hfd, PORT);
	assert_int_equal(itest_host_write(hfd, "data", 4, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(sim_stream_recv(&st, b, 4, ITEST_TIMEOUT_MS), 4);
	assert_memory_equal(b, "data", 4);
	close(hfd);
	sim_stream_fini(&st);
	sim_close(s);
}

static void test_lowercase(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	int hfd = itest_host_connect(t, "connect 1234\n");

	accept_and_ok(s, &st, hfd, PORT);
	close(hfd);
	sim_stream_fini(&st);
	sim_close(s);
}

/* Bytes after the newline, in the same write(), are the stream's first
 * bytes: a client may well send its request along with the handshake. */
static void test_data_after_newline(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	int hfd = itest_host_connect(t, "CONNECT 1234\nfirst bytes");
	char b[32];
	ssize_t n;

	accept_and_ok(s, &st, hfd, PORT);
	n = sim_stream_recv(&st, b, 11, ITEST_TIMEOUT_MS);
	assert_int_equal(n, 11);
	assert_memory_equal(b, "first bytes", 11);
	/* And the stream goes on normally. */
	assert_int_equal(itest_host_write(hfd, "!", 1, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(sim_stream_recv(&st, b, 1, ITEST_TIMEOUT_MS), 1);
	assert_int_equal(b[0], '!');
	close(hfd);
	sim_stream_fini(&st);
	sim_close(s);
}

/* The handshake, data and the host's close in one go (one edge for all of
 * it, consumed by the handshake): the guest still gets the data and then
 * hears of the close, instead of waiting for an edge that never comes. */
static void test_data_and_close_with_handshake(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	int hfd = itest_host_connect(t, "CONNECT 1234\nlast words");
	char b[32];

	assert_int_equal(shutdown(hfd, SHUT_WR), 0);
	accept_and_ok(s, &st, hfd, PORT);
	assert_int_equal(sim_stream_recv(&st, b, 10, ITEST_TIMEOUT_MS), 10);
	assert_memory_equal(b, "last words", 10);
	/* End of stream: SHUTDOWN(SEND) within the timeout. */
	assert_int_equal(sim_stream_recv(&st, b, sizeof(b), ITEST_TIMEOUT_MS), 0);
	assert_true(st.c->peer_shut_send);
	close(hfd);
	sim_stream_fini(&st);
	sim_close(s);
}

/* Malformed lines: closed at once, nothing reaches the guest. */
static void test_malformed_lines(void **state)
{
	static const char *const bad[] = {
		"CONNECT abc\n", "CONNECT 99999999999\n", "CONNECT 4294967295\n",
		"CONNECT 12x\n", "CONNECT\n", "CONNECT -1\n", "CONNECTX 1234\n", "\n",
		"HELLO 1234\n",
	};
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t0 = sim_now_ms();
		int hfd = itest_host_connect(t, bad[i]);
		char what[64];

		snprintf(what, sizeof(what), "\"%.*s\"", (int)strlen(bad[i]) - 1, bad[i]);
		/* Well before the 2 s timeout: it was parsed and refused. */
		expect_refused(hfd, t0, 1000, what);
		close(hfd);
	}
	itest_expect_silence(s, 100, "malformed CONNECT lines");
	sim_close(s);
}

/* More than 64 bytes and still no newline: refused without waiting for
 * the rest, whether it comes in one write or several. */
static void test_long_line(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	char line[100];
	int64_t t0;
	int hfd;

	memset(line, ' ', sizeof(line));
	memcpy(line, "CONNECT 1234", 12);
	t0 = sim_now_ms();
	hfd = itest_host_dial(t);
	assert_int_equal(itest_host_write(hfd, line, 70, ITEST_TIMEOUT_MS), 0);
	expect_refused(hfd, t0, 1000, "70 bytes without a newline");
	close(hfd);

	t0 = sim_now_ms();
	hfd = itest_host_dial(t);
	for (unsigned i = 0; i < 4; i++) {
		/* The daemon may close between the pieces: EPIPE is fine. */
		itest_host_write(hfd, line + 20 * i, 20, ITEST_TIMEOUT_MS);
		usleep(20 * 1000);
	}
	expect_refused(hfd, t0, 1000, "80 bytes in 4 writes without a newline");
	close(hfd);
	itest_expect_silence(s, 100, "long CONNECT lines");
	sim_close(s);
}

/* A partial line and then EOF can never complete: closed. */
static void test_eof_before_newline(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	int64_t t0 = sim_now_ms(), dt;
	int hfd = itest_host_connect(t, "CONNECT 1234");

	assert_int_equal(shutdown(hfd, SHUT_WR), 0);
	dt = expect_refused(hfd, t0, 4000, "\"CONNECT 1234\" then EOF");
	print_message("partial line + EOF closed after %lld ms\n", (long long)dt);
	/* At EOF, not at the 2 s handshake timeout. */
	assert_true(dt < 1000);
	close(hfd);
	itest_expect_silence(s, 100, "partial CONNECT line");
	sim_close(s);
}

/* A client that connects and says nothing holds a slot for ~2 s only. */
static void test_silent_client(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	int64_t t0 = sim_now_ms(), dt;
	int hfd = itest_host_dial(t);

	dt = expect_refused(hfd, t0, 5000, "no data at all");
	print_message("silent client closed after %lld ms\n", (long long)dt);
	assert_true(dt >= 1500 && dt <= 4000);
	close(hfd);
	itest_expect_silence(s, 100, "silent client");
	sim_close(s);
}

/* --log-level trace: one line per packet header, both directions; none at
 * the default level. */
static void handshake_traced(void **state, bool traced)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	int hfd = itest_host_connect(t, "CONNECT 1234\n");
	char resp[64];

	accept_and_ok(s, &st, hfd, PORT);
	assert_int_equal(itest_host_write(hfd, "x", 1, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(sim_stream_recv(&st, (char[1]){ 0 }, 1, ITEST_TIMEOUT_MS), 1);
	assert_int_equal(itest_log_contains(t, ": rx REQUEST 2:"), traced);
	snprintf(resp, sizeof(resp), ": tx RESPONSE %u:%u -> 2:", ITEST_CID, PORT);
	assert_int_equal(itest_log_contains(t, resp), traced);
	assert_int_equal(itest_log_contains(t, " type 1 len 0 flags 0x0 buf_alloc "), traced);
	close(hfd);
	sim_stream_fini(&st);
	sim_close(s);
}

static void test_trace_packets(void **state)
{
	handshake_traced(state, true);
}

static void test_no_trace_by_default(void **state)
{
	handshake_traced(state, false);
}

static const char *const trace_args[] = { "--log-level", "trace", NULL };

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITEST_T(test_split_line),
		ITEST_T(test_lowercase),
		ITEST_T(test_data_after_newline),
		ITEST_T(test_data_and_close_with_handshake),
		ITEST_T(test_malformed_lines),
		ITEST_T(test_long_line),
		ITEST_T(test_eof_before_newline),
		ITEST_T(test_silent_client),
		ITEST_T_ARGS(test_trace_packets, trace_args),
		ITEST_T(test_no_trace_by_default),
	};

	return cmocka_run_group_tests_name("vsock_handshake", tests, NULL, NULL);
}
