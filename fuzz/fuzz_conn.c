/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * One connection's protocol (src/vsock/conn.c), sans-I/O, driven by every
 * event its callers can deliver in any order: guest packets with arbitrary
 * ops, flags, lengths and credit fields; the host side's writes, reads,
 * EOF, hang-ups and SHUT_RD; resets; deadlines; the rx path taking control
 * packets and data. The harness plays the caller the way conn_io.c does
 * (a tx buffer of what CONN_FX_WRITE handed over, the socket closed on
 * CONN_FX_CLOSE, the connection gone on CONN_FX_FREE) and checks, after
 * every step, the invariants a guest or host must never be able to break:
 *  - what we buffer for the host never exceeds the credit we gave
 *    (conn_queued <= buf_alloc, or <= the limit our last packet set when
 *    the socket lent headroom) and matches the caller's tx buffer;
 *  - the limit our packets give (fwd_cnt + buf_alloc) never goes back and
 *    the buf_alloc we advertise is between ours and INT32_MAX, whatever
 *    headroom the caller sets when;
 *  - no data is handed to a closed socket, and no event of a freed
 *    connection is needed: FREE comes with nothing left owed;
 *  - data to the guest only when established, before any SHUTDOWN SEND or
 *    RST we sent, after nothing that must precede it, within its credit;
 *  - every packet we emit carries this connection's addresses and our
 *    credit; SHUTDOWN flags only grow; RST is the last packet;
 *  - no connection is stuck: a state that waits for someone else
 *    (handshake, connect, offered, closing with data) has a deadline,
 *    and the deadline, once reached, makes progress;
 *  - conn_next_ctrl ends: each call takes one owed packet.
 *
 * Input: [0] how the connection starts (mod 4: host handshake then offer,
 * guest REQUEST taken at once, guest REQUEST with a connect in progress,
 * host offer), [1..4] buf_alloc (u32, clamped to 1..1 MiB), then events,
 * one byte each plus operands (see step()).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "vsock/conn.h"

#define GUEST_CID 3u
#define PEER_CID 2u
#define MAX_STEPS 4096

struct harness {
	struct conn c;
	const uint8_t *in;
	size_t size, at;
	uint32_t txbuf;        /* bytes the caller holds for the host */
	bool closed;           /* CONN_FX_CLOSE seen: the socket is gone */
	bool freed;
	bool sent_rst;
	bool sent_shut_send;   /* a SHUTDOWN with SEND went to the guest */
	uint8_t shut_flags_sent;
	unsigned shut_wr;      /* CONN_FX_SHUT_WR seen, how often */
	bool lim_seen;         /* a packet of ours carried a credit limit */
	uint32_t lim;          /* the last such limit: fwd_cnt + buf_alloc */
};

static bool take(struct harness *hz, void *out, size_t n)
{
	if (hz->size - hz->at < n)
		return false;
	memcpy(out, hz->in + hz->at, n);
	hz->at += n;
	return true;
}

static void check_hdr(struct harness *hz, const struct vsock_hdr *h)
{
	uint32_t lim = h->fwd_cnt + h->buf_alloc;

	FUZZ_ASSERT(h->src_cid == hz->c.peer_cid && h->dst_cid == GUEST_CID);
	FUZZ_ASSERT(h->src_port == hz->c.peer_port && h->dst_port == hz->c.guest_port);
	FUZZ_ASSERT(h->buf_alloc >= hz->c.buf_alloc && h->buf_alloc <= INT32_MAX);
	FUZZ_ASSERT(h->fwd_cnt == hz->c.fwd_cnt);
	/* A Linux guest would overrun a limit that went back. */
	if (hz->lim_seen)
		FUZZ_ASSERT((int32_t)(lim - hz->lim) >= 0);
	hz->lim_seen = true;
	hz->lim = lim;
}

/* What conn_io_apply() does with effects, minus the fds. */
static void apply(struct harness *hz, unsigned fx, const struct vsock_hdr *data)
{
	if (fx & CONN_FX_FREE) {
		hz->freed = true;
		return;
	}
	if (fx & CONN_FX_WRITE) {
		FUZZ_ASSERT(!hz->closed);
		FUZZ_ASSERT(data && data->len > 0);
		hz->txbuf += data->len;
	}
	if (fx & CONN_FX_CLOSE) {
		hz->closed = true;
		hz->txbuf = 0;
	}
	if (fx & CONN_FX_SHUT_WR) {
		/* Only once, and only with nothing left to write first. */
		FUZZ_ASSERT(++hz->shut_wr == 1);
		FUZZ_ASSERT(hz->closed || hz->txbuf == 0);
	}
}

