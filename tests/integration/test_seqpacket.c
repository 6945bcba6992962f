/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * SOCK_SEQPACKET through the hybrid-vsock backend, with hand-built packets:
 * one guest message (however many RW packets, EOM on the last) is one
 * message on the host's SOCK_SEQPACKET socket, and one host message is one
 * guest message (EOM on its last packet, split over rx buffers as needed);
 * a host message larger than the guest's buf_alloc resets the connection;
 * packets of the wrong type and REQUESTs to a listener of the other type
 * are answered with RST; without the feature negotiated there is no
 * SEQPACKET at all.
 */
#include "itest.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PORT 4321
#define GUEST_BUF 65536u
#define SEQ VIRTIO_VSOCK_TYPE_SEQPACKET
#define EOM VIRTIO_VSOCK_SEQ_EOM
#define EOR VIRTIO_VSOCK_SEQ_EOR

struct seqc {
	struct sim *s;
	struct sim_pkt *p;
	uint32_t gport;
	int lfd, hfd;
};

/* A SOCK_SEQPACKET (or type) listener at "<uds-path>_<port>". */
static int host_listen_type(struct itest *t, uint32_t port, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", t->d.uds_path, port) >=
	    (int)sizeof(sa.sun_path))
		fail_msg("listener path too long");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 8))
		fail_msg("listen on %s: %s", sa.sun_path, strerror(errno));
	return fd;
}

static void send_pkt(struct sim *s, uint16_t type, uint32_t gport, uint16_t op, uint32_t flags,
		     const void *data, uint32_t len, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(s), ITEST_HOST_CID, gport, PORT,
						  op, flags, len, buf_alloc, fwd_cnt);

	h.type = htole16(type);
	assert_int_equal(sim_tx_send(s, &h, data, len, 0), 0);
}

static struct sim *start_seq(struct itest *t, bool with_feature)
{
	struct sim_opts o;

	itest_opts(&o);
	if (with_feature)
		o.features |= 1ull << VIRTIO_VSOCK_F_SEQPACKET;
	return itest_start(t, &o);
}

/* Guest REQUEST (SEQPACKET, buf_alloc) to a SEQPACKET host listener. */
static void seq_connect(struct itest *t, struct seqc *c, uint32_t gport, uint32_t buf_alloc)
{
	c->s = start_seq(t, true);
	c->p = sim_pkt_new();
	assert_non_null(c->p);
	c->gport = gport;
	c->lfd = host_listen_type(t, PORT, SOCK_SEQPACKET);
	send_pkt(c->s, SEQ, gport, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0, buf_alloc, 0);
	itest_expect_pkt(c->s, c->p, ITEST_TIMEOUT_MS);
	assert_int_equal(c->p->op, VIRTIO_VSOCK_OP_RESPONSE);
	assert_int_equal(c->p->type, SEQ);
	c->hfd = itest_host_accept(c->lfd, ITEST_TIMEOUT_MS);
	assert_true(c->hfd >= 0);
}

static void seqc_fini(struct seqc *c)
{
	close(c->hfd);
	close(c->lfd);
	free(c->p);
	sim_close(c->s);
}

/* One host message, or -errno. */
static ssize_t host_recv_msg(int fd, void *buf, size_t cap)
{
	ssize_t r;

	if (itest_wait_fd(fd, POLLIN, ITEST_TIMEOUT_MS))
		return -ETIMEDOUT;
	r = recv(fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC);
	return r < 0 ? -errno : r;
}

/* Receives one guest message: the packets up to EOM, joined; asserts each
 * is SEQPACKET RW and that only the last has EOM. Returns its size. */
static size_t guest_recv_msg(struct seqc *c, uint8_t *buf, size_t cap, unsigned *npkts,
			     uint32_t *last_flags)
{
	size_t n = 0;

	*npkts = 0;
	for (;;) {
		itest_expect_pkt(c->s, c->p, ITEST_TIMEOUT_MS);
		assert_int_equal(c->p->type, SEQ);
		assert_int_equal(c->p->op, VIRTIO_VSOCK_OP_RW);
		assert_true(n + c->p->len <= cap);
		memcpy(buf + n, c->p->payload, c->p->len);
		n += c->p->len;
		(*npkts)++;
		if (c->p->flags & EOM) {
			*last_flags = c->p->flags;
			return n;
		}
		assert_int_equal(c->p->flags, 0);
	}
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 31 + seed);
}

