/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * vhost-user requests that test_vhost_user.c does not cover: memory slots
 * (GET_MAX_MEM_SLOTS, ADD/REM_MEM_REG, including removing the memory the
 * rings live in), RESET_OWNER followed by a renegotiation on the same
 * connection, SET_VRING_ERR, and the set requests the daemon must refuse
 * (SET_CONFIG, SET_VRING_ENABLE with a bad value, features it never
 * offered). A refusal must be an error ack that leaves the connection and
 * the state it had untouched.
 */
#include "itest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <endian.h>
#include <sys/eventfd.h>

#define BIT(n) (1ull << (n))
#define SLOT_SIZE (64u << 10) /* small page-aligned slices of guest RAM */

static struct sim *negotiated(struct itest *t, const struct sim_opts *o)
{
	struct sim *s = itest_connect(t, o);
	int r = sim_negotiate(s);

	if (r) {
		sim_close(s);
		fail_msg("negotiate: %s", strerror(-r));
	}
	/* Every refusal below is observed as an error ack. */
	assert_true(sim_info(s)->reply_ack);
	return s;
}

/* The connection still answers requests. */
static void assert_conn_alive(struct sim *s, const char *after)
{
	uint64_t f = 0;
	int r = sim_get_features(s, &f);

	if (r)
		fail_msg("after %s: GET_FEATURES failed: %s", after, strerror(-r));
	assert_true(f & BIT(VIRTIO_VSOCK_F_STREAM_BIT));
}

static int add_reg(struct sim *s, const struct vu_mem_region *rg)
{
	struct vu_mem_single_region m = { .region = *rg };
	int fd = sim_mem_fd(s);

	return sim_set_msg(s, VHOST_USER_ADD_MEM_REG, &m, sizeof(m), &fd, 1);
}

static int rem_reg(struct sim *s, const struct vu_mem_region *rg)
{
	struct vu_mem_single_region m = { .region = *rg };

	return sim_set_msg(s, VHOST_USER_REM_MEM_REG, &m, sizeof(m), NULL, 0);
}

/* Slice i of the sim's RAM as its own region, at a GPA of its own. */
static struct vu_mem_region slot(struct sim *s, unsigned i)
{
	struct vu_mem_region all, rg;

	sim_mem_region(s, 0, &all);
	rg.guest_phys_addr = 0x100000000ull + i * 0x100000ull;
	rg.memory_size = SLOT_SIZE;
	rg.userspace_addr = all.userspace_addr + (uint64_t)i * SLOT_SIZE;
	rg.mmap_offset = all.mmap_offset + (uint64_t)i * SLOT_SIZE;
	return rg;
}

/* Guest REQUEST to a host port with no listener: the answer is an RST. */
static void expect_rst_for(struct sim *s, struct sim_pkt *p, uint32_t src_port)
{
	itest_expect_pkt(s, p, ITEST_TIMEOUT_MS);
	if (p->op != VIRTIO_VSOCK_OP_RST || p->dst_port != src_port)
		fail_msg("expected RST to port %u, got %s to port %u", src_port,
			 sim_op_name(p->op), p->dst_port);
	assert_int_equal(p->dst_cid, sim_guest_cid(s));
	assert_int_equal(p->src_cid, ITEST_HOST_CID);
}

/* ---- memory slots ---- */

static void test_max_mem_slots(void **state)
{
	struct itest *t = *state;
	struct sim *s = negotiated(t, NULL);
	struct vu_mem_region rg;
	uint64_t n = 0;
	unsigned i;

	assert_int_equal(sim_get_max_mem_slots(s, &n), 0);
	assert_int_equal(n, 32);
	assert_int_equal(sim_info(s)->max_mem_slots, 32);

	/* The number is a promise: 32 regions fit, a 33rd does not. */
	for (i = 0; i < 32; i++) {
		rg = slot(s, i);
		if (add_reg(s, &rg))
			fail_msg("ADD_MEM_REG of slot %u of 32 refused (ack %llu)", i,
				 (unsigned long long)sim_last_ack(s));
	}
	rg = slot(s, 32);
	itest_expect_rejected(add_reg(s, &rg), "ADD_MEM_REG of a 33rd region");
	assert_conn_alive(s, "a 33rd region");
	/* Freeing one slot makes room again. */
	rg = slot(s, 7);
	assert_int_equal(rem_reg(s, &rg), 0);
	rg = slot(s, 32);
	assert_int_equal(add_reg(s, &rg), 0);
	sim_close(s);
	itest_fresh_frontend_ok(t);
}

