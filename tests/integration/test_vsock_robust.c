/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The daemon under a guest that misbehaves or disappears: a tx ring filled
 * in one burst, a guest that stops posting rx buffers (the daemon must wait
 * for a kick, not spin), a guest flooding REQUESTs while taking none of the
 * answers (bounded memory), and a VMM that goes away in the middle of
 * transfers (host sockets closed, the next VMM served normally).
 */
#include "itest.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PORT 1234

/* Sends a header-only packet and kicks whatever the device asked: the
 * tests that are not about notification suppression use it so that the
 * tx-ring bug below cannot stall them. */
static void send_op_kick(struct sim *s, uint32_t sport, uint32_t dport, uint16_t op)
{
	struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(s), ITEST_HOST_CID, sport, dport,
						  op, 0, 0, 65536, 0);

	assert_int_equal(sim_tx_send(s, &h, NULL, 0, SIM_TX_NO_KICK), 0);
	assert_int_equal(sim_vq_kick(s, SIM_VQ_TX), 0);
}

/*
 * A guest that fills the whole tx ring before the device runs (a burst of
 * small packets, one kick) must still be heard afterwards. The device
 * handles at most a ring's worth per pass; when that budget runs out just
 * as the ring empties, it must re-enable notifications, or the driver
 * (EVENT_IDX avail_event, or VRING_USED_F_NO_NOTIFY) never kicks again.
 */
static void tx_ring_full(struct itest *t, bool event_idx)
{
	struct sim_opts o;
	struct sim *s;
	struct sim_pkt *p = sim_pkt_new();
	struct sim_vq_stats vs;
	unsigned n = 0, ring;
	int r;

	itest_opts(&o);
	if (!event_idx)
		o.features &= ~(1ull << VIRTIO_RING_F_EVENT_IDX);
	s = itest_start(t, &o);
	ring = o.queue_size[SIM_VQ_TX];
	for (unsigned i = 0; i < ring; i++) {
		struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(s), ITEST_HOST_CID,
							  50000 + i, 4000, VIRTIO_VSOCK_OP_REQUEST,
							  0, 0, 65536, 0);

		assert_int_equal(sim_tx_send(s, &h, NULL, 0, SIM_TX_NO_KICK), 0);
	}
	assert_int_equal(sim_vq_kick(s, SIM_VQ_TX), 0);
	assert_int_equal(sim_tx_flush(s, ITEST_TIMEOUT_MS), 0);
	while (sim_rx_poll(s, p, 200) == 0)
		n += p->op == VIRTIO_VSOCK_OP_RST;
	assert_int_equal(n, ring);

	/* One more packet, notified the way the device asked for. */
	sim_stats_reset(s);
	itest_send_op(s, 60000, 4000, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0);
	r = sim_rx_poll(s, p, 1000);
	sim_vq_stats(s, SIM_VQ_TX, &vs);
	assert_int_equal(r, 0);
	assert_int_equal(p->op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p->dst_port, 60000);
	free(p);
	sim_close(s);
}

static void test_tx_ring_full(void **state)
{
	tx_ring_full(*state, true);
}

static void test_tx_ring_full_no_event_idx(void **state)
{
	tx_ring_full(*state, false);
}

/*
 * The guest stops taking packets (no rx buffers left) while the host keeps
 * sending: the daemon must sleep until the guest posts buffers, not poll
 * for them, and then deliver everything intact.
 */
