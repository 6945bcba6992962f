/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Many connections at once: 500 concurrent streams (half opened by the
 * guest, half by the host) each moving checked data both ways, and the
 * per-VM connection limit (VSOCK_MAX_CONNS, 1024): the excess is refused
 * both ways, the daemon says why in its log, and closing some makes room.
 *
 * The guest is the simulator's socket layer (many connections on one
 * device); this file keeps only what each connection's application does:
 * a pattern each way, checked, then shutdown until the device's RST.
 */
#include "itest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define GPORT_BASE 40000u
#define HPORT_BASE 20000u
#define GUEST_BUF (32u * 1024u)
#define MAX_CONNS 1024u /* VSOCK_MAX_CONNS in src/vsock/conn_table.h */
#define NOFILE_WANT 4096u

enum mc_state { MC_IDLE, MC_CONNECTING, MC_OPEN, MC_REFUSED, MC_RESET };

/* One connection of the multi-connection guest, and its host end. */
struct mc {
	uint32_t gport, hport;
	bool host_initiated;
	enum mc_state state;
	struct sg_conn *conn;   /* the socket layer's (kept after close) */
	uint64_t tx_len, rx_len, tx_done, rx_done;
	uint32_t seed_g2h, seed_h2g;
	bool shut_sent, peer_shut_send;
	int64_t bad_at;
	/* host side: set up by the main thread, then the host thread's */
	int hfd;
	uint64_t h_tx_done, h_rx_done;
	bool h_eof, h_shut;
	int64_t h_bad_at;
	int h_err;
};

struct mg {
	struct sim *s;
	struct sg *sg;
	struct mc *c;
	unsigned n;
};

static void mc_data(struct sg_conn *sc, const uint8_t *p, size_t n)
{
	struct mc *c = sc->user;

	if (c->bad_at < 0 && c->rx_done + n > c->rx_len)
		c->bad_at = (int64_t)c->rx_len;
	if (c->bad_at < 0) {
		ssize_t bad = itest_pattern_check(p, n, c->seed_h2g, c->rx_done);

		if (bad >= 0)
			c->bad_at = (int64_t)c->rx_done + bad;
	}
	c->rx_done += n;
}

static void mc_event(struct sg_conn *sc, enum sg_event ev)
{
	struct mc *c = sc->user;

	switch (ev) {
	case SG_EV_ACCEPTED:
		/* One host connection per guest port. */
		sg_unlisten(sc->g, c->gport);
		c->conn = sc;
		c->hport = sc->peer_port;
		c->state = MC_OPEN;
		break;
	case SG_EV_CONNECTED:
		c->state = MC_OPEN;
		break;
	case SG_EV_SHUTDOWN:
		c->peer_shut_send = sc->peer_shut_send;
		break;
	case SG_EV_CLOSED:
		if (sc->reset)
			c->state = c->state == MC_CONNECTING ? MC_REFUSED : MC_RESET;
		break;
	}
}

static const struct sg_conn_ops mc_ops = { .data = mc_data, .event = mc_event };

/* Packets the socket layer found no connection for. */
static uint64_t mg_stray(const struct mg *g)
{
	const struct sg_stats *st = sg_stats(g->sg);

	return st->stray + st->stray_rst;
}

/* Takes every rx packet there is, waiting up to wait_ms for the first;
 * returns how many. */
static unsigned mg_drain(struct mg *g, int wait_ms)
{
	uint64_t before = sg_stats(g->sg)->rx_pkts;
	int r = sg_poll(g->sg, wait_ms);

	while (r > 0)
		r = sg_poll(g->sg, 0);
	if (!r)
		r = sg_error(g->sg);
	if (r)
		fail_msg("guest poll: %s", strerror(-r));
	return (unsigned)(sg_stats(g->sg)->rx_pkts - before);
}

