/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * When the device must answer with RST, and when it must stay silent: a
 * REQUEST nobody listens to (promptly, a guest connect() waits on it), any
 * other op for a connection that does not exist, a socket type we do not
 * serve, but never an RST for an RST (two peers could ping-pong forever)
 * and never anything for a packet whose source CID is not the guest's.
 * Host-initiated connections the guest refuses or ignores end with the
 * host socket closed.
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

/* The RST the device owes for a packet of the given type from gport to
 * hport. */
static void expect_typed_rst_for(struct sim *s, struct sim_pkt *p, uint32_t gport,
				 uint32_t hport, uint16_t type, const char *what)
{
	int r = sim_rx_poll(s, p, ITEST_TIMEOUT_MS);

	if (r)
		fail_msg("%s: no RST (%s)", what, strerror(-r));
	if (p->op != VIRTIO_VSOCK_OP_RST)
		fail_msg("%s: got %s instead of RST", what, sim_op_name(p->op));
	assert_int_equal(p->src_cid, ITEST_HOST_CID);
	assert_int_equal(p->dst_cid, ITEST_CID);
	assert_int_equal(p->src_port, hport);
	assert_int_equal(p->dst_port, gport);
	assert_int_equal(p->type, type);
	assert_int_equal(p->len, 0);
}

static void expect_rst_for(struct sim *s, struct sim_pkt *p, uint32_t gport, uint32_t hport,
			   const char *what)
{
	expect_typed_rst_for(s, p, gport, hport, VIRTIO_VSOCK_TYPE_STREAM, what);
}

/* A guest's connect() to a closed port must fail now, not after a
 * timeout. */
static void test_request_closed_port_fast(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_pkt *p = sim_pkt_new();
	int64_t worst = 0;

	for (uint32_t i = 0; i < 10; i++) {
		int64_t t0 = sim_now_ms(), dt;

		itest_send_op(s, 50000 + i, 4000 + i, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0);
		expect_rst_for(s, p, 50000 + i, 4000 + i, "REQUEST to a closed port");
		dt = sim_now_ms() - t0;
		if (dt > worst)
			worst = dt;
	}
	print_message("slowest RST for a closed port: %lld ms\n", (long long)worst);
	assert_true(worst < 100);
	free(p);
	sim_close(s);
}

/* Every op other than REQUEST needs a connection: without one, RST. A
 * listener exists, so that the RST is about the connection, not the port. */
static void test_ops_without_connection(void **state)
{
	static const uint16_t ops[] = {
		VIRTIO_VSOCK_OP_RW, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_OP_CREDIT_UPDATE,
		VIRTIO_VSOCK_OP_CREDIT_REQUEST, VIRTIO_VSOCK_OP_RESPONSE,
	};
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_pkt *p = sim_pkt_new();
	int lfd = itest_host_listen(t, PORT, 8);

	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct virtio_vsock_hdr h;
		uint32_t len = ops[i] == VIRTIO_VSOCK_OP_RW ? 5 : 0;
		uint32_t flags = ops[i] == VIRTIO_VSOCK_OP_SHUTDOWN ? VIRTIO_VSOCK_SHUTDOWN_SEND
								     : 0;

		h = sim_vsock_hdr(sim_guest_cid(s), ITEST_HOST_CID, 51000 + i, PORT, ops[i], flags,
				  len, 65536, 0);
		assert_int_equal(sim_tx_send(s, &h, "data!", len, 0), 0);
		expect_rst_for(s, p, 51000 + i, PORT, sim_op_name(ops[i]));
	}
	/* None of them opened anything on the host. */
	assert_int_equal(itest_host_accept(lfd, 100), -ETIMEDOUT);
	close(lfd);
	free(p);
	sim_close(s);
}

/* Only SOCK_STREAM is offered (no SEQPACKET feature): other types get RST
 * even where a listener waits, and never reach the host. */
static void test_unsupported_type(void **state)
{
	static const uint16_t types[] = { VIRTIO_VSOCK_TYPE_SEQPACKET, 7, 0 };
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_pkt *p = sim_pkt_new();
	int lfd = itest_host_listen(t, PORT, 8);

	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(s), ITEST_HOST_CID,
							  52000 + i, PORT,
							  VIRTIO_VSOCK_OP_REQUEST, 0, 0, 65536, 0);
		char what[32];

		h.type = htole16(types[i]);
		assert_int_equal(sim_tx_send(s, &h, NULL, 0, 0), 0);
		snprintf(what, sizeof(what), "REQUEST of type %u", types[i]);
		/* The RST carries the request's type, as Linux's
		 * virtio_transport_reset_no_sock() does: a guest socket
		 * drops an RST of another type and its connect() would
		 * hang until it times out. */
		expect_typed_rst_for(s, p, 52000 + i, PORT, types[i], what);
	}
	assert_int_equal(itest_host_accept(lfd, 100), -ETIMEDOUT);
	close(lfd);
	free(p);
	sim_close(s);
}

/* An RST for nothing is dropped: answering it could loop between peers. */
static void test_rst_not_answered(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	int lfd = itest_host_listen(t, PORT, 8);

	itest_send_op(s, 53000, PORT, VIRTIO_VSOCK_OP_RST, 0, 65536, 0);
	itest_send_op(s, 53001, 4444, VIRTIO_VSOCK_OP_RST, 0, 65536, 0);
	itest_expect_silence(s, 200, "RST for an unknown connection");
	/* The device is still there. */
	itest_send_op(s, 53002, 4444, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0);
	{
		struct sim_pkt *p = sim_pkt_new();

		expect_rst_for(s, p, 53002, 4444, "REQUEST after the RSTs");
		free(p);
	}
	close(lfd);
	sim_close(s);
}

