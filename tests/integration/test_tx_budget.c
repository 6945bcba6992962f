/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Tx-buffer budgets (issue #12 point 5). Each connection may hold up to its
 * buf_alloc of guest data for a slow host socket, and used to be promised
 * tx-buffer-size whatever the count: 1024 x tx-buffer-size per VM. Now a
 * VM's connections are promised at most tx-buffer-budget together (64 MiB
 * by default) and the process' at most --tx-buffer-budget-total; once a
 * budget runs low, new connections advertise a smaller buf_alloc, down to
 * 4096 bytes, and the guest's credit keeps its data within it.
 *
 *  - test_vm_budget: two VMs. CID 5 has tx-buffer-size 16 MiB (an existing
 *    key; the budget is the default), CID 6 the defaults. Eight
 *    connections each to a host service that does not read at first: CID
 *    5's windows drop (16 MiB, 16 MiB, 16 MiB, ~12 MiB, then 4 KiB), the
 *    tx buffer it allocates stays within 64 MiB, CID 6 keeps 64 KiB
 *    windows; once the host reads, every byte of both arrives intact.
 *  - test_process_budget: --tx-buffer-budget-total 128 KiB: the third
 *    connection gets the floor, and a closed connection gives its share
 *    back.
 */
#include "itest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KIB 1024u
#define MIB (1024u * KIB)
#define NCONN 8u
#define XFER (1u * MIB)     /* per connection: well beyond a socket's buffer */
#define BIG_TX (16u * MIB)  /* CID 5's tx-buffer-size */
#define VM_BUDGET (64ull * MIB) /* tx-buffer-budget default */
#define FLOOR 4096u
#define HOST_SERVICE 1234u

struct flow {
	struct sg_conn *c;
	bool connected, refused;
	uint32_t buf_alloc;      /* what the device advertised */
	uint32_t seed;
	uint64_t sent, got;
	int hfd;
	int64_t bad_at;          /* first wrong byte at the host, or -1 */
};

struct vm {
	struct itest view;
	struct sim *s;
	struct sg *g;
	int lfd;
	struct flow f[NCONN];
};

static void on_data(struct sg_conn *c, const uint8_t *p, size_t n)
{
	(void)c, (void)p, (void)n;
}

static void on_event(struct sg_conn *c, enum sg_event ev)
{
	struct flow *f = c->user;

	if (ev == SG_EV_CONNECTED)
		f->connected = true;
	else if (ev == SG_EV_CLOSED)
		f->refused = true;
}

static const struct sg_conn_ops ops = { .data = on_data, .event = on_event };

static void poll_ok(struct sg *g, int ms)
{
	int r = sg_poll(g, ms);

	while (r > 0)
		r = sg_poll(g, 0);
	if (r < 0)
		fail_msg("guest poll: %s", strerror(-r));
}

static void vm_start(struct vm *v, const struct itest *view)
{
	struct sg_cfg cfg;

	memset(v, 0, sizeof(*v));
	for (unsigned i = 0; i < NCONN; i++)
		v->f[i].hfd = -1;
	v->view = *view;
	v->s = itest_start(&v->view, NULL);
	sg_cfg_init(&cfg);
	cfg.max_conns = NCONN + 4;
	cfg.timeout_ms = ITEST_TIMEOUT_MS;
	assert_int_equal(sg_attach(v->s, &cfg, &v->g), 0);
	v->lfd = itest_host_listen(&v->view, HOST_SERVICE, NCONN);
}

/* Opens flow i: the guest's connect, answered, and its host socket. */
static void vm_connect(struct vm *v, unsigned i, uint32_t seed)
{
	struct flow *f = &v->f[i];
	int64_t end = sim_now_ms() + ITEST_TIMEOUT_MS;

	*f = (struct flow){ .seed = seed, .hfd = -1, .bad_at = -1 };
	assert_int_equal(sg_connect(v->g, ITEST_HOST_CID, HOST_SERVICE, 0, &ops, f, &f->c), 0);
	assert_int_equal(sg_kick(v->g), 0);
	while (!f->connected && !f->refused) {
		if (sim_now_ms() > end)
			fail_msg("connection %u not answered", i);
		poll_ok(v->g, 10);
	}
	if (!f->connected)
		fail_msg("connection %u refused", i);
	f->buf_alloc = f->c->peer_buf_alloc;
	f->hfd = itest_host_accept(v->lfd, ITEST_TIMEOUT_MS);
	assert_true(f->hfd >= 0);
	assert_int_equal(fcntl(f->hfd, F_SETFL, O_NONBLOCK), 0);
}

