/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Many connections at once: 500 concurrent streams (half opened by the
 * guest, half by the host) each moving checked data both ways, and the
 * per-VM connection limit (VSOCK_MAX_CONNS, 1024): the excess is refused
 * both ways, the daemon says why in its log, and closing some makes room.
 *
 * sim_stream drives one connection per sim, so this file has its own small
 * guest: a table of connections indexed by guest port, one packet of each
 * per round, every rx packet dispatched by port.
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
	/* guest receive side */
	uint32_t fwd_cnt, fwd_cnt_sent, rx_cnt;
	/* guest send side */
	uint32_t tx_cnt, peer_buf_alloc, peer_fwd_cnt;
	uint64_t tx_len, rx_len, tx_done, rx_done;
	uint32_t seed_g2h, seed_h2g;
	bool shut_sent, peer_shut_send;
	uint64_t violations;
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
	struct sim_pkt *p;
	struct mc *c;
	unsigned n;
	uint64_t stray;
};

static struct mc *mg_find(struct mg *g, const struct sim_pkt *p)
{
	uint32_t i = p->dst_port - GPORT_BASE;

	if (p->src_cid != ITEST_HOST_CID || p->dst_cid != ITEST_CID || i >= g->n)
		return NULL;
	if (g->c[i].state != MC_IDLE && p->op != VIRTIO_VSOCK_OP_REQUEST &&
	    p->src_port != g->c[i].hport)
		return NULL;
	return &g->c[i];
}

static void mc_send(struct mg *g, struct mc *c, uint16_t op, uint32_t flags, const void *data,
		    uint32_t len)
{
	struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(g->s), ITEST_HOST_CID, c->gport,
						  c->hport, op, flags, len, GUEST_BUF, c->fwd_cnt);
	/* Kicks only when the device asks for one, as a Linux driver does. */
	int r = sim_tx_send(g->s, &h, data, len, 0);

	if (r)
		fail_msg("port %u: sending %s: %s", c->gport, sim_op_name(op), strerror(-r));
	c->fwd_cnt_sent = c->fwd_cnt;
}