/* One data packet (or the final SHUTDOWN) of c, as credit allows. */
static bool mc_pump_tx(struct mc *c, uint8_t *buf)
{
	uint32_t n;
	ssize_t q;

	if (c->state != MC_OPEN || c->shut_sent)
		return false;
	if (c->tx_done == c->tx_len) {
		assert_int_equal(sg_shutdown(c->conn, VIRTIO_VSOCK_SHUTDOWN_SEND), 0);
		c->shut_sent = true;
		return true;
	}
	n = sg_peer_credit(c->conn);
	if (n > 16384)
		n = 16384;
	if (n > c->tx_len - c->tx_done)
		n = (uint32_t)(c->tx_len - c->tx_done);
	if (!n)
		return false;
	itest_pattern(buf, n, c->seed_g2h, c->tx_done);
	q = sg_send(c->conn, buf, n);
	if (q < 0)
		fail_msg("port %u: sending: %s", c->gport, strerror((int)-q));
	c->tx_done += (uint64_t)q;
	return q > 0;
}

static void mg_init(struct mg *g, struct sim *s, unsigned n)
{
	struct sg_cfg cfg;

	g->s = s;
	g->n = n;
	g->c = calloc(n, sizeof(*g->c));
	assert_non_null(g->c);
	for (unsigned i = 0; i < n; i++) {
		g->c[i].gport = GPORT_BASE + i;
		g->c[i].hfd = -1;
		g->c[i].bad_at = -1;
		g->c[i].h_bad_at = -1;
	}
	sg_cfg_init(&cfg);
	cfg.buf_alloc = GUEST_BUF;
	cfg.max_conns = n;
	cfg.timeout_ms = ITEST_TIMEOUT_MS;
	/* Each connection's counters are checked after the device's RST. */
	cfg.keep_closed = true;
	assert_int_equal(sg_attach(s, &cfg, &g->sg), 0);
}

static void mg_fini(struct mg *g)
{
	for (unsigned i = 0; i < g->n; i++)
		if (g->c[i].hfd >= 0)
			close(g->c[i].hfd);
	sg_close(g->sg);
	free(g->c);
}

/* The host will connect to c's guest port: accept it there. */
static void mc_expect(struct mg *g, struct mc *c)
{
	c->host_initiated = true;
	assert_int_equal(sg_listen(g->sg, c->gport, &mc_ops, c), 0);
}

/* Guest REQUEST from c to hport, without waiting. */
static void mc_connect(struct mg *g, struct mc *c, uint32_t hport)
{
	int r;

	c->hport = hport;
	c->state = MC_CONNECTING;
	r = sg_connect(g->sg, ITEST_HOST_CID, hport, c->gport, &mc_ops, c, &c->conn);
	if (r)
		fail_msg("port %u: REQUEST: %s", c->gport, strerror(-r));
}

/* Waits until no connection of [from, to) is still connecting. */
static void mg_settle(struct mg *g, unsigned from, unsigned to, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;

	for (;;) {
		unsigned pending = 0;

		for (unsigned i = from; i < to; i++)
			pending += g->c[i].state == MC_CONNECTING ||
				   (g->c[i].host_initiated && g->c[i].state == MC_IDLE);
		if (!pending)
			return;
		if (sim_now_ms() > deadline)
			fail_msg("%u connections still not answered", pending);
		mg_drain(g, 10);
	}
}

/* ---- the host side of the data test ---- */

struct host_ctx {
	struct mg *g;
	int64_t deadline;
	int result;
};

static bool mc_host_done(const struct mc *c)
{
	return c->h_err || c->h_bad_at >= 0 || (c->h_shut && c->h_eof);
}

/* Checks what the host read on c against the guest's pattern. */
static void host_check(struct mc *c, const uint8_t *buf, size_t n)
{
	ssize_t bad = itest_pattern_check(buf, n, c->seed_g2h, c->h_rx_done);

	if (c->h_bad_at < 0 && bad >= 0)
		c->h_bad_at = (int64_t)c->h_rx_done + bad;
	else if (c->h_bad_at < 0 && c->h_rx_done + n > c->tx_len)
		c->h_bad_at = (int64_t)c->tx_len;
	c->h_rx_done += n;
}