static void rx_starved(struct itest *t, bool event_idx)
{
	const uint64_t len = 2u << 20;
	struct sim_opts o;
	struct sim *s;
	struct sim_stream st;
	struct itest_pump hp = { .tx_seed = 31, .tx_len = len, .shut_wr = true };
	struct itest_xfer x = { .rx_seed = 31, .rx_len = len };
	struct sim_vq_rings rx;
	uint64_t cpu0, cpu1;
	int64_t t0, dt;
	int lfd;

	itest_opts(&o);
	if (!event_idx)
		o.features &= ~(1ull << VIRTIO_RING_F_EVENT_IDX);
	o.rx_bufs = 8;
	s = itest_start(t, &o);
	lfd = itest_host_listen(t, PORT, 8);
	/* Credit is not what stops the device: 4 MiB of it. */
	assert_int_equal(sim_stream_connect(s, &st, ITEST_HOST_CID, PORT, 50000, 4u << 20,
					    ITEST_TIMEOUT_MS), 0);
	hp.fd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hp.fd >= 0);
	itest_pump_start(&hp);

	/* Let the device use up the buffers and the host fill its socket. */
	usleep(300 * 1000);
	assert_int_equal(sim_vq_rings(s, SIM_VQ_RX, &rx), 0);
	/* Starved for real: the device used every buffer we made available. */
	assert_int_equal(le16toh(rx.used->idx), le16toh(rx.avail->idx));
	assert_int_equal(itest_proc_cpu_ms(t->d.pid, &cpu0), 0);
	t0 = sim_now_ms();
	usleep(1000 * 1000);
	assert_int_equal(itest_proc_cpu_ms(t->d.pid, &cpu1), 0);
	dt = sim_now_ms() - t0;
	print_message("daemon CPU while rx is starved: %llu ms in %lld ms\n",
		      (unsigned long long)(cpu1 - cpu0), (long long)dt);
	/* 10% of one CPU, measured in 10 ms ticks. */
	assert_true((cpu1 - cpu0) * 10 < (uint64_t)dt);

	/* The guest takes packets again: all of it arrives, in order. */
	itest_stream_xfer(&st, &x, 20000);
	assert_int_equal(itest_pump_join(&hp), 0);
	assert_int_equal(x.rx_done, len);
	assert_int_equal(st.c->credit_violations, 0);
	close(hp.fd);
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
}

static void test_rx_starved_no_spin(void **state)
{
	rx_starved(*state, true);
}

static void test_rx_starved_no_spin_no_event_idx(void **state)
{
	rx_starved(*state, false);
}