/* Sends what credit allows on every flow: true if anything went. */
static bool vm_send(struct vm *v)
{
	static uint8_t buf[64 * KIB];
	bool moved = false;

	for (unsigned i = 0; i < NCONN; i++) {
		struct flow *f = &v->f[i];
		uint32_t n = sg_peer_credit(f->c);
		ssize_t q;

		if (n > sizeof(buf))
			n = sizeof(buf);
		if (n > XFER - f->sent)
			n = (uint32_t)(XFER - f->sent);
		if (!n)
			continue;
		itest_pattern(buf, n, f->seed, f->sent);
		q = sg_send(f->c, buf, n);
		if (q < 0)
			fail_msg("flow %u: send: %s", i, strerror((int)-q));
		f->sent += (uint64_t)q;
		moved |= q > 0;
	}
	assert_int_equal(sg_kick(v->g), 0);
	poll_ok(v->g, 0);
	return moved;
}

/* Reads what the host sockets hold, checking it: true if anything came. */
static bool vm_read(struct vm *v)
{
	static uint8_t buf[64 * KIB];
	bool moved = false;

	for (unsigned i = 0; i < NCONN; i++) {
		struct flow *f = &v->f[i];
		ssize_t n = read(f->hfd, buf, sizeof(buf));

		if (n < 0 && errno != EAGAIN)
			fail_msg("flow %u: host read: %s", i, strerror(errno));
		if (n <= 0)
			continue;
		if (f->bad_at < 0) {
			ssize_t bad = itest_pattern_check(buf, (size_t)n, f->seed, f->got);

			if (bad >= 0)
				f->bad_at = (int64_t)f->got + bad;
		}
		f->got += (uint64_t)n;
		moved = true;
	}
	return moved;
}

static bool vm_done(const struct vm *v)
{
	for (unsigned i = 0; i < NCONN; i++)
		if (v->f[i].got < XFER)
			return false;
	return true;
}

static void vm_check_delivered(const struct vm *v, const char *name)
{
	for (unsigned i = 0; i < NCONN; i++) {
		const struct flow *f = &v->f[i];

		if (f->bad_at >= 0 || f->got != XFER)
			fail_msg("%s flow %u: %llu of %u bytes arrived, first wrong byte at %lld",
				 name, i, (unsigned long long)f->got, XFER, (long long)f->bad_at);
	}
}

static void vm_stop(struct vm *v)
{
	for (unsigned i = 0; i < NCONN; i++)
		if (v->f[i].hfd >= 0)
			close(v->f[i].hfd);
	close(v->lfd);
	sg_close(v->g);
	sim_close(v->s);
}