/* Guest messages: one packet each, or in parts; each arrives whole. */
static void test_guest_to_host_messages(void **state)
{
	struct itest *t = *state;
	static uint8_t big[20000], got[32768];
	struct seqc c;

	seq_connect(t, &c, 60001, GUEST_BUF);
	send_pkt(c.s, SEQ, c.gport, VIRTIO_VSOCK_OP_RW, EOM, "hello", 5, GUEST_BUF, 0);
	send_pkt(c.s, SEQ, c.gport, VIRTIO_VSOCK_OP_RW, EOM | EOR, "x", 1, GUEST_BUF, 0);
	assert_int_equal(host_recv_msg(c.hfd, got, sizeof(got)), 5);
	assert_memory_equal(got, "hello", 5);
	assert_int_equal(host_recv_msg(c.hfd, got, sizeof(got)), 1);
	/* One message in three packets: nothing reaches the host before the
	 * last one. */
	fill(big, sizeof(big), 7);
	send_pkt(c.s, SEQ, c.gport, VIRTIO_VSOCK_OP_RW, 0, big, 8000, GUEST_BUF, 0);
	send_pkt(c.s, SEQ, c.gport, VIRTIO_VSOCK_OP_RW, 0, big + 8000, 8000, GUEST_BUF, 0);
	assert_int_equal(sim_tx_flush(c.s, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_wait_fd(c.hfd, POLLIN, 100), -ETIMEDOUT);
	send_pkt(c.s, SEQ, c.gport, VIRTIO_VSOCK_OP_RW, EOM, big + 16000, 4000, GUEST_BUF, 0);
	assert_int_equal(host_recv_msg(c.hfd, got, sizeof(got)), 20000);
	assert_memory_equal(got, big, 20000);
	seqc_fini(&c);
}

/*
 * A guest message that must go in parts because the credit ran out: the
 * guest (like Linux) sends what its credit allows and waits for an update
 * without asking. Messages the host took earlier were not worth an update
 * when they went (more than half of the buffer still free in the guest's
 * view); with the part held for its EOM they are: the device must say so,
 * or both sides wait for each other.
 */
static void test_guest_message_in_parts_after_credit(void **state)
{
	struct itest *t = *state;
	static uint8_t msg[60000], got[65536];
	uint32_t sent = 0;
	struct seqc c;

	seq_connect(t, &c, 60008, GUEST_BUF);
	fill(msg, sizeof(msg), 5);
	/* 8194 bytes in three messages; the host reads them. */
	send_pkt(c.s, SEQ, c.gport, VIRTIO_VSOCK_OP_RW, EOM, msg, 1, GUEST_BUF, 0);
	send_pkt(c.s, SEQ, c.gport, VIRTIO_VSOCK_OP_RW, EOM | EOR, msg, 4096, GUEST_BUF, 0);
	send_pkt(c.s, SEQ, c.gport, VIRTIO_VSOCK_OP_RW, EOM, msg, 4097, GUEST_BUF, 0);
	assert_int_equal(host_recv_msg(c.hfd, got, sizeof(got)), 1);
	assert_int_equal(host_recv_msg(c.hfd, got, sizeof(got)), 4096);
	assert_int_equal(host_recv_msg(c.hfd, got, sizeof(got)), 4097);
	sent = 8194;
	/* The credit the guest still sees (the device's 64 KiB buffer, no
	 * update since the connection opened): the first part of 60000. */
	send_pkt(c.s, SEQ, c.gport, VIRTIO_VSOCK_OP_RW, 0, msg, 65536 - sent, GUEST_BUF, 0);
	itest_expect_pkt(c.s, c.p, ITEST_TIMEOUT_MS);
	assert_int_equal(c.p->op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(c.p->fwd_cnt, sent);
	send_pkt(c.s, SEQ, c.gport, VIRTIO_VSOCK_OP_RW, EOM, msg + 65536 - sent,
		 sizeof(msg) - (65536 - sent), GUEST_BUF, 0);
	assert_int_equal(host_recv_msg(c.hfd, got, sizeof(got)), sizeof(msg));
	assert_memory_equal(got, msg, sizeof(msg));
	seqc_fini(&c);
}

/* Host messages: each one guest message, split over 4 KiB rx buffers with
 * EOM on the last packet only; boundaries between messages kept. */
static void test_host_to_guest_messages(void **state)
{
	struct itest *t = *state;
	static uint8_t big[10000], got[16384];
	uint32_t flags;
	unsigned npkts;
	struct seqc c;

	seq_connect(t, &c, 60002, GUEST_BUF);
	fill(big, sizeof(big), 3);
	assert_int_equal(send(c.hfd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	assert_int_equal(send(c.hfd, "ab", 2, 0), 2);
	assert_int_equal(send(c.hfd, "cde", 3, 0), 3);
	assert_int_equal(guest_recv_msg(&c, got, sizeof(got), &npkts, &flags), sizeof(big));
	assert_memory_equal(got, big, sizeof(big));
	assert_true(npkts >= 3); /* 4 KiB buffers */
	assert_int_equal(guest_recv_msg(&c, got, sizeof(got), &npkts, &flags), 2);
	assert_int_equal(npkts, 1);
	assert_memory_equal(got, "ab", 2);
	assert_int_equal(guest_recv_msg(&c, got, sizeof(got), &npkts, &flags), 3);
	assert_memory_equal(got, "cde", 3);
	seqc_fini(&c);
}

/* A host message larger than the guest could ever hold whole (its
 * buf_alloc): the connection is reset, nothing of it delivered. */
static void test_host_message_too_big(void **state)
{
	struct itest *t = *state;
	static uint8_t big[9000];
	struct seqc c;

	seq_connect(t, &c, 60003, 8192);
	assert_int_equal(send(c.hfd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	itest_expect_pkt(c.s, c.p, ITEST_TIMEOUT_MS);
	assert_int_equal(c.p->op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(itest_host_wait_closed(c.hfd, ITEST_TIMEOUT_MS, NULL), 0);
	seqc_fini(&c);
}

/* Credit for 6000 bytes only: a 5000-byte message goes, the next 5000 wait
 * (nothing partial is needed) until the guest's credit update. */
static void test_host_message_waits_for_credit(void **state)
{
	struct itest *t = *state;
	static uint8_t m[5000], got[8192];
	uint32_t flags;
	unsigned npkts;
	struct seqc c;

	seq_connect(t, &c, 60004, 6000);
	fill(m, sizeof(m), 1);
	assert_int_equal(send(c.hfd, m, sizeof(m), 0), (ssize_t)sizeof(m));
	assert_int_equal(send(c.hfd, m, sizeof(m), 0), (ssize_t)sizeof(m));
	assert_int_equal(guest_recv_msg(&c, got, sizeof(got), &npkts, &flags), sizeof(m));
	/* The second message is delivered as far as the credit goes (1000
	 * bytes, no EOM), then waits: the guest is asked for credit. */
	for (;;) {
		itest_expect_pkt(c.s, c.p, ITEST_TIMEOUT_MS);
		if (c.p->op == VIRTIO_VSOCK_OP_CREDIT_REQUEST)
			break;
		assert_int_equal(c.p->op, VIRTIO_VSOCK_OP_RW);
		assert_int_equal(c.p->flags & EOM, 0);
	}
	send_pkt(c.s, SEQ, c.gport, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0, 6000, 5000);
	for (;;) {
		itest_expect_pkt(c.s, c.p, ITEST_TIMEOUT_MS);
		assert_int_equal(c.p->op, VIRTIO_VSOCK_OP_RW);
		if (c.p->flags & EOM)
			break;
	}
	seqc_fini(&c);
}

/* The kernel's rules: a SEQPACKET REQUEST to a stream listener is refused;
 * a STREAM packet on a SEQPACKET connection gets RST and the connection
 * lives on. */
static void test_type_rules(void **state)
{
	struct itest *t = *state;
	struct sim *s = start_seq(t, true);
	struct sim_pkt *p = sim_pkt_new();
	uint8_t got[16];
	struct seqc c;
	int lfd;

	lfd = host_listen_type(t, PORT + 1, SOCK_STREAM);
	{
		struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(s), ITEST_HOST_CID, 60005,
							  PORT + 1, VIRTIO_VSOCK_OP_REQUEST, 0,
							  0, GUEST_BUF, 0);
		h.type = htole16(SEQ);
		assert_int_equal(sim_tx_send(s, &h, NULL, 0, 0), 0);
	}
	itest_expect_pkt(s, p, ITEST_TIMEOUT_MS);
	assert_int_equal(p->op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p->type, SEQ);
	close(lfd);
	free(p);
	sim_close(s);

	seq_connect(t, &c, 60006, GUEST_BUF);
	send_pkt(c.s, VIRTIO_VSOCK_TYPE_STREAM, c.gport, VIRTIO_VSOCK_OP_RW, 0, "zz", 2,
		 GUEST_BUF, 0);
	itest_expect_pkt(c.s, c.p, ITEST_TIMEOUT_MS);
	assert_int_equal(c.p->op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(c.p->type, VIRTIO_VSOCK_TYPE_STREAM);
	send_pkt(c.s, SEQ, c.gport, VIRTIO_VSOCK_OP_RW, EOM, "ok", 2, GUEST_BUF, 0);
	assert_int_equal(host_recv_msg(c.hfd, got, sizeof(got)), 2);
	assert_memory_equal(got, "ok", 2);
	seqc_fini(&c);
}

/* A driver that did not take VIRTIO_VSOCK_F_SEQPACKET gets RST for a
 * SEQPACKET REQUEST, even to a SEQPACKET listener. */
static void test_without_feature(void **state)
{
	struct itest *t = *state;
	struct sim *s = start_seq(t, false);
	struct sim_pkt *p = sim_pkt_new();
	int lfd = host_listen_type(t, PORT, SOCK_SEQPACKET);

	send_pkt(s, SEQ, 60007, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0, GUEST_BUF, 0);
	itest_expect_pkt(s, p, ITEST_TIMEOUT_MS);
	assert_int_equal(p->op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(itest_wait_fd(lfd, POLLIN, 100), -ETIMEDOUT);
	close(lfd);
	free(p);
	sim_close(s);
}

/* A host application's SEQPACKET connection to <uds-path>_seqpacket that
 * sent msg as its first message (-errno if it could not connect). */
static int host_seq_dial(struct itest *t, const char *msg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_seqpacket", t->d.uds_path) >=
	    (int)sizeof(sa.sun_path))
		fail_msg("uds path too long");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	assert_int_equal(send(fd, msg, strlen(msg), 0), (ssize_t)strlen(msg));
	return fd;
}

/*
 * Host -> guest: "CONNECT <port>\n" as the first message on
 * <uds-path>_seqpacket is a SEQPACKET REQUEST to the guest; "OK <port>\n"
 * comes back as one message, then messages flow both ways, whole.
 */
static void test_host_connects(void **state)
{
	struct itest *t = *state;
	struct seqc c = { .s = start_seq(t, true), .p = sim_pkt_new(), .lfd = -1 };
	uint8_t got[64];
	uint32_t flags;
	unsigned npkts;

	assert_non_null(c.p);
	c.hfd = host_seq_dial(t, "CONNECT 6000\n");
	assert_true(c.hfd >= 0);
	itest_expect_pkt(c.s, c.p, ITEST_TIMEOUT_MS);
	assert_int_equal(c.p->op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(c.p->type, SEQ);
	assert_int_equal(c.p->dst_port, 6000);
	c.gport = 6000;
	{
		/* The answer goes from the guest's port to the host's port. */
		struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(c.s), ITEST_HOST_CID,
							  6000, c.p->src_port,
							  VIRTIO_VSOCK_OP_RESPONSE, 0, 0,
							  GUEST_BUF, 0);
		uint32_t hport = c.p->src_port;

		h.type = htole16(SEQ);
		assert_int_equal(sim_tx_send(c.s, &h, NULL, 0, 0), 0);
		assert_int_equal(host_recv_msg(c.hfd, got, sizeof(got)), 8);
		assert_memory_equal(got, "OK 6000\n", 8);
		assert_int_equal(send(c.hfd, "one", 3, 0), 3);
		assert_int_equal(send(c.hfd, "two!", 4, 0), 4);
		assert_int_equal(guest_recv_msg(&c, got, sizeof(got), &npkts, &flags), 3);
		assert_memory_equal(got, "one", 3);
		assert_int_equal(guest_recv_msg(&c, got, sizeof(got), &npkts, &flags), 4);
		h = sim_vsock_hdr(sim_guest_cid(c.s), ITEST_HOST_CID, 6000, hport,
				  VIRTIO_VSOCK_OP_RW, EOM, 5, GUEST_BUF, 0);
		h.type = htole16(SEQ);
		assert_int_equal(sim_tx_send(c.s, &h, "back!", 5, 0), 0);
		assert_int_equal(host_recv_msg(c.hfd, got, sizeof(got)), 5);
		assert_memory_equal(got, "back!", 5);
	}
	close(c.hfd);
	free(c.p);
	sim_close(c.s);
}

/* A bad first message, or a guest that did not take SEQPACKET: the host
 * connection is closed, and the guest hears nothing. */
static void test_host_connect_refused(void **state)
{
	struct itest *t = *state;
	struct sim *s = start_seq(t, true);
	int fd = host_seq_dial(t, "HELLO 6000\n");

	assert_true(fd >= 0);
	assert_int_equal(itest_host_wait_closed(fd, ITEST_TIMEOUT_MS, NULL), 0);
	close(fd);
	itest_expect_silence(s, 100, "a malformed CONNECT message");
	sim_close(s);

	s = start_seq(t, false);
	fd = host_seq_dial(t, "CONNECT 6000\n");
	assert_true(fd >= 0);
	assert_int_equal(itest_host_wait_closed(fd, ITEST_TIMEOUT_MS, NULL), 0);
	close(fd);
	itest_expect_silence(s, 100, "SEQPACKET to a guest without the feature");
	sim_close(s);
}

/* ---- siblings: two VMs of one group (CIDs 3 and 4) ---- */

static int setup_siblings(void **state)
{
	struct itest *t = calloc(1, sizeof(*t));
	const char *argv[] = {
		sim_daemon_exe(),
		"--vm", "guest-cid=3,socket=%D/v3.sock,uds-path=%D/v3.vsock,groups=a",
		"--vm", "guest-cid=4,socket=%D/v4.sock,uds-path=%D/v4.vsock,groups=a",
		NULL,
	};

	if (!t)
		return -1;
	*state = t;
	return sim_daemon_spawn_argv(&t->d, argv, "v4.sock", 10000) ? -1 : 0;
}

static struct sim *sibling_start(struct itest *t, unsigned cid)
{
	struct sim_opts o;
	char path[SIM_DAEMON_PATH_MAX + 16];
	struct sim *s = NULL;

	itest_opts(&o);
	o.features |= 1ull << VIRTIO_VSOCK_F_SEQPACKET;
	snprintf(path, sizeof(path), "%s/v%u.sock", t->d.dir, cid);
	if (sim_connect(path, &o, &s))
		fail_msg("connect %s", path);
	assert_int_equal(sim_start(s), 0);
	return s;
}

static void sib_send(struct sim *s, uint64_t dst, uint32_t sport, uint32_t dport, uint16_t op,
		     uint32_t flags, const void *data, uint32_t len)
{
	struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(s), dst, sport, dport, op, flags,
						  len, GUEST_BUF, 0);

	h.type = htole16(SEQ);
	assert_int_equal(sim_tx_send(s, &h, data, len, 0), 0);
}

/* The next packet that is not a credit update. */
static void sib_expect(struct sim *s, struct sim_pkt *p)
{
	do
		itest_expect_pkt(s, p, ITEST_TIMEOUT_MS);
	while (p->op == VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(p->type, SEQ);
}

/* One message as the other guest gets it: its size and flags of the EOM
 * packet; asserts no EOM before the last packet. */
static size_t sib_recv_msg(struct sim *s, struct sim_pkt *p, uint8_t *buf, size_t cap,
			   uint32_t *flags)
{
	size_t n = 0;

	for (;;) {
		sib_expect(s, p);
		assert_int_equal(p->op, VIRTIO_VSOCK_OP_RW);
		assert_true(n + p->len <= cap);
		memcpy(buf + n, p->payload, p->len);
		n += p->len;
		if (p->flags & EOM) {
			*flags = p->flags;
			return n;
		}
	}
}

/*
 * Guest 3 -> guest 4 and back: message boundaries and MSG_EOR arrive as the
 * sender wrote them, a message sent in parts arrives as one, and a full
 * close reaches the other guest as SHUTDOWN(RCV|SEND).
 */
static void test_sibling_messages(void **state)
{
	struct itest *t = *state;
	struct sim *a = sibling_start(t, 3), *b = sibling_start(t, 4);
	struct sim_pkt *p = sim_pkt_new();
	static uint8_t big[9000], got[16384];
	uint32_t flags;

	assert_non_null(p);
	fill(big, sizeof(big), 9);
	sib_send(a, 4, 33000, 7000, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	sib_expect(b, p);
	assert_int_equal(p->op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(p->src_cid, 3);
	sib_send(b, 3, 7000, 33000, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
	sib_expect(a, p);
	assert_int_equal(p->op, VIRTIO_VSOCK_OP_RESPONSE);

	sib_send(a, 4, 33000, 7000, VIRTIO_VSOCK_OP_RW, EOM, "a", 1);
	sib_send(a, 4, 33000, 7000, VIRTIO_VSOCK_OP_RW, EOM | EOR, "bb", 2);
	sib_send(a, 4, 33000, 7000, VIRTIO_VSOCK_OP_RW, 0, big, 5000);
	sib_send(a, 4, 33000, 7000, VIRTIO_VSOCK_OP_RW, EOM | EOR, big + 5000, 4000);
	assert_int_equal(sib_recv_msg(b, p, got, sizeof(got), &flags), 1);
	assert_int_equal(flags, EOM);
	assert_int_equal(sib_recv_msg(b, p, got, sizeof(got), &flags), 2);
	assert_int_equal(flags, EOM | EOR);
	assert_memory_equal(got, "bb", 2);
	assert_int_equal(sib_recv_msg(b, p, got, sizeof(got), &flags), sizeof(big));
	assert_int_equal(flags, EOM | EOR);
	assert_memory_equal(got, big, sizeof(big));

	sib_send(b, 3, 7000, 33000, VIRTIO_VSOCK_OP_RW, EOM | EOR, "xyz", 3);
	assert_int_equal(sib_recv_msg(a, p, got, sizeof(got), &flags), 3);
	assert_int_equal(flags, EOM | EOR);

	sib_send(a, 4, 33000, 7000, VIRTIO_VSOCK_OP_SHUTDOWN,
		 VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	sib_expect(b, p);
	assert_int_equal(p->op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(p->flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	free(p);
	sim_close(a);
	sim_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITEST_T(test_guest_to_host_messages),
		ITEST_T(test_guest_message_in_parts_after_credit),
		ITEST_T(test_host_to_guest_messages),
		ITEST_T(test_host_message_too_big),
		ITEST_T(test_host_message_waits_for_credit),
		ITEST_T(test_type_rules),
		ITEST_T(test_without_feature),
		ITEST_T(test_host_connects),
		ITEST_T(test_host_connect_refused),
		cmocka_unit_test_setup_teardown(test_sibling_messages, setup_siblings,
						itest_teardown),
	};

	return cmocka_run_group_tests_name("seqpacket", tests, NULL, NULL);
}
