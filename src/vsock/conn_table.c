/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The per-VM connection table; see conn_table.h. */
#include "vsock/conn_table.h"

#include <stdlib.h>
#include <string.h>

/* A VM may hold thousands of connections, idle ones included (README:
 * memory per idle connection): a new field must earn its bytes or find
 * padding. 184 on LP64 (conn.h's struct conn is 72 of it). */
_Static_assert(sizeof(struct vsock_conn) <= 184, "struct vsock_conn grew");

static unsigned bucket_of(uint64_t peer_cid, uint32_t peer_port, uint32_t guest_port)
{
	uint32_t h = peer_port * 0x9e3779b1u ^ guest_port * 0x85ebca77u ^
		     (uint32_t)peer_cid * 0xc2b2ae3du;

	h ^= h >> 15;
	return h & (VSOCK_HASH_BUCKETS - 1);
}

void conn_table_init(struct conn_table *t)
{
	/* t is zeroed memory (the device is mapped zero pages): the 16 KiB of empty
	 * buckets stay untouched, so an idle VM's pages need not be resident
	 * (a thousand VMs in one process). */
	t->next_host_port = VSOCK_HOST_PORT_BASE;
}

struct vsock_conn *conn_lookup(struct conn_table *t, uint64_t peer_cid, uint32_t peer_port,
			       uint32_t guest_port)
{
	struct vsock_conn *c = t->buckets[bucket_of(peer_cid, peer_port, guest_port)];

	for (; c; c = c->hash_next)
		if (c->p.peer_port == peer_port && c->p.guest_port == guest_port &&
		    c->p.peer_cid == peer_cid)
			return c;
	return NULL;
}

static struct vsock_conn **bucket(struct conn_table *t, const struct vsock_conn *c)
{
	return &t->buckets[bucket_of(c->p.peer_cid, c->p.peer_port, c->p.guest_port)];
}

void conn_hash_insert(struct conn_table *t, struct vsock_conn *c)
{
	struct vsock_conn **b = bucket(t, c);

	c->hash_next = *b;
	*b = c;
	c->hashed = true;
}

static void hash_remove(struct conn_table *t, struct vsock_conn *c)
{
	if (!c->hashed)
		return;
	for (struct vsock_conn **p = bucket(t, c); *p; p = &(*p)->hash_next)
		if (*p == c) {
			*p = c->hash_next;
			break;
		}
	c->hashed = false;
}

void conn_table_fini(struct conn_table *t)
{
	free(t->peers);
	t->peers = NULL;
	t->npeers = t->peers_cap = 0;
}

static struct conn_peer_count *peer_find(const struct conn_table *t, uint64_t cid)
{
	/* A handful of siblings at most talk to one guest: a short array. */
	for (unsigned i = 0; i < t->npeers; i++)
		if (t->peers[i].cid == cid)
			return &t->peers[i];
	return NULL;
}

unsigned conn_peer_count(const struct conn_table *t, uint64_t peer_cid)
{
	const struct conn_peer_count *p = peer_find(t, peer_cid);

	return p ? p->n : 0;
}

/* Counts one more connection from peer cid; false when memory is short. */
static bool peer_add(struct conn_table *t, uint64_t cid)
{
	struct conn_peer_count *p = peer_find(t, cid);

	if (!p) {
		if (t->npeers == t->peers_cap) {
			unsigned cap = t->peers_cap ? 2 * t->peers_cap : 4;
			struct conn_peer_count *q = realloc(t->peers, cap * sizeof(*q));

			if (!q)
				return false;
			t->peers = q;
			t->peers_cap = cap;
		}
		p = &t->peers[t->npeers++];
		*p = (struct conn_peer_count){ .cid = cid };
	}
	p->n++;
	return true;
}

static void peer_del(struct conn_table *t, uint64_t cid)
{
	struct conn_peer_count *p = peer_find(t, cid);

	if (p && --p->n == 0)
		*p = t->peers[--t->npeers];
}

