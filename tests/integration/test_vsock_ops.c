/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Every virtio-vsock operation through the hybrid-vsock (Unix socket)
 * backend, with hand-built packets so that each header field the device
 * writes is checked, not just "data came through". The daemon runs with a
 * non-default tx-buffer-size so that buf_alloc proves where it comes from.
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
#define TXBUF 131072u
#define TXBUF_STR "131072"
#define GUEST_BUF 65536u

static const char *const txbuf_args[] = { "--tx-buffer-size", TXBUF_STR, NULL };

/* A connection set up by hand: the guest's port and the host's. */
struct raw_conn {
	struct sim *s;
	uint32_t gport, hport;
	int hfd, lfd;
	struct sim_pkt *p;
};

static void send_rw(struct sim *s, uint32_t gport, uint32_t hport, const void *data,
		    size_t len, uint32_t fwd_cnt)
{
	struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(s), ITEST_HOST_CID, gport, hport,
						  VIRTIO_VSOCK_OP_RW, 0, (uint32_t)len, GUEST_BUF,
						  fwd_cnt);

	assert_int_equal(sim_tx_send(s, &h, data, len, 0), 0);
}

/* Fields every packet of the connection must carry. */
static void check_conn_hdr(const struct sim_pkt *p, uint32_t hport, uint32_t gport)
{
	assert_int_equal(p->src_cid, ITEST_HOST_CID);
	assert_int_equal(p->dst_cid, ITEST_CID);
	assert_int_equal(p->src_port, hport);
	assert_int_equal(p->dst_port, gport);
	assert_int_equal(p->type, VIRTIO_VSOCK_TYPE_STREAM);
	assert_int_equal(p->buf_alloc, TXBUF);
}

/* Guest REQUEST to a host listener, RESPONSE checked field by field. */
static void guest_connect(struct itest *t, struct raw_conn *c, uint32_t gport)
{
	c->s = itest_start(t, NULL);
	c->p = sim_pkt_new();
	assert_non_null(c->p);
	c->gport = gport;
	c->hport = PORT;
	c->lfd = itest_host_listen(t, PORT, 8);
	itest_send_op(c->s, gport, PORT, VIRTIO_VSOCK_OP_REQUEST, 0, GUEST_BUF, 0);
	itest_expect_pkt(c->s, c->p, ITEST_TIMEOUT_MS);
	assert_int_equal(c->p->op, VIRTIO_VSOCK_OP_RESPONSE);
	check_conn_hdr(c->p, PORT, gport);
	assert_int_equal(c->p->len, 0);
	assert_int_equal(c->p->flags, 0);
	assert_int_equal(c->p->fwd_cnt, 0);
	c->hfd = itest_host_accept(c->lfd, ITEST_TIMEOUT_MS);
	assert_true(c->hfd >= 0);
}

static void raw_conn_fini(struct raw_conn *c)
{
	if (c->hfd >= 0)
		close(c->hfd);
	if (c->lfd >= 0)
		close(c->lfd);
	free(c->p);
	sim_close(c->s);
}

static void test_request_response(void **state)
{
	struct itest *t = *state;
	struct raw_conn c;
	char b;

	guest_connect(t, &c, 50000);
	/* A live stream, not just an answer: one byte goes through. */
	assert_int_equal(itest_host_write(c.hfd, "x", 1, ITEST_TIMEOUT_MS), 0);
	itest_expect_pkt(c.s, c.p, ITEST_TIMEOUT_MS);
	assert_int_equal(c.p->op, VIRTIO_VSOCK_OP_RW);
	check_conn_hdr(c.p, PORT, c.gport);
	assert_int_equal(c.p->len, 1);
	assert_int_equal(c.p->payload[0], 'x');
	send_rw(c.s, c.gport, c.hport, "y", 1, 1);
	assert_int_equal(itest_host_read(c.hfd, &b, 1, ITEST_TIMEOUT_MS), 1);
	assert_int_equal(b, 'y');
	raw_conn_fini(&c);
}

