/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Half-close and close in both directions: a SHUTDOWN(SEND) from the guest
 * is the host's EOF while the other direction keeps flowing, a host
 * shutdown(SHUT_WR) is the guest's SHUTDOWN(SEND) and nothing more, a full
 * close from the guest delivers what the daemon still holds before the RST,
 * a host close() is SHUTDOWN(RCV|SEND) and ends in RST once the guest is
 * done too, and a read side shut on either end fails the other's writes.
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
#define TXBUF 65536u

static const char *const txbuf_args[] = { "--tx-buffer-size", "65536", NULL };

static void open_stream(struct itest *t, struct sim *s, struct sim_stream *st, uint32_t gport,
			int *lfd, int *hfd)
{
	*lfd = itest_host_listen(t, PORT, 8);
	assert_int_equal(sim_stream_connect(s, st, ITEST_HOST_CID, PORT, gport, 0,
					    ITEST_TIMEOUT_MS), 0);
	*hfd = itest_host_accept(*lfd, ITEST_TIMEOUT_MS);
	assert_true(*hfd >= 0);
}

/* Waits for the device's RST on st, failing on anything but control
 * packets meanwhile. */
static void expect_rst(struct sim_stream *st, int timeout_ms, const char *when)
{
	int64_t deadline = sim_now_ms() + timeout_ms;

	while (!st->c->reset) {
		int left = (int)(deadline - sim_now_ms());
		int r = sim_stream_poll(st, left > 0 ? left : 0);

		if (r <= 0)
			fail_msg("%s: no RST within %d ms (%d)", when, timeout_ms, r);
		if (st->pkt->op == VIRTIO_VSOCK_OP_RW)
			fail_msg("%s: %u data bytes instead of RST", when, st->pkt->len);
	}
}