/* A guest may only speak for itself: packets with another source CID are
 * dropped without an answer (an RST would go to a CID that is not there)
 * and cannot touch a live connection whose ports they copy. */
static void test_spoofed_src_cid(void **state)
{
	static const uint64_t cids[] = { ITEST_CID + 1, ITEST_HOST_CID, 0, 0xffffffffull,
					 (1ull << 32) | ITEST_CID };
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	int lfd = itest_host_listen(t, PORT, 8), hfd;
	char b[8];

	for (unsigned i = 0; i < sizeof(cids) / sizeof(cids[0]); i++) {
		struct virtio_vsock_hdr h = sim_vsock_hdr(cids[i], ITEST_HOST_CID, 54000, PORT,
							  VIRTIO_VSOCK_OP_REQUEST, 0, 0, 65536, 0);

		assert_int_equal(sim_tx_send(s, &h, NULL, 0, 0), 0);
		h = sim_vsock_hdr(cids[i], ITEST_HOST_CID, 54001, 4444, VIRTIO_VSOCK_OP_RW, 0,
				  3, 65536, 0);
		assert_int_equal(sim_tx_send(s, &h, "xyz", 3, 0), 0);
	}
	itest_expect_silence(s, 200, "spoofed packets");
	assert_int_equal(itest_host_accept(lfd, 50), -ETIMEDOUT);

	/* A live connection; spoofed data and RST on its ports do nothing. */
	assert_int_equal(sim_stream_connect(s, &st, ITEST_HOST_CID, PORT, 54002, 0,
					    ITEST_TIMEOUT_MS), 0);
	hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	for (unsigned i = 0; i < sizeof(cids) / sizeof(cids[0]); i++) {
		struct virtio_vsock_hdr h = sim_vsock_hdr(cids[i], ITEST_HOST_CID, 54002, PORT,
							  VIRTIO_VSOCK_OP_RW, 0, 4, 65536, 0);

		assert_int_equal(sim_tx_send(s, &h, "evil", 4, 0), 0);
		h = sim_vsock_hdr(cids[i], ITEST_HOST_CID, 54002, PORT, VIRTIO_VSOCK_OP_RST, 0, 0,
				  65536, 0);
		assert_int_equal(sim_tx_send(s, &h, NULL, 0, 0), 0);
	}
	assert_int_equal(sim_tx_flush(s, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_wait_fd(hfd, POLLIN, 100), -ETIMEDOUT);
	assert_int_equal(sim_stream_send(&st, "good", 4, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_host_read(hfd, b, 4, ITEST_TIMEOUT_MS), 4);
	assert_memory_equal(b, "good", 4);
	assert_false(st.c->reset);
	close(hfd);
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
}

/* The guest refuses a host-initiated connection: the host socket closes
 * at once, without "OK". */
static void test_host_connect_guest_rst(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	size_t junk;
	int64_t t0;
	int hfd;

	hfd = itest_host_connect(t, "CONNECT 1234\n");
	assert_int_equal(sim_stream_accept(s, &st, PORT, 0, true, ITEST_TIMEOUT_MS), 0);
	t0 = sim_now_ms();
	assert_int_equal(itest_host_wait_closed(hfd, ITEST_TIMEOUT_MS, &junk), 0);
	assert_int_equal(junk, 0);
	/* Not the 2 s timeout: the RST itself closed it. */
	assert_true(sim_now_ms() - t0 < 1000);
	/* And no RST back for the guest's RST. */
	itest_expect_silence(s, 200, "after the guest's RST");
	close(hfd);
	sim_stream_fini(&st);
	sim_close(s);
}

/* The guest never answers a host-initiated REQUEST: the host socket is
 * closed after the daemon's ~2 s timeout, not sooner and not never. */
static void test_host_connect_guest_ignores(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_pkt *p = sim_pkt_new();
	bool rst = false;
	int64_t t0, dt;
	size_t junk;
	int hfd, r;

	t0 = sim_now_ms();
	hfd = itest_host_connect(t, "CONNECT 1234\n");
	itest_expect_pkt(s, p, ITEST_TIMEOUT_MS);
	assert_int_equal(p->op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(itest_host_wait_closed(hfd, 5000, &junk), 0);
	dt = sim_now_ms() - t0;
	assert_int_equal(junk, 0);
	/* The guest hears that the offer is withdrawn (or never hears more). */
	while ((r = sim_rx_poll(s, p, 200)) == 0)
		rst = rst || p->op == VIRTIO_VSOCK_OP_RST;
	print_message("host socket closed after %lld ms; RST to the guest: %s\n", (long long)dt,
		      rst ? "yes" : "no");
	assert_true(dt >= 1500 && dt <= 4000);
	close(hfd);
	free(p);
	sim_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITEST_T(test_request_closed_port_fast),
		ITEST_T(test_ops_without_connection),
		ITEST_T(test_unsupported_type),
		ITEST_T(test_rst_not_answered),
		ITEST_T(test_spoofed_src_cid),
		ITEST_T(test_host_connect_guest_rst),
		ITEST_T(test_host_connect_guest_ignores),
	};

	return cmocka_run_group_tests_name("vsock_rst", tests, NULL, NULL);
}