static void *host_thread(void *arg)
{
	struct host_ctx *h = arg;
	struct mg *g = h->g;
	struct pollfd *pf = calloc(g->n, sizeof(*pf));
	unsigned *idx = calloc(g->n, sizeof(*idx));
	uint8_t buf[16384];

	h->result = -ENOMEM;
	if (!pf || !idx)
		goto out;
	h->result = -ETIMEDOUT;
	while (sim_now_ms() < h->deadline) {
		unsigned n = 0;

		for (unsigned i = 0; i < g->n; i++) {
			struct mc *c = &g->c[i];

			if (mc_host_done(c))
				continue;
			pf[n].fd = c->hfd;
			pf[n].events = (c->h_tx_done < c->rx_len ? POLLOUT : 0) |
				       (c->h_eof ? 0 : POLLIN);
			pf[n].revents = 0;
			idx[n++] = i;
		}
		if (!n) {
			h->result = 0;
			break;
		}
		if (poll(pf, n, 10) < 0)
			continue;
		for (unsigned k = 0; k < n; k++) {
			struct mc *c = &g->c[idx[k]];
			ssize_t r;

			if ((pf[k].revents & POLLOUT) && c->h_tx_done < c->rx_len) {
				uint64_t len = c->rx_len - c->h_tx_done;

				if (len > sizeof(buf))
					len = sizeof(buf);
				itest_pattern(buf, len, c->seed_h2g, c->h_tx_done);
				r = send(c->hfd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (r > 0)
					c->h_tx_done += (uint64_t)r;
				else if (r < 0 && errno != EAGAIN)
					c->h_err = errno;
			}
			if (c->h_tx_done == c->rx_len && !c->h_shut) {
				shutdown(c->hfd, SHUT_WR);
				c->h_shut = true;
			}
			if (pf[k].revents & (POLLIN | POLLHUP | POLLERR)) {
				r = recv(c->hfd, buf, sizeof(buf), MSG_DONTWAIT);
				if (r == 0) {
					c->h_eof = true;
				} else if (r > 0) {
					host_check(c, buf, (size_t)r);
				} else if (errno != EAGAIN) {
					c->h_err = errno;
				}
			}
		}
	}
out:
	free(pf);
	free(idx);
	return NULL;
}

/* Connections [0, n/2) are opened by the guest (one host port each, so
 * that the host knows which stream it accepted), the rest by the host. */
static void open_mixed(struct itest *t, struct mg *g)
{
	unsigned half = g->n / 2;
	int *lfd = calloc(half, sizeof(*lfd));
	char line[32], want[32];

	assert_non_null(lfd);
	for (unsigned i = 0; i < half; i++)
		lfd[i] = itest_host_listen(t, HPORT_BASE + i, 4);
	for (unsigned i = 0; i < half; i++) {
		mc_connect(g, &g->c[i], HPORT_BASE + i);
		if (i % 32 == 31)
			mg_drain(g, 0);
	}
	mg_settle(g, 0, half, 10000);
	for (unsigned i = 0; i < half; i++) {
		if (g->c[i].state != MC_OPEN)
			fail_msg("guest connection %u: state %d", i, g->c[i].state);
		g->c[i].hfd = itest_host_accept(lfd[i], ITEST_TIMEOUT_MS);
		assert_true(g->c[i].hfd >= 0);
		close(lfd[i]);
	}
	free(lfd);

	for (unsigned i = half; i < g->n; i++) {
		char hs[32];

		mc_expect(g, &g->c[i]);
		snprintf(hs, sizeof(hs), "CONNECT %u\n", g->c[i].gport);
		g->c[i].hfd = itest_host_connect(t, hs);
		if (i % 32 == 31)
			mg_drain(g, 0);
	}
	mg_settle(g, half, g->n, 10000);
	for (unsigned i = half; i < g->n; i++) {
		snprintf(want, sizeof(want), "OK %u\n", g->c[i].gport);
		assert_true(itest_host_read_line(g->c[i].hfd, line, sizeof(line),
						 ITEST_TIMEOUT_MS) > 0);
		assert_string_equal(line, want);
	}
}

static void test_500_concurrent(void **state)
{
	struct itest *t = *state;
	struct sim_opts o;
	struct sim *s;
	struct mg g;
	struct host_ctx h;
	uint8_t *buf = malloc(16384);
	uint64_t bytes = 0;
	int64_t t0, deadline;
	pthread_t th;
	unsigned done, resets = 0;

	assert_non_null(buf);
	itest_opts(&o);
	o.mem_size = 64u << 20;
	s = itest_start(t, &o);
	mg_init(&g, s, 500);
	for (unsigned i = 0; i < g.n; i++) {
		/* 16..64 KiB each way, different per connection and direction. */
		g.c[i].tx_len = 16384 + (i * 7919u) % 49153;
		g.c[i].rx_len = 16384 + (i * 104729u) % 49153;
		g.c[i].seed_g2h = 1000 + i;
		g.c[i].seed_h2g = 5000 + i;
		bytes += g.c[i].tx_len + g.c[i].rx_len;
	}
	t0 = sim_now_ms();
	open_mixed(t, &g);
	print_message("500 connections open in %lld ms\n", (long long)(sim_now_ms() - t0));

	t0 = sim_now_ms();
	deadline = t0 + 30000;
	h = (struct host_ctx){ .g = &g, .deadline = deadline };
	assert_int_equal(pthread_create(&th, NULL, host_thread, &h), 0);
	for (;;) {
		bool sent = false;

		done = 0;
		for (unsigned i = 0; i < g.n; i++) {
			struct mc *c = &g.c[i];

			sent |= mc_pump_tx(c, buf);
			done += c->shut_sent && (c->rx_done >= c->rx_len || c->bad_at >= 0) &&
				(c->state == MC_RESET || c->bad_at >= 0);
		}
		if (done == g.n || sim_now_ms() > deadline)
			break;
		mg_drain(&g, sent ? 0 : 5);
	}
	pthread_join(th, NULL);
	print_message("%llu bytes over 500 connections in %lld ms; %u finished, %llu stray\n",
		      (unsigned long long)bytes, (long long)(sim_now_ms() - t0), done,
		      (unsigned long long)mg_stray(&g));
	for (unsigned i = 0; i < g.n; i++) {
		struct mc *c = &g.c[i];

		if (c->bad_at >= 0 || c->rx_done != c->rx_len)
			fail_msg("conn %u (%s): guest got %llu/%llu bytes, first bad at %lld", i,
				 c->host_initiated ? "host-initiated" : "guest-initiated",
				 (unsigned long long)c->rx_done, (unsigned long long)c->rx_len,
				 (long long)c->bad_at);
		if (c->h_bad_at >= 0 || c->h_rx_done != c->tx_len || c->h_err)
			fail_msg("conn %u: host got %llu/%llu bytes, first bad at %lld, error %s",
				 i, (unsigned long long)c->h_rx_done,
				 (unsigned long long)c->tx_len, (long long)c->h_bad_at,
				 strerror(c->h_err));
		if (c->conn->credit_violations)
			fail_msg("conn %u: device exceeded our credit %llu times", i,
				 (unsigned long long)c->conn->credit_violations);
		/* Both sides shut down: the device frees it with an RST. */
		if (c->state != MC_RESET)
			fail_msg("conn %u: not closed by the device (state %d)", i, c->state);
		if (!c->h_eof)
			fail_msg("conn %u: host never saw EOF", i);
		resets++;
	}
	assert_int_equal(h.result, 0);
	assert_int_equal(resets, g.n);
	assert_int_equal(mg_stray(&g), 0);
	free(buf);
	mg_fini(&g);
	sim_close(s);
}

/* ---- the connection limit ---- */

/* Opens MAX_CONNS guest connections to host port 1234 (listening on lfd),
 * accepting on the host side as they come (into hfds[*nh...]); all must
 * open. */
static void fill_table(struct mg *g, int lfd, int *hfds, int *nh)
{
	int hfd;

	for (unsigned i = 0; i < MAX_CONNS; i++) {
		mc_connect(g, &g->c[i], 1234);
		if (i % 32 == 31)
			mg_drain(g, 0);
		while ((hfd = itest_host_accept(lfd, 0)) >= 0)
			hfds[(*nh)++] = hfd;
	}
	mg_settle(g, 0, MAX_CONNS, 10000);
	for (unsigned i = 0; i < MAX_CONNS; i++)
		if (g->c[i].state != MC_OPEN)
			fail_msg("connection %u of %u refused below the limit", i, MAX_CONNS);
}

static void test_connection_limit(void **state)
{
	struct itest *t = *state;
	struct sim *s;
	struct sim_opts o;
	struct mg g;
	const unsigned extra = 5;
	int lfd, *hfds, nh = 0, hfd, closed = 0;
	char line[32];
	rlim_t nofile;

	/* main() raised the limit before the first daemon; this reads it
	 * back. Only a hard limit below ~1152 that this unprivileged process
	 * cannot raise stops the test: an environment that cannot run it,
	 * which scripts/test.sh counts as a failure under CI=true. */
	nofile = itest_raise_nofile(NOFILE_WANT);
	if (nofile < MAX_CONNS + 128) {
		print_message("RLIMIT_NOFILE is %llu and cannot be raised to %u for %u "
			      "connections (raise the hard limit: ulimit -Hn %u)\n",
			      (unsigned long long)nofile, MAX_CONNS + 128, MAX_CONNS,
			      NOFILE_WANT);
		skip();
	}
	itest_opts(&o);
	s = itest_start(t, &o);
	mg_init(&g, s, MAX_CONNS + 2 * extra + 2);
	hfds = calloc(MAX_CONNS + extra, sizeof(*hfds));
	assert_non_null(hfds);
	lfd = itest_host_listen(t, 1234, 2 * MAX_CONNS);

	/* Fill the table from the guest side. */
	fill_table(&g, lfd, hfds, &nh);
	while (nh < (int)MAX_CONNS && (hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS)) >= 0)
		hfds[nh++] = hfd;
	assert_int_equal(nh, MAX_CONNS);

	/* Over the limit from the guest: RST, nothing at the host. */
	for (unsigned i = MAX_CONNS; i < MAX_CONNS + extra; i++)
		mc_connect(&g, &g.c[i], 1234);
	mg_settle(&g, MAX_CONNS, MAX_CONNS + extra, ITEST_TIMEOUT_MS);
	for (unsigned i = MAX_CONNS; i < MAX_CONNS + extra; i++)
		if (g.c[i].state != MC_REFUSED)
			fail_msg("connection %u over the limit: state %d, not refused", i,
				 g.c[i].state);
	assert_int_equal(itest_host_accept(lfd, 100), -ETIMEDOUT);

	/* Over the limit from the host: the socket is closed, no OK, and
	 * the guest hears nothing. */
	for (unsigned i = 0; i < extra; i++) {
		int fd = itest_host_dial(t), r;

		/* The daemon may have closed it already: EPIPE is fine. */
		itest_host_write(fd, "CONNECT 7777\n", 13, ITEST_TIMEOUT_MS);
		r = itest_host_read_line(fd, line, sizeof(line), ITEST_TIMEOUT_MS);

		if (r != 0 && r != -ECONNRESET)
			fail_msg("host connection over the limit: %d \"%s\"", r, r > 0 ? line : "");
		close(fd);
	}
	assert_int_equal(mg_drain(&g, 100), 0);
	assert_true(itest_log_contains(t, "connection limit"));

	/* Close 10 from the guest: exactly their host sockets see EOF... */
	for (unsigned i = 0; i < 10; i++) {
		assert_int_equal(sg_rst(g.c[i].conn), 0);
		g.c[i].state = MC_RESET;
	}
	assert_int_equal(sg_kick(g.sg), 0);
	assert_int_equal(sim_tx_flush(s, ITEST_TIMEOUT_MS), 0);
	for (int64_t deadline = sim_now_ms() + ITEST_TIMEOUT_MS;
	     closed < 10 && sim_now_ms() < deadline;) {
		closed = 0;
		for (int i = 0; i < nh; i++)
			closed += itest_host_closed_now(hfds[i]);
		if (closed < 10)
			usleep(10 * 1000);
	}
	assert_int_equal(closed, 10);

	/* ...and there is room again, both ways. */
	mc_connect(&g, &g.c[MAX_CONNS + extra], 1234);
	mg_settle(&g, MAX_CONNS + extra, MAX_CONNS + extra + 1, ITEST_TIMEOUT_MS);
	assert_int_equal(g.c[MAX_CONNS + extra].state, MC_OPEN);
	hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	g.c[MAX_CONNS + extra].hfd = hfd;

	{
		struct mc *c = &g.c[MAX_CONNS + extra + 1];
		char hs[32], want[32];

		mc_expect(&g, c);
		snprintf(hs, sizeof(hs), "CONNECT %u\n", c->gport);
		c->hfd = itest_host_connect(t, hs);
		mg_settle(&g, MAX_CONNS + extra + 1, MAX_CONNS + extra + 2, ITEST_TIMEOUT_MS);
		assert_int_equal(c->state, MC_OPEN);
		snprintf(want, sizeof(want), "OK %u\n", c->gport);
		assert_true(itest_host_read_line(c->hfd, line, sizeof(line), ITEST_TIMEOUT_MS) > 0);
		assert_string_equal(line, want);
		assert_int_equal(sg_send(c->conn, "room", 4), 4);
		assert_int_equal(sg_kick(g.sg), 0);
		assert_int_equal(itest_host_read(c->hfd, line, 4, ITEST_TIMEOUT_MS), 4);
		assert_memory_equal(line, "room", 4);
	}
	for (int i = 0; i < nh; i++)
		close(hfds[i]);
	free(hfds);
	close(lfd);
	mg_fini(&g);
	sim_close(s);
}

