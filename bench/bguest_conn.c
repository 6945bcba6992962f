/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Bench guest driver: the connection table, listeners, open and close. */
#include "bguest_priv.h"

#include <errno.h>
#include <string.h>

static unsigned hash(uint64_t cid, uint32_t peer_port, uint32_t local_port)
{
	uint64_t k = (cid * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)peer_port << 32 | local_port);

	k ^= k >> 29;
	k *= 0xbf58476d1ce4e5b9ull;
	return (unsigned)(k >> 40) & (HASH_BUCKETS - 1);
}

struct bg_conn *bg_lookup(struct bg *g, uint64_t cid, uint32_t peer_port, uint32_t local_port)
{
	struct bg_conn *c = g->buckets[hash(cid, peer_port, local_port)];

	for (; c; c = c->hnext)
		if (c->peer_cid == cid && c->peer_port == peer_port && c->local_port == local_port)
			return c;
	return NULL;
}

struct bg_conn *bg_conn_new(struct bg *g, uint64_t cid, uint32_t peer_port,
			    uint32_t local_port, const struct bg_conn_ops *ops, void *user)
{
	struct bg_conn *c;
	unsigned h;

	if (!g->nfree_conns)
		return NULL;
	c = g->conn_free[--g->nfree_conns];
	memset(c, 0, sizeof(*c));
	c->g = g;
	c->ops = ops;
	c->user = user;
	c->peer_cid = cid;
	c->peer_port = peer_port;
	c->local_port = local_port;
	c->buf_alloc = g->cfg.buf_alloc;
	h = hash(cid, peer_port, local_port);
	c->hnext = g->buckets[h];
	g->buckets[h] = c;
	return c;
}

void bg_conn_release(struct bg *g, struct bg_conn *c)
{
	struct bg_conn **pp = &g->buckets[hash(c->peer_cid, c->peer_port, c->local_port)];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	}
	g->conn_free[g->nfree_conns++] = c;
}

/* Ends c: the application hears BG_EV_CLOSED, then c goes back to the pool
 * (later if a packet of c is being dispatched, so that callers up the stack
 * never touch freed memory). */
void bg_conn_closed(struct bg *g, struct bg_conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	c->state = BG_CLOSED;
	if (c->ops && c->ops->event)
		c->ops->event(c, BG_EV_CLOSED);
	if (g->dispatching && g->ndeferred < sizeof(g->deferred) / sizeof(g->deferred[0]))
		g->deferred[g->ndeferred++] = c;
	else
		bg_conn_release(g, c);
}

int bg_shutdown(struct bg_conn *c, uint32_t flags)
{
	return bg_send_ctrl(c->g, c, VIRTIO_VSOCK_OP_SHUTDOWN, flags);
}

int bg_rst(struct bg_conn *c)
{
	struct bg *g = c->g;
	int r;

	if (c->dead)
		return 0;
	r = bg_send_ctrl(g, c, VIRTIO_VSOCK_OP_RST, 0);
	bg_conn_closed(g, c);
	return r;
}

int bg_close_conn(struct bg_conn *c)
{
	int r;

	if (c->dead || c->state == BG_CLOSING)
		return 0;
	if (c->peer_shut_send && c->peer_shut_rcv)
		return bg_rst(c);
	r = bg_shutdown(c, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	c->state = BG_CLOSING;
	return r;
}

int bg_connect(struct bg *g, uint64_t dst_cid, uint32_t dst_port, const struct bg_conn_ops *ops,
	       void *user, struct bg_conn **out)
{
	struct bg_conn *c;
	uint32_t port;

	/* Ephemeral ports as Linux hands them out: the next unused one. */
	for (unsigned tries = 0;; tries++) {
		if (tries > g->cfg.max_conns)
			return -EADDRINUSE;
		port = g->next_port++;
		if (g->next_port < 49152)
			g->next_port = 49152;
		if (!bg_lookup(g, dst_cid, dst_port, port))
			break;
	}
	c = bg_conn_new(g, dst_cid, dst_port, port, ops, user);
	if (!c)
		return -EMFILE;
	c->state = BG_CONNECTING;
	*out = c;
	return bg_send_ctrl(g, c, VIRTIO_VSOCK_OP_REQUEST, 0);
}

int bg_listen(struct bg *g, uint32_t port, const struct bg_conn_ops *ops, void *user)
{
	if (g->nlisteners == MAX_LISTENERS)
		return -ENOSPC;
	g->listeners[g->nlisteners++] = (struct listener){ port, ops, user };
	return 0;
}

unsigned bg_nconns(const struct bg *g)
{
	return g->cfg.max_conns - g->nfree_conns;
}
