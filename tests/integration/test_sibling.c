/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Sibling VMs: three VMs in one daemon, routed to each other by group.
 *
 *	CID 3 groups a      CID 4 groups a+b      CID 5 groups b
 *	3 <-> 4 allowed (a), 4 <-> 5 allowed (b), 3 <-> 5 forbidden
 *
 * Each VM's guest is a simulator frontend and its socket layer
 * (sim_sock.h), with a small application model (below): several
 * connections per guest at once, credit as Linux keeps it (the socket
 * layer's), every payload byte checked against a pattern derived from
 * (seed, stream offset) and summed with FNV-1a on both ends. Bulk phases run
 * one thread per guest, so that one guest waiting for credit never stops the
 * other from draining; handshakes and refusals are pumped from one thread so
 * that their latency can be measured.
 *
 * The host side (CID 2) is played over the hybrid-vsock Unix sockets only.
 */
#include "itest.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define HOST_CID 2
#define NVM 3
#define KIB 1024u
#define MIB (1024u * 1024u)
#define MAX_STREAMS 160
/* A refusal the daemon decides alone (no guest involved) must be quick. */
#define PROMPT_MS 100

struct vmdef {
	uint64_t cid;
	const char *groups;
};

static const struct vmdef vmdefs[NVM] = {
	{ 3, "a" },
	{ 4, "a+b" },
	{ 5, "b" },
};

enum { VM3, VM4, VM5 };

struct sibt {
	struct sim_daemon d;
	char dir[32];
	char sock[NVM][SIM_DAEMON_PATH_MAX];
	char uds[NVM][SIM_DAEMON_PATH_MAX];
	char vmarg[NVM][3 * SIM_DAEMON_PATH_MAX];
	char yaml[SIM_DAEMON_PATH_MAX];
	bool ok; /* the test body ran to its end: no log dump needed */
};

/* ---- payload: a pattern any offset of which can be checked ---- */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void pat_fill(uint8_t *b, size_t n, uint32_t seed, uint64_t off)
{
	uint64_t cur = UINT64_MAX, w = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t wi = (off + i) >> 3;

		if (wi != cur) {
			w = mix64(((uint64_t)seed << 40) ^ wi);
			cur = wi;
		}
		b[i] = (uint8_t)(w >> (8 * ((off + i) & 7)));
	}
}

/* Index of the first byte that differs from the pattern, or -1. */
static long pat_check(const uint8_t *b, size_t n, uint32_t seed, uint64_t off)
{
	uint64_t cur = UINT64_MAX, w = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t wi = (off + i) >> 3;

		if (wi != cur) {
			w = mix64(((uint64_t)seed << 40) ^ wi);
			cur = wi;
		}
		if (b[i] != (uint8_t)(w >> (8 * ((off + i) & 7))))
			return (long)i;
	}
	return -1;
}

#define FNV_OFFSET 0xcbf29ce484222325ull

