/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The sans-I/O connection module (src/vsock/conn.c), driven by packet
 * headers alone: credit both ways (with u32 wrap-around), the one gate for
 * guest data, every guest op in every state, resets (never answering an
 * RST), half and full close, deadlines, opening, the order of control
 * packets and host socket readiness. Every case asserts the exact effects
 * mask an entry point returns and the packets conn_next_ctrl() then owes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/clock.h"
#include "vsock/conn.h"

#define GUEST_CID 3u
#define GUEST_PORT 1234u
#define HOST_PORT 5000u
#define BUF (64u * 1024u)       /* ours: the tx-buffer-size */
#define PEER_BUF (256u * 1024u) /* the guest's receive buffer */
#define DEADLINE_MS 2000u       /* handshake, connect, guest answer, close flush */

#define FX_RESET (CONN_FX_CLOSE | CONN_FX_RX)

static uint64_t now_ms(void)
{
	return (uint64_t)(vdv_now_ns() / 1000000);
}

/* The deadline was armed DEADLINE_MS after a moment between t0 and t1. */
static void assert_armed(const struct conn *c, uint64_t t0, uint64_t t1)
{
	assert_in_range(c->deadline_ms, t0 + DEADLINE_MS, t1 + DEADLINE_MS);
}

/* A packet from the guest on connection c, carrying the guest's current
 * credit so that it changes nothing by itself. */
static struct vsock_hdr from_guest(const struct conn *c, uint16_t op)
{
	return (struct vsock_hdr){
		.src_cid = GUEST_CID,
		.dst_cid = c->peer_cid,
		.src_port = c->guest_port,
		.dst_port = c->peer_port,
		.type = VIRTIO_VSOCK_TYPE_STREAM,
		.op = op,
		.buf_alloc = c->peer_buf_alloc,
		.fwd_cnt = c->peer_fwd_cnt,
	};
}

static unsigned guest_op(struct conn *c, uint16_t op, uint32_t flags)
{
	struct vsock_hdr h = from_guest(c, op);

	h.flags = flags;
	return conn_on_guest(c, &h);
}

static unsigned guest_data(struct conn *c, uint32_t len)
{
	struct vsock_hdr h = from_guest(c, VIRTIO_VSOCK_OP_RW);

	h.len = len;
	return conn_accept_data(c, &h);
}

/* The guest's application consumed up to fwd_cnt (a CREDIT_UPDATE). */
static unsigned guest_credit(struct conn *c, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	struct vsock_hdr h = from_guest(c, VIRTIO_VSOCK_OP_CREDIT_UPDATE);

	h.buf_alloc = buf_alloc;
	h.fwd_cnt = fwd_cnt;
	return conn_on_guest(c, &h);
}

static struct vsock_hdr guest_request(uint64_t dst_cid)
{
	return (struct vsock_hdr){
		.src_cid = GUEST_CID,
		.dst_cid = dst_cid,
		.src_port = GUEST_PORT,
		.dst_port = HOST_PORT,
		.type = VIRTIO_VSOCK_TYPE_STREAM,
		.op = VIRTIO_VSOCK_OP_REQUEST,
		.buf_alloc = PEER_BUF,
		.fwd_cnt = 0,
	};
}

/* The next control packet must be op (with flags), addressed from the
 * connection's peer to the guest, carrying our credit; fx its effects. */
static void expect_ctrl(struct conn *c, uint16_t op, uint32_t flags, unsigned fx)
{
	struct vsock_hdr h;
	unsigned got = 0xdead;

	assert_true(conn_next_ctrl(c, &h, &got));
	assert_int_equal(h.op, op);
	assert_int_equal(h.flags, flags);
	assert_int_equal(h.src_cid, c->peer_cid);
	assert_int_equal(h.dst_cid, GUEST_CID);
	assert_int_equal(h.src_port, c->peer_port);
	assert_int_equal(h.dst_port, c->guest_port);
	assert_int_equal(h.type, VIRTIO_VSOCK_TYPE_STREAM);
	assert_int_equal(h.len, 0);
	assert_int_equal(h.buf_alloc, BUF);
	assert_int_equal(h.fwd_cnt, c->fwd_cnt);
	assert_int_equal(got, fx);
}

static void expect_no_ctrl(struct conn *c)
{
	struct vsock_hdr h;
	unsigned fx = 0xdead;

	assert_false(conn_next_ctrl(c, &h, &fx));
	assert_int_equal(fx, 0);
}

/* c is being reset: the RST is the one packet it still owes. */
static void assert_resetting(const struct conn *c)
{
	assert_int_equal(c->state, CONN_CLOSING);
	assert_int_equal(c->pending, PEND_RST);
	assert_int_equal(c->deadline_ms, 0);
	assert_false(c->readable);
}

/* Resetting: the RST is owed, goes out alone, frees the connection, and
 * nothing follows it. */
static void expect_rst_last(struct conn *c)
{
	assert_resetting(c);
	expect_ctrl(c, VIRTIO_VSOCK_OP_RST, 0, CONN_FX_FREE);
	expect_no_ctrl(c);
}

/* Guest dialled the host, the backend connected at once, RESPONSE sent. */
static void open_established(struct conn *c)
{
	struct vsock_hdr h = guest_request(VSOCK_HOST_CID);

	conn_init(c, GUEST_CID, BUF);
	assert_int_equal(conn_guest_request(c, &h, false), CONN_FX_RX);
	expect_ctrl(c, VIRTIO_VSOCK_OP_RESPONSE, 0, 0);
	assert_int_equal(c->pending, 0);
}

/* As above, and the host socket has data. */
static void open_readable(struct conn *c)
{
	open_established(c);
	assert_int_equal(conn_on_host_readable(c, false), CONN_FX_RX);
}

static void open_connecting(struct conn *c)
{
	struct vsock_hdr h = guest_request(VSOCK_HOST_CID);

	conn_init(c, GUEST_CID, BUF);
	assert_int_equal(conn_guest_request(c, &h, true), CONN_FX_ARM);
}

/* A host socket asked for guest port GUEST_PORT; the REQUEST went out. */
static void open_offered(struct conn *c)
{
	conn_init(c, GUEST_CID, BUF);
	assert_int_equal(conn_offer(c, VSOCK_HOST_CID, HOST_PORT, GUEST_PORT),
			 CONN_FX_RX | CONN_FX_ARM);
	expect_ctrl(c, VIRTIO_VSOCK_OP_REQUEST, 0, 0);
}

/* The guest closed with 1000 bytes still for the host: flushing them. */
static void open_closing(struct conn *c)
{
	open_established(c);
	assert_int_equal(guest_data(c, 1000), CONN_FX_WRITE);
	/* The host's writes fail from now on; its socket closes once the
	 * data is delivered. */
	assert_int_equal(guest_op(c, VIRTIO_VSOCK_OP_SHUTDOWN,
				  VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND),
			 CONN_FX_ARM | CONN_FX_SHUT_RD);
	assert_int_equal(c->state, CONN_CLOSING);
}

static void open_handshake(struct conn *c)
{
	conn_init(c, GUEST_CID, BUF);
	assert_int_equal(conn_handshake(c), CONN_FX_ARM);
}

/* ---------------------------------------------------------------- */
/* host -> guest credit                                              */

static void test_peer_credit_counts_in_flight(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	assert_int_equal(conn_peer_credit(&c), PEER_BUF);
	conn_on_read(&c, 3000, false);
	assert_int_equal(c.tx_cnt, 3000);
	assert_int_equal(conn_peer_credit(&c), PEER_BUF - 3000);
	/* The guest consumed 1000 of them. */
	assert_int_equal(guest_credit(&c, PEER_BUF, 1000), 0);
	assert_int_equal(conn_peer_credit(&c), PEER_BUF - 2000);
	/* A guest shrinking its buffer below what is in flight: no credit
	 * (not a huge unsigned difference). */
	assert_int_equal(guest_credit(&c, 1500, 1000), 0);
	assert_int_equal(conn_peer_credit(&c), 0);
	assert_int_equal(guest_credit(&c, 2000, 1000), 0);
	assert_int_equal(conn_peer_credit(&c), 0);
	assert_int_equal(guest_credit(&c, 2001, 1000), CONN_FX_RX);
	assert_int_equal(conn_peer_credit(&c), 1);
}

static void test_peer_credit_wraps(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	c.tx_cnt = UINT32_MAX - 99;
	c.peer_fwd_cnt = UINT32_MAX - 199; /* 100 bytes in flight */
	assert_int_equal(conn_peer_credit(&c), PEER_BUF - 100);
	assert_int_equal(conn_rx_room(&c), PEER_BUF - 100);
	conn_on_read(&c, 300, false);
	assert_int_equal(c.tx_cnt, 200); /* wrapped */
	assert_int_equal(conn_peer_credit(&c), PEER_BUF - 400);
	/* The guest's fwd_cnt wraps too: it consumed all but 50. */
	assert_int_equal(guest_credit(&c, PEER_BUF, 150), 0);
	assert_int_equal(conn_peer_credit(&c), PEER_BUF - 50);
	/* All of the credit across the wrap, then none. */
	conn_on_read(&c, PEER_BUF - 50, false);
	assert_int_equal(conn_peer_credit(&c), 0);
	assert_int_equal(conn_rx_room(&c), 0);
	assert_true(c.credit_requested);
}

