/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Connection budgets by source (issue #12 point 3): idle clients of
 * uds-path, a sibling VM, and the guest's own connections no longer share
 * one pool of slots.
 *
 *  - 1030 idle connects to uds-path (no CONNECT line) used to fill the
 *    VM's 1024 slots for the 2 s of their handshake, so the guest's connect
 *    to a live host service was refused. Now at most max-host-handshakes
 *    (1/4 of 1024 by default) wait, the oldest are closed for new ones, and
 *    the guest's connect goes through.
 *  - With max-connections 32 and 8 slots reserved for the guest, host
 *    connections the guest accepts get 24, and the guest still connects
 *    out 8 times.
 *  - A sibling VM may open at most max-sibling-connections (1/4 of 1024)
 *    to a guest; more are refused and counted by source.
 *
 * The guests are the simulator's socket layer (sim_sock.h); the host side
 * is Unix sockets only.
 */
#include "itest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FLOOD 1030u
#define DEFAULT_MAX 1024u
#define HANDSHAKE_CAP (DEFAULT_MAX / 4) /* max-host-handshakes default */
#define SIBLING_CAP (DEFAULT_MAX / 4)   /* max-sibling-connections default */
#define SIBLING_TRIES (SIBLING_CAP + 44)
#define GUEST_SERVICE 5555u
#define HOST_SERVICE 1234u
#define SIBLING_SERVICE 7000u

/* What happened to one connection of a guest (or, for a listener, to all
 * the connections it accepted). */
struct ev_count {
	unsigned accepted, connected, refused, closed;
};

static void on_data(struct sg_conn *c, const uint8_t *p, size_t n)
{
	(void)c, (void)p, (void)n;
}

static void on_event(struct sg_conn *c, enum sg_event ev)
{
	struct ev_count *e = c->user;

	switch (ev) {
	case SG_EV_ACCEPTED:
		e->accepted++;
		break;
	case SG_EV_CONNECTED:
		e->connected++;
		break;
	case SG_EV_CLOSED:
		if (c->refused || c->state == SG_CONNECTING)
			e->refused++;
		else
			e->closed++;
		break;
	case SG_EV_SHUTDOWN:
		break;
	}
}

static const struct sg_conn_ops ops = { .data = on_data, .event = on_event };

static struct sg *attach(struct sim *s, unsigned max_conns)
{
	struct sg_cfg cfg;
	struct sg *g;

	sg_cfg_init(&cfg);
	cfg.max_conns = max_conns;
	cfg.timeout_ms = ITEST_TIMEOUT_MS;
	assert_int_equal(sg_attach(s, &cfg, &g), 0);
	return g;
}

static void poll_ok(struct sg *g, int ms)
{
	int r = sg_poll(g, ms);

	while (r > 0)
		r = sg_poll(g, 0);
	if (r < 0)
		fail_msg("guest poll: %s", strerror(-r));
}

static void need_nofile(unsigned n)
{
	rlim_t have = itest_raise_nofile(4096);

	if (have < n) {
		print_message("RLIMIT_NOFILE is %llu, %u needed (ulimit -Hn 4096)\n",
			      (unsigned long long)have, n);
		skip();
	}
}

static void test_handshake_flood(void **state)
{
	struct itest *t = *state;
	struct ev_count svc = { 0 }, mine = { 0 };
	struct sg_conn *c;
	struct sim *s;
	struct sg *g;
	int lfd, hfd, fds[FLOOD];
	unsigned closed = 0, evicted = FLOOD - HANDSHAKE_CAP;
	char line[32];
	int64_t end;

	need_nofile(FLOOD + 128);
	s = itest_start(t, NULL);
	g = attach(s, 16);
	assert_int_equal(sg_listen(g, GUEST_SERVICE, &ops, &svc), 0);
	lfd = itest_host_listen(t, HOST_SERVICE, 16);

	/* The flood: idle clients that never send their CONNECT line, then
	 * one that does. The daemon takes connections in order, so once the
	 * guest hears the last one's REQUEST it has taken in every other. */
	for (unsigned i = 0; i < FLOOD - 1; i++)
		fds[i] = itest_host_dial(t);
	fds[FLOOD - 1] = itest_host_dial(t);
	/* Refused at once when the table is full (EPIPE): handled below. */
	itest_host_write(fds[FLOOD - 1], "CONNECT 5555\n", 13, ITEST_TIMEOUT_MS);
	for (end = sim_now_ms() + ITEST_TIMEOUT_MS; !svc.accepted; ) {
		if (itest_host_closed_now(fds[FLOOD - 1]))
			break; /* refused at the limit: the guest's turn anyway */
		if (sim_now_ms() > end)
			fail_msg("the last host connection was neither offered nor closed");
		poll_ok(g, 10);
	}

	/* The guest connects to a live host service: it must get through
	 * while the idle clients are still inside their 2 s handshake. */
	assert_int_equal(sg_connect(g, ITEST_HOST_CID, HOST_SERVICE, 0, &ops, &mine, &c), 0);
	assert_int_equal(sg_kick(g), 0);
	for (end = sim_now_ms() + ITEST_TIMEOUT_MS; !mine.connected && !mine.refused; ) {
		if (sim_now_ms() > end)
			fail_msg("the guest's connect was not answered");
		poll_ok(g, 10);
	}
	if (!mine.connected)
		fail_msg("after %u idle connects to uds-path the guest's connect to a live host "
			 "service was refused (accepted host connections: %u)",
			 FLOOD, svc.accepted);
	hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	assert_int_equal(svc.accepted, 1);
	assert_true(itest_host_read_line(fds[FLOOD - 1], line, sizeof(line), ITEST_TIMEOUT_MS) > 0);
	assert_string_equal(line, "OK 5555\n");

	/* The oldest idle clients were closed for the newer ones: their
	 * sockets see EOF. */
	end = sim_now_ms() + ITEST_TIMEOUT_MS;
	for (unsigned i = 0; i < evicted; i++) {
		int64_t left = end - sim_now_ms();

		closed += itest_host_wait_closed(fds[i], left > 0 ? (int)left : 0, NULL) == 0;
	}
	print_message("%u of the oldest %u idle clients closed\n", closed, evicted);
	assert_int_equal(closed, evicted);
	assert_true(itest_log_contains(t, "closing the oldest for a new one"));

	for (unsigned i = 0; i < FLOOD; i++)
		close(fds[i]);
	close(hfd);
	close(lfd);
	sg_close(g);
	sim_close(s);
}

static void test_sibling_cap(void **state)
{
	struct itest *t = *state, t2;
	struct ev_count svc = { 0 }, peer[SIBLING_TRIES];
	unsigned connected = 0, refused = 0;
	struct sim *s5, *s6;
	struct sg *g5, *g6;
	char *m;

	need_nofile(4 * SIBLING_TRIES + 128);
	itest_vm2(t, &t2);
	s5 = itest_start(t, NULL);
	s6 = itest_start(&t2, NULL);
	g5 = attach(s5, SIBLING_TRIES + 8);
	g6 = attach(s6, SIBLING_TRIES + 8);
	assert_int_equal(sg_listen(g5, SIBLING_SERVICE, &ops, &svc), 0);
	memset(peer, 0, sizeof(peer));

	/* The guest of CID 6 opens connections to CID 5 in small batches
	 * (the hand-off between VMs is a bounded inbox), each answered
	 * before the next batch. */
	for (unsigned i = 0; i < SIBLING_TRIES;) {
		unsigned batch = i + 16 < SIBLING_TRIES ? i + 16 : SIBLING_TRIES;
		int64_t end = sim_now_ms() + ITEST_TIMEOUT_MS;

		for (unsigned k = i; k < batch; k++) {
			struct sg_conn *c;

			assert_int_equal(sg_connect(g6, ITEST_CID, SIBLING_SERVICE, 0, &ops,
						    &peer[k], &c),
					 0);
		}
		assert_int_equal(sg_kick(g6), 0);
		for (;;) {
			unsigned done = 0;

			for (unsigned k = i; k < batch; k++)
				done += peer[k].connected || peer[k].refused;
			if (done == batch - i)
				break;
			if (sim_now_ms() > end)
				fail_msg("sibling connections %u..%u: %u of %u answered", i,
					 batch - 1, done, batch - i);
			poll_ok(g5, 0);
			poll_ok(g6, 5);
		}
		i = batch;
	}
	for (unsigned k = 0; k < SIBLING_TRIES; k++) {
		connected += peer[k].connected;
		refused += peer[k].refused;
	}
	print_message("sibling CID %u: %u connections accepted, %u refused\n", ITEST_CID2,
		      connected, refused);
	assert_int_equal(connected, SIBLING_CAP);
	assert_int_equal(refused, SIBLING_TRIES - SIBLING_CAP);
	assert_int_equal(svc.accepted, SIBLING_CAP);

	m = itest_metrics_scrape(t);
	assert_int_equal(itest_metrics_sample(
				 m, "vdv_connection_limit_hits_total{cid=\"5\",source=\"sibling\"}"),
			 SIBLING_TRIES - SIBLING_CAP);
	assert_int_equal(itest_metrics_sample(
				 m, "vdv_connection_limit_hits_total{cid=\"5\",source=\"guest\"}"),
			 0);
	free(m);

	sg_close(g6);
	sg_close(g5);
	sim_close(s6);
	sim_close(s5);
}

/* max-connections 32 with 8 reserved for the guest: host connections the
 * guest accepts take the 24 shared slots, the next ones are closed before
 * the guest hears of them, and the guest still connects out 8 times. */
#define SMALL_MAX 32u
#define SMALL_RESERVED 8u

static void test_guest_reserved(void **state)
{
	struct itest *t = *state;
	struct ev_count svc = { 0 }, out[SMALL_RESERVED];
	unsigned shared = SMALL_MAX - SMALL_RESERVED, ok = 0;
	int fds[SMALL_MAX], hfds[SMALL_RESERVED], lfd;
	char line[32];
	struct sim *s;
	struct sg *g;

	s = itest_start(t, NULL);
	g = attach(s, 2 * SMALL_MAX);
	assert_int_equal(sg_listen(g, GUEST_SERVICE, &ops, &svc), 0);
	lfd = itest_host_listen(t, HOST_SERVICE, SMALL_MAX);
	for (unsigned i = 0; i < SMALL_MAX; i++) {
		int64_t end = sim_now_ms() + ITEST_TIMEOUT_MS;
		unsigned before = svc.accepted;

		/* One at a time: each is accepted by the guest or closed (maybe
		 * before its CONNECT line is written: EPIPE is fine). */
		fds[i] = itest_host_dial(t);
		itest_host_write(fds[i], "CONNECT 5555\n", 13, ITEST_TIMEOUT_MS);
		while (svc.accepted == before && !itest_host_closed_now(fds[i])) {
			if (sim_now_ms() > end)
				fail_msg("host connection %u neither offered nor closed", i);
			poll_ok(g, 5);
		}
		if (svc.accepted > before) {
			assert_true(itest_host_read_line(fds[i], line, sizeof(line),
							 ITEST_TIMEOUT_MS) > 0);
			ok++;
		}
	}
	print_message("%u of %u host connections accepted\n", ok, SMALL_MAX);
	assert_int_equal(ok, shared);

	memset(out, 0, sizeof(out));
	for (unsigned i = 0; i < SMALL_RESERVED; i++) {
		struct sg_conn *c;
		int64_t end = sim_now_ms() + ITEST_TIMEOUT_MS;

		assert_int_equal(sg_connect(g, ITEST_HOST_CID, HOST_SERVICE, 0, &ops, &out[i], &c),
				 0);
		assert_int_equal(sg_kick(g), 0);
		while (!out[i].connected && !out[i].refused) {
			if (sim_now_ms() > end)
				fail_msg("guest connect %u not answered", i);
			poll_ok(g, 5);
		}
		if (!out[i].connected)
			fail_msg("guest connect %u refused with %u host connections open", i, ok);
		hfds[i] = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
		assert_true(hfds[i] >= 0);
	}
	for (unsigned i = 0; i < SMALL_MAX; i++)
		close(fds[i]);
	for (unsigned i = 0; i < SMALL_RESERVED; i++)
		close(hfds[i]);
	close(lfd);
	sg_close(g);
	sim_close(s);
}

static const char *const small_args[] = { "--max-connections", "32",
					  "--guest-reserved-connections", "8", NULL };
static const char *const two_default[2] = { "", "" };

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITEST_T(test_handshake_flood),
		ITEST_T_ARGS(test_guest_reserved, small_args),
		ITEST_T_TWO(test_sibling_cap, two_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