/* Invariants that hold between any two events. */
static void check(struct harness *hz)
{
	struct conn *c = &hz->c;

	if (hz->freed)
		return;
	FUZZ_ASSERT(conn_queued(c) <= c->buf_alloc ||
		    (hz->lim_seen && (int32_t)(hz->lim - c->rx_cnt) >= 0));
	FUZZ_ASSERT(conn_queued(c) <= 2ull * c->buf_alloc);
	if (!hz->closed && !c->host_rd_shut)
		FUZZ_ASSERT(hz->txbuf == conn_queued(c));
	/* Liveness: waiting on someone else always has a deadline. */
	if (!(c->pending & PEND_RST) && !hz->sent_rst) {
		if (c->state == CONN_HANDSHAKE || c->state == CONN_CONNECTING ||
		    c->state == CONN_OFFERED)
			FUZZ_ASSERT(c->deadline_ms != 0);
		if (c->state == CONN_CLOSING && conn_queued(c) > 0)
			FUZZ_ASSERT(c->deadline_ms != 0);
	}
	/* A closed socket means the end is near: an RST is owed or sent
	 * (or the connection was never known to the guest). */
	if (hz->closed && c->state != CONN_HANDSHAKE)
		FUZZ_ASSERT((c->pending & PEND_RST) || hz->sent_rst);
}