static void test_rx_room_is_the_credit(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	assert_int_equal(conn_rx_room(&c), PEER_BUF);
	conn_on_read(&c, 4096, false);
	assert_int_equal(conn_rx_room(&c), PEER_BUF - 4096);
	assert_int_equal(c.pending, 0);
}

static void test_rx_room_zero_without_data(void **state)
{
	struct conn c;

	(void)state;
	/* Not readable: nothing to read, and no CREDIT_REQUEST for nothing,
	 * even at zero credit. */
	open_established(&c);
	assert_int_equal(conn_rx_room(&c), 0);
	c.tx_cnt = PEER_BUF;
	assert_int_equal(conn_rx_room(&c), 0);
	assert_int_equal(c.pending, 0);
	assert_false(c.credit_requested);
	/* Readable but the host sent its EOF. */
	open_readable(&c);
	assert_int_equal(conn_on_host_eof(&c, true), CONN_FX_RX);
	c.readable = true;
	expect_ctrl(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, 0);
	assert_int_equal(conn_rx_room(&c), 0);
}

static void test_credit_request_owed_once(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	conn_on_read(&c, PEER_BUF, false);
	assert_true(conn_has_work(&c)); /* the CREDIT_REQUEST to come */
	assert_int_equal(conn_rx_room(&c), 0);
	assert_int_equal(c.pending, PEND_CREDIT_REQUEST);
	assert_true(c.credit_requested);
	assert_int_equal(conn_rx_room(&c), 0);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 0);
	/* Still blocked: not asked again. */
	assert_int_equal(conn_rx_room(&c), 0);
	assert_int_equal(c.pending, 0);
	assert_false(conn_has_work(&c));
	expect_no_ctrl(&c);
	/* An update that frees nothing changes nothing. */
	assert_int_equal(guest_credit(&c, PEER_BUF, 0), 0);
	assert_true(c.credit_requested);
	assert_int_equal(conn_rx_room(&c), 0);
	assert_int_equal(c.pending, 0);
}

static void test_credit_request_again_after_unblock(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	conn_on_read(&c, PEER_BUF, false);
	assert_int_equal(conn_rx_room(&c), 0);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 0);
	/* The guest's update unblocks a readable connection: ready again. */
	assert_int_equal(guest_credit(&c, PEER_BUF, 4096), CONN_FX_RX);
	assert_false(c.credit_requested);
	assert_true(conn_has_work(&c));
	assert_int_equal(conn_rx_room(&c), 4096);
	conn_on_read(&c, 4096, false);
	/* Blocked again: one more request. */
	assert_int_equal(conn_rx_room(&c), 0);
	assert_int_equal(c.pending, PEND_CREDIT_REQUEST);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 0);
	assert_int_equal(conn_rx_room(&c), 0);
	assert_int_equal(c.pending, 0);
}

static void test_credit_update_unblocks_only_readable(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	conn_on_read(&c, PEER_BUF, true); /* emptied the socket */
	assert_false(c.readable);
	assert_int_equal(conn_rx_room(&c), 0);
	assert_int_equal(c.pending, 0); /* nothing to send: nothing asked */
	c.credit_requested = true;      /* as if asked earlier */
	assert_int_equal(guest_credit(&c, PEER_BUF, 100), 0);
	assert_false(c.credit_requested);
	assert_int_equal(conn_peer_credit(&c), 100);
	/* Not blocked before: an update is no new readiness. */
	assert_int_equal(conn_on_host_readable(&c, false), CONN_FX_RX);
	assert_int_equal(guest_credit(&c, PEER_BUF, 200), 0);
	assert_int_equal(conn_peer_credit(&c), 200);
}

/* ---------------------------------------------------------------- */
/* guest -> host credit                                              */

static void test_guest_counters_wrap(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	c.rx_cnt = c.fwd_cnt = UINT32_MAX - 999;
	c.lim_sent = c.fwd_cnt + BUF;
	assert_int_equal(guest_data(&c, 3000), CONN_FX_WRITE);
	assert_int_equal(c.rx_cnt, 2000); /* wrapped */
	assert_int_equal(conn_queued(&c), 3000);
	/* Exactly the rest of the buffer, across the wrap. */
	assert_int_equal(guest_data(&c, BUF - 3000), CONN_FX_WRITE);
	assert_int_equal(conn_queued(&c), BUF);
	assert_int_equal(conn_on_written(&c, 1000), CONN_FX_RX); /* update owed */
	assert_int_equal(c.fwd_cnt, 0);
	assert_int_equal(conn_queued(&c), BUF - 1000);
	assert_int_equal(conn_on_written(&c, BUF - 1000), CONN_FX_RX);
	assert_int_equal(conn_queued(&c), 0);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0);
	assert_int_equal(c.lim_sent, (uint32_t)(BUF - 1000 + BUF));
	/* The whole buffer is free again. */
	assert_int_equal(guest_data(&c, BUF), CONN_FX_WRITE);
	assert_int_equal(c.why, CONN_WHY_NONE);
}

static void test_credit_update_below_half(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	assert_int_equal(guest_data(&c, BUF / 2 + 1), CONN_FX_WRITE);
	assert_int_equal(conn_on_written(&c, BUF / 2 + 1), CONN_FX_RX);
	assert_int_equal(c.pending, PEND_CREDIT_UPDATE);
	assert_true(conn_has_work(&c));
	expect_ctrl(&c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0);
	assert_int_equal(c.fwd_cnt, BUF / 2 + 1);
	assert_int_equal(c.pending, 0);
	expect_no_ctrl(&c);
}

static void test_credit_update_not_at_half(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	/* The guest still sees half the buffer free: no update. */
	assert_int_equal(guest_data(&c, BUF / 2), CONN_FX_WRITE);
	assert_int_equal(conn_on_written(&c, BUF / 2), 0);
	assert_int_equal(c.pending, 0);
	/* One byte more and its view drops below half. */
	assert_int_equal(guest_data(&c, 1), CONN_FX_WRITE);
	assert_int_equal(conn_on_written(&c, 1), CONN_FX_RX);
	assert_int_equal(c.pending, PEND_CREDIT_UPDATE);
}

static void test_credit_update_needs_freed_space(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	/* The buffer is full, but the host took nothing: nothing to tell. */
	assert_int_equal(guest_data(&c, BUF), CONN_FX_WRITE);
	assert_int_equal(conn_on_written(&c, 0), 0);
	assert_int_equal(c.pending, 0);
	assert_int_equal(conn_on_written(&c, 1), CONN_FX_RX);
	assert_int_equal(c.pending, PEND_CREDIT_UPDATE);
}

static void test_credit_update_cleared_by_data(void **state)
{
	struct conn c;
	struct vsock_hdr h;

	(void)state;
	open_readable(&c);
	assert_int_equal(guest_data(&c, BUF - 10), CONN_FX_WRITE);
	assert_int_equal(conn_on_written(&c, BUF - 10), CONN_FX_RX);
	assert_int_equal(c.pending, PEND_CREDIT_UPDATE);
	/* Data to the guest carries fwd_cnt: no separate update. */
	conn_hdr(&c, VIRTIO_VSOCK_OP_RW, &h);
	assert_int_equal(h.fwd_cnt, BUF - 10);
	assert_int_equal(h.buf_alloc, BUF);
	assert_int_equal(h.len, 0);
	assert_int_equal(h.flags, 0);
	conn_on_read(&c, 100, false);
	assert_int_equal(c.pending, 0);
	assert_int_equal(c.lim_sent, (uint32_t)(BUF - 10 + BUF));
	/* The guest's view is fresh: a little more is no reason to update. */
	assert_int_equal(guest_data(&c, 100), CONN_FX_WRITE);
	assert_int_equal(conn_on_written(&c, 100), 0);
	assert_int_equal(c.pending, 0);
}

/* The next control packet must be a CREDIT_UPDATE advertising buf_alloc. */
static void expect_update_of(struct conn *c, uint32_t buf_alloc)
{
	struct vsock_hdr h;
	unsigned fx = 0xdead;

	assert_true(conn_next_ctrl(c, &h, &fx));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(h.buf_alloc, buf_alloc);
	assert_int_equal(h.fwd_cnt, c->fwd_cnt);
	assert_int_equal(fx, 0);
	assert_int_equal(c->lim_sent, c->fwd_cnt + buf_alloc);
}

static void test_headroom_widens_the_window(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	/* The host socket says it takes half a buffer more at once. */
	conn_set_headroom(&c, BUF / 2);
	assert_int_equal(guest_data(&c, BUF / 2), CONN_FX_WRITE);
	/* Guest credit BUF / 2 is below half the new window (3/4 BUF), and
	 * an update gives more: owed, though half our buffer is free. */
	assert_int_equal(conn_on_written(&c, BUF / 2), CONN_FX_RX);
	expect_update_of(&c, BUF + BUF / 2);
	/* The guest may now have one and a half buffers in flight... */
	assert_int_equal(guest_data(&c, BUF), CONN_FX_WRITE);
	assert_int_equal(guest_data(&c, BUF / 2), CONN_FX_WRITE);
	assert_int_equal(conn_queued(&c), BUF + BUF / 2);
	assert_int_equal(c.why, CONN_WHY_NONE);
	/* ...and not a byte more. */
	assert_int_equal(guest_data(&c, 1), FX_RESET);
	assert_int_equal(c.why, CONN_WHY_BEYOND_CREDIT);
}