static void test_vm_budget(void **state)
{
	struct itest *t = *state, t2;
	struct vm a, b; /* CID 5 (big windows, default budget), CID 6 (defaults) */
	uint64_t sum = 0, bytes, promised;
	int64_t end, idle_since;
	char *m, name[96];

	itest_vm2(t, &t2);
	vm_start(&a, t);
	vm_start(&b, &t2);
	for (unsigned i = 0; i < NCONN; i++) {
		vm_connect(&a, i, 100 + i);
		vm_connect(&b, i, 200 + i);
	}
	for (unsigned i = 0; i < NCONN; i++) {
		print_message("connection %u: CID 5 buf_alloc %u, CID 6 buf_alloc %u\n", i,
			      a.f[i].buf_alloc, b.f[i].buf_alloc);
		sum += a.f[i].buf_alloc;
		/* The promise shrinks as the budget goes, never below the floor. */
		assert_true(a.f[i].buf_alloc >= FLOOR && a.f[i].buf_alloc <= BIG_TX);
		if (i)
			assert_true(a.f[i].buf_alloc <= a.f[i - 1].buf_alloc);
		assert_int_equal(b.f[i].buf_alloc, 65536); /* budget left: unaffected */
	}
	assert_int_equal(a.f[0].buf_alloc, BIG_TX);
	assert_int_equal(a.f[NCONN - 1].buf_alloc, FLOOR);
	if (sum > VM_BUDGET)
		fail_msg("CID 5 was promised %llu bytes of tx buffer, budget %llu",
			 (unsigned long long)sum, (unsigned long long)VM_BUDGET);

	/* The host does not read: the guests send until their credit is
	 * spent, and the device holds what the sockets do not take. */
	end = sim_now_ms() + 10000;
	for (idle_since = sim_now_ms(); sim_now_ms() - idle_since < 300;) {
		bool moved = vm_send(&a);

		moved |= vm_send(&b);
		if (moved)
			idle_since = sim_now_ms();
		if (sim_now_ms() > end)
			fail_msg("the guests kept sending for 10 s against a host that reads nothing");
		poll_ok(a.g, 1);
	}
	/* Every connection stalled on credit: its window is what the device
	 * buffers, so none sent all of its data. */
	for (unsigned i = 0; i < NCONN; i++)
		assert_true(a.f[i].sent < XFER || a.f[i].buf_alloc >= XFER);
	m = itest_metrics_scrape(t);
	bytes = itest_metrics_sample(m, "vdv_tx_buffer_bytes{cid=\"5\"}");
	promised = itest_metrics_sample(m, "vdv_tx_buffer_promised_bytes{cid=\"5\"}");
	print_message("CID 5: tx buffer %llu bytes allocated, %llu promised (budget %llu)\n",
		      (unsigned long long)bytes, (unsigned long long)promised,
		      (unsigned long long)VM_BUDGET);
	assert_true(bytes > 0);       /* the host's slowness was buffered... */
	assert_true(bytes <= VM_BUDGET); /* ...within the budget */
	assert_int_equal(promised, sum);
	snprintf(name, sizeof(name), "vdv_tx_buffer_bytes{cid=\"%u\"}", ITEST_CID2);
	assert_true(itest_metrics_sample(m, name) <= NCONN * 65536ull);
	free(m);

	/* The host reads: every byte arrives, in order. */
	end = sim_now_ms() + 20000;
	while (!vm_done(&a) || !vm_done(&b)) {
		bool moved = vm_read(&a);

		moved |= vm_read(&b);
		moved |= vm_send(&a);
		moved |= vm_send(&b);
		if (sim_now_ms() > end)
			break;
		if (!moved)
			poll_ok(a.g, 1);
	}
	vm_check_delivered(&a, "CID 5");
	vm_check_delivered(&b, "CID 6");
	for (unsigned i = 0; i < NCONN; i++) {
		assert_int_equal(a.f[i].c->credit_violations, 0);
		assert_int_equal(b.f[i].c->credit_violations, 0);
	}
	vm_stop(&b);
	vm_stop(&a);
}

static void test_process_budget(void **state)
{
	struct itest *t = *state;
	struct vm v;
	int64_t end;

	vm_start(&v, t);
	for (unsigned i = 0; i < 4; i++)
		vm_connect(&v, i, i);
	print_message("buf_alloc: %u %u %u %u\n", v.f[0].buf_alloc, v.f[1].buf_alloc,
		      v.f[2].buf_alloc, v.f[3].buf_alloc);
	/* 128 KiB for the process: two full windows, then the floor, which
	 * is granted even beyond the budget. */
	assert_int_equal(v.f[0].buf_alloc, 65536);
	assert_int_equal(v.f[1].buf_alloc, 65536);
	assert_int_equal(v.f[2].buf_alloc, FLOOR);
	assert_int_equal(v.f[3].buf_alloc, FLOOR);

	/* A connection that ends gives its share back. */
	assert_int_equal(sg_rst(v.f[0].c), 0);
	assert_int_equal(sg_kick(v.g), 0);
	for (end = sim_now_ms() + ITEST_TIMEOUT_MS; !itest_host_closed_now(v.f[0].hfd);) {
		if (sim_now_ms() > end)
			fail_msg("the reset connection's host socket stayed open");
		poll_ok(v.g, 10);
	}
	vm_connect(&v, 4, 4);
	/* 136 KiB were promised, 64 came back: 56 KiB left of the 128. */
	assert_int_equal(v.f[4].buf_alloc, 56 * KIB);
	vm_stop(&v);
}

static const char *const vm_budget_keys[2] = { ",tx-buffer-size=16777216", "" };
static const char *const process_args[] = { "--tx-buffer-budget-total", "131072", NULL };

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITEST_T_TWO(test_vm_budget, vm_budget_keys),
		ITEST_T_ARGS(test_process_budget, process_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