/* The rx path: control packets first, then data within the credit. */
static void rx(struct harness *hz, uint32_t want, bool emptied)
{
	struct conn *c = &hz->c;
	struct vsock_hdr h;
	unsigned fx, n = 0;
	uint32_t room;

	while (!hz->freed && conn_next_ctrl(c, &h, &fx)) {
		FUZZ_ASSERT(++n <= 8);
		FUZZ_ASSERT(!hz->sent_rst);
		check_hdr(hz, &h);
		if (h.op == VIRTIO_VSOCK_OP_RST) {
			hz->sent_rst = true;
			FUZZ_ASSERT(fx & CONN_FX_FREE);
			FUZZ_ASSERT(c->pending == 0);
		} else if (h.op == VIRTIO_VSOCK_OP_SHUTDOWN) {
			FUZZ_ASSERT((h.flags & hz->shut_flags_sent) == hz->shut_flags_sent);
			FUZZ_ASSERT(h.flags != 0);
			hz->shut_flags_sent = (uint8_t)h.flags;
			if (h.flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
				hz->sent_shut_send = true;
		} else if (h.op == VIRTIO_VSOCK_OP_RESPONSE) {
			FUZZ_ASSERT(c->state != CONN_OFFERED && c->state != CONN_HANDSHAKE);
		}
		apply(hz, fx, NULL);
	}
	if (hz->freed)
		return;
	room = conn_rx_room(c);
	if (room == 0 || want == 0)
		return;
	FUZZ_ASSERT(c->state == CONN_ESTABLISHED && !(c->pending & PEND_BEFORE_DATA));
	FUZZ_ASSERT(!hz->sent_shut_send && !hz->sent_rst && !hz->closed);
	FUZZ_ASSERT(!(c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV));
	FUZZ_ASSERT(room <= conn_peer_credit(c));
	conn_hdr(c, VIRTIO_VSOCK_OP_RW, &h); /* what the data packets carry */
	check_hdr(hz, &h);
	conn_on_read(c, want < room ? want : room, emptied);
}

static void guest_packet(struct harness *hz)
{
	struct vsock_hdr h;
	uint8_t b[12];
	unsigned fx;

	if (!take(hz, b, sizeof(b)))
		return;
	conn_hdr(&hz->c, 0, &h);
	/* The guest speaks: its addresses are the connection's, mirrored. */
	h.src_cid = GUEST_CID;
	h.dst_cid = hz->c.peer_cid;
	h.src_port = hz->c.guest_port;
	h.dst_port = hz->c.peer_port;
	h.op = b[0] % 9; /* 0 (invalid) .. 7 CREDIT_REQUEST, 8 unknown */
	h.flags = b[1];
	h.len = fuzz_u16(b + 2);
	if (b[4] & 1)
		h.len *= 16; /* up to ~1 MiB: beyond the credit too */
	/* Credit: sane (what we sent, minus a little) or raw. */
	h.buf_alloc = fuzz_u32(b + 5);
	if (b[4] & 2)
		h.fwd_cnt = fuzz_u32(b + 8) ^ b[9];
	else
		h.fwd_cnt = hz->c.tx_cnt - (b[9] % 64 < (hz->c.tx_cnt & 63) ? b[9] % 64 : 0);
	if (h.op != VIRTIO_VSOCK_OP_RW)
		h.len = 0;
	fx = conn_on_guest(&hz->c, &h);
	if (fx & CONN_FX_WRITE)
		FUZZ_ASSERT(h.op == VIRTIO_VSOCK_OP_RW);
	apply(hz, fx, &h);
}

static void step(struct harness *hz, uint8_t ev)
{
	struct conn *c = &hz->c;
	uint8_t arg = 0;
	uint32_t n32 = 0;
	enum conn_timeout_why why;

	switch (ev % 12) {
	case 0:
	case 1:
		guest_packet(hz);
		break;
	case 2: /* the host took some of the tx buffer */
		if (hz->closed || !take(hz, &arg, 1))
			break;
		n32 = hz->txbuf < arg * 257u ? hz->txbuf : arg * 257u;
		hz->txbuf -= n32;
		apply(hz, conn_on_written(c, n32), NULL);
		break;
	case 3:
		if (!hz->closed && take(hz, &arg, 1))
			apply(hz, conn_on_host_readable(c, arg & 1), NULL);
		break;
	case 4:
		if (!hz->closed)
			conn_on_host_drained(c);
		break;
	case 5:
		if (!hz->closed && take(hz, &arg, 1) && !c->host_eof) {
			if (!(arg & 1))
				hz->txbuf = 0; /* host_stopped_reading() drops it */
			apply(hz, conn_on_host_eof(c, arg & 1), NULL);
		}
		break;
	case 6:
		if (!hz->closed) {
			hz->txbuf = 0;
			apply(hz, conn_on_host_shut_rd(c), NULL);
		}
		break;
	case 7:
		if (!(c->pending & PEND_RST) && !hz->sent_rst)
			apply(hz, conn_reset(c), NULL);
		break;
	case 8: { /* time passes: before or after the deadline */
		uint64_t now;

		if (!take(hz, &arg, 1))
			break;
		now = c->deadline_ms ? c->deadline_ms + (uint64_t)(arg % 4) - 1 : arg;
		apply(hz, conn_on_timeout(c, now, &why), NULL);
		if (why != CONN_TMO_NONE && !hz->freed)
			FUZZ_ASSERT(c->pending & PEND_RST);
		break;
	}
	case 9: { /* the rx path runs */
		uint8_t b[3];

		if (take(hz, b, sizeof(b)))
			rx(hz, fuzz_u16(b) * (b[2] & 0x80 ? 16u : 1u), b[2] & 1);
		break;
	}
	case 10:
		if (take(hz, &arg, 1))
			apply(hz, conn_connected(c, arg & 1, arg & 2), NULL);
		break;
	case 11: { /* the host socket's room changed: headroom to lend */
		uint8_t b[4];

		if (take(hz, b, sizeof(b)))
			conn_set_headroom(c, fuzz_u32(b));
		break;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness hz = { .in = data, .size = size };
	struct vsock_hdr req;
	uint32_t buf_alloc;
	uint8_t mode, ev;
	unsigned fx, steps = 0;

	if (!take(&hz, &mode, 1) || !take(&hz, &buf_alloc, 4))
		return 0;
	buf_alloc = buf_alloc % (1u << 20) + 1;
	conn_init(&hz.c, GUEST_CID, buf_alloc);

	switch (mode % 4) {
	case 0: /* a host client first sends its handshake, then we offer */
		fx = conn_handshake(&hz.c);
		FUZZ_ASSERT(fx & CONN_FX_ARM);
		check(&hz);
		/* fallthrough */
	case 3:
		fx = conn_offer(&hz.c, PEER_CID, 1024 + mode, 5000);
		break;
	default: /* the guest's REQUEST */
		req = (struct vsock_hdr){
			.src_cid = GUEST_CID, .dst_cid = PEER_CID, .src_port = 49152,
			.dst_port = 1234, .type = VIRTIO_VSOCK_TYPE_STREAM,
			.op = VIRTIO_VSOCK_OP_REQUEST, .buf_alloc = 262144,
		};
		fx = conn_guest_request(&hz.c, &req, mode % 4 == 2);
		break;
	}
	apply(&hz, fx, NULL);
	check(&hz);

	while (!hz.freed && take(&hz, &ev, 1) && steps++ < MAX_STEPS) {
		step(&hz, ev);
		check(&hz);
	}
	/* Whatever the input did, the end is reachable: a reset, then the rx
	 * path and, at worst, the deadline, free the connection. */
	if (!hz.freed) {
		enum conn_timeout_why why;

		if (!(hz.c.pending & PEND_RST) && !hz.sent_rst)
			apply(&hz, conn_reset(&hz.c), NULL);
		check(&hz);
		rx(&hz, 0, false);
		if (!hz.freed && hz.c.deadline_ms)
			apply(&hz, conn_on_timeout(&hz.c, hz.c.deadline_ms, &why), NULL);
		rx(&hz, 0, false);
		FUZZ_ASSERT(hz.freed);
	}
	return 0;
}