/* Guest SHUTDOWN(SEND): host EOF, while the host can still send. */
static void test_guest_shut_send(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct itest_pump hp = { .tx_seed = 21, .tx_len = 256u * 1024u };
	struct itest_xfer x = { .rx_seed = 21, .rx_len = 256u * 1024u };
	struct sim_stream st;
	char b[8];
	int lfd;

	open_stream(t, s, &st, 50000, &lfd, &hp.fd);
	assert_int_equal(sim_stream_send(&st, "abc", 3, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(sim_stream_shutdown(&st, VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
	assert_int_equal(itest_host_read(hp.fd, b, sizeof(b), ITEST_TIMEOUT_MS), 3);
	assert_memory_equal(b, "abc", 3);
	/* itest_host_read stopped at EOF: check it really was one. */
	assert_true(itest_host_closed_now(hp.fd));

	/* The other direction is open: 256 KiB host -> guest. */
	itest_pump_start(&hp);
	itest_stream_xfer(&st, &x, 10000);
	assert_int_equal(itest_pump_join(&hp), 0);
	assert_false(st.c->peer_shut_send);
	assert_false(st.c->reset);

	/* The host closes too: SHUTDOWN(SEND), then the connection is over. */
	close(hp.fd);
	while (!st.c->peer_shut_send && !st.c->reset)
		assert_int_equal(sim_stream_poll(&st, ITEST_TIMEOUT_MS), 1);
	assert_true(st.c->peer_shut_send);
	expect_rst(&st, ITEST_TIMEOUT_MS, "both sides shut down");
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
}

/* Host shutdown(SHUT_WR): the guest gets SHUTDOWN with SEND only, and its
 * data still reaches the host. Host-initiated, for the other set-up path. */
static void test_host_shut_wr(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct itest_pump hp = { .rx_seed = 22, .rx_len = 256u * 1024u };
	struct itest_xfer x = { .tx_seed = 22, .tx_len = 256u * 1024u };
	struct sim_stream st;
	char line[32], b[8];
	size_t junk;

	hp.fd = itest_host_connect(t, "CONNECT 4321\n");
	assert_int_equal(sim_stream_accept(s, &st, 4321, 0, false, ITEST_TIMEOUT_MS), 0);
	assert_true(itest_host_read_line(hp.fd, line, sizeof(line), ITEST_TIMEOUT_MS) > 0);
	assert_string_equal(line, "OK 4321\n");
	assert_int_equal(itest_host_write(hp.fd, "hello", 5, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(shutdown(hp.fd, SHUT_WR), 0);

	assert_int_equal(sim_stream_recv(&st, b, sizeof(b), ITEST_TIMEOUT_MS), 5);
	assert_memory_equal(b, "hello", 5);
	assert_int_equal(sim_stream_recv(&st, b, sizeof(b), ITEST_TIMEOUT_MS), 0);
	assert_true(st.c->peer_shut_send);
	/* The host still reads: RCV must not be set. */
	assert_int_equal(st.pkt->op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(st.pkt->flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_false(st.c->peer_shut_rcv);
	assert_false(st.c->reset);

	itest_pump_start(&hp);
	itest_stream_xfer(&st, &x, 10000);
	assert_int_equal(itest_pump_join(&hp), 0);
	assert_false(st.c->reset);

	/* Now the guest is done too: the host sees EOF, the guest an RST. */
	assert_int_equal(sim_stream_shutdown(&st, VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
	assert_int_equal(itest_host_wait_closed(hp.fd, ITEST_TIMEOUT_MS, &junk), 0);
	assert_int_equal(junk, 0);
	expect_rst(&st, ITEST_TIMEOUT_MS, "both sides shut down");
	close(hp.fd);
	sim_stream_fini(&st);
	sim_close(s);
}

/*
 * Guest SHUTDOWN(RCV|SEND) (close()) while the daemon still holds data the
 * host has not read: the daemon must deliver it first and only then reset
 * (Linux waits for that RST before it frees the socket).
 */
static void test_guest_close_flushes_first(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct itest_pump hp = { .rx_seed = 23 };
	struct sim_stream st;
	uint8_t *buf = malloc(SIM_PKT_MAX);
	uint64_t sent = 0;
	size_t extra;
	int lfd;

	assert_non_null(buf);
	open_stream(t, s, &st, 50001, &lfd, &hp.fd);
	/* Fill the host socket and the daemon's tx buffer. */
	for (;;) {
		uint32_t credit = sg_peer_credit(st.c);
		int r;

		if (credit) {
			uint32_t n = credit < SIM_PKT_MAX ? credit : SIM_PKT_MAX;

			itest_pattern(buf, n, 23, sent);
			assert_int_equal(sim_stream_send(&st, buf, n, ITEST_TIMEOUT_MS), 0);
			sent += n;
			continue;
		}
		r = sim_stream_poll(&st, 200);
		assert_true(r >= 0);
		if (r == 0)
			break;
		assert_true(sent < (64u << 20));
	}
	assert_int_equal((uint32_t)(st.c->tx_cnt - st.c->peer_fwd_cnt), TXBUF);

	assert_int_equal(sim_stream_shutdown(&st, VIRTIO_VSOCK_SHUTDOWN_RCV |
					     VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
	/* 64 KiB are still in the daemon: no RST yet, host socket open. */
	if (sim_stream_poll(&st, 300) == 1 && st.c->reset)
		fail_msg("RST while %u bytes were still buffered for the host", TXBUF);
	assert_false(itest_host_closed_now(hp.fd));

	hp.rx_len = sent;
	itest_pump_start(&hp);
	assert_int_equal(itest_pump_join(&hp), 0);
	assert_int_equal(hp.rx_done, sent);
	/* Then the end: EOF for the host, RST for the guest. */
	assert_int_equal(itest_host_wait_closed(hp.fd, ITEST_TIMEOUT_MS, &extra), 0);
	assert_int_equal(extra, 0);
	expect_rst(&st, ITEST_TIMEOUT_MS, "after the flush");
	print_message("%llu bytes delivered after close, %u of them from the tx buffer\n",
		      (unsigned long long)sent, TXBUF);
	free(buf);
	close(hp.fd);
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
}

/* Host close() while the guest does nothing: SHUTDOWN(RCV|SEND) to the
 * guest; once the guest shuts down its side too, RST. */
static void test_host_close_guest_idle(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	bool early_rst;
	int lfd, hfd;

	open_stream(t, s, &st, 50002, &lfd, &hfd);
	close(hfd);
	while (!st.c->peer_shut_send && !st.c->reset)
		assert_int_equal(sim_stream_poll(&st, ITEST_TIMEOUT_MS), 1);
	if (st.c->reset)
		fail_msg("host close() gave RST before SHUTDOWN: the guest loses unread data");
	assert_int_equal(st.pkt->op, VIRTIO_VSOCK_OP_SHUTDOWN);
	/* A close, not a half-close: the host reads no more either, so the
	 * guest's send() must fail (as after a kernel peer's close). */
	assert_int_equal(st.pkt->flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_int_equal(sim_stream_send(&st, "x", 1, ITEST_TIMEOUT_MS), -EPIPE);
	/* The guest may take its time: nothing else is owed to it. */
	early_rst = sim_stream_poll(&st, 300) == 1 && st.c->reset;
	print_message("SHUTDOWN flags 0x%x, RST before the guest's SHUTDOWN: %s\n",
		      st.pkt->flags, early_rst ? "yes" : "no");
	if (!early_rst) {
		assert_int_equal(sim_stream_shutdown(&st, VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
		expect_rst(&st, ITEST_TIMEOUT_MS, "both sides shut down");
	}
	/* The pair is free again. */
	sim_stream_fini(&st);
	assert_int_equal(sim_stream_connect(s, &st, ITEST_HOST_CID, PORT, 50002, 0,
					    ITEST_TIMEOUT_MS), 0);
	hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	close(hfd);
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
}

/*
 * The host shuts only its read side: its socket shows nothing until a
 * write. The guest's next data finds EPIPE: the guest hears SHUTDOWN(RCV)
 * (not an RST: the other direction still flows) and its send() fails.
 */
static void test_host_shut_rd(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	int lfd, hfd;
	char b[8];

	open_stream(t, s, &st, 50003, &lfd, &hfd);
	assert_int_equal(shutdown(hfd, SHUT_RD), 0);
	assert_int_equal(sim_stream_send(&st, "lost", 4, ITEST_TIMEOUT_MS), 0);
	while (!st.c->peer_shut_rcv && !st.c->reset)
		assert_int_equal(sim_stream_poll(&st, ITEST_TIMEOUT_MS), 1);
	assert_false(st.c->reset);
	assert_int_equal(st.pkt->op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(st.pkt->flags, VIRTIO_VSOCK_SHUTDOWN_RCV);
	assert_int_equal(sim_stream_send(&st, "more", 4, ITEST_TIMEOUT_MS), -EPIPE);
	/* host -> guest still flows */
	assert_int_equal(itest_host_write(hfd, "back", 4, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(sim_stream_recv(&st, b, sizeof(b), ITEST_TIMEOUT_MS), 4);
	assert_memory_equal(b, "back", 4);
	/* Then the host closes: SEND joins RCV. */
	close(hfd);
	while (!st.c->peer_shut_send && !st.c->reset)
		assert_int_equal(sim_stream_poll(&st, ITEST_TIMEOUT_MS), 1);
	assert_false(st.c->reset);
	assert_int_equal(st.pkt->flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_int_equal(sim_stream_shutdown(&st, VIRTIO_VSOCK_SHUTDOWN_RCV |
					     VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
	expect_rst(&st, ITEST_TIMEOUT_MS, "both sides closed");
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
}

/*
 * The guest shuts its read side: the host application's writes fail with
 * EPIPE from then on (the device shut the socket's read side), while the
 * guest -> host direction keeps flowing.
 */
static void test_guest_shut_rcv_fails_host_writes(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	int lfd, hfd;
	char b[8];

	open_stream(t, s, &st, 50004, &lfd, &hfd);
	assert_int_equal(sim_stream_shutdown(&st, VIRTIO_VSOCK_SHUTDOWN_RCV), 0);
	assert_int_equal(sim_tx_flush(s, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_host_write(hfd, "x", 1, ITEST_TIMEOUT_MS), -EPIPE);
	assert_int_equal(sim_stream_send(&st, "fine", 4, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_host_read(hfd, b, 4, ITEST_TIMEOUT_MS), 4);
	assert_memory_equal(b, "fine", 4);
	close(hfd);
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITEST_T(test_guest_shut_send),
		ITEST_T(test_host_shut_wr),
		ITEST_T_ARGS(test_guest_close_flushes_first, txbuf_args),
		ITEST_T(test_host_close_guest_idle),
		ITEST_T(test_host_shut_rd),
		ITEST_T(test_guest_shut_rcv_fails_host_writes),
	};

	return cmocka_run_group_tests_name("vsock_shutdown", tests, NULL, NULL);
}
