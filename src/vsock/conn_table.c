/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The per-VM connection table (hash on the port pair), connection life
 * cycle, the ready and timed lists, and host port allocation. */
#include "vsock/vsock_internal.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "util/log.h"

static unsigned bucket_of(uint64_t peer_cid, uint32_t peer_port, uint32_t guest_port)
{
	uint32_t h = peer_port * 0x9e3779b1u ^ guest_port * 0x85ebca77u ^
		     (uint32_t)peer_cid * 0xc2b2ae3du;

	h ^= h >> 15;
	return h & (VSOCK_HASH_BUCKETS - 1);
}

struct vsock_conn *conn_lookup(struct vsock_dev *d, uint64_t peer_cid, uint32_t peer_port,
			       uint32_t guest_port)
{
	struct vsock_conn *c = d->buckets[bucket_of(peer_cid, peer_port, guest_port)];

	for (; c; c = c->hash_next)
		if (c->peer_port == peer_port && c->guest_port == guest_port &&
		    c->peer_cid == peer_cid)
			return c;
	return NULL;
}

void conn_hash_insert(struct vsock_conn *c)
{
	struct vsock_conn **b = &c->dev->buckets[bucket_of(c->peer_cid, c->peer_port, c->guest_port)];

	c->hash_next = *b;
	*b = c;
}

static void hash_remove(struct vsock_conn *c)
{
	struct vsock_conn **p = &c->dev->buckets[bucket_of(c->peer_cid, c->peer_port, c->guest_port)];

	for (; *p; p = &(*p)->hash_next)
		if (*p == c) {
			*p = c->hash_next;
			return;
		}
}

bool conn_at_limit(struct vsock_dev *d)
{
	if (d->nconns < VSOCK_MAX_CONNS)
		return false;
	d->stats.conn_limit_hits++;
	/* Once per episode, not once per refused connection. */
	if (!d->limit_logged)
		log_warn("%s: connection limit (%u) reached; refusing new connections",
			 d->vu.name, VSOCK_MAX_CONNS);
	d->limit_logged = true;
	return true;
}

struct vsock_conn *conn_new(struct vsock_dev *d, int fd, enum conn_state state)
{
	struct vsock_conn *c;

	if (conn_at_limit(d))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->dev = d;
	c->fd = fd;
	c->state = state;
	/* Edge-triggered: we track readability ourselves and never have to
	 * touch epoll while data moves; EPOLLOUT is added only while the tx
	 * buffer holds data or a connect is in progress. */
	c->epoll_events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	if (state == CONN_HOST_CONNECTING)
		c->epoll_events |= EPOLLOUT;
	if (ev_add(d->loop, fd, c->epoll_events, conn_host_event, c) < 0) {
		free(c);
		return NULL;
	}
	d->nconns++;
	return c;
}

void conn_close_fd(struct vsock_conn *c)
{
	if (c->fd < 0)
		return;
	/* Connection sockets are never duplicated: close() takes them out
	 * of the epoll set, no epoll_ctl needed. */
	ev_forget(c->dev->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	c->readable = false;
}

void conn_free(struct vsock_conn *c)
{
	struct vsock_dev *d = c->dev;

	conn_close_fd(c);
	if (c->state != CONN_HANDSHAKE)
		hash_remove(c);
	ready_remove(c);
	timed_disarm(c);
	free(c->txbuf);
	free(c);
	d->nconns--;
	if (d->nconns < VSOCK_MAX_CONNS)
		d->limit_logged = false;
}

void conn_free_all(struct vsock_dev *d)
{
	/* Handshakes are only on the timed list; everything else is hashed. */
	while (d->timed.head)
		conn_free(d->timed.head);
	for (unsigned b = 0; b < VSOCK_HASH_BUCKETS; b++)
		while (d->buckets[b])
			conn_free(d->buckets[b]);
	d->ctrl_len = d->ctrl_head = 0;
}

uint32_t conn_alloc_host_port(struct vsock_dev *d, uint64_t peer_cid, uint32_t guest_port)
{
	/* At most VSOCK_MAX_CONNS ports are in use, so this ends quickly. */
	for (unsigned tries = 0; tries <= VSOCK_MAX_CONNS; tries++) {
		uint32_t p = d->next_host_port++;
		if (d->next_host_port < VSOCK_HOST_PORT_BASE ||
		    d->next_host_port == UINT32_MAX)
			d->next_host_port = VSOCK_HOST_PORT_BASE;
		if (!conn_lookup(d, peer_cid, p, guest_port))
			return p;
	}
	return 0;
}

/* Doubly linked lists through an embedded link, one per purpose. */
static void list_add(struct conn_list *l, struct conn_link *lk, struct vsock_conn *c,
		     struct conn_link *(*link_of)(struct vsock_conn *))
{
	if (lk->linked)
		return;
	lk->prev = l->tail;
	lk->next = NULL;
	if (l->tail)
		link_of(l->tail)->next = c;
	else
		l->head = c;
	l->tail = c;
	lk->linked = true;
	l->len++;
}

static void list_del(struct conn_list *l, struct conn_link *lk,
		     struct conn_link *(*link_of)(struct vsock_conn *))
{
	if (!lk->linked)
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
	lk->linked = false;
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

void ready_add(struct vsock_conn *c)
{
	list_add(&c->dev->ready, &c->ready, c, ready_link);
	c->dev->rx_work = true;
}

void ready_remove(struct vsock_conn *c)
{
	list_del(&c->dev->ready, &c->ready, ready_link);
}

uint64_t vsock_now_ms(void)
{
	return (uint64_t)(vdv_now_ns() / 1000000);
}

void timed_arm(struct vsock_conn *c, uint32_t ms)
{
	c->deadline_ms = vsock_now_ms() + ms;
	list_add(&c->dev->timed, &c->timed, c, timed_link);
	vsock_timer_update(c->dev);
}

void timed_disarm(struct vsock_conn *c)
{
	list_del(&c->dev->timed, &c->timed, timed_link);
}