static void test_headroom_capped_at_buffer(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	conn_set_headroom(&c, 3 * BUF);
	assert_int_equal(c.headroom, BUF);
	assert_int_equal(conn_adv_buf_alloc(&c), 2 * BUF);
}

/* The largest tx-buffer-size (1 GiB) with as much headroom: the window
 * stays under 2^31, where the signed credit arithmetic still holds, and
 * the guest may use all of it. */
static void test_headroom_window_below_2g(void **state)
{
	const uint32_t big = 1u << 30;
	struct vsock_hdr h = guest_request(VSOCK_HOST_CID), out;
	struct conn c;
	unsigned fx;

	(void)state;
	conn_init(&c, GUEST_CID, big);
	assert_int_equal(conn_guest_request(&c, &h, false), CONN_FX_RX);
	conn_set_headroom(&c, big);
	assert_true(conn_next_ctrl(&c, &out, &fx));
	assert_int_equal(out.op, VIRTIO_VSOCK_OP_RESPONSE);
	assert_int_equal(out.buf_alloc, INT32_MAX);
	assert_int_equal(conn_guest_credit(&c), INT32_MAX);
	assert_int_equal(guest_data(&c, big), CONN_FX_WRITE);
	assert_int_equal(guest_data(&c, big - 1), CONN_FX_WRITE);
	assert_int_equal(c.why, CONN_WHY_NONE);
	assert_int_equal(conn_guest_credit(&c), 0);
	assert_int_equal(guest_data(&c, 1), FX_RESET);
}

/* Headroom that vanishes (the socket filled) must not take back what the
 * guest was promised: a Linux guest computes credit in u32 and would
 * overrun a window that shrank under its data. */
static void test_promise_survives_headroom_drop(void **state)
{
	struct conn c;
	struct vsock_hdr h;

	(void)state;
	open_readable(&c);
	conn_set_headroom(&c, BUF);
	assert_int_equal(guest_data(&c, BUF), CONN_FX_WRITE);
	assert_int_equal(conn_on_written(&c, BUF), CONN_FX_RX);
	expect_update_of(&c, 2 * BUF);
	assert_int_equal(guest_data(&c, BUF), CONN_FX_WRITE);
	conn_set_headroom(&c, 0);
	/* Data to the guest still advertises all that is outstanding. */
	conn_hdr(&c, VIRTIO_VSOCK_OP_RW, &h);
	assert_int_equal(h.buf_alloc, 2 * BUF);
	conn_on_read(&c, 100, false);
	assert_int_equal(c.lim_sent, 3 * BUF);
	/* The socket took nothing more: the rest of the promise is usable. */
	assert_int_equal(guest_data(&c, BUF), CONN_FX_WRITE);
	assert_int_equal(conn_queued(&c), 2 * BUF);
	assert_int_equal(c.why, CONN_WHY_NONE);
	/* Once all is forwarded the window is back to the buffer alone. */
	assert_int_equal(conn_on_written(&c, 2 * BUF), CONN_FX_RX);
	expect_update_of(&c, BUF);
}

/* More headroom while the guest still has over half the window: no
 * update just for that. */
static void test_headroom_alone_no_update(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	conn_set_headroom(&c, BUF / 2);
	assert_int_equal(guest_data(&c, 100), CONN_FX_WRITE);
	assert_int_equal(conn_on_written(&c, 100), 0);
	assert_int_equal(c.pending, 0);
}

static void test_credit_update_before_request(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	conn_on_read(&c, PEER_BUF, false);
	assert_int_equal(guest_data(&c, BUF), CONN_FX_WRITE);
	assert_int_equal(conn_on_written(&c, BUF), CONN_FX_RX);
	assert_int_equal(conn_rx_room(&c), 0);
	assert_int_equal(c.pending, PEND_CREDIT_UPDATE | PEND_CREDIT_REQUEST);
	/* The update goes first, then the request (carrying fwd_cnt too). */
	expect_ctrl(&c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 0);
	expect_no_ctrl(&c);
}

static void test_guest_credit_request_owes_update(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	assert_int_equal(guest_data(&c, 100), CONN_FX_WRITE);
	assert_int_equal(conn_on_written(&c, 60), 0);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0), CONN_FX_RX);
	assert_int_equal(c.pending, PEND_CREDIT_UPDATE);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0);
	assert_int_equal(c.fwd_cnt, 60);
	assert_int_equal(c.lim_sent, (uint32_t)(60 + BUF));
}

static void test_no_credit_update_after_guest_shut_send(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	assert_int_equal(guest_data(&c, BUF), CONN_FX_WRITE);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
	/* The guest sends no more: freed space is nothing to it. */
	assert_int_equal(conn_on_written(&c, BUF), CONN_FX_SHUT_WR);
	assert_int_equal(c.pending, 0);
}

/* ---------------------------------------------------------------- */
/* the data gate                                                     */

static void test_data_written_when_established(void **state)
{
	struct conn c;
	struct vsock_hdr h;

	(void)state;
	open_established(&c);
	h = from_guest(&c, VIRTIO_VSOCK_OP_RW);
	h.len = 1500;
	h.buf_alloc = 8192; /* the packet's credit fields are taken */
	h.fwd_cnt = 17;
	assert_int_equal(conn_accept_data(&c, &h), CONN_FX_WRITE);
	assert_int_equal(c.rx_cnt, 1500);
	assert_int_equal(c.fwd_cnt, 0);
	assert_int_equal(conn_queued(&c), 1500);
	assert_int_equal(c.peer_buf_alloc, 8192);
	assert_int_equal(c.peer_fwd_cnt, 17);
	assert_int_equal(c.pending, 0);
	/* The same through conn_on_guest. */
	assert_int_equal(conn_on_guest(&c, &h), CONN_FX_WRITE);
	assert_int_equal(conn_queued(&c), 3000);
}

static void test_data_len_zero_no_write(void **state)
{
	struct conn c;
	struct vsock_hdr h;

	(void)state;
	open_established(&c);
	h = from_guest(&c, VIRTIO_VSOCK_OP_RW);
	h.buf_alloc = 12345;
	assert_int_equal(conn_accept_data(&c, &h), 0);
	assert_int_equal(c.rx_cnt, 0);
	assert_int_equal(c.peer_buf_alloc, 12345);
	assert_int_equal(c.state, CONN_ESTABLISHED);
	/* Even where data would be a violation. */
	open_offered(&c);
	assert_int_equal(guest_data(&c, 0), 0);
	assert_int_equal(c.state, CONN_OFFERED);
}

static void test_data_in_other_states_resets(void **state)
{
	struct conn c;

	(void)state;
	open_connecting(&c);
	assert_int_equal(guest_data(&c, 10), CONN_FX_ARM | FX_RESET);
	assert_int_not_equal(c.why, CONN_WHY_NONE);
	assert_resetting(&c);
	assert_int_equal(c.rx_cnt, 0);

	open_offered(&c);
	assert_int_equal(guest_data(&c, 10), CONN_FX_ARM | FX_RESET);
	assert_int_not_equal(c.why, CONN_WHY_NONE);
	assert_resetting(&c);

	open_closing(&c);
	assert_int_equal(guest_data(&c, 10), CONN_FX_ARM | FX_RESET);
	assert_int_not_equal(c.why, CONN_WHY_NONE);
	assert_resetting(&c);
	assert_int_equal(c.rx_cnt, 1000);

	/* Unknown to the guest: freed without an RST. */
	open_handshake(&c);
	assert_int_equal(guest_data(&c, 10), CONN_FX_ARM | CONN_FX_CLOSE | CONN_FX_FREE);
	assert_int_not_equal(c.why, CONN_WHY_NONE);
	assert_int_equal(c.pending, 0);
}

static void test_data_after_shutdown_send_resets(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND),
			 CONN_FX_SHUT_WR);
	assert_int_equal(c.why, CONN_WHY_NONE);
	assert_int_equal(guest_data(&c, 1), FX_RESET);
	assert_int_not_equal(c.why, CONN_WHY_NONE);
	assert_resetting(&c);
	assert_int_equal(c.rx_cnt, 0);
}

static void test_data_beyond_credit_resets(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	assert_int_equal(guest_data(&c, BUF - 100), CONN_FX_WRITE);
	assert_int_equal(guest_data(&c, 101), FX_RESET);
	assert_int_not_equal(c.why, CONN_WHY_NONE);
	assert_resetting(&c);
	assert_int_equal(c.rx_cnt, BUF - 100);
	/* One packet larger than the whole buffer. */
	open_established(&c);
	assert_int_equal(guest_data(&c, BUF + 1), FX_RESET);
	assert_int_not_equal(c.why, CONN_WHY_NONE);
	assert_int_equal(c.rx_cnt, 0);
}