static void mg_handle(struct mg *g, const struct sim_pkt *p)
{
	struct mc *c = mg_find(g, p);

	if (!c) {
		g->stray++;
		return;
	}
	c->peer_buf_alloc = p->buf_alloc;
	c->peer_fwd_cnt = p->fwd_cnt;
	switch (p->op) {
	case VIRTIO_VSOCK_OP_REQUEST:
		if (c->state != MC_IDLE || !c->host_initiated) {
			g->stray++;
			break;
		}
		c->hport = p->src_port;
		c->state = MC_OPEN;
		mc_send(g, c, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
		break;
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state == MC_CONNECTING)
			c->state = MC_OPEN;
		break;
	case VIRTIO_VSOCK_OP_RST:
		c->state = c->state == MC_CONNECTING ? MC_REFUSED : MC_RESET;
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (p->flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
			c->peer_shut_send = true;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		mc_send(g, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
		break;
	case VIRTIO_VSOCK_OP_RW:
		if ((uint32_t)(c->rx_cnt + p->payload_len - c->fwd_cnt_sent) > GUEST_BUF)
			c->violations++;
		if (c->bad_at < 0 && c->rx_done + p->payload_len > c->rx_len)
			c->bad_at = (int64_t)c->rx_len;
		if (c->bad_at < 0) {
			ssize_t bad = itest_pattern_check(p->payload, p->payload_len, c->seed_h2g,
							  c->rx_done);

			if (bad >= 0)
				c->bad_at = (int64_t)c->rx_done + bad;
		}
		c->rx_cnt += (uint32_t)p->payload_len;
		c->rx_done += p->payload_len;
		/* Consumed at once; tell the device once half the buffer
		 * is free again in its view, as Linux does. */
		c->fwd_cnt += (uint32_t)p->payload_len;
		if (c->fwd_cnt - c->fwd_cnt_sent >= GUEST_BUF / 2)
			mc_send(g, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
		break;
	default:
		break;
	}
}

/* Takes every rx packet there is, waiting up to wait_ms for the first. */
static unsigned mg_drain(struct mg *g, int wait_ms)
{
	unsigned n = 0;
	int r;

	while ((r = sim_rx_poll(g->s, g->p, n ? 0 : wait_ms)) == 0) {
		mg_handle(g, g->p);
		n++;
	}
	if (r != -ETIMEDOUT)
		fail_msg("rx poll: %s", strerror(-r));
	return n;
}

/* One data packet (or the final SHUTDOWN) of c, as credit allows. */
static bool mc_pump_tx(struct mg *g, struct mc *c, uint8_t *buf)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt, credit, n;

	if (c->state != MC_OPEN || c->shut_sent)
		return false;
	if (c->tx_done == c->tx_len) {
		mc_send(g, c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
		c->shut_sent = true;
		return true;
	}
	credit = in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
	if (!credit)
		return false;
	n = credit < 16384 ? credit : 16384;
	if (n > c->tx_len - c->tx_done)
		n = (uint32_t)(c->tx_len - c->tx_done);
	itest_pattern(buf, n, c->seed_g2h, c->tx_done);
	mc_send(g, c, VIRTIO_VSOCK_OP_RW, 0, buf, n);
	c->tx_cnt += n;
	c->tx_done += n;
	return true;
}

static void mg_init(struct mg *g, struct sim *s, unsigned n)
{
	g->s = s;
	g->n = n;
	g->stray = 0;
	g->p = sim_pkt_new();
	g->c = calloc(n, sizeof(*g->c));
	assert_non_null(g->p);
	assert_non_null(g->c);
	for (unsigned i = 0; i < n; i++) {
		g->c[i].gport = GPORT_BASE + i;
		g->c[i].hfd = -1;
		g->c[i].bad_at = -1;
		g->c[i].h_bad_at = -1;
	}
}

static void mg_fini(struct mg *g)
{
	for (unsigned i = 0; i < g->n; i++)
		if (g->c[i].hfd >= 0)
			close(g->c[i].hfd);
	free(g->c);
	free(g->p);
}

/* Guest REQUEST from c to hport, without waiting. */
static void mc_connect(struct mg *g, struct mc *c, uint32_t hport)
{
	c->hport = hport;
	c->state = MC_CONNECTING;
	c->peer_buf_alloc = 0;
	mc_send(g, c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
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

		g->c[i].host_initiated = true;
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

			sent |= mc_pump_tx(&g, c, buf);
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
		      (unsigned long long)g.stray);
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
		if (c->violations)
			fail_msg("conn %u: device exceeded our credit %llu times", i,
				 (unsigned long long)c->violations);
		/* Both sides shut down: the device frees it with an RST. */
		if (c->state != MC_RESET)
			fail_msg("conn %u: not closed by the device (state %d)", i, c->state);
		if (!c->h_eof)
			fail_msg("conn %u: host never saw EOF", i);
		resets++;
	}
	assert_int_equal(h.result, 0);
	assert_int_equal(resets, g.n);
	assert_int_equal(g.stray, 0);
	free(buf);
	mg_fini(&g);
	sim_close(s);
}

/* ---- the connection limit ---- */

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
	for (unsigned i = 0; i < MAX_CONNS; i++) {
		mc_connect(&g, &g.c[i], 1234);
		if (i % 32 == 31)
			mg_drain(&g, 0);
		while ((hfd = itest_host_accept(lfd, 0)) >= 0)
			hfds[nh++] = hfd;
	}
	mg_settle(&g, 0, MAX_CONNS, 10000);
	for (unsigned i = 0; i < MAX_CONNS; i++)
		if (g.c[i].state != MC_OPEN)
			fail_msg("connection %u of %u refused below the limit", i, MAX_CONNS);
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
		mc_send(&g, &g.c[i], VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
		g.c[i].state = MC_RESET;
	}
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

		c->host_initiated = true;
		snprintf(hs, sizeof(hs), "CONNECT %u\n", c->gport);
		c->hfd = itest_host_connect(t, hs);
		mg_settle(&g, MAX_CONNS + extra + 1, MAX_CONNS + extra + 2, ITEST_TIMEOUT_MS);
		assert_int_equal(c->state, MC_OPEN);
		snprintf(want, sizeof(want), "OK %u\n", c->gport);
		assert_true(itest_host_read_line(c->hfd, line, sizeof(line), ITEST_TIMEOUT_MS) > 0);
		assert_string_equal(line, want);
		mc_send(&g, c, VIRTIO_VSOCK_OP_RW, 0, "room", 4);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITEST_T(test_500_concurrent),
		ITEST_T(test_connection_limit),
	};

	/* Before any daemon is spawned: it inherits the limit. 1024 host
	 * sockets on each side do not fit the usual soft limit of 1024. */
	itest_raise_nofile(NOFILE_WANT);
	return cmocka_run_group_tests_name("vsock_scale", tests, NULL, NULL);
}
