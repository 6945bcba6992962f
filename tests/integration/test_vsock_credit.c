/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Credit accounting (virtio spec 5.10.6.3) at its edges: a guest with no
 * buffer, a small window the device must fill exactly and never exceed,
 * counters that wrap around 2^32, a host application that stops reading
 * (the daemon's tx buffer fills and the guest must be throttled, not
 * dropped), and a guest that ignores the credit it was given.
 */
#include "itest.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PORT 1234
#define TXBUF 65536u

static const char *const txbuf_args[] = { "--tx-buffer-size", "65536", NULL };
static const char *const metrics_args[] = { "--tx-buffer-size", "65536", "--metrics",
					     "unix:%D/metrics.sock", NULL };

/* Guest-initiated stream to a fresh listener on PORT; *hfd is the host's
 * end. */
static void open_stream(struct itest *t, struct sim *s, struct sim_stream *st, uint32_t gport,
			uint32_t buf_alloc, int *lfd, int *hfd)
{
	*lfd = itest_host_listen(t, PORT, 8);
	assert_int_equal(sim_stream_connect(s, st, ITEST_HOST_CID, PORT, gport, buf_alloc,
					    ITEST_TIMEOUT_MS), 0);
	*hfd = itest_host_accept(*lfd, ITEST_TIMEOUT_MS);
	assert_true(*hfd >= 0);
}

/* Ends a test's stream: both host sockets, the stream, the simulator. */
static void close_stream(struct sim *s, struct sim_stream *st, int hfd, int lfd)
{
	close(hfd);
	close(lfd);
	sim_stream_fini(st);
	sim_close(s);
}

/* A packet for st's connection with the stream's current credit fields. */
static void stream_send_op(struct sim_stream *st, uint16_t op)
{
	struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(st->sim), st->c->peer_cid,
						  st->c->local_port, st->c->peer_port, op, 0, 0,
						  st->c->buf_alloc, st->c->fwd_cnt);

	st->c->fwd_cnt_sent = st->c->fwd_cnt;
	assert_int_equal(sim_tx_send(st->sim, &h, NULL, 0, 0), 0);
	assert_int_equal(sim_tx_flush(st->sim, ITEST_TIMEOUT_MS), 0);
}

/* buf_alloc 0: the guest has no room, so not one data byte may come until
 * a CREDIT_UPDATE opens the window. */
static void test_zero_buf_alloc(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_pkt *p = sim_pkt_new();
	uint8_t data[5000];
	size_t got = 0;
	int lfd = itest_host_listen(t, PORT, 8), hfd;
	unsigned credit_requests = 0;

	itest_send_op(s, 50000, PORT, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 0);
	itest_expect_pkt(s, p, ITEST_TIMEOUT_MS);
	assert_int_equal(p->op, VIRTIO_VSOCK_OP_RESPONSE);
	hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	itest_pattern(data, sizeof(data), 5, 0);
	assert_int_equal(itest_host_write(hfd, data, sizeof(data), ITEST_TIMEOUT_MS), 0);

	while (sim_rx_poll(s, p, 300) == 0) {
		if (p->op == VIRTIO_VSOCK_OP_RW)
			fail_msg("device sent %u bytes to a guest with buf_alloc 0", p->len);
		if (p->op == VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
			/* Still no room. */
			credit_requests++;
			itest_send_op(s, 50000, PORT, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0, 0);
		}
		if (p->op == VIRTIO_VSOCK_OP_RST)
			fail_msg("connection reset while waiting for credit");
		if (credit_requests > 10)
			fail_msg("device keeps asking for credit (%u CREDIT_REQUESTs)",
				 credit_requests);
	}
	itest_send_op(s, 50000, PORT, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 65536, 0);
	while (got < sizeof(data)) {
		itest_expect_pkt(s, p, ITEST_TIMEOUT_MS);
		if (p->op != VIRTIO_VSOCK_OP_RW)
			continue;
		assert_int_equal(itest_pattern_check(p->payload, p->len, 5, got), -1);
		got += p->len;
	}
	assert_int_equal(got, sizeof(data));
	print_message("credit requests while closed: %u\n", credit_requests);
	free(p);
	close(hfd);
	close(lfd);
	sim_close(s);
}