static void test_data_at_credit_limit_accepted(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	assert_int_equal(guest_data(&c, BUF - 100), CONN_FX_WRITE);
	assert_int_equal(guest_data(&c, 100), CONN_FX_WRITE);
	assert_int_equal(conn_queued(&c), BUF);
	/* What the host took is free again, to the byte. */
	assert_int_equal(conn_on_written(&c, 50), CONN_FX_RX);
	assert_int_equal(guest_data(&c, 50), CONN_FX_WRITE);
	assert_int_equal(c.why, CONN_WHY_NONE);
	assert_int_equal(guest_data(&c, 1), FX_RESET);
	assert_int_not_equal(c.why, CONN_WHY_NONE);
}

static void test_packets_ignored_after_reset(void **state)
{
	static const uint16_t ops[] = {
		VIRTIO_VSOCK_OP_REQUEST,       VIRTIO_VSOCK_OP_RESPONSE,
		VIRTIO_VSOCK_OP_RST,           VIRTIO_VSOCK_OP_SHUTDOWN,
		VIRTIO_VSOCK_OP_RW,            VIRTIO_VSOCK_OP_CREDIT_UPDATE,
		VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 99,
	};
	struct conn c;

	(void)state;
	open_readable(&c);
	conn_on_read(&c, PEER_BUF, false); /* blocked: an update would unblock */
	assert_int_equal(conn_reset(&c), FX_RESET);
	assert_int_equal(c.why, CONN_WHY_NONE);
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct vsock_hdr h = from_guest(&c, ops[i]);

		h.len = ops[i] == VIRTIO_VSOCK_OP_RW ? 100 : 0;
		h.flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
		h.buf_alloc = 2 * PEER_BUF;
		h.fwd_cnt = PEER_BUF;
		assert_int_equal(conn_on_guest(&c, &h), 0);
		assert_int_equal(conn_accept_data(&c, &h), 0);
		assert_resetting(&c);
		assert_int_equal(c.rx_cnt, 0);
		assert_int_equal(c.guest_shut, 0);
		assert_int_equal(c.peer_buf_alloc, PEER_BUF);
		assert_int_equal(c.why, CONN_WHY_NONE);
	}
}

/* ---------------------------------------------------------------- */
/* guest ops                                                         */

enum outcome { O_NONE, O_RESET, O_FREE, O_ESTAB, O_UPDATE };

/* Every op the guest can send on a connection, in every state it can
 * address one in (HANDSHAKE connections have no guest port yet). */
static void test_every_op_in_every_state(void **state)
{
	enum { S_CONNECTING, S_OFFERED, S_ESTABLISHED, S_CLOSING, S_N };
	static const struct {
		uint16_t op;
		enum outcome out[S_N];
	} table[] = {
		{ VIRTIO_VSOCK_OP_REQUEST, { O_RESET, O_RESET, O_RESET, O_RESET } },
		{ VIRTIO_VSOCK_OP_RESPONSE, { O_RESET, O_ESTAB, O_RESET, O_RESET } },
		{ VIRTIO_VSOCK_OP_RST, { O_FREE, O_FREE, O_FREE, O_FREE } },
		{ VIRTIO_VSOCK_OP_SHUTDOWN, { O_NONE, O_NONE, O_NONE, O_NONE } }, /* flags 0 */
		{ VIRTIO_VSOCK_OP_RW, { O_NONE, O_NONE, O_NONE, O_NONE } },       /* len 0 */
		{ VIRTIO_VSOCK_OP_CREDIT_UPDATE, { O_NONE, O_NONE, O_NONE, O_NONE } },
		{ VIRTIO_VSOCK_OP_CREDIT_REQUEST, { O_UPDATE, O_UPDATE, O_UPDATE, O_UPDATE } },
		{ 0, { O_RESET, O_RESET, O_RESET, O_RESET } },
		{ 8, { O_RESET, O_RESET, O_RESET, O_RESET } },
		{ 0xffff, { O_RESET, O_RESET, O_RESET, O_RESET } },
	};
	static const enum conn_state states[S_N] = { CONN_CONNECTING, CONN_OFFERED,
						     CONN_ESTABLISHED, CONN_CLOSING };

	(void)state;
	for (unsigned i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		for (unsigned s = 0; s < S_N; s++) {
			struct conn c;
			unsigned armed, fx;

			switch (s) {
			case S_CONNECTING: open_connecting(&c); break;
			case S_OFFERED: open_offered(&c); break;
			case S_ESTABLISHED: open_readable(&c); break;
			default: open_closing(&c); break;
			}
			assert_int_equal(c.state, states[s]);
			armed = c.deadline_ms ? CONN_FX_ARM : 0;
			fx = guest_op(&c, table[i].op, 0);
			switch (table[i].out[s]) {
			case O_NONE:
				assert_int_equal(fx, 0);
				assert_int_equal(c.state, states[s]);
				assert_int_equal(c.pending, 0);
				break;
			case O_RESET:
				assert_int_equal(fx, armed | FX_RESET);
				assert_resetting(&c);
				assert_int_not_equal(c.why, CONN_WHY_NONE);
				break;
			case O_FREE:
				assert_int_equal(fx, CONN_FX_CLOSE | CONN_FX_FREE);
				assert_int_equal(c.pending & PEND_RST, 0);
				break;
			case O_ESTAB:
				assert_int_equal(fx, armed | CONN_FX_ESTAB | CONN_FX_RX);
				assert_int_equal(c.state, CONN_ESTABLISHED);
				assert_int_equal(c.deadline_ms, 0);
				break;
			case O_UPDATE:
				assert_int_equal(fx, CONN_FX_RX);
				assert_int_equal(c.state, states[s]);
				assert_int_equal(c.pending, PEND_CREDIT_UPDATE);
				break;
			}
		}
	}
}

static void test_response_establishes_offered(void **state)
{
	struct conn c;
	struct vsock_hdr h;
	uint64_t t0, t1;

	(void)state;
	conn_init(&c, GUEST_CID, BUF);
	t0 = now_ms();
	assert_int_equal(conn_offer(&c, VSOCK_HOST_CID, HOST_PORT, GUEST_PORT),
			 CONN_FX_RX | CONN_FX_ARM);
	t1 = now_ms();
	assert_armed(&c, t0, t1);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_REQUEST, 0, 0);
	h = from_guest(&c, VIRTIO_VSOCK_OP_RESPONSE);
	h.buf_alloc = PEER_BUF;
	h.fwd_cnt = 0;
	assert_int_equal(conn_on_guest(&c, &h), CONN_FX_ARM | CONN_FX_ESTAB | CONN_FX_RX);
	assert_int_equal(c.state, CONN_ESTABLISHED);
	assert_int_equal(c.deadline_ms, 0);
	assert_int_equal(c.peer_buf_alloc, PEER_BUF);
	/* Bytes waiting behind the handshake may go now. */
	assert_true(conn_has_work(&c));
	assert_int_equal(conn_rx_room(&c), PEER_BUF);
	/* A second RESPONSE answers nothing. */
	assert_int_equal(conn_on_guest(&c, &h), FX_RESET);
	assert_int_not_equal(c.why, CONN_WHY_NONE);
}

static void test_response_establishes_not_readable(void **state)
{
	struct conn c;
	struct vsock_hdr h;
	enum conn_timeout_why why;

	(void)state;
	open_offered(&c);
	conn_on_host_drained(&c);
	h = from_guest(&c, VIRTIO_VSOCK_OP_RESPONSE);
	h.buf_alloc = PEER_BUF;
	assert_int_equal(conn_on_guest(&c, &h), CONN_FX_ARM | CONN_FX_ESTAB);
	assert_int_equal(c.state, CONN_ESTABLISHED);
	assert_false(conn_has_work(&c));
	/* Timing out is over. */
	assert_int_equal(conn_on_timeout(&c, UINT64_MAX, &why), 0);
	assert_int_equal(why, CONN_TMO_NONE);
}

static void test_response_unasked_resets(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_RESPONSE, 0), FX_RESET);
	assert_int_not_equal(c.why, CONN_WHY_NONE);
	assert_resetting(&c);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_RST, 0, CONN_FX_FREE);

	open_connecting(&c);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_RESPONSE, 0), CONN_FX_ARM | FX_RESET);
	assert_resetting(&c);
}

static void test_rst_frees_never_answered(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0), CONN_FX_RX);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_RST, 0), CONN_FX_CLOSE | CONN_FX_FREE);
	assert_int_equal(c.pending & PEND_RST, 0);
	assert_int_equal(c.why, CONN_WHY_NONE);
	/* The guest refusing our REQUEST. */
	open_offered(&c);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_RST, 0), CONN_FX_CLOSE | CONN_FX_FREE);
	assert_int_equal(c.pending & PEND_RST, 0);
}

/* An RST whose credit fields would unblock the connection still only frees
 * it: a freed connection is put on no ready list. */