/*
 * A table that hovers at the limit (one connection freed, one taken, one
 * refused, again and again) starts a new "limit reached" episode each
 * time: the warning must stay rate limited (util/log.h: 5 per 10 s, then
 * one "suppressed" line), not one line per freed connection.
 */
static void test_connection_limit_flapping_log(void **state)
{
	struct itest *t = *state;
	const unsigned cycles = 20;
	struct sim *s;
	struct mg g;
	int lfd, *hfds, nh = 0, hfd;
	unsigned lines, next = MAX_CONNS;

	if (itest_raise_nofile(NOFILE_WANT) < MAX_CONNS + 128) {
		print_message("RLIMIT_NOFILE too low for %u connections\n", MAX_CONNS);
		skip();
	}
	s = itest_start(t, NULL);
	mg_init(&g, s, MAX_CONNS + 2 * cycles);
	hfds = calloc(MAX_CONNS + cycles, sizeof(*hfds));
	assert_non_null(hfds);
	lfd = itest_host_listen(t, 1234, 2 * MAX_CONNS);
	fill_table(&g, lfd, hfds, &nh);

	for (unsigned k = 0; k < cycles; k++) {
		/* Free one... */
		assert_int_equal(sg_rst(g.c[k].conn), 0);
		g.c[k].state = MC_RESET;
		assert_int_equal(sg_kick(g.sg), 0);
		assert_int_equal(sim_tx_flush(s, ITEST_TIMEOUT_MS), 0);
		/* ...take it again, and be refused once more. */
		mc_connect(&g, &g.c[next], 1234);
		mg_settle(&g, next, next + 1, ITEST_TIMEOUT_MS);
		assert_int_equal(g.c[next].state, MC_OPEN);
		next++;
		mc_connect(&g, &g.c[next], 1234);
		mg_settle(&g, next, next + 1, ITEST_TIMEOUT_MS);
		assert_int_equal(g.c[next].state, MC_REFUSED);
		next++;
		while (nh < (int)(MAX_CONNS + cycles) && (hfd = itest_host_accept(lfd, 0)) >= 0)
			hfds[nh++] = hfd;
	}
	lines = itest_log_count(t, "connection limit (");
	print_message("%u limit episodes, %u warning lines\n", cycles, lines);
	assert_true(lines >= 1 && lines <= 6);

	for (int i = 0; i < nh; i++)
		close(hfds[i]);
	free(hfds);
	close(lfd);
	mg_fini(&g);
	sim_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITEST_T(test_500_concurrent),
		ITEST_T(test_connection_limit),
		ITEST_T(test_connection_limit_flapping_log),
	};

	/* Before any daemon is spawned: it inherits the limit. 1024 host
	 * sockets on each side do not fit the usual soft limit of 1024. */
	itest_raise_nofile(NOFILE_WANT);
	return cmocka_run_group_tests_name("vsock_scale", tests, NULL, NULL);
}