static uint64_t fnv(uint64_t h, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* ---- the guest model: the simulator's socket layer, several streams ---- */

/*
 * The connections (demultiplexing, credit, RST answers) are the socket
 * layer's (sim_sock.h); a gstream is what one socket's application does:
 * pattern data of (seed, stream offset) each way, checked and hashed, and
 * Linux's answer to a full shutdown. The test sets a stream up by its
 * state: GS_LISTEN streams are registered as listeners by guest_step().
 */
enum gs_state { GS_IDLE, GS_LISTEN, GS_CONNECTING, GS_EST, GS_CLOSED };

struct gstream {
	struct guest *g;
	enum gs_state state;
	struct sg_conn *c;      /* the connection (kept after close), or NULL */
	bool listening;         /* GS_LISTEN handed to the socket layer */
	uint64_t peer_cid;
	uint32_t lport, pport;
	/* Credit, as the socket layer keeps it (copied by guest_step). */
	uint32_t buf_alloc, rx_cnt, tx_cnt, peer_buf_alloc, peer_fwd_cnt;
	uint64_t credit_violations;
	bool reset, refused, peer_shut_send, peer_shut_rcv, rst_sent;
	/* What the application does. */
	uint64_t tx_goal, tx_done;
	uint32_t tx_seed, rx_seed;
	uint64_t rx_goal;
	bool ignore_credit;     /* a broken guest: sends beyond peer credit */
	bool tx_stopped;        /* a send() failed with EPIPE: no more writes */
	bool background;        /* not part of the guest's goals */
	bool accept_many;       /* listener: each REQUEST makes a new stream */
	bool accepted;          /* came from a peer's REQUEST */
	/* What happened. */
	uint64_t tx_hash, rx_hash;
	uint64_t rx_bad, rx_first_bad;
	uint64_t unexpected;
	int64_t t_start, t_end; /* connect sent -> RESPONSE/RST, ms */
	atomic_bool ended;      /* reset, or the peer will send no more */
};

struct guest {
	struct sim *s;
	struct sg *sg;
	uint64_t cid;
	const char *name;
	uint8_t *txbuf;
	struct gstream *st[MAX_STREAMS];
	unsigned nst;
	bool rx_stalled;        /* the driver posts no rx buffers (no polling) */
	/* The socket layer's counters, copied by guest_step(). */
	uint64_t stray, bad_hdr;
	uint32_t max_rw;        /* largest RW payload seen in one rx buffer */
	uint64_t rx_packets;
	uint64_t refused_full;  /* REQUESTs refused for want of a stream */
	int err;                /* first simulator error, e.g. -EBADMSG */
};

static const struct sg_conn_ops gs_ops;

static void guest_init(struct guest *g, struct sim *s, const char *name)
{
	struct sg_cfg cfg;

	memset(g, 0, sizeof(*g));
	g->s = s;
	g->cid = sim_guest_cid(s);
	g->name = name;
	g->txbuf = malloc(SIM_PKT_MAX);
	assert_non_null(g->txbuf);
	sg_cfg_init(&cfg);
	cfg.max_conns = MAX_STREAMS;
	cfg.timeout_ms = ITEST_TIMEOUT_MS;
	/* Streams read their connection's counters after it closed. */
	cfg.keep_closed = true;
	assert_int_equal(sg_attach(s, &cfg, &g->sg), 0);
}

static void guest_fini(struct guest *g)
{
	sg_close(g->sg);
	for (unsigned i = 0; i < g->nst; i++)
		free(g->st[i]);
	free(g->txbuf);
	if (g->s)
		sim_close(g->s);
	memset(g, 0, sizeof(*g));
}

static struct gstream *gs_new(struct guest *g, uint32_t lport, uint32_t buf_alloc)
{
	struct gstream *st;

	if (g->nst == MAX_STREAMS)
		return NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->g = g;
	st->lport = lport;
	st->buf_alloc = buf_alloc ? buf_alloc : 256u * KIB;
	st->tx_hash = st->rx_hash = FNV_OFFSET;
	g->st[g->nst++] = st;
	return st;
}

static int g_err(struct guest *g, int r)
{
	if (r < 0 && !g->err)
		g->err = r;
	return r;
}

static void gs_end(struct gstream *st)
{
	atomic_store(&st->ended, true);
}

static void gs_connect(struct guest *g, struct gstream *st, uint64_t cid, uint32_t port)
{
	st->peer_cid = cid;
	st->pport = port;
	st->state = GS_CONNECTING;
	st->t_start = sim_now_ms();
	g_err(g, sg_connect(g->sg, cid, port, st->lport, &gs_ops, st, &st->c));
}

static void gs_shutdown(struct guest *g, struct gstream *st, uint32_t flags)
{
	g_err(g, sg_shutdown(st->c, flags));
	g_err(g, sg_kick(g->sg));
}

/* Both ends of one connection agree on what flows each way. */
static void gs_pair_xfer(struct gstream *a, struct gstream *b, uint64_t a_to_b,
			 uint64_t b_to_a, uint32_t seed)
{
	a->tx_goal = a_to_b;
	a->tx_seed = seed;
	b->rx_goal = a_to_b;
	b->rx_seed = seed;
	b->tx_goal = b_to_a;
	b->tx_seed = seed + 1;
	a->rx_goal = b_to_a;
	a->rx_seed = seed + 1;
}

/* A listener refuses only when the guest has no stream left to give. */
static bool gs_accept(struct sg *sg, uint64_t cid, uint32_t port, void *user)
{
	struct gstream *l = user;

	(void)sg;
	(void)cid;
	(void)port;
	if (l->accept_many && l->g->nst == MAX_STREAMS) {
		l->g->refused_full++;
		return false;
	}
	return true;
}

/* A new connection, before its first packet: which stream it is, and the
 * window that stream advertises. */
static void gs_init(struct sg_conn *c)
{
	struct gstream *st = c->user;

	if (st->state == GS_LISTEN) {
		struct gstream *l = st;

		if (l->accept_many) {
			st = gs_new(l->g, l->lport, l->buf_alloc);
			/* Seeds follow the initiator's port, as the tests set
			 * them. */
			st->tx_goal = l->tx_goal;
			st->rx_goal = l->rx_goal;
			st->tx_seed = c->peer_port + 1;
			st->rx_seed = c->peer_port;
			c->user = st;
		} else {
			sg_unlisten(c->g, l->lport);
		}
		st->c = c;
		st->peer_cid = c->peer_cid;
		st->pport = c->peer_port;
		st->state = GS_EST;
		st->accepted = true;
		st->t_end = sim_now_ms();
	}
	c->buf_alloc = st->buf_alloc;
}

/* What the socket layer lets pass but this model counts. */
static void gs_pkt(struct sg_conn *c, const struct virtio_vsock_hdr *h)
{
	struct gstream *st = c->user;
	uint16_t op = le16toh(h->op);

	if (op == VIRTIO_VSOCK_OP_RW && le32toh(h->len) > st->g->max_rw)
		st->g->max_rw = le32toh(h->len);
	if ((op == VIRTIO_VSOCK_OP_RESPONSE && st->state != GS_CONNECTING) ||
	    (op == VIRTIO_VSOCK_OP_RW && st->state != GS_EST) ||
	    op < VIRTIO_VSOCK_OP_RESPONSE || op > VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		st->unexpected++;
}

static void gs_data(struct sg_conn *c, const uint8_t *p, size_t n)
{
	struct gstream *st = c->user;
	/* The socket layer counted these bytes already. */
	uint32_t off = c->rx_cnt - (uint32_t)n;
	long bad;

	if (st->state != GS_EST)
		return;
	bad = pat_check(p, n, st->rx_seed, off);
	if (bad >= 0 && !st->rx_bad++)
		st->rx_first_bad = off + (uint64_t)bad;
	st->rx_hash = fnv(st->rx_hash, p, n);
}

static void gs_event(struct sg_conn *c, enum sg_event ev)
{
	struct gstream *st = c->user;

	switch (ev) {
	case SG_EV_ACCEPTED:
		break;
	case SG_EV_CONNECTED:
		st->state = GS_EST;
		st->t_end = sim_now_ms();
		break;
	case SG_EV_SHUTDOWN:
		st->peer_shut_send = c->peer_shut_send;
		st->peer_shut_rcv = c->peer_shut_rcv;
		if (st->peer_shut_send)
			gs_end(st);
		/* Linux resets a socket whose peer shut both ways once drained
		 * (this application has always read everything). */
		if (st->peer_shut_send && st->peer_shut_rcv && st->state == GS_EST) {
			st->rst_sent = true;
			st->state = GS_CLOSED;
			g_err(st->g, sg_rst(c));
		}
		break;
	case SG_EV_CLOSED:
		if (c->reset) {
			if (st->state == GS_CONNECTING) {
				st->refused = true;
				st->t_end = sim_now_ms();
			}
			st->reset = true;
			gs_end(st);
		}
		st->state = GS_CLOSED;
		break;
	}
}

static const struct sg_conn_ops gs_ops = {
	.data = gs_data, .event = gs_event, .pkt = gs_pkt, .accept = gs_accept,
	.init = gs_init,
};

/* Sends what credit (or, for a broken guest, nothing) allows; a few
 * packets per call so that the guest's streams take turns. */
static unsigned gs_pump_tx(struct guest *g, struct gstream *st)
{
	unsigned sent = 0;

	while (st->state == GS_EST && !st->tx_stopped && sent < 16 && st->tx_done < st->tx_goal) {
		uint64_t n = st->tx_goal - st->tx_done;
		uint32_t credit;
		ssize_t q;

		st->c->ignore_credit = st->ignore_credit;
		credit = sg_peer_credit(st->c);
		if (!credit)
			break;
		if (n > credit)
			n = credit;
		if (n > SIM_PKT_MAX)
			n = SIM_PKT_MAX;
		pat_fill(g->txbuf, (size_t)n, st->tx_seed, st->tx_done);
		q = sg_send(st->c, g->txbuf, (size_t)n);
		if (q == -EPIPE) {
			/* The peer shut its receiving side (it closed): as
			 * Linux's send(), the application stops writing. */
			st->tx_stopped = true;
			break;
		}
		if (q <= 0) {
			g_err(g, (int)q);
			break;
		}
		st->tx_hash = fnv(st->tx_hash, g->txbuf, (size_t)q);
		st->tx_done += (uint64_t)q;
		sent++;
		/* Each write is a send(): the device hears of it now. */
		if (g_err(g, sg_kick(g->sg)))
			break;
	}
	return sent;
}

/* The socket layer's view, where the tests read it. */
static void guest_sync(struct guest *g)
{
	const struct sg_stats *s = sg_stats(g->sg);

	for (unsigned i = 0; i < g->nst; i++) {
		struct gstream *st = g->st[i];
		const struct sg_conn *c = st->c;

		if (!c)
			continue;
		st->rx_cnt = c->rx_cnt;
		st->tx_cnt = c->tx_cnt;
		st->peer_buf_alloc = c->peer_buf_alloc;
		st->peer_fwd_cnt = c->peer_fwd_cnt;
		st->credit_violations = c->credit_violations;
	}
	g->stray = s->stray + s->stray_rst + g->refused_full;
	g->bad_hdr = s->bad;
	g->rx_packets = s->rx_pkts;
	g_err(g, sg_error(g->sg));
}

/*
 * One turn of the guest: send, then take what the device delivered
 * (waiting up to wait_ms when there was nothing to send). Returns the
 * number of packets moved, or a negative simulator error.
 */
static int guest_step(struct guest *g, int wait_ms)
{
	int work = 0, r;
	unsigned i;

	if (g->err)
		return g->err;
	for (i = 0; i < g->nst; i++) {
		struct gstream *st = g->st[i];

		if (st->state == GS_LISTEN && !st->listening) {
			st->listening = true;
			g_err(g, sg_listen(g->sg, st->lport, &gs_ops, st));
		}
		work += (int)gs_pump_tx(g, st);
	}
	if (g->rx_stalled) {
		/* Sends go out; nothing is taken from the rx ring. */
		g_err(g, sg_kick(g->sg));
		if (!work && wait_ms)
			usleep((useconds_t)wait_ms * 1000u);
	} else {
		r = sg_poll(g->sg, work ? 0 : wait_ms);
		if (r < 0)
			g_err(g, r);
		else
			work += r;
	}
	guest_sync(g);
	return g->err ? g->err : work;
}

static bool gs_goal_met(const struct gstream *st)
{
	if (st->background || st->state == GS_IDLE || st->accept_many)
		return true;
	if (st->state == GS_CLOSED)
		return true; /* how it ended is checked by the test */
	return st->state == GS_EST && st->tx_done >= st->tx_goal && st->rx_cnt >= st->rx_goal;
}

static bool guest_goals_met(const struct guest *g)
{
	for (unsigned i = 0; i < g->nst; i++)
		if (!gs_goal_met(g->st[i]))
			return false;
	return true;
}

/* ---- single-threaded pumping, for handshakes and latencies ---- */

static bool all_settled(struct gstream *const *sts, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (sts[i]->state == GS_CONNECTING || sts[i]->state == GS_LISTEN)
			return false;
	return true;
}

/* Steps the guests in turn until every stream in sts left CONNECTING or
 * LISTEN. False on timeout or a simulator error. */
static bool pump_until_settled(struct guest *const *gs, unsigned ng, struct gstream *const *sts,
			       unsigned nst, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;

	while (!all_settled(sts, nst)) {
		int work = 0;

		if (sim_now_ms() >= deadline)
			return false;
		for (unsigned i = 0; i < ng; i++) {
			int r = guest_step(gs[i], 0);

			if (r < 0)
				return false;
			work += r;
		}
		if (!work)
			usleep(200);
	}
	return true;
}

/* Steps the guests for ms milliseconds whatever happens. */
static void pump_for(struct guest *const *gs, unsigned ng, int ms)
{
	int64_t deadline = sim_now_ms() + ms;

	while (sim_now_ms() < deadline) {
		int work = 0;

		for (unsigned i = 0; i < ng; i++) {
			int r = guest_step(gs[i], 0);

			work += r > 0 ? r : 0;
		}
		if (!work)
			usleep(500);
	}
}

/* ---- one thread per guest, for bulk phases ---- */

struct runner {
	struct guest *g;
	pthread_t th;
	bool running;
	int64_t deadline;
	/* Leave the loop as soon as this holds (the guest's VMM then goes). */
	bool (*exit_when)(const struct guest *g);
	atomic_bool stop, finished, goals_met;
	atomic_int err;
};

static void *runner_main(void *arg)
{
	struct runner *ru = arg;

	while (!atomic_load(&ru->stop) && sim_now_ms() < ru->deadline) {
		int r = guest_step(ru->g, 2);

		if (r < 0) {
			atomic_store(&ru->err, r);
			break;
		}
		atomic_store(&ru->goals_met, guest_goals_met(ru->g));
		if (ru->exit_when && ru->exit_when(ru->g))
			break;
	}
	atomic_store(&ru->finished, true);
	return NULL;
}

static void runner_start(struct runner *ru, struct guest *g, int timeout_ms)
{
	ru->g = g;
	ru->deadline = sim_now_ms() + timeout_ms;
	atomic_store(&ru->stop, false);
	atomic_store(&ru->finished, false);
	atomic_store(&ru->goals_met, guest_goals_met(g));
	atomic_store(&ru->err, 0);
	assert_int_equal(pthread_create(&ru->th, NULL, runner_main, ru), 0);
	ru->running = true;
}

static void runner_join(struct runner *ru)
{
	if (!ru->running)
		return;
	atomic_store(&ru->stop, true);
	pthread_join(ru->th, NULL);
	ru->running = false;
}

/* ---- host side (CID 2) over the hybrid-vsock Unix sockets ---- */

static int wait_fd(int fd, short ev, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int r = poll(&p, 1, timeout_ms);

	return r > 0 ? 0 : (r == 0 ? -ETIMEDOUT : -errno);
}

static int host_listen(const struct sibt *t, unsigned vm, unsigned port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", t->uds[vm], port) >=
	    (int)sizeof(sa.sun_path))
		fail_msg("listener path too long");
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

static int host_accept(int lfd, int timeout_ms)
{
	if (wait_fd(lfd, POLLIN, timeout_ms))
		return -ETIMEDOUT;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

/* A host application moving pattern data both ways on one socket. */
struct hpeer {
	int fd;
	uint64_t tx_goal, rx_goal, tx_done, rx_done, rx_bad;
	uint32_t tx_seed, rx_seed;
	uint64_t tx_hash, rx_hash;
	int64_t deadline;
	int result;
	pthread_t th;
	atomic_bool done;
};

static void *hpeer_main(void *arg)
{
	struct hpeer *h = arg;
	uint8_t *sbuf = malloc(SIM_PKT_MAX), *rbuf = malloc(SIM_PKT_MAX);
	size_t spos = 0, slen = 0;

	h->result = -ENOMEM;
	h->tx_hash = h->rx_hash = FNV_OFFSET;
	if (!sbuf || !rbuf)
		goto out;
	h->result = 0;
	while (h->tx_done < h->tx_goal || h->rx_done < h->rx_goal) {
		struct pollfd p = { .fd = h->fd };
		int left = (int)(h->deadline - sim_now_ms());
		ssize_t n;

		if (h->tx_done < h->tx_goal)
			p.events |= POLLOUT;
		if (h->rx_done < h->rx_goal)
			p.events |= POLLIN;
		if (left <= 0 || poll(&p, 1, left) <= 0) {
			h->result = -ETIMEDOUT;
			break;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(h->fd, rbuf, SIM_PKT_MAX, 0);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				h->result = n == 0 ? -EPIPE : -errno;
				break;
			}
			if (n > 0) {
				if (pat_check(rbuf, (size_t)n, h->rx_seed, h->rx_done) >= 0)
					h->rx_bad++;
				h->rx_hash = fnv(h->rx_hash, rbuf, (size_t)n);
				h->rx_done += (uint64_t)n;
			}
		}
		if ((p.revents & POLLOUT) && h->tx_done < h->tx_goal) {
			if (spos == slen) {
				uint64_t rest = h->tx_goal - h->tx_done;

				slen = rest < SIM_PKT_MAX ? (size_t)rest : SIM_PKT_MAX;
				pat_fill(sbuf, slen, h->tx_seed, h->tx_done);
				spos = 0;
			}
			n = send(h->fd, sbuf + spos, slen - spos, MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				h->result = -errno;
				break;
			}
			if (n > 0) {
				h->tx_hash = fnv(h->tx_hash, sbuf + spos, (size_t)n);
				spos += (size_t)n;
				h->tx_done += (uint64_t)n;
			}
		}
	}
out:
	free(sbuf);
	free(rbuf);
	atomic_store(&h->done, true);
	return NULL;
}

static void hpeer_start(struct hpeer *h, int fd, int timeout_ms)
{
	h->fd = fd;
	h->deadline = sim_now_ms() + timeout_ms;
	atomic_store(&h->done, false);
	assert_int_equal(pthread_create(&h->th, NULL, hpeer_main, h), 0);
}

/* ---- fixture: one daemon with the three VMs ---- */

static int spawn(struct sibt *t, bool yaml, const char *threads)
{
	const char *argv[2 + 2 * NVM + 2 + 1];
	unsigned n = 0, i;
	int r;

	strcpy(t->dir, "/tmp/vdv-sib-XXXXXX");
	if (!mkdtemp(t->dir))
		return -errno;
	for (i = 0; i < NVM; i++) {
		snprintf(t->sock[i], sizeof(t->sock[i]), "%s/vhost%llu.sock", t->dir,
			 (unsigned long long)vmdefs[i].cid);
		snprintf(t->uds[i], sizeof(t->uds[i]), "%s/vm%llu.vsock", t->dir,
			 (unsigned long long)vmdefs[i].cid);
		snprintf(t->vmarg[i], sizeof(t->vmarg[i]),
			 "guest-cid=%llu,socket=%s,uds-path=%s,groups=%s",
			 (unsigned long long)vmdefs[i].cid, t->sock[i], t->uds[i],
			 vmdefs[i].groups);
	}
	argv[n++] = sim_daemon_exe();
	if (yaml) {
		FILE *f;

		snprintf(t->yaml, sizeof(t->yaml), "%s/vms.yaml", t->dir);
		f = fopen(t->yaml, "w");
		if (!f)
			return -errno;
		fprintf(f, "# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause\nvms:\n");
		for (i = 0; i < NVM; i++)
			fprintf(f, "    - guest_cid: %llu\n      socket: %s\n      uds_path: %s\n"
				"      groups: %s\n", (unsigned long long)vmdefs[i].cid,
				t->sock[i], t->uds[i], vmdefs[i].groups);
		fclose(f);
		argv[n++] = "--config";
		argv[n++] = t->yaml;
	} else {
		for (i = 0; i < NVM; i++) {
			argv[n++] = "--vm";
			argv[n++] = t->vmarg[i];
		}
	}
	if (threads) {
		argv[n++] = "--threads";
		argv[n++] = threads;
	}
	argv[n] = NULL;
	r = sim_daemon_spawn_argv(&t->d, argv, NULL, 0);
	for (i = 0; !r && i < NVM; i++)
		r = sim_daemon_wait_path(&t->d, t->sock[i], 10000);
	return r;
}

static int setup_with(void **state, bool yaml, const char *threads)
{
	struct sibt *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -1;
	r = spawn(t, yaml, threads);
	if (r) {
		fprintf(stderr, "spawning %s with 3 VMs: %s\n", sim_daemon_exe(), strerror(-r));
		sim_daemon_dump_log(&t->d, stderr, 8192);
		sim_daemon_stop(&t->d, 1000, NULL);
		if (t->dir[0])
			sim_rm_tree(t->dir);
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

/* One worker per VM: every sibling connection crosses threads (the
 * bounded inbox hands it over). */
static int setup_vm(void **state)
{
	return setup_with(state, false, "3");
}

/* All VMs on one worker: sibling connections within one thread. */
static int setup_one_thread(void **state)
{
	return setup_with(state, false, "1");
}

static int setup_yaml(void **state)
{
	return setup_with(state, true, NULL);
}

static int teardown(void **state)
{
	struct sibt *t = *state;
	int r;

	if (!t)
		return 0;
	r = sim_daemon_finish(&t->d, t->dir, !t->ok, 5000);
	free(t);
	return r;
}

/* A started frontend for VM i, with its CID checked. */
static struct sim *vm_start(struct sibt *t, unsigned i)
{
	return itest_start_at(t->sock[i], vmdefs[i].cid);
}

static void guests_start(struct sibt *t, struct guest *g, unsigned n)
{
	static const char *const names[NVM] = { "vm3", "vm4", "vm5" };

	for (unsigned i = 0; i < n; i++)
		guest_init(&g[i], vm_start(t, i), names[i]);
}

struct rss {
	long base_rss, base_anon, max_rss, max_anon;
};

static void rss_base(struct rss *m, pid_t pid)
{
	m->base_rss = m->max_rss = sim_proc_status(pid, "VmRSS");
	m->base_anon = m->max_anon = sim_proc_status(pid, "RssAnon");
}

static void rss_sample(struct rss *m, pid_t pid)
{
	long r = sim_proc_status(pid, "VmRSS"), a = sim_proc_status(pid, "RssAnon");

	if (r > m->max_rss)
		m->max_rss = r;
	if (a > m->max_anon)
		m->max_anon = a;
}

/* ---- checks ---- */

/*
 * What the daemon allocates must not follow what a guest pushes. VmRSS also
 * counts the guests' shared RAM as the daemon touches it (a few MiB at
 * most here), so the heap (RssAnon) gets the tight bound.
 */
static void check_rss(const struct rss *m)
{
	if (m->max_rss - m->base_rss >= 6 * 1024)
		fail_msg("daemon VmRSS grew by %ld kB", m->max_rss - m->base_rss);
	if (m->max_anon - m->base_anon >= 2 * 1024)
		fail_msg("daemon RssAnon grew by %ld kB", m->max_anon - m->base_anon);
}

/* Everything a sent b arrived, in order, and the reverse. */
static void check_pair(const char *what, const struct gstream *a, const struct gstream *b)
{
	if (a->rx_bad || b->rx_bad)
		fail_msg("%s: payload mismatch (first bad byte at %llu / %llu)", what,
			 (unsigned long long)a->rx_first_bad, (unsigned long long)b->rx_first_bad);
	if (a->tx_done != a->tx_goal || b->rx_cnt != (uint32_t)a->tx_goal)
		fail_msg("%s: a sent %llu of %llu, b got %u", what,
			 (unsigned long long)a->tx_done, (unsigned long long)a->tx_goal, b->rx_cnt);
	if (b->tx_done != b->tx_goal || a->rx_cnt != (uint32_t)b->tx_goal)
		fail_msg("%s: b sent %llu of %llu, a got %u", what,
			 (unsigned long long)b->tx_done, (unsigned long long)b->tx_goal, a->rx_cnt);
	if (a->tx_hash != b->rx_hash || b->tx_hash != a->rx_hash)
		fail_msg("%s: checksums differ", what);
	assert_int_equal(a->credit_violations, 0);
	assert_int_equal(b->credit_violations, 0);
	assert_int_equal(a->unexpected, 0);
	assert_int_equal(b->unexpected, 0);
	assert_false(a->reset);
	assert_false(b->reset);
}

static void check_guest_clean(const struct guest *g)
{
	if (g->err)
		fail_msg("%s: simulator error %s (an rx packet inconsistent with its buffer?)",
			 g->name, strerror(-g->err));
	assert_int_equal(g->bad_hdr, 0);
	/* 4 KiB rx buffers: a 64 KiB write must arrive cut, never truncated. */
	assert_true(g->max_rw <= 4096);
}

/* Runs the given guests, one thread each, until all their goals are met. */
static void run_goals(struct guest *const *gs, unsigned n, int timeout_ms)
{
	struct runner ru[NVM + 1];
	int64_t deadline = sim_now_ms() + timeout_ms;
	bool met = false;
	unsigned i;

	memset(ru, 0, sizeof(ru));
	assert_true(n <= NVM + 1);
	for (i = 0; i < n; i++)
		runner_start(&ru[i], gs[i], timeout_ms + 1000);
	while (!met && sim_now_ms() < deadline) {
		met = true;
		for (i = 0; i < n; i++) {
			if (atomic_load(&ru[i].err))
				deadline = 0;
			met = met && atomic_load(&ru[i].goals_met);
		}
		if (!met)
			usleep(1000);
	}
	for (i = 0; i < n; i++)
		runner_join(&ru[i]);
	for (i = 0; i < n; i++)
		check_guest_clean(gs[i]);
	if (!met) {
		for (i = 0; i < n; i++)
			for (unsigned j = 0; j < gs[i]->nst; j++) {
				const struct gstream *st = gs[i]->st[j];

				print_message("%s stream %u->%llu:%u state %d tx %llu/%llu rx %u/%llu "
					      "reset %d credit %u/%u\n", gs[i]->name, st->lport,
					      (unsigned long long)st->peer_cid, st->pport, st->state,
					      (unsigned long long)st->tx_done,
					      (unsigned long long)st->tx_goal, st->rx_cnt,
					      (unsigned long long)st->rx_goal, st->reset,
					      st->tx_cnt - st->peer_fwd_cnt, st->peer_buf_alloc);
			}
		fail_msg("bulk phase did not complete within %d ms", timeout_ms);
	}
}

/* Connects a (initiator) to b's listening port; both settled, asserts. */
static void connect_pair(struct guest *a, struct gstream *sa, struct guest *b,
			 struct gstream *sb, uint32_t port)
{
	struct guest *gs[2] = { a, b };
	struct gstream *sts[2] = { sa, sb };

	sb->state = GS_LISTEN;
	gs_connect(a, sa, b->cid, port);
	if (!pump_until_settled(gs, 2, sts, 2, ITEST_TIMEOUT_MS))
		fail_msg("%s -> %s:%u: no answer within %d ms", a->name, b->name, port,
			 ITEST_TIMEOUT_MS);
	if (sa->state != GS_EST || sb->state != GS_EST)
		fail_msg("%s -> %s:%u: not established (initiator %s, acceptor state %d)",
			 a->name, b->name, port, sa->refused ? "refused" : "?", sb->state);
	assert_int_equal(sb->peer_cid, a->cid);
	assert_int_equal(sb->pport, sa->lport);
}

/* Closes a connection the way Linux's close() does and checks that the
 * other guest hears of it. */
static void close_pair(struct guest *a, struct gstream *sa, struct guest *b, struct gstream *sb)
{
	struct guest *gs[2] = { a, b };
	int64_t deadline = sim_now_ms() + ITEST_TIMEOUT_MS;

	gs_shutdown(a, sa, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	while (!atomic_load(&sb->ended) && sim_now_ms() < deadline)
		pump_for(gs, 2, 2);
	if (!atomic_load(&sb->ended))
		fail_msg("%s closed its end: %s heard nothing", a->name, b->name);
	/* A close, not a half-close: b's send() must fail from now on. */
	if (!sb->peer_shut_rcv)
		fail_msg("%s closed its end: %s heard SHUTDOWN without RCV", a->name, b->name);
	/* b (the model) answered RST; a must see the connection end too. */
	while (!sa->reset && sim_now_ms() < deadline)
		pump_for(gs, 2, 2);
	assert_true(sa->reset);
}

/* ---- tests ---- */

/*
 * Every allowed pair, both initiators, both directions at once: 4 VM-to-VM
 * connections with 1 MiB each way, 64 KiB writes into 4 KiB rx buffers.
 */
static void test_allowed_pairs_bulk(void **state)
{
	struct sibt *t = *state;
	struct guest g[NVM];
	struct guest *all[NVM] = { &g[VM3], &g[VM4], &g[VM5] };
	struct gstream *s34, *s43, *s43b, *s34b, *s45, *s54, *s54b, *s45b;

	guests_start(t, g, NVM);
	s34 = gs_new(&g[VM3], 30001, 0);   /* 3 -> 4 */
	s43 = gs_new(&g[VM4], 4001, 0);
	s43b = gs_new(&g[VM4], 40002, 0);  /* 4 -> 3 */
	s34b = gs_new(&g[VM3], 3002, 0);
	s45 = gs_new(&g[VM4], 40003, 0);   /* 4 -> 5 */
	s54 = gs_new(&g[VM5], 5003, 0);
	s54b = gs_new(&g[VM5], 50004, 0);  /* 5 -> 4 */
	s45b = gs_new(&g[VM4], 4004, 0);
	connect_pair(&g[VM3], s34, &g[VM4], s43, 4001);
	connect_pair(&g[VM4], s43b, &g[VM3], s34b, 3002);
	connect_pair(&g[VM4], s45, &g[VM5], s54, 5003);
	connect_pair(&g[VM5], s54b, &g[VM4], s45b, 4004);
	gs_pair_xfer(s34, s43, MIB, MIB, 10);
	gs_pair_xfer(s43b, s34b, MIB, MIB, 20);
	gs_pair_xfer(s45, s54, MIB, MIB, 30);
	gs_pair_xfer(s54b, s45b, MIB, MIB, 40);
	run_goals(all, NVM, 30000);
	check_pair("3->4", s34, s43);
	check_pair("4->3", s43b, s34b);
	check_pair("4->5", s45, s54);
	check_pair("5->4", s54b, s45b);
	for (unsigned i = 0; i < NVM; i++)
		assert_int_equal(g[i].stray, 0);
	/* Closing propagates to the sibling, both ways round. */
	close_pair(&g[VM3], s34, &g[VM4], s43);
	close_pair(&g[VM4], s45, &g[VM5], s54);
	close_pair(&g[VM4], s45b, &g[VM5], s54b);
	close_pair(&g[VM3], s34b, &g[VM4], s43b);
	for (unsigned i = 0; i < NVM; i++)
		guest_fini(&g[i]);
	assert_true(sim_daemon_alive(&t->d));
	t->ok = true;
}

/* Pumps both guests until *flag is set; fails after the test timeout. */
static void wait_flag(struct guest *a, struct guest *b, const bool *flag, const char *what)
{
	struct guest *gs[2] = { a, b };
	int64_t deadline = sim_now_ms() + ITEST_TIMEOUT_MS;

	while (!*flag && sim_now_ms() < deadline)
		pump_for(gs, 2, 2);
	if (!*flag)
		fail_msg("%s: not within %d ms", what, ITEST_TIMEOUT_MS);
}

/*
 * The guests' SHUTDOWN flags reach the sibling unchanged, each on its own:
 * SEND alone (a half-close), RCV alone (SHUT_RD, which the socketpair
 * shows its far end only on a write: carried beside it, so the sibling
 * hears it without writing), then both (the connection ends). A port pair
 * that was closed connects again at once.
 */
static void test_shutdown_flags(void **state)
{
	struct sibt *t = *state;
	struct guest g[NVM];
	struct gstream *a, *b;

	guests_start(t, g, 2);
	/* SEND alone, then RCV: 3 half-closes, then shuts its read side. */
	a = gs_new(&g[VM3], 30100, 0);
	b = gs_new(&g[VM4], 4100, 0);
	connect_pair(&g[VM3], a, &g[VM4], b, 4100);
	gs_shutdown(&g[VM3], a, VIRTIO_VSOCK_SHUTDOWN_SEND);
	wait_flag(&g[VM3], &g[VM4], &b->peer_shut_send, "SHUTDOWN SEND from vm3");
	assert_false(b->peer_shut_rcv);
	assert_false(b->reset);
	gs_shutdown(&g[VM3], a, VIRTIO_VSOCK_SHUTDOWN_RCV);
	wait_flag(&g[VM3], &g[VM4], &b->peer_shut_rcv, "SHUTDOWN RCV from vm3");
	/* Both now: the model answers RST like Linux, and vm3 sees the end. */
	wait_flag(&g[VM3], &g[VM4], &a->reset, "RST after both shutdowns");

	/* RCV alone, from the acceptor's side this time. */
	a = gs_new(&g[VM3], 30101, 0);
	b = gs_new(&g[VM4], 4101, 0);
	connect_pair(&g[VM3], a, &g[VM4], b, 4101);
	gs_shutdown(&g[VM4], b, VIRTIO_VSOCK_SHUTDOWN_RCV);
	wait_flag(&g[VM3], &g[VM4], &a->peer_shut_rcv, "SHUTDOWN RCV from vm4");
	assert_false(a->peer_shut_send);
	assert_false(a->reset);
	/* The other direction still flows. */
	{
		struct guest *two[2] = { &g[VM3], &g[VM4] };

		gs_pair_xfer(b, a, 64 * KIB + 7, 0, 70);
		run_goals(two, 2, 10000);
		check_pair("after SHUT_RD", b, a);
	}
	close_pair(&g[VM4], b, &g[VM3], a);

	/* The same port pair again, at once, and again. */
	for (int i = 0; i < 2; i++) {
		a = gs_new(&g[VM3], 30101, 0);
		b = gs_new(&g[VM4], 4101, 0);
		connect_pair(&g[VM3], a, &g[VM4], b, 4101);
		close_pair(&g[VM3], a, &g[VM4], b);
	}
	for (unsigned i = 0; i < 2; i++)
		guest_fini(&g[i]);
	assert_true(sim_daemon_alive(&t->d));
	t->ok = true;
}

/* Connects and measures until RST or RESPONSE; returns the stream. */
static struct gstream *try_connect(struct guest *const *gs, unsigned ng, struct guest *from,
				   uint64_t cid, uint32_t port, uint32_t lport)
{
	struct gstream *st = gs_new(from, lport, 0);

	assert_non_null(st);
	gs_connect(from, st, cid, port);
	if (!pump_until_settled(gs, ng, &st, 1, ITEST_TIMEOUT_MS))
		fail_msg("%s -> cid %llu port %u: no answer within %d ms", from->name,
			 (unsigned long long)cid, port, ITEST_TIMEOUT_MS);
	return st;
}

static void expect_prompt_rst(struct guest *const *gs, unsigned ng, struct guest *from,
			      uint64_t cid, uint32_t port, uint32_t lport, const char *why)
{
	struct gstream *st = try_connect(gs, ng, from, cid, port, lport);
	int64_t ms = st->t_end - st->t_start;

	if (!st->refused)
		fail_msg("%s -> cid %llu (%s): connected, expected RST", from->name,
			 (unsigned long long)cid, why);
	print_message("%s -> cid %llu (%s): RST after %lld ms\n", from->name,
		      (unsigned long long)cid, why, (long long)ms);
	if (ms >= PROMPT_MS)
		fail_msg("%s -> cid %llu (%s): RST after %lld ms, want < %d", from->name,
			 (unsigned long long)cid, why, (long long)ms, PROMPT_MS);
}

/*
 * Forbidden pairs (no shared group), unknown CIDs and one's own CID are
 * refused by the daemon at once, and the would-be target hears nothing; a
 * sibling whose guest has no listener refuses through its own RST.
 */
static void test_refusals(void **state)
{
	struct sibt *t = *state;
	struct guest g[NVM];
	struct guest *all[NVM] = { &g[VM3], &g[VM4], &g[VM5] };
	struct gstream *l3 = NULL, *l5 = NULL, *st;
	int64_t ms;

	guests_start(t, g, NVM);
	/* Listeners on the targets, so that only routing can refuse. */
	l3 = gs_new(&g[VM3], 7000, 0);
	l3->state = GS_LISTEN;
	l3->accept_many = true;
	l5 = gs_new(&g[VM5], 7000, 0);
	l5->state = GS_LISTEN;
	l5->accept_many = true;

	expect_prompt_rst(all, NVM, &g[VM3], 5, 7000, 31000, "forbidden: groups a / b");
	expect_prompt_rst(all, NVM, &g[VM5], 3, 7000, 51000, "forbidden: groups b / a");
	expect_prompt_rst(all, NVM, &g[VM4], 99, 7000, 41000, "unknown cid");
	expect_prompt_rst(all, NVM, &g[VM4], 4, 7000, 41001, "own cid");
	expect_prompt_rst(all, NVM, &g[VM4], 1, 7000, 41002, "cid 1");
	expect_prompt_rst(all, NVM, &g[VM4], 0xffffffffull, 7000, 41003, "cid -1");
	/* Give a misrouted REQUEST time to show up, then look. */
	pump_for(all, NVM, 100);
	for (unsigned i = 0; i < NVM; i++) {
		for (unsigned j = 0; j < g[i].nst; j++)
			if (g[i].st[j]->accepted)
				fail_msg("%s accepted a refused connection from cid %llu port %u",
					 g[i].name, (unsigned long long)g[i].st[j]->peer_cid,
					 g[i].st[j]->pport);
		assert_int_equal(g[i].stray, 0);
	}

	/* Allowed pair, no listener in the target guest: its RST comes back. */
	st = try_connect(all, NVM, &g[VM4], 3, 7999, 41004);
	ms = st->t_end - st->t_start;
	assert_true(st->refused);
	print_message("vm4 -> vm3 port without listener: RST after %lld ms\n", (long long)ms);
	assert_true(ms < 500);
	assert_int_equal(g[VM3].stray, 1); /* the REQUEST it answered */

	/* And the allowed listeners do accept. */
	st = try_connect(all, NVM, &g[VM4], 3, 7000, 41005);
	assert_int_equal(st->state, GS_EST);
	st = try_connect(all, NVM, &g[VM4], 5, 7000, 41006);
	assert_int_equal(st->state, GS_EST);
	for (unsigned i = 0; i < NVM; i++) {
		check_guest_clean(&g[i]);
		guest_fini(&g[i]);
	}
	assert_true(sim_daemon_alive(&t->d));
	t->ok = true;
}

/* Both ends of one small exchange after connect_pair. */
static void small_exchange(struct guest *a, struct gstream *sa, struct guest *b,
			   struct gstream *sb, uint32_t seed)
{
	struct guest *gs[2] = { a, b };

	gs_pair_xfer(sa, sb, 64 * KIB + 123, 200 * KIB, seed);
	run_goals(gs, 2, 10000);
	check_pair("small exchange", sa, sb);
}

/*
 * A target whose VMM is not there, or connected but without guest memory
 * yet, is refused at once; once it starts it can be reached both ways.
 */
static void test_target_not_running(void **state)
{
	struct sibt *t = *state;
	struct guest g[NVM];
	struct guest *two[2] = { &g[VM3], &g[VM4] };
	struct gstream *a, *b;
	struct sim *s5;
	struct sim_opts o;

	guests_start(t, g, 2);
	memset(&g[VM5], 0, sizeof(g[VM5]));
	expect_prompt_rst(two, 2, &g[VM4], 5, 6000, 42000, "sibling with no frontend");

	/* VMM connected and negotiated, no memory table yet. */
	itest_opts(&o);
	assert_int_equal(sim_connect(t->sock[VM5], &o, &s5), 0);
	assert_int_equal(sim_negotiate(s5), 0);
	expect_prompt_rst(two, 2, &g[VM4], 5, 6000, 42001, "sibling negotiated, no memory");
	sim_close(s5);

	guest_init(&g[VM5], vm_start(t, VM5), "vm5");
	/* The daemon needs no time to see the new guest: connect at once. */
	a = gs_new(&g[VM4], 42002, 0);
	b = gs_new(&g[VM5], 6000, 0);
	connect_pair(&g[VM4], a, &g[VM5], b, 6000);
	small_exchange(&g[VM4], a, &g[VM5], b, 50);
	a = gs_new(&g[VM5], 52000, 0);
	b = gs_new(&g[VM4], 6001, 0);
	connect_pair(&g[VM5], a, &g[VM4], b, 6001);
	small_exchange(&g[VM5], a, &g[VM4], b, 60);
	for (unsigned i = 0; i < NVM; i++)
		guest_fini(&g[i]);
	t->ok = true;
}

/*
 * The VMM stopped the device (GET_VRING_BASE on every ring, as QEMU does on
 * a guest reset or `stop`) but stays connected with its memory mapped: the
 * guest cannot answer, so a sibling must be refused at once rather than
 * wait for the daemon's 2 s connect timeout.
 */
static void test_target_stopped(void **state)
{
	struct sibt *t = *state;
	struct guest g[NVM];
	struct guest *two[2] = { &g[VM3], &g[VM4] };
	struct gstream *st;
	int64_t ms;

	guests_start(t, g, NVM);
	assert_int_equal(sim_stop(g[VM5].s), 0);
	st = try_connect(two, 2, &g[VM4], 5, 6000, 43000);
	ms = st->t_end - st->t_start;
	print_message("vm4 -> stopped vm5: %s after %lld ms\n",
		      st->refused ? "RST" : "RESPONSE", (long long)ms);
	assert_true(st->refused);
	if (ms >= PROMPT_MS)
		fail_msg("sibling with stopped rings: RST after %lld ms, want < %d", (long long)ms,
			 PROMPT_MS);
	for (unsigned i = 0; i < NVM; i++)
		guest_fini(&g[i]);
	t->ok = true;
}

static bool stalled_blocked(const struct gstream *st)
{
	return st->tx_cnt - st->peer_fwd_cnt >= st->peer_buf_alloc;
}

/*
 * VM 3's driver posts no rx buffers for a while. VM 4 keeps pushing to it
 * as far as credit allows; meanwhile VM 4's connections to the host (uds)
 * and to VM 5 must keep flowing both ways, and the daemon's memory must not
 * grow with what VM 4 pushes. When VM 3 resumes, everything arrives intact.
 */
static void test_slow_receiver(void **state)
{
	struct sibt *t = *state;
	struct guest g[NVM];
	struct guest *pair45[2] = { &g[VM4], &g[VM5] };
	struct guest *pair34[2] = { &g[VM3], &g[VM4] };
	struct gstream *to3, *from4, *to5, *at5, *toh;
	struct runner ru[2];
	struct hpeer hp;
	struct rss m;
	int lfd, hfd;
	int64_t deadline;
	bool met = false;
	const uint64_t stall_bytes = 8u * MIB;

	memset(ru, 0, sizeof(ru));
	memset(&hp, 0, sizeof(hp));
	guests_start(t, g, NVM);
	/* A large window on VM 3: its rx ring runs dry long before credit. */
	to3 = gs_new(&g[VM4], 44000, 0);
	from4 = gs_new(&g[VM3], 3300, 8u * MIB);
	connect_pair(&g[VM4], to3, &g[VM3], from4, 3300);
	to5 = gs_new(&g[VM4], 44001, 0);
	at5 = gs_new(&g[VM5], 5300, 0);
	connect_pair(&g[VM4], to5, &g[VM5], at5, 5300);
	lfd = host_listen(t, VM4, 9300);
	toh = gs_new(&g[VM4], 44002, 0);
	gs_connect(&g[VM4], toh, HOST_CID, 9300);
	assert_true(pump_until_settled(pair45, 1, &toh, 1, ITEST_TIMEOUT_MS));
	assert_int_equal(toh->state, GS_EST);
	hfd = host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);

	gs_pair_xfer(to3, from4, stall_bytes, 0, 70);
	to3->background = true;
	gs_pair_xfer(to5, at5, 4 * MIB, 4 * MIB, 80);
	toh->tx_goal = 4 * MIB;
	toh->tx_seed = 90;
	toh->rx_goal = 4 * MIB;
	toh->rx_seed = 91;
	hp.rx_goal = 4 * MIB;
	hp.rx_seed = 90;
	hp.tx_goal = 4 * MIB;
	hp.tx_seed = 91;

	/* Baseline once the data path has warmed up a little. */
	g[VM3].rx_stalled = true;
	rss_base(&m, t->d.pid);
	runner_start(&ru[0], &g[VM4], 30000);
	runner_start(&ru[1], &g[VM5], 30000);
	hpeer_start(&hp, hfd, 30000);
	deadline = sim_now_ms() + 30000;
	while (!met && sim_now_ms() < deadline) {
		rss_sample(&m, t->d.pid);
		met = atomic_load(&ru[0].goals_met) && atomic_load(&ru[1].goals_met) &&
		      atomic_load(&hp.done);
		if (atomic_load(&ru[0].err) || atomic_load(&ru[1].err))
			break;
		usleep(2000);
	}
	/* Let VM 4 run into the stalled sibling's credit for sure. */
	for (int i = 0; i < 100 && met; i++) {
		rss_sample(&m, t->d.pid);
		usleep(2000);
	}
	runner_join(&ru[0]);
	runner_join(&ru[1]);
	pthread_join(hp.th, NULL);
	rss_sample(&m, t->d.pid);
	check_guest_clean(&g[VM4]);
	check_guest_clean(&g[VM5]);
	print_message("stalled vm3: vm4 pushed %llu bytes before credit stopped it; "
		      "daemon VmRSS %ld -> max %ld kB, RssAnon %ld -> max %ld kB\n",
		      (unsigned long long)to3->tx_done, m.base_rss, m.max_rss, m.base_anon,
		      m.max_anon);
	if (!met)
		fail_msg("other connections did not flow while vm3 was stalled: vm4<->vm5 "
			 "tx %llu rx %u, host tx %llu rx %llu (%s)",
			 (unsigned long long)to5->tx_done, to5->rx_cnt,
			 (unsigned long long)hp.tx_done, (unsigned long long)hp.rx_done,
			 strerror(-hp.result));
	check_pair("4<->5 beside a stalled sibling", to5, at5);
	assert_int_equal(hp.result, 0);
	assert_int_equal(hp.rx_bad, 0);
	assert_true(hp.rx_hash == toh->tx_hash && hp.tx_hash == toh->rx_hash);
	assert_int_equal(toh->credit_violations, 0);
	/* VM 4 was stopped by credit, not by an error, and long before it
	 * had sent everything. */
	assert_false(to3->reset);
	assert_true(stalled_blocked(to3));
	assert_true(to3->tx_done < stall_bytes / 2);
	check_rss(&m);

	/* VM 3 posts buffers again: the rest flows and arrives intact. */
	g[VM3].rx_stalled = false;
	to3->background = false;
	run_goals(pair34, 2, 30000);
	check_pair("4->3 after the stall", to3, from4);
	check_guest_clean(&g[VM3]);
	close(hfd);
	close(lfd);
	for (unsigned i = 0; i < NVM; i++)
		guest_fini(&g[i]);
	t->ok = true;
}

/*
 * VM 4's guest ignores the credit VM 5's side gave it while VM 5 reads
 * nothing: the daemon must reset that connection (its tx buffer is full)
 * instead of buffering, stay small, tell VM 5, and keep serving the pair.
 */
static void test_ignores_credit(void **state)
{
	struct sibt *t = *state;
	struct guest g[NVM];
	struct guest *pair45[2] = { &g[VM4], &g[VM5] };
	struct gstream *bad, *victim, *a, *b;
	struct rss m;
	int64_t deadline;
	uint32_t credit;
	const uint64_t flood = 64u * MIB;

	guests_start(t, g, NVM);
	bad = gs_new(&g[VM4], 45000, 0);
	victim = gs_new(&g[VM5], 5500, 0);
	connect_pair(&g[VM4], bad, &g[VM5], victim, 5500);
	gs_pair_xfer(bad, victim, flood, 0, 100);
	bad->ignore_credit = true;
	credit = bad->peer_buf_alloc;
	g[VM5].rx_stalled = true;
	rss_base(&m, t->d.pid);
	deadline = sim_now_ms() + 20000;
	while (!bad->reset && bad->tx_done < flood && sim_now_ms() < deadline) {
		if (guest_step(&g[VM4], 0) < 0)
			break;
		rss_sample(&m, t->d.pid);
	}
	/* Packets already queued behind the reset get RSTs too: take them. */
	pump_for(pair45, 1, 100);
	rss_sample(&m, t->d.pid);
	check_guest_clean(&g[VM4]);
	print_message("credit-ignoring vm4: RST after %llu bytes (credit was %u); daemon VmRSS "
		      "%ld -> max %ld kB, RssAnon %ld -> max %ld kB\n",
		      (unsigned long long)bad->tx_done, credit, m.base_rss,
		      m.max_rss, m.base_anon, m.max_anon);
	if (!bad->reset)
		fail_msg("vm4 sent %llu bytes beyond a %u-byte credit and was not reset",
			 (unsigned long long)bad->tx_done, credit);
	assert_true(bad->tx_done < 8u * MIB);
	check_rss(&m);

	/* VM 5 wakes up: what it gets is intact, then the connection ends. */
	g[VM5].rx_stalled = false;
	deadline = sim_now_ms() + ITEST_TIMEOUT_MS;
	while (!atomic_load(&victim->ended) && sim_now_ms() < deadline)
		pump_for(pair45, 2, 2);
	assert_true(atomic_load(&victim->ended));
	assert_int_equal(victim->rx_bad, 0);
	victim->background = true;
	print_message("vm5 received %u bytes, then %s\n", victim->rx_cnt,
		      victim->reset ? "RST" : "SHUTDOWN");

	/* The pair still works. */
	a = gs_new(&g[VM4], 45001, 0);
	b = gs_new(&g[VM5], 5501, 0);
	connect_pair(&g[VM4], a, &g[VM5], b, 5501);
	small_exchange(&g[VM4], a, &g[VM5], b, 110);
	for (unsigned i = 0; i < NVM; i++) {
		check_guest_clean(&g[i]);
		guest_fini(&g[i]);
	}
	assert_true(sim_daemon_alive(&t->d));
	t->ok = true;
}

static bool vm5_had_enough(const struct guest *g)
{
	return g->nst && g->st[0]->rx_cnt >= 256 * KIB;
}

/*
 * VM 5's VMM goes away in the middle of transfers with VM 4, while VM 3 and
 * VM 4 move data too: VM 4's connection to VM 5 ends, 3 <-> 4 is not
 * disturbed, and a new VMM on VM 5's socket is reachable both ways.
 */
static void test_reconnect_while_talking(void **state)
{
	struct sibt *t = *state;
	struct guest g[NVM];
	struct guest *pair45[2] = { &g[VM4], &g[VM5] };
	struct gstream *s34, *s43, *s45, *s54, *a, *b;
	struct runner ru[NVM];
	int64_t deadline, t_close;
	bool a_done_at_close;

	memset(ru, 0, sizeof(ru));
	guests_start(t, g, NVM);
	s54 = gs_new(&g[VM5], 5600, 0); /* st[0] of VM 5: vm5_had_enough */
	s45 = gs_new(&g[VM4], 46000, 0);
	connect_pair(&g[VM4], s45, &g[VM5], s54, 5600);
	s34 = gs_new(&g[VM3], 36000, 0);
	s43 = gs_new(&g[VM4], 4600, 0);
	connect_pair(&g[VM3], s34, &g[VM4], s43, 4600);
	gs_pair_xfer(s34, s43, 24u * MIB, 24u * MIB, 120);
	gs_pair_xfer(s45, s54, 64u * MIB, 64u * MIB, 130);
	s45->background = true;

	runner_start(&ru[VM3], &g[VM3], 60000);
	runner_start(&ru[VM4], &g[VM4], 60000);
	ru[VM5].exit_when = vm5_had_enough;
	runner_start(&ru[VM5], &g[VM5], 10000);
	deadline = sim_now_ms() + 10000;
	while (!atomic_load(&ru[VM5].finished) && sim_now_ms() < deadline)
		usleep(1000);
	runner_join(&ru[VM5]);
	a_done_at_close = atomic_load(&ru[VM3].goals_met) && atomic_load(&ru[VM4].goals_met);
	check_guest_clean(&g[VM5]);
	assert_true(vm5_had_enough(&g[VM5]));
	assert_int_equal(s54->rx_bad, 0);
	/* The VMM dies (no GET_VRING_BASE, just the socket closing). */
	sim_close(g[VM5].s);
	g[VM5].s = NULL;
	t_close = sim_now_ms();

	deadline = sim_now_ms() + ITEST_TIMEOUT_MS;
	while (!atomic_load(&s45->ended) && sim_now_ms() < deadline)
		usleep(1000);
	print_message("vm5's VMM closed (3<->4 %s): vm4's connection to it ended after %lld ms\n",
		      a_done_at_close ? "already done" : "in progress",
		      (long long)(sim_now_ms() - t_close));
	deadline = sim_now_ms() + 60000;
	while (!(atomic_load(&ru[VM3].goals_met) && atomic_load(&ru[VM4].goals_met)) &&
	       !atomic_load(&ru[VM3].err) && !atomic_load(&ru[VM4].err) &&
	       sim_now_ms() < deadline)
		usleep(1000);
	runner_join(&ru[VM3]);
	runner_join(&ru[VM4]);
	check_guest_clean(&g[VM3]);
	check_guest_clean(&g[VM4]);
	if (!atomic_load(&s45->ended))
		fail_msg("vm5's VMM is gone but vm4's connection to it lives on (tx %llu)",
			 (unsigned long long)s45->tx_done);
	assert_int_equal(s45->rx_bad, 0);
	assert_false(a_done_at_close);
	check_pair("3<->4 while vm5 went away", s34, s43);

	/* A new VMM for VM 5: reachable both ways at once. */
	guest_fini(&g[VM5]);
	guest_init(&g[VM5], vm_start(t, VM5), "vm5");
	a = gs_new(&g[VM4], 46001, 0);
	b = gs_new(&g[VM5], 5601, 0);
	connect_pair(&g[VM4], a, &g[VM5], b, 5601);
	gs_pair_xfer(a, b, MIB, MIB, 140);
	run_goals(pair45, 2, 20000);
	check_pair("4<->5 after vm5 came back", a, b);
	a = gs_new(&g[VM5], 56002, 0);
	b = gs_new(&g[VM4], 4602, 0);
	connect_pair(&g[VM5], a, &g[VM4], b, 4602);
	small_exchange(&g[VM5], a, &g[VM4], b, 150);
	for (unsigned i = 0; i < NVM; i++)
		guest_fini(&g[i]);
	assert_true(sim_daemon_alive(&t->d));
	t->ok = true;
}

/* A burst of REQUESTs in one tx batch: every one is answered quickly. */
static void connect_burst(struct guest *gs[2], unsigned n, uint32_t port, uint32_t base,
			  unsigned *est, unsigned *refused, int64_t *ms)
{
	struct guest *from = gs[1];
	struct gstream *sts[MAX_STREAMS];
	int64_t t0 = sim_now_ms();

	/* The REQUESTs are queued without a kick, then kicked once. */
	for (unsigned i = 0; i < n; i++) {
		sts[i] = gs_new(from, base + i, 0);
		assert_non_null(sts[i]);
		sts[i]->tx_goal = 4 * KIB;
		sts[i]->tx_seed = base + i;
		sts[i]->rx_goal = 4 * KIB;
		sts[i]->rx_seed = base + i + 1;
		gs_connect(from, sts[i], gs[0]->cid, port);
		sts[i]->t_start = t0;
	}
	assert_int_equal(from->err, 0);
	assert_int_equal(sg_kick(from->sg), 0);
	if (!pump_until_settled(gs, 2, sts, n, ITEST_TIMEOUT_MS))
		fail_msg("burst of %u connects: not all answered within %d ms", n,
			 ITEST_TIMEOUT_MS);
	*ms = sim_now_ms() - t0;
	*est = *refused = 0;
	for (unsigned i = 0; i < n; i++) {
		if (sts[i]->state == GS_EST)
			++*est;
		else
			++*refused;
	}
}

static void test_connect_burst(void **state)
{
	struct sibt *t = *state;
	struct guest g[NVM];
	struct guest *gs[2] = { &g[VM3], &g[VM4] };
	struct gstream *l;
	unsigned est, refused;
	int64_t ms;

	guests_start(t, g, 2);
	l = gs_new(&g[VM3], 3700, 0);
	l->state = GS_LISTEN;
	l->accept_many = true;
	l->tx_goal = l->rx_goal = 4 * KIB;

	/* Fewer than the inbox holds: all must be accepted. */
	connect_burst(gs, 48, 3700, 47000, &est, &refused, &ms);
	print_message("burst of 48 connects 4->3: %u established, %u refused in %lld ms\n", est,
		      refused, (long long)ms);
	assert_int_equal(est, 48);
	run_goals(gs, 2, 20000);
	for (unsigned i = 0; i < g[VM4].nst; i++) {
		const struct gstream *st = g[VM4].st[i];

		assert_int_equal(st->rx_bad, 0);
		assert_int_equal(st->rx_cnt, 4 * KIB);
		assert_false(st->reset);
	}
	/* More than the inbox holds in one batch: some may be refused (the
	 * inbox is bounded by design) but none may hang. */
	connect_burst(gs, 100, 3700, 48000, &est, &refused, &ms);
	print_message("burst of 100 connects 4->3: %u established, %u refused in %lld ms\n", est,
		      refused, (long long)ms);
	assert_true(est >= 64);
	assert_true(ms < 1000);
	run_goals(gs, 2, 20000);
	for (unsigned i = 0; i < 2; i++) {
		check_guest_clean(&g[i]);
		guest_fini(&g[i]);
	}
	t->ok = true;
}

static double mibps(uint64_t bytes, int64_t ms)
{
	return (double)bytes / MIB * 1000.0 / (double)(ms > 0 ? ms : 1);
}

#define TP_REPS 3
#define TP_LEN (32u * MIB)

/* One sibling transfer on a fresh connection: a -> b (and b -> a when
 * both): milliseconds until everything arrived. */
static int64_t tp_sibling(struct guest *a, struct guest *b, uint32_t port, bool both,
			  uint32_t seed)
{
	struct guest *pair[2] = { a, b };
	struct gstream *sa = gs_new(a, port + 30000, 0), *sb = gs_new(b, port, 0);
	int64_t t0;

	assert_non_null(sa);
	assert_non_null(sb);
	connect_pair(a, sa, b, sb, port);
	gs_pair_xfer(sa, sb, both ? TP_LEN / 2 : TP_LEN, both ? TP_LEN / 2 : 0, seed);
	t0 = sim_now_ms();
	run_goals(pair, 2, 60000);
	t0 = sim_now_ms() - t0;
	check_pair("throughput", sa, sb);
	return t0;
}

/* TP_LEN between h and a host application, one way: milliseconds. */
static int64_t tp_host(struct guest *g, struct gstream *h, int hfd, bool to_host, uint32_t seed)
{
	struct runner ru;
	struct hpeer hp;
	int64_t t0;

	memset(&hp, 0, sizeof(hp));
	memset(&ru, 0, sizeof(ru));
	h->tx_goal = h->tx_done + (to_host ? TP_LEN : 0);
	h->rx_goal = h->rx_cnt + (to_host ? 0 : TP_LEN);
	if (to_host)
		h->tx_seed = seed;
	else
		h->rx_seed = seed;
	hp.rx_goal = to_host ? TP_LEN : 0;
	hp.tx_goal = to_host ? 0 : TP_LEN;
	/* The host peer counts from 0 again: the guest side goes on where it
	 * stopped, so each direction's pattern must start fresh. */
	assert_true(to_host ? h->tx_done == 0 : h->rx_cnt == 0);
	hp.rx_seed = hp.tx_seed = seed;
	t0 = sim_now_ms();
	hpeer_start(&hp, hfd, 60000);
	runner_start(&ru, g, 60000);
	while (!(atomic_load(&hp.done) && atomic_load(&ru.goals_met)) && !atomic_load(&ru.err) &&
	       sim_now_ms() - t0 < 60000)
		usleep(500);
	runner_join(&ru);
	pthread_join(hp.th, NULL);
	t0 = sim_now_ms() - t0;
	check_guest_clean(g);
	assert_int_equal(hp.result, 0);
	assert_int_equal(hp.rx_bad, 0);
	assert_int_equal(h->rx_bad, 0);
	assert_int_equal(h->credit_violations, 0);
	return t0;
}

/* Opens a guest -> host connection on port; returns the host's end. */
static int host_conn(struct sibt *t, unsigned vm, struct guest *g, struct gstream **h,
		     uint32_t port, uint32_t lport)
{
	struct guest *one[1] = { g };
	int lfd = host_listen(t, vm, port), hfd;

	*h = gs_new(g, lport, 0);
	assert_non_null(*h);
	gs_connect(g, *h, HOST_CID, port);
	assert_true(pump_until_settled(one, 1, h, 1, ITEST_TIMEOUT_MS));
	assert_int_equal((*h)->state, GS_EST);
	hfd = host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	close(lfd);
	return hfd;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void tp_print(const char *what, int64_t ms[TP_REPS])
{
	qsort(ms, TP_REPS, sizeof(ms[0]), cmp_i64);
	print_message("  %-26s median %7.1f MiB/s, best %7.1f MiB/s\n", what,
		      mibps(TP_LEN, ms[TP_REPS / 2]), mibps(TP_LEN, ms[0]));
}

/*
 * Informational: VM-to-VM throughput next to the host (uds) path from the
 * same guest, 64 KiB writes, Linux's default 256 KiB receive window, 4 KiB
 * rx buffers; each measured TP_REPS times, interleaved so that the paths
 * share the machine's moods alike.
 */
static void test_throughput(void **state)
{
	struct sibt *t = *state;
	struct guest g[NVM];
	int64_t sib[TP_REPS], sib2[TP_REPS], g2h[TP_REPS], h2g[TP_REPS];
	struct gstream *h;
	int hfd;

	guests_start(t, g, 2);
	for (unsigned r = 0; r < TP_REPS; r++) {
		sib[r] = tp_sibling(&g[VM3], &g[VM4], 4800 + 2 * r, false, 200 + 10 * r);
		sib2[r] = tp_sibling(&g[VM3], &g[VM4], 4801 + 2 * r, true, 205 + 10 * r);
		/* A connection per direction: each pattern starts at offset 0. */
		hfd = host_conn(t, VM3, &g[VM3], &h, 9800 + 2 * r, 39800 + 2 * r);
		g2h[r] = tp_host(&g[VM3], h, hfd, true, 300 + r);
		close(hfd);
		hfd = host_conn(t, VM3, &g[VM3], &h, 9801 + 2 * r, 39801 + 2 * r);
		h2g[r] = tp_host(&g[VM3], h, hfd, false, 400 + r);
		close(hfd);
	}
	print_message("THROUGHPUT (%u MiB per run, %d runs; 64 KiB writes, 4 KiB guest rx "
		      "buffers, 256 KiB guest window):\n", TP_LEN / MIB, TP_REPS);
	tp_print("sibling vm3->vm4", sib);
	tp_print("sibling vm3<->vm4 (sum)", sib2);
	tp_print("host path guest->host", g2h);
	tp_print("host path host->guest", h2g);
	for (unsigned i = 0; i < 2; i++)
		guest_fini(&g[i]);
	t->ok = true;
}

/* The same three VMs from a --config YAML file: routing by its groups. */
static void test_yaml_config(void **state)
{
	struct sibt *t = *state;
	struct guest g[NVM];
	struct guest *all[NVM] = { &g[VM3], &g[VM4], &g[VM5] };
	struct gstream *a, *b;

	guests_start(t, g, NVM);
	expect_prompt_rst(all, NVM, &g[VM5], 3, 7000, 59000, "forbidden (yaml)");
	a = gs_new(&g[VM5], 59001, 0);
	b = gs_new(&g[VM4], 4900, 0);
	connect_pair(&g[VM5], a, &g[VM4], b, 4900);
	small_exchange(&g[VM5], a, &g[VM4], b, 300);
	a = gs_new(&g[VM3], 39001, 0);
	b = gs_new(&g[VM4], 4901, 0);
	connect_pair(&g[VM3], a, &g[VM4], b, 4901);
	small_exchange(&g[VM3], a, &g[VM4], b, 310);
	for (unsigned i = 0; i < NVM; i++)
		guest_fini(&g[i]);
	t->ok = true;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_vm, teardown)
#define T1(fn) cmocka_unit_test_setup_teardown(fn, setup_one_thread, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_allowed_pairs_bulk),
		T(test_refusals),
		T(test_shutdown_flags),
		T(test_target_not_running),
		T(test_target_stopped),
		T(test_slow_receiver),
		T(test_ignores_credit),
		T(test_reconnect_while_talking),
		T(test_connect_burst),
		T(test_throughput),
		T1(test_allowed_pairs_bulk),
		T1(test_shutdown_flags),
		T1(test_refusals),
		T1(test_target_stopped),
		T1(test_slow_receiver),
		T1(test_reconnect_while_talking),
		T1(test_connect_burst),
		cmocka_unit_test_setup_teardown(test_yaml_config, setup_yaml, teardown),
	};

	return cmocka_run_group_tests_name("sibling", tests, NULL, NULL);
}