static void test_rst_with_credit_only_frees(void **state)
{
	struct conn c;
	struct vsock_hdr h;

	(void)state;
	open_readable(&c);
	conn_on_read(&c, PEER_BUF, false);
	assert_int_equal(conn_rx_room(&c), 0);
	h = from_guest(&c, VIRTIO_VSOCK_OP_RST);
	h.fwd_cnt = PEER_BUF;
	assert_int_equal(conn_on_guest(&c, &h), CONN_FX_CLOSE | CONN_FX_FREE);
	assert_int_equal(c.pending & PEND_RST, 0);
}

static void test_unknown_op_resets(void **state)
{
	static const uint16_t ops[] = { 0, 8, 0x100, 0xffff };
	struct conn c;

	(void)state;
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		open_readable(&c);
		assert_int_equal(guest_op(&c, ops[i], 0), FX_RESET);
		assert_int_not_equal(c.why, CONN_WHY_NONE);
		expect_rst_last(&c);
	}
}

/* ---------------------------------------------------------------- */
/* resets                                                            */

static void test_reset_rst_is_the_last_word(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	conn_on_read(&c, PEER_BUF, false);
	assert_int_equal(conn_rx_room(&c), 0);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0), CONN_FX_RX);
	assert_int_equal(conn_on_host_eof(&c, true), CONN_FX_RX);
	assert_int_equal(c.pending, PEND_CREDIT_UPDATE | PEND_CREDIT_REQUEST | PEND_SHUTDOWN);
	assert_int_equal(conn_reset(&c), FX_RESET);
	assert_resetting(&c);
	assert_int_equal(c.why, CONN_WHY_NONE);
	assert_true(conn_has_work(&c));
	assert_int_equal(conn_rx_room(&c), 0);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_RST, 0, CONN_FX_FREE);
	expect_no_ctrl(&c);
	assert_false(conn_has_work(&c));
}

static void test_reset_disarms(void **state)
{
	struct conn c;

	(void)state;
	open_offered(&c);
	assert_int_not_equal(c.deadline_ms, 0);
	assert_int_equal(conn_reset(&c), CONN_FX_ARM | FX_RESET);
	assert_resetting(&c);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_RST, 0, CONN_FX_FREE);
}

static void test_reset_handshake_frees_silently(void **state)
{
	struct conn c;

	(void)state;
	open_handshake(&c);
	assert_int_equal(conn_reset(&c), CONN_FX_ARM | CONN_FX_CLOSE | CONN_FX_FREE);
	assert_int_equal(c.pending, 0);
	assert_int_equal(c.deadline_ms, 0);
	expect_no_ctrl(&c);
}

/* ---------------------------------------------------------------- */
/* half close                                                        */

static void test_guest_shut_send_waits_for_buffer(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	assert_int_equal(guest_data(&c, 3000), CONN_FX_WRITE);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
	assert_false(c.host_shut_wr);
	assert_int_equal(conn_on_written(&c, 1000), 0);
	assert_int_equal(conn_on_written(&c, 2000), CONN_FX_SHUT_WR);
	assert_true(c.host_shut_wr);
	/* Once. */
	assert_int_equal(conn_on_written(&c, 0), 0);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
	assert_int_equal(c.state, CONN_ESTABLISHED);
	assert_int_equal(c.pending, 0);
}

static void test_guest_shut_send_empty_buffer(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND),
			 CONN_FX_SHUT_WR);
	assert_int_equal(c.state, CONN_ESTABLISHED);
	assert_int_equal(c.pending, 0);
	/* The other direction still flows. */
	assert_int_equal(conn_rx_room(&c), PEER_BUF);
}

static void test_host_eof_owes_shutdown_send(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	assert_int_equal(conn_on_host_eof(&c, true), CONN_FX_RX);
	assert_true(c.host_eof);
	assert_false(c.readable);
	assert_int_equal(c.pending, PEND_SHUTDOWN);
	assert_int_equal(conn_rx_room(&c), 0);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, 0);
	assert_int_equal(c.state, CONN_ESTABLISHED);
	assert_false(conn_has_work(&c));
	/* The guest may still send. */
	assert_int_equal(guest_data(&c, 10), CONN_FX_WRITE);
}

/* The host side closed (its socket refuses even a zero-length send): the
 * guest hears both flags at once, as from a kernel peer's close(), so its
 * send() fails with EPIPE instead of succeeding into nowhere. */
static void test_host_close_owes_shutdown_rcv_send(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	assert_int_equal(conn_on_host_eof(&c, false), CONN_FX_RX);
	assert_true(c.host_eof);
	assert_true(c.host_rd_shut);
	assert_int_equal(c.pending, PEND_SHUTDOWN);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_SHUTDOWN,
		    VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, 0);
	expect_no_ctrl(&c);
	/* Data still in flight from the guest is dropped, its credit given
	 * back as if the host had read it. */
	assert_int_equal(guest_data(&c, 700), 0);
	assert_int_equal(conn_queued(&c), 0);
	assert_int_equal(c.fwd_cnt, 700);
}

/* A write found the host's read side shut (EPIPE): what we held for it is
 * dropped and the guest hears SHUTDOWN RCV, once; the other direction
 * still flows. */
static void test_host_shut_rd_drops_and_owes_rcv(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	assert_int_equal(guest_data(&c, 1000), CONN_FX_WRITE);
	assert_int_equal(conn_on_host_shut_rd(&c), CONN_FX_RX);
	assert_int_equal(conn_queued(&c), 0);
	assert_int_equal(c.fwd_cnt, 1000);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV, 0);
	assert_int_equal(conn_on_host_shut_rd(&c), 0);
	expect_no_ctrl(&c);
	assert_int_equal(c.state, CONN_ESTABLISHED);
	assert_int_equal(conn_rx_room(&c), PEER_BUF);
	/* Dropped data past half our buffer still earns a credit update. */
	assert_int_equal(guest_data(&c, BUF / 2 + 1), CONN_FX_RX);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0);
	/* The host's EOF later completes the picture: SEND joins RCV. */
	assert_int_equal(conn_on_host_eof(&c, false), CONN_FX_RX);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_SHUTDOWN,
		    VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, 0);
}

/* The guest closed and we were flushing its last bytes when the host
 * stopped reading: nothing is left to flush, the close completes. */
static void test_host_shut_rd_ends_close_flush(void **state)
{
	struct conn c;

	(void)state;
	open_closing(&c);
	assert_int_equal(conn_on_host_shut_rd(&c), CONN_FX_ARM | FX_RESET);
	expect_rst_last(&c);
}

/* Both halves: the guest shut SEND (host write side shut), the host
 * closed: once the guest heard RCV|SEND the connection is reset. */
static void test_host_close_after_guest_shut_send(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND),
			 CONN_FX_SHUT_WR);
	assert_int_equal(conn_on_host_eof(&c, false), CONN_FX_RX);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_SHUTDOWN,
		    VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, FX_RESET);
	expect_rst_last(&c);
}

/* SHUTDOWN RCV before the backend's connect finished shuts nothing: the
 * socket is not connected yet. */
static void test_guest_shut_rcv_while_connecting(void **state)
{
	struct conn c;

	(void)state;
	open_connecting(&c);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV), 0);
	assert_int_equal(c.guest_shut, VIRTIO_VSOCK_SHUTDOWN_RCV);
}

static void test_both_halves_reset_after_shutdown_sent(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND),
			 CONN_FX_SHUT_WR);
	assert_int_equal(conn_on_host_eof(&c, true), CONN_FX_RX);
	/* Not before the guest has heard our SHUTDOWN. */
	assert_int_equal(c.state, CONN_ESTABLISHED);
	assert_int_equal(c.pending, PEND_SHUTDOWN);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, FX_RESET);
	expect_rst_last(&c);
}

static void test_host_eof_then_guest_shut_send(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	assert_int_equal(conn_on_host_eof(&c, true), CONN_FX_RX);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, 0);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND),
			 CONN_FX_SHUT_WR | FX_RESET);
	assert_resetting(&c);
}

/* The host's EOF came first and our SHUTDOWN still waits for an rx buffer:
 * the guest's SHUTDOWN SEND shuts the host's write side, but the reset
 * waits until the guest has heard ours. */
static void test_both_halves_wait_for_our_shutdown(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	assert_int_equal(conn_on_host_eof(&c, true), CONN_FX_RX);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND),
			 CONN_FX_SHUT_WR);
	assert_int_equal(c.state, CONN_ESTABLISHED);
	assert_int_equal(c.pending, PEND_SHUTDOWN);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, FX_RESET);
	assert_resetting(&c);
}

static void test_both_halves_wait_for_buffer(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	assert_int_equal(guest_data(&c, 500), CONN_FX_WRITE);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
	assert_int_equal(conn_on_host_eof(&c, true), CONN_FX_RX);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, 0);
	assert_int_equal(c.state, CONN_ESTABLISHED);
	assert_int_equal(conn_on_written(&c, 499), 0);
	assert_int_equal(conn_on_written(&c, 1), CONN_FX_SHUT_WR | FX_RESET);
	assert_resetting(&c);
}