struct vsock_conn *conn_alloc(struct conn_table *t, struct vsock_dev *dev, uint32_t guest_cid,
			      uint32_t buf_alloc, enum conn_src src, uint64_t peer_cid)
{
	struct vsock_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (src == CONN_SRC_SIBLING && !peer_add(t, peer_cid)) {
		free(c);
		return NULL;
	}
	conn_init(&c->p, guest_cid, buf_alloc);
	c->dev = dev;
	c->fd = -1;
	c->src = (uint8_t)src;
	/* A sibling's connection is counted under this CID until it is
	 * released; offer() sets the same value. */
	if (src == CONN_SRC_SIBLING)
		c->p.peer_cid = peer_cid;
	t->nconns++;
	t->by_src[src]++;
	return c;
}

/* Doubly linked lists through an embedded link, one per purpose. */
static void list_add(struct conn_list *l, struct conn_link *lk, bool *linked,
		     struct vsock_conn *c, struct conn_link *(*link_of)(struct vsock_conn *))
{
	if (*linked)
		return;
	lk->prev = l->tail;
	lk->next = NULL;
	if (l->tail)
		link_of(l->tail)->next = c;
	else
		l->head = c;
	l->tail = c;
	*linked = true;
	l->len++;
}

static void list_del(struct conn_list *l, struct conn_link *lk, bool *linked,
		     struct conn_link *(*link_of)(struct vsock_conn *))
{
	if (!*linked)
		return;
	if (lk->prev)
		link_of(lk->prev)->next = lk->next;
	else
		l->head = lk->next;
	if (lk->next)
		link_of(lk->next)->prev = lk->prev;
	else
		l->tail = lk->prev;
	lk->prev = lk->next = NULL;
	*linked = false;
	l->len--;
}

static struct conn_link *ready_link(struct vsock_conn *c)
{
	return &c->ready;
}

static struct conn_link *timed_link(struct vsock_conn *c)
{
	return &c->timed;
}

static struct conn_link *pend_link(struct vsock_conn *c)
{
	return &c->pend;
}

void conn_pend_add(struct conn_table *t, struct vsock_conn *c)
{
	list_add(&t->pend, &c->pend, &c->on_pend, c, pend_link);
}

void conn_pend_remove(struct conn_table *t, struct vsock_conn *c)
{
	list_del(&t->pend, &c->pend, &c->on_pend, pend_link);
}

void conn_ready_add(struct conn_table *t, struct vsock_conn *c)
{
	list_add(&t->ready, &c->ready, &c->on_ready, c, ready_link);
}

void conn_ready_remove(struct conn_table *t, struct vsock_conn *c)
{
	list_del(&t->ready, &c->ready, &c->on_ready, ready_link);
}

void conn_timed_update(struct conn_table *t, struct vsock_conn *c)
{
	if (c->p.deadline_ms || c->idle_ms)
		list_add(&t->timed, &c->timed, &c->on_timed, c, timed_link);
	else
		list_del(&t->timed, &c->timed, &c->on_timed, timed_link);
}

void conn_release(struct conn_table *t, struct vsock_conn *c)
{
	hash_remove(t, c);
	list_del(&t->ready, &c->ready, &c->on_ready, ready_link);
	list_del(&t->timed, &c->timed, &c->on_timed, timed_link);
	list_del(&t->pend, &c->pend, &c->on_pend, pend_link);
	if (c->src == CONN_SRC_SIBLING)
		peer_del(t, c->p.peer_cid);
	t->by_src[c->src]--;
	if (conn_seq(c)) {
		msgbuf_fini(&c->seq->tx);
		free(c->seq->rx);
		free(c->seq);
	} else {
		free(c->txbuf);
	}
	free(c);
	t->nconns--;
}

uint32_t conn_alloc_host_port(struct conn_table *t, uint64_t peer_cid, uint32_t guest_port)
{
	/* At most nconns ports are in use, so this ends quickly. */
	for (unsigned tries = 0; tries <= t->nconns; tries++) {
		uint32_t p = t->next_host_port++;
		if (t->next_host_port < VSOCK_HOST_PORT_BASE || t->next_host_port == UINT32_MAX)
			t->next_host_port = VSOCK_HOST_PORT_BASE;
		if (!conn_lookup(t, peer_cid, p, guest_port))
			return p;
	}
	return 0;
}