static void test_add_then_rem_mem_reg(void **state)
{
	struct itest *t = *state;
	struct sim *s = negotiated(t, NULL);
	struct vu_mem_region rg, bad;

	sim_mem_region(s, 0, &rg);
	assert_int_equal(add_reg(s, &rg), 0);
	assert_int_equal(sim_last_ack(s), 0);
	assert_int_equal(rem_reg(s, &rg), 0);
	assert_int_equal(sim_last_ack(s), 0);

	/* Gone now: removing it again names a region that does not exist. */
	itest_expect_rejected(rem_reg(s, &rg), "REM_MEM_REG of a removed region");
	assert_true(sim_last_ack(s) != 0);
	assert_conn_alive(s, "REM_MEM_REG of a removed region");

	/* Really gone: the same region can be added again (a duplicate
	 * would be refused, see test_bad_add_mem_reg). */
	assert_int_equal(add_reg(s, &rg), 0);

	/* A region is named exactly: same GPA, other size or address. */
	bad = rg;
	bad.memory_size /= 2;
	itest_expect_rejected(rem_reg(s, &bad), "REM_MEM_REG with another size");
	bad = rg;
	bad.userspace_addr += 0x1000;
	itest_expect_rejected(rem_reg(s, &bad), "REM_MEM_REG with another address");
	bad = rg;
	bad.guest_phys_addr += 1ull << 40;
	itest_expect_rejected(rem_reg(s, &bad), "REM_MEM_REG of a GPA never added");
	assert_conn_alive(s, "REM_MEM_REG of regions that do not exist");
	/* The misses removed nothing: rg is still there (a duplicate). */
	itest_expect_rejected(add_reg(s, &rg), "ADD_MEM_REG of a region still present");
	assert_int_equal(rem_reg(s, &rg), 0);
	sim_close(s);
	itest_fresh_frontend_ok(t);
}

