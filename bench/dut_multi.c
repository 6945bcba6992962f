/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * mc_conns concurrent streams through one VM: aggregate throughput and how
 * evenly it is shared (Jain's index, min/max over connections).
 *  h2g: the host application writes mc_write bytes to each writable socket
 *       in turn (epoll); the daemon decides which connection fills the next
 *       rx buffer; the guest application takes what arrives. The per-
 *       connection shares measure the daemon's rx scheduling.
 *  g2h: the guest application writes mc_write bytes to each connection with
 *       credit in turn; the host application reads whatever is readable.
 *       The shares measure the daemon's tx handling and credit updates.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "app.h"
#include "baseline.h"
#include "dut.h"
#include "host_io.h"
#include "record.h"

#define PORT 5204

struct mconn {
	struct sg_conn *c;
	uint64_t bytes;      /* sent (g2h) or received (h2g) */
	struct csum sum;
	size_t partial;      /* g2h: bytes of the current write already queued */
	struct dut_recv recv;
	bool eof, closed;
	uint64_t credit_violations;
};

struct multi {
	struct bench *b;
	struct mconn *mc;
	unsigned n, eofs;
	uint8_t *rbuf;       /* the guest application's recv() buffer */
	int64_t t_end_ns;
};

static struct multi *g_multi; /* the callbacks' context (one run at a time) */

static void m_data(struct sg_conn *c, const uint8_t *p, size_t n)
{
	struct mconn *m = c->user;
	struct multi *mu = g_multi;

	dut_app_recv(&m->recv, c, n, mu->b->cfg.read_size);
	while (n) {
		size_t k = n < mu->b->cfg.read_size ? n : mu->b->cfg.read_size;

		memcpy(mu->rbuf, p, k);
		if (mu->b->cfg.verify)
			csum_update(&m->sum, mu->rbuf, k);
		m->bytes += k;
		p += k;
		n -= k;
	}
}

static void m_event(struct sg_conn *c, enum sg_event ev)
{
	struct mconn *m = c->user;
	struct multi *mu = g_multi;

	if (((ev == SG_EV_SHUTDOWN && c->peer_shut_send) || ev == SG_EV_CLOSED) && !m->eof) {
		m->eof = true;
		m->credit_violations = c->credit_violations;
		if (++mu->eofs == mu->n)
			mu->t_end_ns = now_ns();
	}
	if (ev == SG_EV_CLOSED)
		m->closed = true;
}

static const struct sg_conn_ops m_ops = { .data = m_data, .event = m_event };

static int join_ms(const struct bench *b)
{
	return (int)(b->cfg.duration_s * 1000) + 2 * b->cfg.timeout_ms;
}

/* One round over the connections: a write's worth each (or the rest of a
 * write the credit cut short). Returns bytes queued, or -errno. */
static ssize_t g2h_round(struct multi *mu, size_t wsize)
{
	ssize_t total = 0;

	for (unsigned i = 0; i < mu->n; i++) {
		struct mconn *m = &mu->mc[i];
		const uint8_t *p = app_chunk(m->bytes - m->partial, wsize) + m->partial;
		ssize_t r;

		dut_app_call(); /* a non-blocking send(), even if it takes nothing */
		r = sg_send(m->c, p, wsize - m->partial);

		if (r < 0)
			return r;
		if (r == 0)
			continue;
		m->partial += (size_t)r;
		total += r;
		m->bytes += (uint64_t)r;
		if (m->partial == wsize) {
			if (mu->b->cfg.verify)
				csum_update(&m->sum, app_chunk(m->bytes - wsize, wsize), wsize);
			m->partial = 0;
		}
	}
	return total;
}

static int guest_writes(struct dut *s, struct multi *mu, struct app_multi *hr)
{
	struct bench *b = s->b;
	size_t wsize = b->cfg.mc_write;
	int64_t t0, deadline;
	struct cpu_mark m;
	pthread_t th;
	int r;

	r = hio_thread_start(&th, app_multi_read, hr);
	if (r)
		return r;
	cpu_mark(&m, s->d.pid);
	t0 = now_ns();
	deadline = t0 + (int64_t)(b->cfg.duration_s * 1e9);
	/* Writes are whole: once the time is up, finish the ones begun. At
	 * least one round, as app_multi_write(). */
	for (bool first = true;; first = false) {
		bool pending = false;
		ssize_t n;

		for (unsigned i = 0; i < mu->n; i++)
			pending |= mu->mc[i].partial != 0;
		if (!first && now_ns() >= deadline && !pending)
			break;
		n = g2h_round(mu, wsize);
		if (n < 0) {
			r = (int)n;
			break;
		}
		r = sg_kick(s->g);
		if (!r && n == 0 && sg_poll(s->g, b->cfg.timeout_ms) <= 0) {
			sg_note_stall(mu->mc[0].c);
			r = -ETIMEDOUT;
		}
		else if (!r)
			r = sg_poll(s->g, 0) < 0 ? -EIO : 0;
		if (r)
			break;
	}
	for (unsigned i = 0; !r && i < mu->n; i++)
		r = sg_shutdown(mu->mc[i].c, VIRTIO_VSOCK_SHUTDOWN_SEND);
	if (!r)
		r = sg_kick(s->g);
	if (dut_poll_join(s, th, join_ms(b)) && !r)
		r = -EIO;
	if (!r && !hr->err) {
		uint64_t *sent = calloc(mu->n, sizeof(*sent));
		struct csum *sums = calloc(mu->n, sizeof(*sums));

		for (unsigned i = 0; sent && sums && i < mu->n; i++) {
			sent[i] = mu->mc[i].bytes;
			sums[i] = mu->mc[i].sum;
		}
		if (!sent || !sums) {
			r = -ENOMEM;
		} else if (rec_check_multi(b, "mc_g2h_aggr", s->which, sent, sums, hr->bytes,
					   hr->sums, mu->n)) {
			r = -EBADMSG;
		} else {
			rec_multi(b, s->which, true, hr->bytes, mu->n, hr->t_end_ns - t0,
				  cpu_since(&m));
		}
		free(sent);
		free(sums);
	}
	return r ? r : hr->err;
}

static int host_writes(struct dut *s, struct multi *mu, struct app_multi *hw)
{
	struct bench *b = s->b;
	uint64_t *got = calloc(mu->n, sizeof(*got));
	struct csum *sums;
	struct cpu_mark m;
	pthread_t th;
	int64_t t0;
	int r;

	if (!got)
		return -ENOMEM;
	cpu_mark(&m, s->d.pid);
	t0 = now_ns();
	hw->deadline_ns = t0 + (int64_t)(b->cfg.duration_s * 1e9);
	r = hio_thread_start(&th, app_multi_write, hw);
	if (r) {
		free(got);
		return r;
	}
	while (!r && mu->eofs < mu->n) {
		r = sg_poll(s->g, join_ms(b));
		r = r < 0 ? r : r == 0 ? -ETIMEDOUT : 0;
	}
	if (dut_poll_join(s, th, join_ms(b)) && !r)
		r = -EIO;
	if (!r && !hw->err) {
		for (unsigned i = 0; i < mu->n; i++) {
			struct mconn *mc = &mu->mc[i];

			if (mc->credit_violations) {
				bench_fail(b, "mc_h2g_aggr", s->which,
					   "the daemon sent beyond the guest's credit");
				free(got);
				return -EPROTO;
			}
			got[i] = mc->bytes;
		}
		sums = calloc(mu->n, sizeof(*sums));
		for (unsigned i = 0; sums && i < mu->n; i++)
			sums[i] = mu->mc[i].sum;
		/* Which host socket feeds which guest connection is the
		 * daemon's business: rec_check_multi pairs them in any order. */
		r = !sums ? -ENOMEM
			  : rec_check_multi(b, "mc_h2g_aggr", s->which, hw->bytes, hw->sums, got,
					    sums, mu->n) ? -EBADMSG : 0;
		free(sums);
		if (r) {
			free(got);
			return r;
		}
		rec_multi(b, s->which, false, got, mu->n, mu->t_end_ns - t0, cpu_since(&m));
	}
	free(got);
	return r ? r : hw->err;
}

static int multi(struct dut *s, bool g2h)
{
	struct bench *b = s->b;
	unsigned n = b->cfg.mc_conns, i;
	struct multi mu = { .b = b, .n = n };
	struct app_multi h = { .n = n, .verify = b->cfg.verify, .timeout_ms = b->cfg.timeout_ms,
			       .io_size = g2h ? b->cfg.read_size : b->cfg.mc_write };
	struct sg_conn **conns = calloc(n, sizeof(*conns));
	void **users = calloc(n, sizeof(*users));
	const char *id = g2h ? "mc_g2h_aggr" : "mc_h2g_aggr";
	int r = -ENOMEM;

	mu.mc = calloc(n, sizeof(*mu.mc));
	mu.rbuf = malloc(b->cfg.read_size);
	h.fds = calloc(n, sizeof(int));
	h.bytes = calloc(n, sizeof(uint64_t));
	h.sums = calloc(n, sizeof(struct csum));
	if (!conns || !users || !mu.mc || !mu.rbuf || !h.fds || !h.bytes || !h.sums)
		goto out;
	for (i = 0; i < n; i++)
		users[i] = &mu.mc[i];
	g_multi = &mu;
	r = dut_connect_pairs(s, PORT, n, &m_ops, users, conns, h.fds);
	if (r) {
		bench_fail(b, id, s->which, "connect: %s", strerror(-r));
		goto out;
	}
	for (i = 0; i < n; i++)
		mu.mc[i].c = conns[i];
	r = g2h ? guest_writes(s, &mu, &h) : host_writes(s, &mu, &h);
	if (r && r != -EBADMSG && r != -EPROTO)
		bench_fail(b, id, s->which, "%s", strerror(-r));
	for (i = 0; i < n; i++)
		close(h.fds[i]);
out:
	g_multi = NULL;
	free(conns);
	free(users);
	free(mu.mc);
	free(mu.rbuf);
	free(h.fds);
	free(h.bytes);
	free(h.sums);
	return r;
}

int run_multi(struct bench *b, int which, bool g2h)
{
	struct dut s;
	int r;

	if (which == T_BASE)
		return base_multi(b, g2h);
	if (dut_start(b, which, g2h ? "mc_g2h_aggr" : "mc_h2g_aggr",
		      g2h ? b->cfg.mc_write : 64, &s))
		return -1;
	r = multi(&s, g2h);
	return dut_stop(&s) ? -1 : r;
}