/* The device still carries the guest's data to the host. */
static void expect_guest_to_host(struct sim_stream *st, int hfd)
{
	char b[4];

	assert_int_equal(sim_stream_send(st, "live", 4, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_host_read(hfd, b, 4, ITEST_TIMEOUT_MS), 4);
	assert_memory_equal(b, "live", 4);
}

/*
 * 100k REQUESTs to closed ports from a guest that posts no rx buffers: the
 * RSTs owed cannot be delivered, so the daemon must bound what it keeps
 * (memory stays flat) and stay responsive.
 */
static void test_request_flood_no_rx(void **state)
{
	struct itest *t = *state;
	const unsigned flood = 100000;
	struct sim_opts o;
	struct sim *s;
	struct sim_stream st;
	struct sim_pkt *p = sim_pkt_new();
	uint64_t rss0, rss1;
	unsigned rsts = 0;
	int64_t t0;
	int lfd, hfd;

	itest_opts(&o);
	o.rx_bufs = 0;
	s = itest_start(t, &o);
	/* Warm up, so that one-time allocations are not counted. */
	for (unsigned i = 0; i < 2000; i++)
		send_op_kick(s, 10000 + i % 50000, 4000, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(sim_tx_flush(s, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_proc_rss_kib(t->d.pid, &rss0), 0);
	t0 = sim_now_ms();
	for (unsigned i = 0; i < flood; i++)
		send_op_kick(s, 10000 + i % 50000, 4000 + i % 7, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(sim_tx_flush(s, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_proc_rss_kib(t->d.pid, &rss1), 0);
	print_message("%u REQUESTs in %lld ms; daemon VmRSS %llu -> %llu KiB\n", flood,
		      (long long)(sim_now_ms() - t0), (unsigned long long)rss0,
		      (unsigned long long)rss1);
	assert_true(sim_daemon_alive(&t->d));
	assert_true(rss1 < rss0 + 2048);

	/* Buffers at last: what was kept arrives (a bounded number of RSTs)... */
	assert_int_equal(sim_rx_post(s, 128, 0), 0);
	while (sim_rx_poll(s, p, 200) == 0) {
		assert_int_equal(p->op, VIRTIO_VSOCK_OP_RST);
		rsts++;
	}
	print_message("%u RSTs kept for delivery\n", rsts);
	assert_true(rsts <= 4096);
	/* ...and the device works normally. */
	lfd = itest_host_listen(t, PORT, 8);
	assert_int_equal(sim_stream_connect(s, &st, ITEST_HOST_CID, PORT, 65000, 0,
					    ITEST_TIMEOUT_MS), 0);
	hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	expect_guest_to_host(&st, hfd);
	close(hfd);
	close(lfd);
	sim_stream_fini(&st);
	free(p);
	sim_close(s);
}

/*
 * Data waits and the only rx buffer the guest offers has room for the
 * header alone: the daemon must give it back and carry on (not spin on
 * it), and the data goes into the next proper buffer.
 */
static void test_rx_header_only_buffer(void **state)
{
	struct itest *t = *state;
	struct sim_opts o;
	struct sim *s;
	struct sim_stream st;
	struct vring_desc d = { .len = 44, .flags = VRING_DESC_F_WRITE };
	uint64_t gpa;
	char b[16];
	int lfd, hfd;

	itest_opts(&o);
	o.rx_bufs = 1;
	s = itest_start(t, &o);
	lfd = itest_host_listen(t, PORT, 8);
	assert_int_equal(sim_stream_connect(s, &st, ITEST_HOST_CID, PORT, 65001, 0,
					    ITEST_TIMEOUT_MS), 0);
	hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	/* The one buffer takes the first write; the second waits. */
	assert_int_equal(itest_host_write(hfd, "first123", 8, ITEST_TIMEOUT_MS), 0);
	usleep(20000);
	assert_int_equal(itest_host_write(hfd, "second12", 8, ITEST_TIMEOUT_MS), 0);
	usleep(20000);
	assert_non_null(sim_guest_alloc(s, 44, 8, &gpa));
	d.addr = gpa;
	assert_true(sim_vq_add_raw_chain(s, SIM_VQ_RX, &d, 1, true) >= 0);
	usleep(20000);
	/* Receiving recycles the proper buffer: all 16 bytes arrive. */
	assert_int_equal(sim_stream_recv(&st, b, 8, ITEST_TIMEOUT_MS), 8);
	assert_memory_equal(b, "first123", 8);
	assert_int_equal(sim_stream_recv(&st, b, 8, ITEST_TIMEOUT_MS), 8);
	assert_memory_equal(b, "second12", 8);
	/* Still serving: the guest's data reaches the host. */
	expect_guest_to_host(&st, hfd);
	close(hfd);
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
}

/* Puts one device-writable rx chain of len bytes on the ring (no kick);
 * returns its head. */
static uint32_t raw_rx(struct sim *s, uint32_t len)
{
	struct vring_desc d = { .len = len, .flags = VRING_DESC_F_WRITE };
	uint64_t gpa;
	int head;

	assert_non_null(sim_guest_alloc(s, len, 8, &gpa));
	d.addr = gpa;
	head = sim_vq_add_raw_chain(s, SIM_VQ_RX, &d, 1, false);
	assert_true(head >= 0);
	return (uint32_t)head;
}

/* Takes used rx entries until want's comes (bounded); counts each id
 * seen in seen[] (ids < 256). Returns whether want came. */
static bool wait_used(struct sim *s, uint32_t want, unsigned *seen)
{
	for (int64_t end = sim_now_ms() + ITEST_TIMEOUT_MS; sim_now_ms() < end;) {
		uint32_t id, len;
		int r = sim_vq_get_used(s, SIM_VQ_RX, &id, &len);

		assert_true(r >= 0);
		if (r == 0) {
			usleep(1000);
			continue;
		}
		if (id < 256)
			seen[id]++;
		if (id == want)
			return true;
	}
	return false;
}

/*
 * A malformed rx buffer (room for the header only) right behind good ones
 * in one burst of reads (#12 point 10). The daemon pops several buffers
 * for one readv; when it meets the bad one it must leave it for later, and
 * when the read fills fewer buffers than it popped, give back only the
 * good ones: the bad one must not be returned twice, no good one lost.
 * Before the core redesign the rollback stepped back over the bad buffer.
 */
static void test_rx_bad_buffer_in_a_burst(void **state)
{
	struct itest *t = *state;
	struct sim_opts o;
	struct sim *s;
	struct sim_stream st;
	struct sim_vq_stats vs;
	unsigned seen[256] = { 0 };
	uint32_t r1, r2, g1, g2, bad;
	char data[3 * 4096];
	int lfd, hfd;

	itest_opts(&o);
	o.rx_bufs = 1;
	s = itest_start(t, &o);
	lfd = itest_host_listen(t, PORT, 8);
	assert_int_equal(sim_stream_connect(s, &st, ITEST_HOST_CID, PORT, 65002, 0,
					    ITEST_TIMEOUT_MS), 0);
	hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	/* Full reads first, so that the daemon's reads grow to bursts. */
	memset(data, 'a', sizeof(data));
	assert_int_equal(itest_host_write(hfd, data, sizeof(data), ITEST_TIMEOUT_MS), 0);
	r1 = raw_rx(s, SIM_HDR_SIZE + 4096);
	r2 = raw_rx(s, SIM_HDR_SIZE + 4096);
	assert_int_equal(sim_vq_kick(s, SIM_VQ_RX), 0);
	assert_true(wait_used(s, r1, seen));
	assert_true(wait_used(s, r2, seen));
	/* Good, good, bad, with less data than the two good ones hold.
	 * (Heads are descriptor slots, reused: count from here.) */
	memset(seen, 0, sizeof(seen));
	assert_int_equal(itest_host_write(hfd, "b", 1, ITEST_TIMEOUT_MS), 0);
	g1 = raw_rx(s, SIM_HDR_SIZE + 4096);
	g2 = raw_rx(s, SIM_HDR_SIZE + 4096);
	bad = raw_rx(s, SIM_HDR_SIZE);
	assert_int_equal(sim_vq_kick(s, SIM_VQ_RX), 0);
	assert_true(wait_used(s, g1, seen));
	/* More data: it goes into g2, which must still be the guest's. */
	assert_int_equal(itest_host_write(hfd, "c", 1, ITEST_TIMEOUT_MS), 0);
	assert_true(wait_used(s, g2, seen));
	assert_true(bad < 256 && seen[bad] <= 1);
	assert_int_equal(seen[g1], 1);
	assert_int_equal(seen[g2], 1);
	assert_int_equal(sim_vq_stats(s, SIM_VQ_RX, &vs), 0);
	assert_int_equal(vs.bad_used, 0);
	close(hfd);
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
}

/*
 * The VMM goes away while data moves: a guest -> host stream whose host
 * does not read (the daemon holds data for it), a host -> guest stream in
 * full flow, and an idle host-initiated one. Every host socket must be
 * closed, and the next VMM must get a working device. graceful: the VMM
 * stops the rings first (QEMU's vhost_dev_stop), else it just vanishes.
 */
static void frontend_gone(struct itest *t, bool graceful)
{
	struct sim *s = itest_start(t, NULL), *s2;
	struct sim_stream a, b, c, d;
	struct itest_pump hp = { .tx_seed = 41, .tx_len = 64u << 20 };
	struct itest_xfer x = { .rx_seed = 41, .rx_len = 512u * 1024u };
	uint8_t *buf = calloc(1, SIM_PKT_MAX);
	size_t junk;
	int lfd, ha, hc, r;
	char line[32];

	assert_non_null(buf);
	lfd = itest_host_listen(t, PORT, 8);
	/* a: guest -> host, the host reads nothing: the guest sends until it
	 * is throttled, with the daemon's tx buffer full. Alone on the rings
	 * for now, since sim_stream drops packets of other streams. */
	assert_int_equal(sim_stream_connect(s, &a, ITEST_HOST_CID, PORT, 50000, 0,
					    ITEST_TIMEOUT_MS), 0);
	ha = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(ha >= 0);
	for (int64_t deadline = sim_now_ms() + 10000;;) {
		uint32_t n = sg_peer_credit(a.c);

		assert_true(sim_now_ms() < deadline);
		if (n) {
			n = n < SIM_PKT_MAX ? n : SIM_PKT_MAX;
			assert_int_equal(sim_stream_send(&a, buf, n, ITEST_TIMEOUT_MS), 0);
		} else if (sim_stream_poll(&a, 100) == 0) {
			break;
		}
	}
	/* b: host -> guest in full flow. */
	assert_int_equal(sim_stream_connect(s, &b, ITEST_HOST_CID, PORT, 50001, 0,
					    ITEST_TIMEOUT_MS), 0);
	hp.fd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hp.fd >= 0);
	itest_pump_start(&hp);
	itest_stream_xfer(&b, &x, 10000);
	/* c: host-initiated, idle. */
	hc = itest_host_connect(t, "CONNECT 4321\n");
	assert_int_equal(sim_stream_accept(s, &c, 4321, 0, false, ITEST_TIMEOUT_MS), 0);
	assert_true(itest_host_read_line(hc, line, sizeof(line), ITEST_TIMEOUT_MS) > 0);

	if (graceful)
		assert_int_equal(sim_stop(s), 0);
	sim_close(s);

	assert_int_equal(itest_host_wait_closed(ha, ITEST_TIMEOUT_MS, &junk), 0);
	assert_int_equal(itest_host_wait_closed(hc, ITEST_TIMEOUT_MS, &junk), 0);
	/* The writer sees its peer gone (EPIPE/ECONNRESET), not a hang. */
	r = itest_pump_join(&hp);
	if (r != -EPIPE && r != -ECONNRESET)
		fail_msg("host writer: %s after %llu bytes, expected the socket closed",
			 strerror(-r), (unsigned long long)hp.tx_done);
	assert_int_equal(itest_host_wait_closed(hp.fd, ITEST_TIMEOUT_MS, &junk), 0);
	close(ha);
	close(hc);
	close(hp.fd);
	sim_stream_fini(&a);
	sim_stream_fini(&b);
	sim_stream_fini(&c);

	/* The next VMM: a working device, both ways. */
	itest_fresh_frontend_ok(t);
	s2 = itest_start(t, NULL);
	assert_int_equal(sim_stream_connect(s2, &d, ITEST_HOST_CID, PORT, 50000, 0,
					    ITEST_TIMEOUT_MS), 0);
	ha = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(ha >= 0);
	assert_int_equal(sim_stream_send(&d, "again", 5, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_host_read(ha, line, 5, ITEST_TIMEOUT_MS), 5);
	assert_memory_equal(line, "again", 5);
	close(ha);
	sim_stream_fini(&d);
	hc = itest_host_connect(t, "CONNECT 4321\n");
	assert_int_equal(sim_stream_accept(s2, &c, 4321, 0, false, ITEST_TIMEOUT_MS), 0);
	assert_true(itest_host_read_line(hc, line, sizeof(line), ITEST_TIMEOUT_MS) > 0);
	assert_string_equal(line, "OK 4321\n");
	close(hc);
	sim_stream_fini(&c);
	close(lfd);
	free(buf);
	sim_close(s2);
}

static void test_frontend_vanishes_mid_transfer(void **state)
{
	frontend_gone(*state, false);
}

static void test_frontend_stops_mid_transfer(void **state)
{
	frontend_gone(*state, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITEST_T(test_tx_ring_full),
		ITEST_T(test_tx_ring_full_no_event_idx),
		ITEST_T(test_rx_starved_no_spin),
		ITEST_T(test_rx_starved_no_spin_no_event_idx),
		ITEST_T(test_request_flood_no_rx),
		ITEST_T(test_rx_header_only_buffer),
		ITEST_T(test_rx_bad_buffer_in_a_burst),
		ITEST_T(test_frontend_vanishes_mid_transfer),
		ITEST_T(test_frontend_stops_mid_transfer),
	};

	return cmocka_run_group_tests_name("vsock_robust", tests, NULL, NULL);
}