/*
 * Host -> guest through a window of odd size (not a multiple of the rx
 * buffers), the guest consuming only when the window is full: the device
 * must fill it to the byte and never go beyond. bias shifts all guest
 * receive counters so that they wrap around 2^32 early (see below).
 */
static void window_run(struct itest *t, uint32_t window, uint32_t bias, uint64_t h2g,
		       uint64_t g2h)
{
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	struct itest_pump hp = { .tx_seed = 6, .tx_len = h2g, .rx_seed = 7, .rx_len = g2h };
	struct itest_xfer x = { .tx_seed = 7, .tx_len = g2h, .rx_seed = 6, .rx_len = h2g,
				.window = window, .hold = true };
	int lfd;

	/*
	 * The device computes its credit as buf_alloc - (tx_cnt - fwd_cnt)
	 * modulo 2^32, with its tx_cnt starting at 0. A guest fwd_cnt that
	 * starts at bias = 2^32 - k looks like k bytes in flight for good,
	 * so the guest advertises k more than its real window. Then fwd_cnt
	 * wraps through 0 after k bytes while the device's tx_cnt does not:
	 * only arithmetic modulo 2^32 gets the credit right on both sides.
	 */
	open_stream(t, s, &st, 50001, window - bias, &lfd, &hp.fd);
	if (bias) {
		st.c->rx_cnt = st.c->fwd_cnt = bias;
		stream_send_op(&st, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	}
	itest_pump_start(&hp);
	itest_stream_xfer(&st, &x, 20000);
	assert_int_equal(itest_pump_join(&hp), 0);
	assert_int_equal(x.rx_done, h2g);
	assert_int_equal(hp.rx_done, g2h);
	/* The window really was the limit, and it was used to the byte. */
	assert_int_equal(x.max_in_flight, window);
	print_message("window %u, guest fwd_cnt from 0x%08x to 0x%08x: %llu RW packets\n",
		      window, bias, st.c->fwd_cnt, (unsigned long long)x.rw_pkts);
	if (bias)
		assert_true(st.c->fwd_cnt < bias); /* it did wrap */
	close_stream(s, &st, hp.fd, lfd);
}

static void test_window_exact(void **state)
{
	window_run(*state, 10000, 0, 512u * 1024u, 0);
}

static void test_wrap_host_to_guest(void **state)
{
	window_run(*state, 32768, 0xfffff000u, 1u << 20, 0);
}

/* The guest's fwd_cnt wraps while data flows both ways: the packets that
 * carry it to the device are mostly the guest's RW packets. */
static void test_wrap_both_ways(void **state)
{
	window_run(*state, 32768, 0xfffff000u, 1u << 20, 1u << 20);
}

/*
 * The host application stops reading. The guest sends until its credit is
 * gone: the host socket fills, then the daemon's tx buffer (64 KiB); the
 * daemon must then hold the guest there (no credit beyond its buffer) and
 * not lose or reorder anything. When the host reads again, CREDIT_UPDATEs
 * must reopen the window so that the guest finishes.
 */
static void test_host_stops_reading(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	const uint64_t total = 4u << 20;
	struct itest_pump hp = { .rx_seed = 8, .rx_len = total };
	struct itest_xfer x = { .tx_seed = 8 };
	struct sim_stream st;
	uint8_t *buf = malloc(SIM_PKT_MAX);
	uint64_t sent = 0, updates_before;
	int64_t deadline = sim_now_ms() + 10000;
	int lfd, r;

	assert_non_null(buf);
	open_stream(t, s, &st, 50002, 0, &lfd, &hp.fd);
	assert_int_equal(st.c->peer_buf_alloc, TXBUF);
	for (;;) {
		uint32_t credit = sg_peer_credit(st.c);

		if (sim_now_ms() > deadline)
			fail_msg("the guest was never throttled (sent %llu bytes)",
				 (unsigned long long)sent);
		if (credit) {
			uint32_t n = credit < SIM_PKT_MAX ? credit : SIM_PKT_MAX;

			itest_pattern(buf, n, 8, sent);
			assert_int_equal(sim_stream_send(&st, buf, n, ITEST_TIMEOUT_MS), 0);
			sent += n;
			continue;
		}
		/* Out of credit: quiet for 300 ms means throttled. */
		r = sim_stream_poll(&st, 300);
		assert_true(r >= 0);
		if (r == 0)
			break;
		assert_false(st.c->reset);
	}
	assert_true(sent < total);
	/* The daemon holds exactly its tx buffer: what it reports forwarded
	 * plus 64 KiB is what we sent. */
	assert_int_equal(sg_peer_credit(st.c), 0);
	assert_int_equal((uint32_t)(st.c->tx_cnt - st.c->peer_fwd_cnt), TXBUF);
	/* Asked, it must not hand out credit it does not have. */
	stream_send_op(&st, VIRTIO_VSOCK_OP_CREDIT_REQUEST);
	assert_int_equal(sim_stream_poll(&st, ITEST_TIMEOUT_MS), 1);
	assert_int_equal(st.pkt->op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(st.pkt->buf_alloc, TXBUF);
	assert_int_equal(st.pkt->fwd_cnt, (uint32_t)(sent - TXBUF));
	while ((r = sim_stream_poll(&st, 300)) == 1)
		if (sg_peer_credit(st.c))
			fail_msg("got %u bytes of credit while the host reads nothing (%s)",
				 sg_peer_credit(st.c), sim_op_name(st.pkt->op));
	assert_int_equal(r, 0);
	print_message("throttled after %llu bytes (socket %llu + tx buffer %u)\n",
		      (unsigned long long)sent, (unsigned long long)(sent - TXBUF), TXBUF);

	/* The host reads again: everything arrives, in order. */
	updates_before = st.c->credit_updates_rcvd;
	itest_pump_start(&hp);
	x.tx_base = sent;
	x.tx_len = total - sent;
	itest_stream_xfer(&st, &x, 20000);
	assert_int_equal(itest_pump_join(&hp), 0);
	assert_int_equal(hp.rx_done, total);
	assert_true(st.c->credit_updates_rcvd > updates_before);
	assert_int_equal(st.c->credit_violations, 0);
	free(buf);
	close_stream(s, &st, hp.fd, lfd);
}

/*
 * A host application that keeps reading: the daemon offers the guest more
 * than its tx buffer (up to twice it: the host socket's free space, see
 * conn.h), so that a second large packet can be on its way while the first
 * is written. The stream must still arrive whole and in order, and the
 * guest must never have more in flight than the larger window allows.
 */
static void test_window_grows_while_host_reads(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	const uint64_t total = 16u << 20;
	struct itest_pump hp = { .rx_seed = 9, .rx_len = total };
	struct sim_stream st;
	uint8_t *buf = malloc(SIM_PKT_MAX);
	uint32_t most_alloc = 0, most_in_flight = 0;
	uint64_t sent = 0;
	int64_t deadline = sim_now_ms() + 20000;
	int lfd;

	assert_non_null(buf);
	open_stream(t, s, &st, 50006, 0, &lfd, &hp.fd);
	itest_pump_start(&hp);
	while (sent < total) {
		uint32_t credit = sg_peer_credit(st.c), n, in_flight;

		if (sim_now_ms() > deadline)
			fail_msg("stalled after %llu bytes", (unsigned long long)sent);
		if (st.c->peer_buf_alloc > most_alloc)
			most_alloc = st.c->peer_buf_alloc;
		if (!credit) {
			assert_true(sim_stream_poll(&st, ITEST_TIMEOUT_MS) >= 0);
			assert_false(st.c->reset);
			continue;
		}
		n = credit < SIM_PKT_MAX ? credit : SIM_PKT_MAX;
		if (n > total - sent)
			n = (uint32_t)(total - sent);
		itest_pattern(buf, n, 9, sent);
		assert_int_equal(sim_stream_send(&st, buf, n, ITEST_TIMEOUT_MS), 0);
		sent += n;
		in_flight = (uint32_t)(st.c->tx_cnt - st.c->peer_fwd_cnt);
		if (in_flight > most_in_flight)
			most_in_flight = in_flight;
	}
	assert_int_equal(itest_pump_join(&hp), 0);
	assert_int_equal(hp.rx_done, total);
	assert_false(st.c->reset);
	print_message("most buf_alloc offered %u, most in flight %u (tx buffer %u)\n",
		      most_alloc, most_in_flight, TXBUF);
	/* More than the buffer was offered and used, never more than twice. */
	assert_true(most_alloc > TXBUF);
	assert_true(most_alloc <= 2 * TXBUF);
	assert_true(most_in_flight > TXBUF);
	free(buf);
	close_stream(s, &st, hp.fd, lfd);
}

/*
 * The one case where socket-backed credit outgrows the tx buffer: the
 * guest was offered headroom by a socket with room, then sends tiny
 * packets, each costing the socket far more than its payload, and the
 * host stops reading. The daemon must keep all it admitted (its buffer
 * grows to twice the tx-buffer-size, counted), throttle the guest within
 * what it promised, and deliver every byte in order once the host reads.
 */
static void test_tiny_packets_on_headroom(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct itest_pump hp = { .rx_seed = 10 };
	struct itest_xfer x = { .tx_seed = 10 };
	struct sim_stream st;
	uint8_t buf[64];
	uint64_t sent = 0;
	unsigned long long doubled;
	int64_t deadline = sim_now_ms() + 20000;
	char name[80], *m;
	int lfd, r;

	open_stream(t, s, &st, 50007, 0, &lfd, &hp.fd);
	/* A full packet: the socket takes it, the guest runs out of credit
	 * and hears of the socket's room. */
	while (st.c->peer_buf_alloc <= TXBUF) {
		uint32_t n = sg_peer_credit(st.c);

		if (sim_now_ms() > deadline)
			fail_msg("no headroom offered after %llu bytes", (unsigned long long)sent);
		if (n < SIM_PKT_MAX) {
			assert_true(sim_stream_poll(&st, ITEST_TIMEOUT_MS) >= 0);
			continue;
		}
		{
			uint8_t *big = malloc(SIM_PKT_MAX);

			assert_non_null(big);
			itest_pattern(big, SIM_PKT_MAX, 10, sent);
			assert_int_equal(sim_stream_send(&st, big, SIM_PKT_MAX, ITEST_TIMEOUT_MS), 0);
			free(big);
		}
		sent += SIM_PKT_MAX;
	}
	/* Now 64-byte packets, each on its own (one write, one skb each),
	 * until the credit runs out. */
	for (;;) {
		if (sim_now_ms() > deadline)
			fail_msg("the guest was never throttled (sent %llu bytes)",
				 (unsigned long long)sent);
		if (sg_peer_credit(st.c) >= sizeof(buf)) {
			itest_pattern(buf, sizeof(buf), 10, sent);
			assert_int_equal(sim_stream_send(&st, buf, sizeof(buf), ITEST_TIMEOUT_MS),
					 0);
			assert_int_equal(sim_tx_flush(s, ITEST_TIMEOUT_MS), 0);
			sent += sizeof(buf);
			continue;
		}
		r = sim_stream_poll(&st, 300);
		assert_true(r >= 0);
		assert_false(st.c->reset);
		if (r == 0)
			break;
	}
	snprintf(name, sizeof(name), "vdv_tx_buffer_doubled_total{cid=\"%u\"}", ITEST_CID);
	m = itest_metrics_scrape(t);
	doubled = itest_metrics_sample(m, name);
	free(m);
	print_message("throttled after %llu bytes; tx buffers doubled: %llu\n",
		      (unsigned long long)sent, doubled);
	assert_int_equal(doubled, 1);
	/* The host reads again: everything arrives, in order. */
	hp.rx_len = sent + (1u << 20);
	itest_pump_start(&hp);
	x.tx_base = sent;
	x.tx_len = 1u << 20;
	itest_stream_xfer(&st, &x, 20000);
	assert_int_equal(itest_pump_join(&hp), 0);
	assert_int_equal(hp.rx_done, hp.rx_len);
	assert_int_equal(st.c->credit_violations, 0);
	close_stream(s, &st, hp.fd, lfd);
}

/* A guest that sends beyond its credit is broken: RST, the host socket is
 * closed, the daemon lives on. */
static void test_guest_exceeds_credit(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st, st2;
	uint8_t *buf = calloc(1, SIM_PKT_MAX);
	uint64_t sent = 0;
	size_t discarded = 0;
	bool rst = false;
	int lfd, hfd, hfd2;
	char b[4];

	assert_non_null(buf);
	open_stream(t, s, &st, 50003, 0, &lfd, &hfd);
	/* The host reads nothing; the guest ignores its credit. */
	while (!rst && sent < (16u << 20)) {
		struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(s), ITEST_HOST_CID,
							  50003, PORT, VIRTIO_VSOCK_OP_RW, 0,
							  SIM_PKT_MAX, st.c->buf_alloc, 0);

		assert_int_equal(sim_tx_send(s, &h, buf, SIM_PKT_MAX, 0), 0);
		sent += SIM_PKT_MAX;
		while (sim_stream_poll(&st, 0) == 1)
			rst = rst || st.c->reset;
	}
	while (!rst && sim_stream_poll(&st, ITEST_TIMEOUT_MS) == 1)
		rst = st.c->reset;
	if (!rst)
		fail_msg("no RST after the guest sent %llu bytes over a %u-byte credit",
			 (unsigned long long)sent, TXBUF);
	assert_int_equal(itest_host_wait_closed(hfd, ITEST_TIMEOUT_MS, &discarded), 0);
	print_message("RST after %llu bytes sent, %zu reached the host\n",
		      (unsigned long long)sent, discarded);
	assert_true(discarded < sent);
	close(hfd);
	sim_stream_fini(&st);

	/* The daemon and the device are fine: a new stream works. */
	assert_true(sim_daemon_alive(&t->d));
	assert_int_equal(sim_stream_connect(s, &st2, ITEST_HOST_CID, PORT, 50004, 0,
					    ITEST_TIMEOUT_MS), 0);
	hfd2 = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd2 >= 0);
	assert_int_equal(sim_stream_send(&st2, "ok?", 3, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_host_read(hfd2, b, 3, ITEST_TIMEOUT_MS), 3);
	assert_memory_equal(b, "ok?", 3);
	close(hfd2);
	close(lfd);
	sim_stream_fini(&st2);
	free(buf);
	sim_close(s);
}

struct word_reader {
	int fd;
	uint64_t len, done;
	int result;
};

/* Host side of the 4 GiB run: checks 64-bit words holding their own index,
 * cheap enough for gigabytes. */
static void *word_reader(void *arg)
{
	struct word_reader *w = arg;
	int64_t deadline = sim_now_ms() + 60000;
	static uint64_t words[8192];

	w->result = 0;
	while (w->done < w->len) {
		uint64_t n = w->len - w->done;
		ssize_t r;

		if (n > sizeof(words))
			n = sizeof(words);
		if (sim_now_ms() > deadline) {
			w->result = -ETIMEDOUT;
			return NULL;
		}
		r = itest_host_read(w->fd, words, n, 5000);
		if (r != (ssize_t)n) {
			w->result = r < 0 ? (int)r : -EPIPE;
			return NULL;
		}
		for (uint64_t i = 0; i < n / 8; i++)
			if (words[i] != w->done / 8 + i) {
				w->result = -EBADMSG;
				return NULL;
			}
		w->done += n;
	}
	return NULL;
}

/*
 * The device's own fwd_cnt cannot start high, so this one moves 4 GiB and
 * a bit guest -> host: the fwd_cnt in the device's headers must wrap
 * through 0 and keep counting (modulo 2^32, never backwards), and the
 * guest's credit computed from it must keep the stream going.
 */
static void test_device_fwd_cnt_wraps(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	const uint64_t total = (1ull << 32) + (1u << 20);
	struct word_reader w = { .len = total };
	struct sim_stream st;
	static uint64_t words[SIM_PKT_MAX / 8];
	uint64_t sent = 0, updates = 0;
	uint32_t last_fwd = 0;
	int64_t t0 = sim_now_ms();
	pthread_t th;
	int lfd;

	open_stream(t, s, &st, 50005, 0, &lfd, &w.fd);
	assert_int_equal(pthread_create(&th, NULL, word_reader, &w), 0);
	while (sent < total) {
		uint32_t credit = sg_peer_credit(st.c), n;
		int r;

		/* Whole words only: less than one is no credit. */
		if (credit < 8) {
			r = sim_stream_poll(&st, ITEST_TIMEOUT_MS);
			if (r != 1)
				fail_msg("stalled after %llu bytes: %d", (unsigned long long)sent,
					 r);
			if (st.pkt->op != VIRTIO_VSOCK_OP_CREDIT_UPDATE)
				continue;
			/* Forward only, and never beyond what was sent. */
			if ((uint32_t)(st.pkt->fwd_cnt - last_fwd) >= 0x80000000u ||
			    (uint32_t)(st.c->tx_cnt - st.pkt->fwd_cnt) > TXBUF)
				fail_msg("bad fwd_cnt 0x%08x after 0x%08x (tx_cnt 0x%08x)",
					 st.pkt->fwd_cnt, last_fwd, st.c->tx_cnt);
			last_fwd = st.pkt->fwd_cnt;
			updates++;
			continue;
		}
		n = credit < SIM_PKT_MAX ? credit : SIM_PKT_MAX;
		if (n > total - sent)
			n = (uint32_t)(total - sent);
		n &= ~7u;
		for (uint32_t i = 0; i < n / 8; i++)
			words[i] = sent / 8 + i;
		assert_int_equal(sim_stream_send(&st, words, n, ITEST_TIMEOUT_MS), 0);
		sent += n;
	}
	pthread_join(th, NULL);
	assert_int_equal(w.result, 0);
	stream_send_op(&st, VIRTIO_VSOCK_OP_CREDIT_REQUEST);
	/* Updates the device sent before our request (after the last data
	 * we polled for) may still be queued ahead of its answer: the last
	 * update up to the answer must say every byte was forwarded. */
	for (int64_t end = sim_now_ms() + ITEST_TIMEOUT_MS;;) {
		assert_int_equal(sim_stream_poll(&st, ITEST_TIMEOUT_MS), 1);
		assert_int_equal(st.pkt->op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
		if (st.pkt->fwd_cnt == (uint32_t)total || sim_now_ms() > end)
			break;
	}
	assert_int_equal(st.pkt->fwd_cnt, (uint32_t)total);
	print_message("%llu bytes in %lld ms, %llu credit updates, final fwd_cnt 0x%08x\n",
		      (unsigned long long)total, (long long)(sim_now_ms() - t0),
		      (unsigned long long)updates, st.pkt->fwd_cnt);
	close_stream(s, &st, w.fd, lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITEST_T(test_zero_buf_alloc),
		ITEST_T(test_window_exact),
		ITEST_T(test_wrap_host_to_guest),
		ITEST_T(test_wrap_both_ways),
		ITEST_T_ARGS(test_host_stops_reading, txbuf_args),
		ITEST_T_ARGS(test_guest_exceeds_credit, txbuf_args),
		ITEST_T_ARGS(test_device_fwd_cnt_wraps, txbuf_args),
		ITEST_T_ARGS(test_window_grows_while_host_reads, txbuf_args),
		ITEST_T_ARGS(test_tiny_packets_on_headroom, metrics_args),
	};

	return cmocka_run_group_tests_name("vsock_credit", tests, NULL, NULL);
}