static void test_guest_shut_rcv_stops_reads(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	/* The host's socket is shut for reading: its writes fail. */
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV),
			 CONN_FX_SHUT_RD);
	assert_int_equal(c.guest_shut, VIRTIO_VSOCK_SHUTDOWN_RCV);
	/* Said once. */
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV), 0);
	assert_int_equal(conn_rx_room(&c), 0);
	assert_false(conn_has_work(&c));
	/* Blocked or not, nothing is asked for. */
	conn_on_read(&c, PEER_BUF, false);
	assert_int_equal(conn_rx_room(&c), 0);
	assert_int_equal(c.pending, 0);
	/* The guest still sends; the host still writes. */
	assert_int_equal(guest_data(&c, 100), CONN_FX_WRITE);
	assert_int_equal(conn_on_written(&c, 100), 0);
	assert_int_equal(c.state, CONN_ESTABLISHED);
	assert_false(c.host_shut_wr);
}

/* ---------------------------------------------------------------- */
/* full close                                                        */

static void test_full_close_empty_resets(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	/* Armed for the flush and disarmed by the reset at once. */
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN,
				  VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND),
			 CONN_FX_ARM | FX_RESET);
	assert_resetting(&c);
	assert_int_equal(c.why, CONN_WHY_NONE);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_RST, 0, CONN_FX_FREE);
}

static void test_full_close_flushes_then_resets(void **state)
{
	struct conn c;
	uint64_t t0, t1;

	(void)state;
	open_established(&c);
	assert_int_equal(guest_data(&c, 1000), CONN_FX_WRITE);
	t0 = now_ms();
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN,
				  VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND),
			 CONN_FX_ARM | CONN_FX_SHUT_RD);
	t1 = now_ms();
	assert_int_equal(c.state, CONN_CLOSING);
	assert_armed(&c, t0, t1);
	assert_int_equal(c.pending, 0);
	assert_false(c.host_shut_wr); /* the close comes, not a shutdown */
	assert_int_equal(conn_on_written(&c, 400), 0);
	assert_int_equal(c.state, CONN_CLOSING);
	assert_int_equal(c.pending, 0);
	assert_int_equal(conn_on_written(&c, 600), CONN_FX_ARM | FX_RESET);
	assert_resetting(&c);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_RST, 0, CONN_FX_FREE);
}

static void test_full_close_deadline(void **state)
{
	struct conn c;
	enum conn_timeout_why why = CONN_TMO_CLOSE;
	uint64_t d;

	(void)state;
	open_closing(&c);
	d = c.deadline_ms;
	assert_int_equal(conn_on_timeout(&c, d - 1, &why), 0);
	assert_int_equal(why, CONN_TMO_NONE);
	assert_int_equal(c.state, CONN_CLOSING);
	assert_int_equal(c.pending, 0);
	assert_int_equal(c.deadline_ms, d);
	assert_int_equal(conn_on_timeout(&c, d, &why), CONN_FX_ARM | FX_RESET);
	assert_int_equal(why, CONN_TMO_CLOSE);
	assert_resetting(&c);
	/* Spent. */
	assert_int_equal(conn_on_timeout(&c, d + 1000, &why), 0);
	assert_int_equal(why, CONN_TMO_NONE);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_RST, 0, CONN_FX_FREE);
}

static void test_full_close_in_two_shutdowns(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	assert_int_equal(guest_data(&c, 100), CONN_FX_WRITE);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV),
			 CONN_FX_SHUT_RD);
	assert_int_equal(c.state, CONN_ESTABLISHED);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND),
			 CONN_FX_ARM);
	assert_int_equal(c.state, CONN_CLOSING);
	assert_int_not_equal(c.deadline_ms, 0);
	assert_int_equal(conn_on_written(&c, 100), CONN_FX_ARM | FX_RESET);
	assert_resetting(&c);
}

/* ---------------------------------------------------------------- */
/* deadlines                                                         */

static void test_timeout_handshake_frees(void **state)
{
	struct conn c;
	enum conn_timeout_why why = CONN_TMO_CLOSE;
	uint64_t t0, t1;

	(void)state;
	conn_init(&c, GUEST_CID, BUF);
	t0 = now_ms();
	assert_int_equal(conn_handshake(&c), CONN_FX_ARM);
	t1 = now_ms();
	assert_int_equal(c.state, CONN_HANDSHAKE);
	assert_armed(&c, t0, t1);
	assert_int_equal(conn_on_timeout(&c, c.deadline_ms - 1, &why), 0);
	assert_int_equal(why, CONN_TMO_NONE);
	assert_int_equal(conn_on_timeout(&c, c.deadline_ms, &why),
			 CONN_FX_ARM | CONN_FX_CLOSE | CONN_FX_FREE);
	assert_int_equal(why, CONN_TMO_HANDSHAKE);
	assert_int_equal(c.pending, 0); /* no RST: the guest never knew */
	assert_int_equal(c.deadline_ms, 0);
}

static void test_timeout_connecting_resets(void **state)
{
	struct conn c;
	struct vsock_hdr h = guest_request(VSOCK_HOST_CID);
	enum conn_timeout_why why;
	uint64_t t0, t1;

	(void)state;
	conn_init(&c, GUEST_CID, BUF);
	t0 = now_ms();
	assert_int_equal(conn_guest_request(&c, &h, true), CONN_FX_ARM);
	t1 = now_ms();
	assert_armed(&c, t0, t1);
	assert_int_equal(conn_on_timeout(&c, c.deadline_ms - 1, &why), 0);
	assert_int_equal(why, CONN_TMO_NONE);
	assert_int_equal(c.state, CONN_CONNECTING);
	assert_int_equal(conn_on_timeout(&c, c.deadline_ms, &why), CONN_FX_ARM | FX_RESET);
	assert_int_equal(why, CONN_TMO_CONNECT);
	assert_resetting(&c);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_RST, 0, CONN_FX_FREE);
}

static void test_timeout_offered_resets(void **state)
{
	struct conn c;
	enum conn_timeout_why why;

	(void)state;
	open_offered(&c);
	assert_int_equal(conn_on_timeout(&c, c.deadline_ms - 1, &why), 0);
	assert_int_equal(why, CONN_TMO_NONE);
	assert_int_equal(c.state, CONN_OFFERED);
	assert_int_equal(conn_on_timeout(&c, c.deadline_ms + 5, &why), CONN_FX_ARM | FX_RESET);
	assert_int_equal(why, CONN_TMO_GUEST);
	assert_resetting(&c);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_RST, 0, CONN_FX_FREE);
}

static void test_timeout_established_nothing(void **state)
{
	struct conn c;
	enum conn_timeout_why why = CONN_TMO_CLOSE;

	(void)state;
	open_readable(&c);
	c.deadline_ms = 1000;
	assert_int_equal(conn_on_timeout(&c, 999, &why), 0);
	assert_int_equal(c.deadline_ms, 1000);
	/* Only the (spent) deadline changes. */
	assert_int_equal(conn_on_timeout(&c, 1000, &why), CONN_FX_ARM);
	assert_int_equal(why, CONN_TMO_NONE);
	assert_int_equal(c.deadline_ms, 0);
	assert_int_equal(c.state, CONN_ESTABLISHED);
	assert_int_equal(c.pending, 0);
	assert_int_equal(conn_rx_room(&c), PEER_BUF);
}

static void test_timeout_disarmed(void **state)
{
	struct conn c;
	enum conn_timeout_why why = CONN_TMO_CLOSE;

	(void)state;
	open_readable(&c);
	assert_int_equal(c.deadline_ms, 0);
	assert_int_equal(conn_on_timeout(&c, UINT64_MAX, &why), 0);
	assert_int_equal(why, CONN_TMO_NONE);
	/* A connect that completed has no deadline left either. */
	open_connecting(&c);
	assert_int_equal(conn_connected(&c, true, false), CONN_FX_ARM | CONN_FX_RX);
	assert_int_equal(conn_on_timeout(&c, UINT64_MAX, &why), 0);
	assert_int_equal(why, CONN_TMO_NONE);
	assert_int_equal(c.state, CONN_ESTABLISHED);
	assert_int_equal(c.pending, PEND_RESPONSE);
}

/* ---------------------------------------------------------------- */
/* opening                                                           */

static void test_guest_request_immediate(void **state)
{
	struct conn c;
	struct vsock_hdr h = guest_request(VSOCK_HOST_CID);

	(void)state;
	h.fwd_cnt = 777;
	conn_init(&c, GUEST_CID, BUF);
	assert_int_equal(conn_guest_request(&c, &h, false), CONN_FX_RX);
	assert_int_equal(c.state, CONN_ESTABLISHED);
	assert_int_equal(c.peer_cid, VSOCK_HOST_CID);
	assert_int_equal(c.peer_port, HOST_PORT);
	assert_int_equal(c.guest_port, GUEST_PORT);
	assert_int_equal(c.peer_buf_alloc, PEER_BUF);
	assert_int_equal(c.peer_fwd_cnt, 777);
	assert_int_equal(c.pending, PEND_RESPONSE);
	assert_int_equal(c.deadline_ms, 0);
	assert_true(conn_has_work(&c));
	expect_ctrl(&c, VIRTIO_VSOCK_OP_RESPONSE, 0, 0);
	assert_false(conn_has_work(&c));

	/* A sibling VM answers from its own CID. */
	h = guest_request(42);
	conn_init(&c, GUEST_CID, BUF);
	assert_int_equal(conn_guest_request(&c, &h, false), CONN_FX_RX);
	assert_int_equal(c.peer_cid, 42);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_RESPONSE, 0, 0);
}

