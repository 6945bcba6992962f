/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * vsock data path through the daemon: the simulator plays the guest driver,
 * the test plays host applications over the hybrid-vsock Unix sockets
 * (UDS_PATH for host -> guest with "CONNECT <port>\n", UDS_PATH_<port>
 * listeners for guest -> host). Bulk transfers run the host side in a thread
 * so that the single-threaded guest can wait for credit.
 */
#include "itest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HOST_CID 2
#define PORT 1234

static struct sim *started(struct itest *t, const struct sim_opts *o)
{
	struct sim *s = itest_connect(t, o);
	int r = sim_start(s);

	if (r) {
		sim_close(s);
		fail_msg("start: %s", strerror(-r));
	}
	return s;
}

static void fill_pattern(uint8_t *b, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = (uint8_t)(seed >> 16);
	}
}

/* ---- tests ---- */

static void test_guest_connect_refused(void **state)
{
	struct itest *t = *state;
	struct sim *s = started(t, NULL);
	struct virtio_vsock_hdr h;
	struct sim_pkt *p = sim_pkt_new();

	/* No listener on UDS_PATH_4321: the device must answer RST. */
	h = sim_vsock_hdr(sim_guest_cid(s), HOST_CID, 50000, 4321, VIRTIO_VSOCK_OP_REQUEST, 0, 0,
			  65536, 0);
	assert_int_equal(sim_tx_send(s, &h, NULL, 0, 0), 0);
	assert_int_equal(sim_rx_poll(s, p, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(p->op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p->src_cid, HOST_CID);
	assert_int_equal(p->dst_cid, ITEST_CID);
	assert_int_equal(p->src_port, 4321);
	assert_int_equal(p->dst_port, 50000);
	assert_int_equal(p->type, VIRTIO_VSOCK_TYPE_STREAM);
	assert_int_equal(p->len, 0);
	free(p);
	assert_int_equal(sim_stop(s), 0);
	sim_close(s);
}

static void echo_with(struct itest *t, const struct sim_opts *o)
{
	static const unsigned layouts[] = {
		0, SIM_TX_LINEAR, SIM_TX_PAGES, SIM_TX_INDIRECT, SIM_TX_INDIRECT | SIM_TX_PAGES,
	};
	struct sim *s = started(t, o);
	struct sim_stream st;
	int lfd = itest_host_listen(t, PORT, 8), hfd;
	char buf[256], msg[64];
	unsigned i;
	ssize_t n;

	assert_int_equal(sim_stream_connect(s, &st, HOST_CID, PORT, 50001, 0, ITEST_TIMEOUT_MS),
			 0);
	hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	assert_true(st.c->peer_buf_alloc > 0);
	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		int len = snprintf(msg, sizeof(msg), "guest says hello #%u", i);

		st.c->tx_flags = layouts[i];
		assert_int_equal(sim_stream_send(&st, msg, (size_t)len, ITEST_TIMEOUT_MS), 0);
		n = itest_host_read(hfd, buf, (size_t)len, ITEST_TIMEOUT_MS);
		assert_int_equal(n, len);
		assert_memory_equal(buf, msg, (size_t)len);

		len = snprintf(msg, sizeof(msg), "host answers #%u", i);
		assert_int_equal(itest_host_write(hfd, msg, (size_t)len, ITEST_TIMEOUT_MS), 0);
		n = sim_stream_recv(&st, buf, (size_t)len, ITEST_TIMEOUT_MS);
		assert_int_equal(n, len);
		assert_memory_equal(buf, msg, (size_t)len);
	}
	/* Guest closes both directions: the host sees EOF. */
	assert_int_equal(sim_stream_shutdown(&st, VIRTIO_VSOCK_SHUTDOWN_RCV |
					     VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
	assert_int_equal(itest_host_read(hfd, buf, 1, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(st.c->credit_violations, 0);
	assert_int_equal(sim_stream_stray(&st), 0);
	close(hfd);
	close(lfd);
	sim_stream_fini(&st);
	assert_int_equal(sim_stop(s), 0);
	sim_close(s);
}

static void test_echo_default(void **state)
{
	echo_with(*state, NULL);
}

static void test_echo_split_rx_multi_region(void **state)
{
	struct sim_opts o;

	itest_opts(&o);
	o.rx_split_hdr = true;
	o.mem_regions = 4;
	o.mem_mode = SIM_MEM_TABLE;
	echo_with(*state, &o);
}

static void test_echo_no_event_idx(void **state)
{
	struct sim_opts o;

	itest_opts(&o);
	o.features &= ~(1ull << VIRTIO_RING_F_EVENT_IDX);
	o.mem_regions = 2;
	echo_with(*state, &o);
}

static void test_host_closes(void **state)
{
	struct itest *t = *state;
	struct sim *s = started(t, NULL);
	struct sim_stream st;
	int lfd = itest_host_listen(t, PORT, 8), hfd;
	char buf[16];

	assert_int_equal(sim_stream_connect(s, &st, HOST_CID, PORT, 50002, 0, ITEST_TIMEOUT_MS),
			 0);
	hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	assert_int_equal(itest_host_write(hfd, "bye", 3, ITEST_TIMEOUT_MS), 0);
	close(hfd);
	/* Data first, then end of stream. */
	assert_int_equal(sim_stream_recv(&st, buf, sizeof(buf), ITEST_TIMEOUT_MS), 3);
	assert_int_equal(sim_stream_recv(&st, buf, sizeof(buf), ITEST_TIMEOUT_MS), 0);
	assert_true(st.c->peer_shut_send || st.c->reset);
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
}

static void test_host_connect(void **state)
{
	struct itest *t = *state;
	struct sim *s = started(t, NULL);
	struct sim_stream st;
	char line[64], buf[64];
	unsigned host_port = 0;
	int hfd;

	hfd = itest_host_connect(t, "CONNECT 1234\n");
	assert_int_equal(sim_stream_accept(s, &st, PORT, 0, false, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(st.c->peer_cid, HOST_CID);
	assert_true(itest_host_read_line(hfd, line, sizeof(line), ITEST_TIMEOUT_MS) > 0);
	assert_int_equal(sscanf(line, "OK %u\n", &host_port), 1);
	/* rust-vmm's vhost-device-vsock answers with the guest port
	 * ("OK {peer_port}"); Firecracker with the host-side port. We are a
	 * drop-in for the former. */
	assert_int_equal(host_port, PORT);

	assert_int_equal(itest_host_write(hfd, "ping", 4, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(sim_stream_recv(&st, buf, 4, ITEST_TIMEOUT_MS), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(sim_stream_send(&st, "pong", 4, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_host_read(hfd, buf, 4, ITEST_TIMEOUT_MS), 4);
	assert_memory_equal(buf, "pong", 4);

	assert_int_equal(sim_stream_rst(&st), 0);
	assert_int_equal(itest_host_read(hfd, buf, 1, ITEST_TIMEOUT_MS), 0);
	close(hfd);
	sim_stream_fini(&st);
	sim_close(s);
}

static void test_host_connect_refused(void **state)
{
	struct itest *t = *state;
	struct sim *s = started(t, NULL);
	struct sim_stream st;
	char line[64];
	int hfd, r;

	hfd = itest_host_connect(t, "CONNECT 1234\n");
	assert_int_equal(sim_stream_accept(s, &st, PORT, 0, true, ITEST_TIMEOUT_MS), 0);
	/* No "OK": the host connection ends. */
	r = itest_host_read_line(hfd, line, sizeof(line), ITEST_TIMEOUT_MS);
	if (r != 0 && r != -ECONNRESET)
		fail_msg("refused connect: host read %d (%s)", r, r > 0 ? line : "");
	close(hfd);
	sim_stream_fini(&st);
	sim_close(s);
}

static void test_host_bad_handshake(void **state)
{
	struct itest *t = *state;
	static const char *const bad[] = {
		"CONNECT abc\n", "CONNECT 99999999999\n", "HELLO 1234\n", "CONNECT\n",
		"CONNECT -1\n",
	};
	struct sim *s = started(t, NULL);
	struct sim_pkt *p = sim_pkt_new();
	char line[64];
	unsigned i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int hfd = itest_host_connect(t, bad[i]);
		int r = itest_host_read_line(hfd, line, sizeof(line), ITEST_TIMEOUT_MS);

		if (r > 0 && !strncmp(line, "OK", 2))
			fail_msg("handshake \"%.*s\" accepted", (int)strlen(bad[i]) - 1, bad[i]);
		assert_true(r == 0 || r == -ECONNRESET);
		close(hfd);
	}
	/* And nothing reached the guest. */
	assert_int_equal(sim_rx_poll(s, p, 100), -ETIMEDOUT);
	free(p);
	assert_true(sim_daemon_alive(&t->d));
	sim_close(s);
}

static void test_spoofed_src_cid(void **state)
{
	struct itest *t = *state;
	struct sim *s = started(t, NULL);
	struct sim_pkt *p = sim_pkt_new();
	struct virtio_vsock_hdr h;
	int lfd = itest_host_listen(t, PORT, 8);

	h = sim_vsock_hdr(sim_guest_cid(s) + 7, HOST_CID, 50003, PORT, VIRTIO_VSOCK_OP_REQUEST, 0,
			  0, 65536, 0);
	assert_int_equal(sim_tx_send(s, &h, NULL, 0, 0), 0);
	assert_int_equal(itest_host_accept(lfd, 300), -ETIMEDOUT);
	/* Dropped, not answered (an RST would go to a CID that is not ours). */
	assert_int_equal(sim_rx_poll(s, p, 100), -ETIMEDOUT);
	free(p);
	close(lfd);
	sim_close(s);
}

struct bulk {
	int fd;
	size_t len;
	uint32_t seed;
	int result;
};

static void *host_reader(void *arg)
{
	struct bulk *b = arg;
	uint8_t *want = malloc(b->len), *got = malloc(b->len);

	b->result = -ENOMEM;
	if (want && got) {
		ssize_t n = itest_host_read(b->fd, got, b->len, 20000);

		fill_pattern(want, b->len, b->seed);
		b->result = n != (ssize_t)b->len ? -EIO : memcmp(want, got, b->len) ? -EBADMSG : 0;
	}
	free(want);
	free(got);
	return NULL;
}

static void *host_writer(void *arg)
{
	struct bulk *b = arg;
	uint8_t *data = malloc(b->len);

	b->result = -ENOMEM;
	if (data) {
		fill_pattern(data, b->len, b->seed);
		b->result = itest_host_write(b->fd, data, b->len, 20000);
		shutdown(b->fd, SHUT_WR);
	}
	free(data);
	return NULL;
}

static void test_bulk_guest_to_host(void **state)
{
	struct itest *t = *state;
	struct sim *s = started(t, NULL);
	const size_t len = 4u << 20;
	struct bulk b = { .len = len, .seed = 7 };
	struct sim_stream st;
	struct sim_vq_stats tx;
	uint8_t *data = malloc(len);
	int lfd = itest_host_listen(t, PORT, 8);
	pthread_t th;

	assert_non_null(data);
	fill_pattern(data, len, b.seed);
	assert_int_equal(sim_stream_connect(s, &st, HOST_CID, PORT, 50004, 0, ITEST_TIMEOUT_MS),
			 0);
	b.fd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(b.fd >= 0);
	assert_int_equal(pthread_create(&th, NULL, host_reader, &b), 0);
	st.c->tx_flags = SIM_TX_PAGES;
	sim_stats_reset(s);
	assert_int_equal(sim_stream_send(&st, data, len, 20000), 0);
	pthread_join(th, NULL);
	assert_int_equal(b.result, 0);
	sim_vq_stats(s, SIM_VQ_TX, &tx);
	print_message("guest->host %zu bytes: %llu tx chains, %llu kicks, %llu tx calls\n", len,
		      (unsigned long long)tx.added, (unsigned long long)tx.kicks,
		      (unsigned long long)tx.calls);
	close(b.fd);
	close(lfd);
	sim_stream_fini(&st);
	free(data);
	sim_close(s);
}

static void host_to_guest(struct itest *t, const struct sim_opts *o, uint32_t buf_alloc)
{
	struct sim *s = started(t, o);
	const size_t len = 2u << 20;
	struct bulk b = { .len = len, .seed = 11 };
	struct sim_stream st;
	struct sim_vq_stats rx;
	uint8_t *want = malloc(len), *got = malloc(len);
	size_t done = 0;
	int lfd = itest_host_listen(t, PORT, 8);
	pthread_t th;

	assert_non_null(want);
	assert_non_null(got);
	fill_pattern(want, len, b.seed);
	assert_int_equal(sim_stream_connect(s, &st, HOST_CID, PORT, 50005, buf_alloc,
					    ITEST_TIMEOUT_MS), 0);
	b.fd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(b.fd >= 0);
	sim_stats_reset(s);
	assert_int_equal(pthread_create(&th, NULL, host_writer, &b), 0);
	while (done < len) {
		ssize_t n = sim_stream_recv(&st, got + done, len - done, 20000);

		if (n <= 0) {
			pthread_join(th, NULL);
			fail_msg("recv after %zu bytes: %zd", done, n);
		}
		done += (size_t)n;
	}
	pthread_join(th, NULL);
	assert_int_equal(b.result, 0);
	assert_memory_equal(want, got, len);
	assert_int_equal(st.c->credit_violations, 0);
	sim_vq_stats(s, SIM_VQ_RX, &rx);
	print_message("host->guest %zu bytes (buf_alloc %u): %llu rx packets, %llu calls, "
		      "%llu credit updates sent\n", len, st.c->buf_alloc,
		      (unsigned long long)rx.used, (unsigned long long)rx.calls,
		      (unsigned long long)st.c->credit_updates_sent);
	close(b.fd);
	close(lfd);
	sim_stream_fini(&st);
	free(want);
	free(got);
	sim_close(s);
}

static void test_bulk_host_to_guest(void **state)
{
	host_to_guest(*state, NULL, 256u * 1024u);
}

/* A small window: the device must stop at our credit and resume on
 * CREDIT_UPDATE. */
static void test_bulk_host_to_guest_small_credit(void **state)
{
	host_to_guest(*state, NULL, 16u * 1024u);
}

/* Tiny rx buffers: the device must cut payloads to what each buffer holds
 * (sim_rx_poll fails with -EBADMSG on any overrun). */
static void test_bulk_host_to_guest_small_buffers(void **state)
{
	struct sim_opts o;

	itest_opts(&o);
	o.rx_buf_size = 128;
	host_to_guest(*state, &o, 0);
}

static void test_frontend_gone_closes_host_side(void **state)
{
	struct itest *t = *state;
	struct sim *s = started(t, NULL);
	struct sim_stream st;
	int lfd = itest_host_listen(t, PORT, 8), hfd;
	char c;

	assert_int_equal(sim_stream_connect(s, &st, HOST_CID, PORT, 50006, 0, ITEST_TIMEOUT_MS),
			 0);
	hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	/* The VMM dies: the host application must not hang forever. */
	sim_stream_fini(&st);
	sim_close(s);
	assert_int_equal(itest_host_read(hfd, &c, 1, ITEST_TIMEOUT_MS), 0);
	close(hfd);
	close(lfd);
	itest_fresh_frontend_ok(t);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, itest_setup, itest_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_guest_connect_refused),
		T(test_echo_default),
		T(test_echo_split_rx_multi_region),
		T(test_echo_no_event_idx),
		T(test_host_closes),
		T(test_host_connect),
		T(test_host_connect_refused),
		T(test_host_bad_handshake),
		T(test_spoofed_src_cid),
		T(test_bulk_guest_to_host),
		T(test_bulk_host_to_guest),
		T(test_bulk_host_to_guest_small_credit),
		T(test_bulk_host_to_guest_small_buffers),
		T(test_frontend_gone_closes_host_side),
	};

	return cmocka_run_group_tests_name("vsock", tests, NULL, NULL);
}