static void test_host_request_response(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_pkt *p = sim_pkt_new();
	char line[64], b[8];
	uint32_t hport;
	int hfd;

	hfd = itest_host_connect(t, "CONNECT 1234\n");
	itest_expect_pkt(s, p, ITEST_TIMEOUT_MS);
	assert_int_equal(p->op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(p->dst_port, PORT);
	hport = p->src_port;
	check_conn_hdr(p, hport, PORT);
	assert_int_equal(p->len, 0);
	/* Nothing is promised to the host before the guest accepts. */
	assert_int_equal(itest_wait_fd(hfd, POLLIN, 100), -ETIMEDOUT);

	itest_send_op(s, PORT, hport, VIRTIO_VSOCK_OP_RESPONSE, 0, GUEST_BUF, 0);
	assert_true(itest_host_read_line(hfd, line, sizeof(line), ITEST_TIMEOUT_MS) > 0);
	/* rust-vmm's daemon answers with the guest port. */
	assert_string_equal(line, "OK 1234\n");

	assert_int_equal(itest_host_write(hfd, "ping", 4, ITEST_TIMEOUT_MS), 0);
	itest_expect_pkt(s, p, ITEST_TIMEOUT_MS);
	assert_int_equal(p->op, VIRTIO_VSOCK_OP_RW);
	check_conn_hdr(p, hport, PORT);
	assert_int_equal(p->len, 4);
	assert_memory_equal(p->payload, "ping", 4);
	send_rw(s, PORT, hport, "pong", 4, 4);
	assert_int_equal(itest_host_read(hfd, b, 4, ITEST_TIMEOUT_MS), 4);
	assert_memory_equal(b, "pong", 4);
	close(hfd);
	free(p);
	sim_close(s);
}

/* Packet sizes from one byte to the 64 KiB maximum, both ways, checked
 * against a position-addressed pattern; fwd_cnt in the device's headers
 * tracks what reached the host socket. */
static void test_rw_both_ways(void **state)
{
	static const size_t sizes[] = { 1, 100, 4095, 4096, 4097, 30000, 65536 };
	struct itest *t = *state;
	struct raw_conn c;
	uint8_t *buf = malloc(65536);
	uint64_t g2h = 0, h2g = 0;
	uint32_t fwd = 0;
	unsigned i;

	assert_non_null(buf);
	guest_connect(t, &c, 50001);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i], got = 0;

		/* guest -> host: one packet of n bytes. */
		itest_pattern(buf, n, 1, g2h);
		send_rw(c.s, c.gport, c.hport, buf, n, fwd);
		memset(buf, 0, n);
		assert_int_equal(itest_host_read(c.hfd, buf, n, ITEST_TIMEOUT_MS), (ssize_t)n);
		assert_int_equal(itest_pattern_check(buf, n, 1, g2h), -1);
		g2h += n;

		/* host -> guest: n bytes in as many packets as the device
		 * chooses (4 KiB rx buffers cut them). */
		itest_pattern(buf, n, 2, h2g);
		assert_int_equal(itest_host_write(c.hfd, buf, n, ITEST_TIMEOUT_MS), 0);
		while (got < n) {
			itest_expect_pkt(c.s, c.p, ITEST_TIMEOUT_MS);
			if (c.p->op == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
				continue;
			assert_int_equal(c.p->op, VIRTIO_VSOCK_OP_RW);
			check_conn_hdr(c.p, PORT, c.gport);
			assert_true(c.p->len > 0 && c.p->len <= n - got);
			assert_int_equal(itest_pattern_check(c.p->payload, c.p->len, 2, h2g + got),
					 -1);
			/* The device has handed everything we sent to the
			 * host socket, which took it all. */
			assert_int_equal(c.p->fwd_cnt, (uint32_t)g2h);
			got += c.p->len;
		}
		h2g += n;
		/* Consume and say so, as a guest driver would. */
		fwd = (uint32_t)h2g;
		itest_send_op(c.s, c.gport, c.hport, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, GUEST_BUF,
			      fwd);
	}
	free(buf);
	raw_conn_fini(&c);
}

/* RST from the guest frees the connection: the host sees its socket
 * closed, data on the old pair is refused, and the pair can be reused. */