static void test_guest_request_wait(void **state)
{
	struct conn c;
	struct vsock_hdr h = guest_request(VSOCK_HOST_CID);
	uint64_t t0, t1;

	(void)state;
	conn_init(&c, GUEST_CID, BUF);
	t0 = now_ms();
	assert_int_equal(conn_guest_request(&c, &h, true), CONN_FX_ARM);
	t1 = now_ms();
	assert_int_equal(c.state, CONN_CONNECTING);
	assert_armed(&c, t0, t1);
	assert_int_equal(c.pending, 0);
	assert_int_equal(c.guest_port, GUEST_PORT);
	assert_false(conn_has_work(&c));
	expect_no_ctrl(&c);
}

static void test_connected_ok(void **state)
{
	struct conn c;

	(void)state;
	open_connecting(&c);
	assert_int_equal(conn_connected(&c, true, true), CONN_FX_ARM | CONN_FX_RX);
	assert_int_equal(c.state, CONN_ESTABLISHED);
	assert_int_equal(c.deadline_ms, 0);
	assert_true(c.readable);
	assert_int_equal(c.pending, PEND_RESPONSE);
	/* The RESPONSE opens the stream: no data before it. */
	assert_int_equal(conn_rx_room(&c), 0);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_RESPONSE, 0, 0);
	assert_int_equal(conn_rx_room(&c), PEER_BUF);
	assert_true(conn_has_work(&c));
}

static void test_connected_ok_no_data(void **state)
{
	struct conn c;

	(void)state;
	open_connecting(&c);
	assert_int_equal(conn_connected(&c, true, false), CONN_FX_ARM | CONN_FX_RX);
	assert_false(c.readable);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_RESPONSE, 0, 0);
	assert_int_equal(conn_rx_room(&c), 0);
	assert_false(conn_has_work(&c));
}

static void test_connected_failed(void **state)
{
	struct conn c;

	(void)state;
	open_connecting(&c);
	assert_int_equal(conn_connected(&c, false, true), CONN_FX_ARM | FX_RESET);
	assert_resetting(&c);
	assert_int_equal(c.why, CONN_WHY_NONE);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_RST, 0, CONN_FX_FREE);
	expect_no_ctrl(&c);
}

static void test_connected_wrong_state(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	assert_int_equal(conn_connected(&c, true, true), 0);
	assert_int_equal(conn_connected(&c, false, false), 0);
	assert_int_equal(c.state, CONN_ESTABLISHED);
	assert_int_equal(c.pending, 0);
	assert_false(c.readable);

	open_offered(&c);
	assert_int_equal(conn_connected(&c, false, false), 0);
	assert_int_equal(c.state, CONN_OFFERED);
	assert_int_not_equal(c.deadline_ms, 0);

	/* A connect completing after the timeout reset it. */
	open_connecting(&c);
	assert_int_equal(conn_reset(&c), CONN_FX_ARM | FX_RESET);
	assert_int_equal(conn_connected(&c, true, true), 0);
	assert_resetting(&c);
}

static void test_offer(void **state)
{
	struct conn c;
	struct vsock_hdr h;
	unsigned fx;
	uint64_t t0, t1;

	(void)state;
	conn_init(&c, GUEST_CID, BUF);
	t0 = now_ms();
	assert_int_equal(conn_offer(&c, 7, 6000, 7000), CONN_FX_RX | CONN_FX_ARM);
	t1 = now_ms();
	assert_int_equal(c.state, CONN_OFFERED);
	assert_true(c.readable);
	assert_int_equal(c.pending, PEND_REQUEST);
	assert_armed(&c, t0, t1);
	assert_int_equal(conn_rx_room(&c), 0);
	assert_true(conn_has_work(&c));
	assert_true(conn_next_ctrl(&c, &h, &fx));
	assert_int_equal(fx, 0);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(h.src_cid, 7);
	assert_int_equal(h.src_port, 6000);
	assert_int_equal(h.dst_cid, GUEST_CID);
	assert_int_equal(h.dst_port, 7000);
	assert_int_equal(h.type, VIRTIO_VSOCK_TYPE_STREAM);
	assert_int_equal(h.buf_alloc, BUF);
	assert_int_equal(h.fwd_cnt, 0);
	/* Readable, but waiting for the guest's answer. */
	assert_false(conn_has_work(&c));
	assert_int_equal(conn_rx_room(&c), 0);
}

static void test_ctrl_order(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	c.pending = PEND_REQUEST | PEND_RESPONSE | PEND_SHUTDOWN | PEND_CREDIT_UPDATE |
		    PEND_CREDIT_REQUEST;
	c.shutdown_flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
	assert_int_equal(conn_rx_room(&c), 0);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_REQUEST, 0, 0);
	/* That packet carried fwd_cnt: the update is no longer owed. */
	assert_int_equal(c.pending, PEND_RESPONSE | PEND_SHUTDOWN | PEND_CREDIT_REQUEST);
	assert_int_equal(conn_rx_room(&c), 0);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_RESPONSE, 0, 0);
	assert_int_equal(conn_rx_room(&c), 0);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, 0);
	/* CREDIT_REQUEST does not hold data back. */
	assert_int_equal(conn_rx_room(&c), PEER_BUF);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 0);
	expect_no_ctrl(&c);
}

/* Host EOF while a CREDIT_UPDATE is owed: the SHUTDOWN goes first and
 * carries fwd_cnt, so the update is not sent on its own. */
static void test_shutdown_carries_credit_update(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	assert_int_equal(guest_data(&c, BUF), CONN_FX_WRITE);
	assert_int_equal(conn_on_written(&c, BUF), CONN_FX_RX);
	assert_int_equal(conn_on_host_eof(&c, true), CONN_FX_RX);
	assert_int_equal(c.pending, PEND_SHUTDOWN | PEND_CREDIT_UPDATE);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, 0);
	assert_int_equal(c.lim_sent, (uint32_t)(BUF + BUF));
	expect_no_ctrl(&c);
}

static void test_rst_before_everything(void **state)
{
	struct conn c;

	(void)state;
	open_offered(&c);
	c.pending = PEND_REQUEST | PEND_RESPONSE | PEND_SHUTDOWN | PEND_CREDIT_UPDATE |
		    PEND_CREDIT_REQUEST;
	assert_int_equal(conn_reset(&c), CONN_FX_ARM | FX_RESET);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_RST, 0, CONN_FX_FREE);
	expect_no_ctrl(&c);
}

static void test_rx_room_waits_for_ctrl(void **state)
{
	static const uint32_t before_data[] = { PEND_REQUEST, PEND_RESPONSE, PEND_SHUTDOWN };
	static const uint32_t not_before[] = { PEND_CREDIT_UPDATE, PEND_CREDIT_REQUEST };
	struct conn c;

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		open_readable(&c);
		c.pending = before_data[i];
		assert_int_equal(conn_rx_room(&c), 0);
		assert_true(conn_has_work(&c));
	}
	for (unsigned i = 0; i < 2; i++) {
		open_readable(&c);
		c.pending = not_before[i];
		assert_int_equal(conn_rx_room(&c), PEER_BUF);
	}
}

/* ---------------------------------------------------------------- */
/* host socket readiness                                             */

static void test_host_readable_established(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	assert_false(conn_has_work(&c));
	assert_int_equal(conn_on_host_readable(&c, false), CONN_FX_RX);
	assert_true(c.readable);
	assert_false(c.hangup_seen);
	assert_true(conn_has_work(&c));
	assert_int_equal(conn_on_host_readable(&c, true), CONN_FX_RX);
	assert_true(c.hangup_seen);
}

static void test_host_readable_other_states(void **state)
{
	struct conn c;

	(void)state;
	open_connecting(&c);
	assert_int_equal(conn_on_host_readable(&c, false), 0);
	assert_true(c.readable);
	assert_false(conn_has_work(&c));

	open_offered(&c);
	conn_on_host_drained(&c);
	assert_int_equal(conn_on_host_readable(&c, true), 0);
	assert_true(c.readable);
	assert_true(c.hangup_seen);
	assert_false(conn_has_work(&c));

	open_closing(&c);
	assert_int_equal(conn_on_host_readable(&c, false), 0);
	assert_false(conn_has_work(&c));

	open_handshake(&c);
	assert_int_equal(conn_on_host_readable(&c, false), 0);
	assert_false(conn_has_work(&c));
}

static void test_on_read_emptied(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	conn_on_read(&c, 100, false);
	assert_true(c.readable);
	assert_int_equal(c.tx_cnt, 100);
	assert_true(conn_has_work(&c));
	conn_on_read(&c, 50, true);
	assert_false(c.readable);
	assert_int_equal(c.tx_cnt, 150);
	assert_false(conn_has_work(&c));
	assert_int_equal(conn_rx_room(&c), 0);
}