static void test_rem_ring_region(void **state)
{
	struct itest *t = *state;
	struct sim_pkt *p = sim_pkt_new();
	struct vu_mem_region rg;
	struct sim_opts o;
	struct sim *s;
	bool seen_a = false, seen_b = false;
	unsigned i;

	assert_non_null(p);
	itest_opts(&o);
	o.mem_mode = SIM_MEM_ADD_REG;
	o.mem_regions = 1;
	s = itest_start(t, &o);
	itest_send_op(s, 7001, 9001, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0);
	expect_rst_for(s, p, 7001);

	/* The one region holds all rings and buffers. */
	sim_mem_region(s, 0, &rg);
	assert_int_equal(rem_reg(s, &rg), 0);
	itest_send_op(s, 7002, 9002, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0);
	itest_expect_silence(s, 300, "tx kicked with the ring memory removed");
	assert_int_equal(sim_vq_in_flight(s, SIM_VQ_TX), 1);
	assert_true(sim_daemon_alive(&t->d));
	assert_conn_alive(s, "removing the ring memory");

	/* Memory back: the rings translate again and the pending REQUEST is
	 * served along with a new one. The explicit kick is needed because
	 * the device never published an avail_event past the first one. */
	assert_int_equal(add_reg(s, &rg), 0);
	itest_send_op(s, 7003, 9003, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0);
	assert_int_equal(sim_vq_kick(s, SIM_VQ_TX), 0);
	for (i = 0; i < 2; i++) {
		itest_expect_pkt(s, p, ITEST_TIMEOUT_MS);
		assert_int_equal(p->op, VIRTIO_VSOCK_OP_RST);
		if (p->dst_port == 7002)
			seen_a = true;
		else if (p->dst_port == 7003)
			seen_b = true;
		else
			fail_msg("RST to unexpected port %u", p->dst_port);
	}
	assert_true(seen_a && seen_b);
	assert_int_equal(sim_tx_flush(s, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(sim_stop(s), 0);
	sim_close(s);
	free(p);
	itest_fresh_frontend_ok(t);
}

/* ---- RESET_OWNER ---- */

static void test_reset_owner_renegotiate(void **state)
{
	struct itest *t = *state;
	struct sim_pkt *p = sim_pkt_new();
	struct sim_vq_rings rings;
	struct vu_vring_state num = { .index = SIM_VQ_TX, .num = 0 };
	struct vu_vring_addr a = { .index = SIM_VQ_TX };
	struct sim *s;
	int r;

	assert_non_null(p);
	s = itest_start(t, NULL);
	itest_send_op(s, 7101, 9101, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0);
	expect_rst_for(s, p, 7101);
	/* As QEMU: stop the rings (bases saved in sim_info), then reset. */
	assert_int_equal(sim_stop(s), 0);
	r = sim_set_msg(s, VHOST_USER_RESET_OWNER, NULL, 0, NULL, 0);
	if (r)
		fail_msg("RESET_OWNER: %s (ack %llu)", strerror(-r),
			 (unsigned long long)sim_last_ack(s));

	/* From scratch on the same connection: features, protocol features
	 * (REPLY_ACK again), owner, config. */
	r = sim_negotiate(s);
	if (r)
		fail_msg("renegotiation after RESET_OWNER: %s", strerror(-r));
	assert_int_equal(sim_info(s)->config_guest_cid, ITEST_CID);

	/* The reset dropped the memory table: ring addresses cannot be
	 * translated until memory is announced again. */
	sim_vq_rings(s, SIM_VQ_TX, &rings);
	num.num = rings.num;
	assert_int_equal(sim_set_msg(s, VHOST_USER_SET_VRING_NUM, &num, sizeof(num), NULL, 0),
			 0);
	a.desc_user_addr = (uint64_t)(uintptr_t)rings.desc;
	a.avail_user_addr = (uint64_t)(uintptr_t)rings.avail;
	a.used_user_addr = (uint64_t)(uintptr_t)rings.used;
	itest_expect_rejected(sim_set_msg(s, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
			      "SET_VRING_ADDR after RESET_OWNER, before memory");

	/* Memory and rings again, resuming at the saved bases. */
	r = sim_start(s);
	if (r)
		fail_msg("restart after RESET_OWNER: %s (ack %llu)", strerror(-r),
			 (unsigned long long)sim_last_ack(s));
	itest_send_op(s, 7102, 9102, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0);
	expect_rst_for(s, p, 7102);
	assert_int_equal(sim_stop(s), 0);
	/* One chain consumed before the reset, one after. */
	assert_int_equal(sim_info(s)->vring_base[SIM_VQ_TX], 2);
	sim_close(s);
	free(p);
	itest_fresh_frontend_ok(t);
}

/* ---- SET_VRING_ERR ---- */

static void test_set_vring_err(void **state)
{
	struct itest *t = *state;
	struct sim *s = negotiated(t, NULL);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t v;

	assert_true(efd >= 0);
	assert_int_equal(sim_send_mem(s), 0);
	for (v = 0; v < SIM_NUM_VQS; v++) {
		if (sim_set_msg(s, VHOST_USER_SET_VRING_ERR, &v, sizeof(v), &efd, 1))
			fail_msg("SET_VRING_ERR queue %llu with an eventfd refused (ack %llu)",
				 (unsigned long long)v, (unsigned long long)sim_last_ack(s));
		assert_int_equal(sim_last_ack(s), 0);
	}
	/* Replacing one fd with "no fd" is valid too. */
	v = SIM_VQ_TX | VHOST_USER_VRING_NOFD_MASK;
	assert_int_equal(sim_set_msg(s, VHOST_USER_SET_VRING_ERR, &v, sizeof(v), NULL, 0), 0);
	assert_int_equal(sim_last_ack(s), 0);

	/* What is still malformed: a queue that does not exist, and an fd
	 * announced but not sent. */
	v = 9;
	itest_expect_rejected(sim_set_msg(s, VHOST_USER_SET_VRING_ERR, &v, sizeof(v), &efd, 1),
			      "SET_VRING_ERR queue 9");
	v = SIM_VQ_RX;
	itest_expect_rejected(sim_set_msg(s, VHOST_USER_SET_VRING_ERR, &v, sizeof(v), NULL, 0),
			      "SET_VRING_ERR without fd or NOFD");
	assert_conn_alive(s, "SET_VRING_ERR");
	close(efd);
	sim_close(s);
	itest_fresh_frontend_ok(t);
}

/* ---- refusals ---- */

static void test_set_config_refused(void **state)
{
	struct itest *t = *state;
	struct sim *s = negotiated(t, NULL);
	struct vu_config_space cfg = { .offset = 0, .size = 8 };
	uint64_t cid = htole64(99);
	uint8_t out[8];
	int r;

	memcpy(cfg.region, &cid, sizeof(cid));
	r = sim_set_msg(s, VHOST_USER_SET_CONFIG, &cfg, VU_CONFIG_HDR_SIZE + 8, NULL, 0);
	if (r != -EIO)
		fail_msg("SET_CONFIG guest_cid 99: expected an error ack, got %s",
			 r ? strerror(-r) : "ack 0");
	assert_true(sim_last_ack(s) != 0);
	/* The config space is unchanged and the connection still serves. */
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(sim_get_config(s, 0, 8, out), 0);
	memcpy(&cid, out, sizeof(cid));
	assert_int_equal(le64toh(cid), ITEST_CID);
	sim_close(s);
	itest_fresh_frontend_ok(t);
}

static void test_vring_enable_bad_value(void **state)
{
	struct itest *t = *state;
	struct sim *s = negotiated(t, NULL);
	struct vu_vring_state st = { .index = SIM_VQ_RX, .num = 2 };
	int r;

	assert_int_equal(sim_send_mem(s), 0);
	r = sim_set_msg(s, VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0);
	if (r != -EIO)
		fail_msg("SET_VRING_ENABLE 2: expected an error ack, got %s",
			 r ? strerror(-r) : "ack 0");
	st.num = 0xffffffffu;
	assert_int_equal(sim_set_msg(s, VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0),
			 -EIO);
	/* 0 and 1 are still fine on the same connection. */
	assert_int_equal(sim_set_vring_enable(s, SIM_VQ_RX, true), 0);
	assert_int_equal(sim_set_vring_enable(s, SIM_VQ_RX, false), 0);
	sim_close(s);
	itest_fresh_frontend_ok(t);
}

/* --queue-size bounds SET_VRING_NUM: larger rings are refused, smaller and
 * equal ones accepted, on the same connection. */
static const char *const queue_size_64[] = { "--queue-size", "64", NULL };

static void test_queue_size_limit(void **state)
{
	struct itest *t = *state;
	struct sim *s = negotiated(t, NULL);
	struct vu_vring_state st = { .index = SIM_VQ_TX, .num = 128 };

	itest_expect_rejected(sim_set_msg(s, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0),
			      "SET_VRING_NUM 128 with --queue-size 64");
	st.num = 64;
	assert_int_equal(sim_set_msg(s, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	st.num = 32;
	assert_int_equal(sim_set_msg(s, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	sim_close(s);
}

static void test_set_features_not_offered(void **state)
{
	struct itest *t = *state;
	struct sim *s = negotiated(t, NULL);
	struct sim_pkt *p = sim_pkt_new();
	uint64_t offered = sim_info(s)->features_offered;
	static const unsigned bits[] = { 34 /* RING_PACKED */, 33 /* ACCESS_PLATFORM */,
					 3 /* no vsock feature yet */, 63 };
	unsigned i;

	assert_non_null(p);
	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		char what[64];

		assert_false(offered & BIT(bits[i]));
		snprintf(what, sizeof(what), "SET_FEATURES with bit %u not offered", bits[i]);
		itest_expect_rejected(sim_set_features(s, sim_info(s)->features_acked |
							  BIT(bits[i])), what);
		assert_conn_alive(s, what);
	}
	/* The features acked before still hold: the device starts. */
	assert_int_equal(sim_set_features(s, sim_info(s)->features_acked), 0);
	assert_int_equal(sim_start(s), 0);
	itest_send_op(s, 7201, 9201, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0);
	expect_rst_for(s, p, 7201);
	assert_int_equal(sim_stop(s), 0);
	sim_close(s);
	free(p);
	itest_fresh_frontend_ok(t);
}

/* SET_PROTOCOL_FEATURES never has the ack requested by the sim (REPLY_ACK
 * is not in force until it is processed); request one by hand. Returns
 * the ack, or fails. */
static uint64_t set_protocol_features_acked(struct sim *s, uint64_t f)
{
	struct vu_msg_header hdr;
	uint64_t ack = 0;
	int r;

	assert_int_equal(sim_send_msg(s, VHOST_USER_SET_PROTOCOL_FEATURES,
				      VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK, &f,
				      sizeof(f), NULL, 0), 0);
	r = sim_recv_reply(s, &hdr, &ack, sizeof(ack), ITEST_TIMEOUT_MS);
	if (r != (int)sizeof(ack))
		fail_msg("SET_PROTOCOL_FEATURES 0x%llx: no ack (%s)", (unsigned long long)f,
			 r < 0 ? strerror(-r) : "short reply");
	assert_int_equal(hdr.request, VHOST_USER_SET_PROTOCOL_FEATURES);
	return ack;
}

static void test_set_protocol_features_not_offered(void **state)
{
	struct itest *t = *state;
	struct sim *s = negotiated(t, NULL);
	uint64_t pf = sim_info(s)->protocol_acked;
	struct vu_msg_header hdr;
	uint64_t v = 0, offered = 0;
	int r;

	assert_int_equal(sim_get_protocol_features(s, &offered), 0);
	assert_false(offered & BIT(VHOST_USER_PROTOCOL_F_BACKEND_REQ));
	assert_false(offered & BIT(VHOST_USER_PROTOCOL_F_STATUS));
	/* REPLY_ACK is in force: the refusal shows as a non-zero ack. */
	assert_true(set_protocol_features_acked(s, pf | BIT(VHOST_USER_PROTOCOL_F_BACKEND_REQ)) !=
		    0);
	assert_true(set_protocol_features_acked(s, pf | BIT(VHOST_USER_PROTOCOL_F_STATUS)) != 0);
	/* Refused as a whole: REPLY_ACK still holds, a set gets ack 0. */
	assert_int_equal(sim_set_owner(s), 0);
	assert_int_equal(sim_last_ack(s), 0);
	sim_close(s);

	/* On a fresh connection, before REPLY_ACK: a refused message that
	 * includes REPLY_ACK must not turn it on. */
	s = itest_connect(t, NULL);
	assert_int_equal(sim_get_features(s, &v), 0);
	assert_int_equal(sim_send_msg(s, VHOST_USER_SET_PROTOCOL_FEATURES, VHOST_USER_VERSION,
				      &(uint64_t){ BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) |
						   BIT(VHOST_USER_PROTOCOL_F_BACKEND_REQ) },
				      sizeof(uint64_t), NULL, 0), 0);
	assert_int_equal(sim_send_msg(s, VHOST_USER_SET_OWNER,
				      VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK, NULL, 0,
				      NULL, 0), 0);
	r = sim_recv_reply(s, &hdr, &v, sizeof(v), 300);
	if (r != -ETIMEDOUT)
		fail_msg("SET_OWNER after a refused SET_PROTOCOL_FEATURES: expected no ack "
			 "(REPLY_ACK not negotiated), got %d", r);
	assert_conn_alive(s, "a refused SET_PROTOCOL_FEATURES");
	sim_close(s);
	itest_fresh_frontend_ok(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITEST_T(test_max_mem_slots),
		ITEST_T(test_add_then_rem_mem_reg),
		ITEST_T(test_rem_ring_region),
		ITEST_T(test_reset_owner_renegotiate),
		ITEST_T(test_set_vring_err),
		ITEST_T(test_set_config_refused),
		ITEST_T(test_vring_enable_bad_value),
		ITEST_T(test_set_features_not_offered),
		ITEST_T(test_set_protocol_features_not_offered),
		ITEST_T_ARGS(test_queue_size_limit, queue_size_64),
	};

	return cmocka_run_group_tests_name("vhost-user messages", tests, NULL, NULL);
}