static void test_rst_from_guest(void **state)
{
	struct itest *t = *state;
	struct raw_conn c;
	int fd2;

	guest_connect(t, &c, 50002);
	itest_send_op(c.s, c.gport, c.hport, VIRTIO_VSOCK_OP_RST, 0, GUEST_BUF, 0);
	assert_int_equal(itest_host_wait_closed(c.hfd, ITEST_TIMEOUT_MS, NULL), 0);
	/* Never answer an RST with an RST. */
	itest_expect_silence(c.s, 100, "RST from the guest");

	send_rw(c.s, c.gport, c.hport, "late", 4, 0);
	itest_expect_pkt(c.s, c.p, ITEST_TIMEOUT_MS);
	assert_int_equal(c.p->op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(c.p->src_port, PORT);
	assert_int_equal(c.p->dst_port, c.gport);

	/* Same port pair again: a fresh connection, not "already in use". */
	itest_send_op(c.s, c.gport, c.hport, VIRTIO_VSOCK_OP_REQUEST, 0, GUEST_BUF, 0);
	itest_expect_pkt(c.s, c.p, ITEST_TIMEOUT_MS);
	assert_int_equal(c.p->op, VIRTIO_VSOCK_OP_RESPONSE);
	fd2 = itest_host_accept(c.lfd, ITEST_TIMEOUT_MS);
	assert_true(fd2 >= 0);
	close(fd2);
	raw_conn_fini(&c);
}

/* SHUTDOWN(RCV): the guest reads no more, so the device must not send it
 * data, and the host application's writes fail (EPIPE) as a kernel
 * peer's would; the other direction keeps working. */
static void test_shutdown_rcv(void **state)
{
	struct itest *t = *state;
	struct raw_conn c;
	char b[8];

	guest_connect(t, &c, 50003);
	itest_send_op(c.s, c.gport, c.hport, VIRTIO_VSOCK_OP_SHUTDOWN,
		      VIRTIO_VSOCK_SHUTDOWN_RCV, GUEST_BUF, 0);
	/* Let the device take the SHUTDOWN before the host writes. */
	assert_int_equal(sim_tx_flush(c.s, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_host_write(c.hfd, "unwanted", 8, ITEST_TIMEOUT_MS), -EPIPE);
	while (sim_rx_poll(c.s, c.p, 300) == 0)
		if (c.p->op == VIRTIO_VSOCK_OP_RW)
			fail_msg("device sent %u data bytes after SHUTDOWN(RCV)", c.p->len);
	send_rw(c.s, c.gport, c.hport, "still", 5, 0);
	assert_int_equal(itest_host_read(c.hfd, b, 5, ITEST_TIMEOUT_MS), 5);
	assert_memory_equal(b, "still", 5);
	raw_conn_fini(&c);
}

/* Takes the next filled rx buffer without reposting it (so the ring stays
 * empty), within the test timeout. */
static void next_pkt_no_repost(struct sim *s, struct sim_pkt *p)
{
	int64_t deadline = sim_now_ms() + ITEST_TIMEOUT_MS;
	struct sim_rx_buf b;
	int r;

	while ((r = sim_rx_next(s, &b)) == 0 && sim_now_ms() < deadline)
		usleep(1000);
	assert_int_equal(r, 1);
	assert_int_equal(sim_rx_check(&b), 0);
	sim_pkt_decode(p, (const struct virtio_vsock_hdr *)b.data);
}

/*
 * The guest closes and dials the same port pair again before the device
 * could deliver the old connection's RST (no rx buffer). The old one is
 * dead to the guest: the new REQUEST is a new connection, and no late RST
 * of the old one may end it.
 */
static void test_reuse_before_rst(void **state)
{
	struct itest *t = *state;
	struct sim_opts o;
	struct sim *s;
	struct sim_pkt *p = sim_pkt_new();
	int lfd, h1, h2;

	assert_non_null(p);
	itest_opts(&o);
	o.rx_bufs = 1;
	s = itest_start(t, &o);
	lfd = itest_host_listen(t, PORT, 8);
	itest_send_op(s, 50010, PORT, VIRTIO_VSOCK_OP_REQUEST, 0, GUEST_BUF, 0);
	next_pkt_no_repost(s, p);
	assert_int_equal(p->op, VIRTIO_VSOCK_OP_RESPONSE);
	h1 = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(h1 >= 0);
	/* close(): the device owes an RST, and has no buffer to put it in. */
	itest_send_op(s, 50010, PORT, VIRTIO_VSOCK_OP_SHUTDOWN,
		      VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, GUEST_BUF, 0);
	assert_int_equal(sim_tx_flush(s, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_host_wait_closed(h1, ITEST_TIMEOUT_MS, NULL), 0);
	/* Same pair again. */
	itest_send_op(s, 50010, PORT, VIRTIO_VSOCK_OP_REQUEST, 0, GUEST_BUF, 0);
	assert_int_equal(sim_tx_flush(s, ITEST_TIMEOUT_MS), 0);
	h2 = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(h2 >= 0);
	assert_int_equal(sim_rx_post(s, 4, 0), 0);
	next_pkt_no_repost(s, p);
	assert_int_equal(p->op, VIRTIO_VSOCK_OP_RESPONSE);
	check_conn_hdr(p, PORT, 50010);
	/* And it carries data. */
	assert_int_equal(itest_host_write(h2, "new", 3, ITEST_TIMEOUT_MS), 0);
	next_pkt_no_repost(s, p);
	assert_int_equal(p->op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p->len, 3);
	close(h1);
	close(h2);
	close(lfd);
	free(p);
	sim_close(s);
}

/* A CREDIT_UPDATE is what reopens a closed window. */
static void test_credit_update(void **state)
{
	struct itest *t = *state;
	struct raw_conn c;
	uint8_t data[8192];
	size_t got = 0;

	c.s = itest_start(t, NULL);
	c.p = sim_pkt_new();
	c.gport = 50004;
	c.hport = PORT;
	c.lfd = itest_host_listen(t, PORT, 8);
	/* A 3000-byte window. */
	itest_send_op(c.s, c.gport, PORT, VIRTIO_VSOCK_OP_REQUEST, 0, 3000, 0);
	itest_expect_pkt(c.s, c.p, ITEST_TIMEOUT_MS);
	assert_int_equal(c.p->op, VIRTIO_VSOCK_OP_RESPONSE);
	c.hfd = itest_host_accept(c.lfd, ITEST_TIMEOUT_MS);
	assert_true(c.hfd >= 0);

	itest_pattern(data, sizeof(data), 3, 0);
	assert_int_equal(itest_host_write(c.hfd, data, sizeof(data), ITEST_TIMEOUT_MS), 0);
	while (sim_rx_poll(c.s, c.p, 300) == 0) {
		if (c.p->op != VIRTIO_VSOCK_OP_RW)
			continue; /* a CREDIT_REQUEST is fine */
		assert_int_equal(itest_pattern_check(c.p->payload, c.p->len, 3, got), -1);
		got += c.p->len;
	}
	/* Exactly the window: not more, and not less (a device that waits
	 * for a full buffer's worth of credit would stall real guests). */
	assert_int_equal(got, 3000);

	/* The guest consumed it all: 3000 more may come. */
	itest_send_op(c.s, c.gport, c.hport, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 3000, 3000);
	while (sim_rx_poll(c.s, c.p, 300) == 0) {
		if (c.p->op != VIRTIO_VSOCK_OP_RW)
			continue;
		assert_int_equal(itest_pattern_check(c.p->payload, c.p->len, 3, got), -1);
		got += c.p->len;
	}
	assert_int_equal(got, 6000);
	/* A bigger buffer: the rest. */
	itest_send_op(c.s, c.gport, c.hport, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, GUEST_BUF, 6000);
	while (got < sizeof(data)) {
		itest_expect_pkt(c.s, c.p, ITEST_TIMEOUT_MS);
		if (c.p->op != VIRTIO_VSOCK_OP_RW)
			continue;
		assert_int_equal(itest_pattern_check(c.p->payload, c.p->len, 3, got), -1);
		got += c.p->len;
	}
	assert_int_equal(got, sizeof(data));
	raw_conn_fini(&c);
}

/* CREDIT_REQUEST is answered with CREDIT_UPDATE: our buffer size and the
 * bytes handed to the host so far. */
static void test_credit_request(void **state)
{
	struct itest *t = *state;
	struct raw_conn c;
	uint8_t data[3000];

	guest_connect(t, &c, 50005);
	itest_send_op(c.s, c.gport, c.hport, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, GUEST_BUF, 0);
	itest_expect_pkt(c.s, c.p, ITEST_TIMEOUT_MS);
	assert_int_equal(c.p->op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	check_conn_hdr(c.p, PORT, c.gport);
	assert_int_equal(c.p->len, 0);
	assert_int_equal(c.p->fwd_cnt, 0);

	itest_pattern(data, sizeof(data), 4, 0);
	send_rw(c.s, c.gport, c.hport, data, 1000, 0);
	send_rw(c.s, c.gport, c.hport, data + 1000, 2000, 0);
	assert_int_equal(itest_host_read(c.hfd, data, sizeof(data), ITEST_TIMEOUT_MS),
			 (ssize_t)sizeof(data));
	assert_int_equal(itest_pattern_check(data, sizeof(data), 4, 0), -1);
	itest_send_op(c.s, c.gport, c.hport, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, GUEST_BUF, 0);
	itest_expect_pkt(c.s, c.p, ITEST_TIMEOUT_MS);
	assert_int_equal(c.p->op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	check_conn_hdr(c.p, PORT, c.gport);
	assert_int_equal(c.p->fwd_cnt, 3000);
	raw_conn_fini(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITEST_T_ARGS(test_request_response, txbuf_args),
		ITEST_T_ARGS(test_host_request_response, txbuf_args),
		ITEST_T_ARGS(test_rw_both_ways, txbuf_args),
		ITEST_T_ARGS(test_rst_from_guest, txbuf_args),
		ITEST_T_ARGS(test_shutdown_rcv, txbuf_args),
		ITEST_T_ARGS(test_reuse_before_rst, txbuf_args),
		ITEST_T_ARGS(test_credit_update, txbuf_args),
		ITEST_T_ARGS(test_credit_request, txbuf_args),
	};

	return cmocka_run_group_tests_name("vsock_ops", tests, NULL, NULL);
}