static void test_on_read_emptied_after_hangup(void **state)
{
	struct conn c;

	(void)state;
	open_established(&c);
	assert_int_equal(conn_on_host_readable(&c, true), CONN_FX_RX);
	conn_on_read(&c, 10, true);
	/* The EOF still waits to be read and brings no new edge. */
	assert_true(c.readable);
	assert_true(conn_has_work(&c));
	assert_int_equal(conn_rx_room(&c), PEER_BUF - 10);
}

static void test_host_drained(void **state)
{
	struct conn c;

	(void)state;
	open_readable(&c);
	conn_on_host_drained(&c);
	assert_false(c.readable);
	assert_false(conn_has_work(&c));
	assert_int_equal(conn_rx_room(&c), 0);
	assert_int_equal(c.pending, 0);
}

static void test_has_work(void **state)
{
	struct conn c;

	(void)state;
	/* Any owed packet. */
	open_established(&c);
	assert_false(conn_has_work(&c));
	c.pending = PEND_CREDIT_REQUEST;
	assert_true(conn_has_work(&c));
	/* Data with credit. */
	open_readable(&c);
	assert_true(conn_has_work(&c));
	/* Blocked, not asked yet: the request is work. */
	conn_on_read(&c, PEER_BUF, false);
	assert_true(conn_has_work(&c));
	assert_int_equal(conn_rx_room(&c), 0);
	expect_ctrl(&c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 0);
	/* Blocked and asked: nothing until the guest's update. */
	assert_false(conn_has_work(&c));
	assert_int_equal(guest_credit(&c, PEER_BUF, 1), CONN_FX_RX);
	assert_true(conn_has_work(&c));
	/* Host EOF (SHUTDOWN sent). */
	open_readable(&c);
	assert_int_equal(conn_on_host_eof(&c, true), CONN_FX_RX);
	assert_true(conn_has_work(&c));
	expect_ctrl(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, 0);
	c.readable = true;
	assert_false(conn_has_work(&c));
	/* The guest receives no more. */
	open_readable(&c);
	assert_int_equal(guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV),
			 CONN_FX_SHUT_RD);
	assert_false(conn_has_work(&c));
	/* Not open yet. */
	open_connecting(&c);
	c.readable = true;
	assert_false(conn_has_work(&c));
}

/* Why a connection ended (enum conn_end): decided once, by the first event
 * that made the end certain; a graceful close goes to whoever shut down
 * first, even when the other side then resets. */
static void test_end_cause(void **state)
{
	struct conn c;
	enum conn_timeout_why why;
	(void)state;

	/* Guest close, then the RST that ends it. */
	open_established(&c);
	guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN,
		 VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_int_equal(c.end, CONN_END_GUEST_SHUTDOWN);
	/* Host close first; the guest answers with RST. */
	open_established(&c);
	conn_on_host_eof(&c, false);
	assert_int_equal(c.end, CONN_END_NONE);
	guest_op(&c, VIRTIO_VSOCK_OP_RST, 0);
	assert_int_equal(c.end, CONN_END_HOST_CLOSE);
	/* RST out of the blue. */
	open_established(&c);
	guest_op(&c, VIRTIO_VSOCK_OP_RST, 0);
	assert_int_equal(c.end, CONN_END_GUEST_RST);
	/* A protocol error, and a later host error does not change it. */
	open_established(&c);
	guest_op(&c, 99, 0);
	assert_int_equal(c.end, CONN_END_GUEST_PROTOCOL);
	conn_reset(&c);
	assert_int_equal(c.end, CONN_END_GUEST_PROTOCOL);
	/* The host socket failed. */
	open_established(&c);
	conn_reset(&c);
	assert_int_equal(c.end, CONN_END_HOST_ERROR);
	/* The backend's connect failed: never set up. */
	open_connecting(&c);
	conn_connected(&c, false, false);
	assert_int_equal(c.end, CONN_END_REFUSED);
	/* The guest never answered our REQUEST. */
	open_offered(&c);
	conn_on_timeout(&c, c.deadline_ms, &why);
	assert_int_equal(why, CONN_TMO_GUEST);
	assert_int_equal(c.end, CONN_END_TIMEOUT);
	/* The names the metrics print. */
	assert_string_equal(conn_end_name(CONN_END_GUEST_SHUTDOWN), "guest_shutdown");
	assert_string_equal(conn_end_name(CONN_END_VMM_GONE), "vmm_gone");
	assert_string_equal(conn_end_name(CONN_END_NONE), "other");
	assert_string_equal(conn_end_name(CONN_END_COUNT), "other");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_credit_counts_in_flight),
		cmocka_unit_test(test_peer_credit_wraps),
		cmocka_unit_test(test_rx_room_is_the_credit),
		cmocka_unit_test(test_rx_room_zero_without_data),
		cmocka_unit_test(test_credit_request_owed_once),
		cmocka_unit_test(test_credit_request_again_after_unblock),
		cmocka_unit_test(test_credit_update_unblocks_only_readable),
		cmocka_unit_test(test_guest_counters_wrap),
		cmocka_unit_test(test_credit_update_below_half),
		cmocka_unit_test(test_credit_update_not_at_half),
		cmocka_unit_test(test_credit_update_needs_freed_space),
		cmocka_unit_test(test_credit_update_cleared_by_data),
		cmocka_unit_test(test_headroom_widens_the_window),
		cmocka_unit_test(test_headroom_capped_at_buffer),
		cmocka_unit_test(test_headroom_window_below_2g),
		cmocka_unit_test(test_promise_survives_headroom_drop),
		cmocka_unit_test(test_headroom_alone_no_update),
		cmocka_unit_test(test_credit_update_before_request),
		cmocka_unit_test(test_guest_credit_request_owes_update),
		cmocka_unit_test(test_no_credit_update_after_guest_shut_send),
		cmocka_unit_test(test_data_written_when_established),
		cmocka_unit_test(test_data_len_zero_no_write),
		cmocka_unit_test(test_data_in_other_states_resets),
		cmocka_unit_test(test_data_after_shutdown_send_resets),
		cmocka_unit_test(test_data_beyond_credit_resets),
		cmocka_unit_test(test_data_at_credit_limit_accepted),
		cmocka_unit_test(test_packets_ignored_after_reset),
		cmocka_unit_test(test_every_op_in_every_state),
		cmocka_unit_test(test_response_establishes_offered),
		cmocka_unit_test(test_response_establishes_not_readable),
		cmocka_unit_test(test_response_unasked_resets),
		cmocka_unit_test(test_rst_frees_never_answered),
		cmocka_unit_test(test_rst_with_credit_only_frees),
		cmocka_unit_test(test_unknown_op_resets),
		cmocka_unit_test(test_reset_rst_is_the_last_word),
		cmocka_unit_test(test_reset_disarms),
		cmocka_unit_test(test_reset_handshake_frees_silently),
		cmocka_unit_test(test_guest_shut_send_waits_for_buffer),
		cmocka_unit_test(test_guest_shut_send_empty_buffer),
		cmocka_unit_test(test_host_eof_owes_shutdown_send),
		cmocka_unit_test(test_both_halves_reset_after_shutdown_sent),
		cmocka_unit_test(test_host_eof_then_guest_shut_send),
		cmocka_unit_test(test_host_close_owes_shutdown_rcv_send),
		cmocka_unit_test(test_host_shut_rd_drops_and_owes_rcv),
		cmocka_unit_test(test_host_shut_rd_ends_close_flush),
		cmocka_unit_test(test_host_close_after_guest_shut_send),
		cmocka_unit_test(test_guest_shut_rcv_while_connecting),
		cmocka_unit_test(test_both_halves_wait_for_our_shutdown),
		cmocka_unit_test(test_both_halves_wait_for_buffer),
		cmocka_unit_test(test_guest_shut_rcv_stops_reads),
		cmocka_unit_test(test_full_close_empty_resets),
		cmocka_unit_test(test_full_close_flushes_then_resets),
		cmocka_unit_test(test_full_close_deadline),
		cmocka_unit_test(test_full_close_in_two_shutdowns),
		cmocka_unit_test(test_timeout_handshake_frees),
		cmocka_unit_test(test_timeout_connecting_resets),
		cmocka_unit_test(test_timeout_offered_resets),
		cmocka_unit_test(test_timeout_established_nothing),
		cmocka_unit_test(test_timeout_disarmed),
		cmocka_unit_test(test_guest_request_immediate),
		cmocka_unit_test(test_guest_request_wait),
		cmocka_unit_test(test_connected_ok),
		cmocka_unit_test(test_connected_ok_no_data),
		cmocka_unit_test(test_connected_failed),
		cmocka_unit_test(test_connected_wrong_state),
		cmocka_unit_test(test_offer),
		cmocka_unit_test(test_ctrl_order),
		cmocka_unit_test(test_shutdown_carries_credit_update),
		cmocka_unit_test(test_rst_before_everything),
		cmocka_unit_test(test_rx_room_waits_for_ctrl),
		cmocka_unit_test(test_host_readable_established),
		cmocka_unit_test(test_host_readable_other_states),
		cmocka_unit_test(test_on_read_emptied),
		cmocka_unit_test(test_on_read_emptied_after_hangup),
		cmocka_unit_test(test_host_drained),
		cmocka_unit_test(test_has_work),
		cmocka_unit_test(test_end_cause),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
