/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Sibling VM routing by groups; see sibling.h for the design. */
#include "backend/sibling.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"
#include "vsock/vsock_internal.h"

static struct vsock_dev *registry;
static size_t registry_len;

void sibling_registry_set(struct vsock_dev *devs, size_t n)
{
	registry = devs;
	registry_len = n;
}

static bool share_group(const struct vm_config *a, const struct vm_config *b)
{
	for (size_t i = 0; i < a->n_groups; i++)
		for (size_t j = 0; j < b->n_groups; j++)
			if (strcmp(a->groups[i], b->groups[j]) == 0)
				return true;
	return false;
}

/* A VM that exists but shares no group with the caller. */
#define SIBLING_FORBIDDEN ((struct vsock_dev *)-1)

/* The registry is written before the threads start and only read after:
 * no lock needed. A VM of another group is not "some other CID": the
 * caller must refuse, not hand the connection to its host backend. */
static struct vsock_dev *find_sibling(struct vsock_dev *d, uint64_t cid)
{
	for (size_t i = 0; i < registry_len; i++) {
		struct vsock_dev *t = &registry[i];
		if (t->cfg->guest_cid != cid)
			continue;
		if (t == d)
			return SIBLING_FORBIDDEN;
		return share_group(d->cfg, t->cfg) ? t : SIBLING_FORBIDDEN;
	}
	return NULL;
}

static int inbox_push(struct vsock_dev *t, const struct sibling_req *req)
{
	struct sibling_inbox *in = &t->inbox;
	uint64_t one = 1;
	int r = 0;

	pthread_mutex_lock(&in->lock);
	if (in->len == SIBLING_INBOX_LEN)
		r = -EBUSY; /* bounded: a VM that does not keep up refuses */
	else
		in->items[(in->head + in->len++) % SIBLING_INBOX_LEN] = *req;
	pthread_mutex_unlock(&in->lock);
	if (r == 0 && write(in->efd, &one, sizeof(one)) < 0) {
		/* The counter cannot overflow in practice; the item is queued
		 * and will be seen on the next wake-up anyway. */
	}
	return r;
}

int sibling_connect(struct vsock_dev *d, const struct vsock_hdr *h)
{
	struct vsock_dev *t = find_sibling(d, h->dst_cid);
	struct sibling_req req;
	struct vsock_conn *c;
	int sv[2];

	if (t == NULL)
		return -ENOENT;
	if (t == SIBLING_FORBIDDEN)
		return -EACCES;
	if (!atomic_load(&t->accepting))
		return -EHOSTUNREACH;
	if (conn_at_limit(d))
		return -EMFILE;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	c = conn_new(d, sv[0], CONN_HOST_CONNECTING);
	if (!c) {
		close(sv[0]);
		close(sv[1]);
		return -ENOMEM;
	}
	c->sibling = true;
	c->peer_cid = h->dst_cid;
	c->peer_port = h->dst_port;
	c->guest_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	conn_set_interest(c); /* a pair is writable at once: no EPOLLOUT wait */
	req = (struct sibling_req){
		.fd = sv[1],
		.src_cid = d->cfg->guest_cid,
		.src_port = h->src_port,
		.dst_port = h->dst_port,
	};
	if (inbox_push(t, &req) < 0) {
		close(sv[1]);
		conn_free(c);
		return -EBUSY;
	}
	conn_hash_insert(c);
	timed_arm(c, VSOCK_TIMEOUT_MS);
	return 0;
}

int sibling_established(struct vsock_conn *c)
{
	char ack = SIBLING_ACK;

	return send(c->fd, &ack, 1, MSG_NOSIGNAL) == 1 ? 0 : -EIO;
}

void sibling_answer_readable(struct vsock_conn *c)
{
	char b;
	ssize_t r = recv(c->fd, &b, 1, 0);

	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (r != 1 || b != SIBLING_ACK) {
		/* The sibling's guest refused, timed out or is gone. */
		conn_reset(c);
		return;
	}
	timed_disarm(c);
	c->state = CONN_ESTABLISHED;
	/* Data may already follow the ack, and its edge has been consumed. */
	c->readable = true;
	conn_want(c, PEND_RESPONSE);
}

static void inbox_event(struct ev_loop *loop, int fd, uint32_t events, void *opaque)
{
	struct vsock_dev *d = opaque;
	struct sibling_inbox *in = &d->inbox;
	uint64_t v;
	ssize_t n = read(fd, &v, sizeof(v));
	(void)loop, (void)events, (void)n;

	for (;;) {
		struct sibling_req req;
		struct vsock_conn *c;

		pthread_mutex_lock(&in->lock);
		if (!in->len) {
			pthread_mutex_unlock(&in->lock);
			return;
		}
		req = in->items[in->head];
		in->head = (in->head + 1) % SIBLING_INBOX_LEN;
		in->len--;
		pthread_mutex_unlock(&in->lock);

		/* Closing our end tells the initiator "refused". */
		if (conn_lookup(d, req.src_cid, req.src_port, req.dst_port)) {
			close(req.fd);
			continue;
		}
		c = conn_new(d, req.fd, CONN_HANDSHAKE);
		if (!c) {
			close(req.fd);
			continue;
		}
		c->sibling = true;
		if (vsock_offer_to_guest(c, req.src_cid, req.src_port, req.dst_port) < 0)
			conn_free(c);
	}
}

int sibling_inbox_init(struct vsock_dev *d)
{
	struct sibling_inbox *in = &d->inbox;
	int r;

	pthread_mutex_init(&in->lock, NULL);
	in->head = in->len = 0;
	in->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (in->efd < 0)
		return -errno;
	r = ev_add(d->loop, in->efd, EPOLLIN, inbox_event, d);
	if (r < 0) {
		close(in->efd);
		in->efd = -1;
	}
	return r;
}

void sibling_inbox_destroy(struct vsock_dev *d)
{
	struct sibling_inbox *in = &d->inbox;

	if (in->efd < 0)
		return;
	while (in->len) {
		close(in->items[in->head].fd);
		in->head = (in->head + 1) % SIBLING_INBOX_LEN;
		in->len--;
	}
	ev_del(d->loop, in->efd);
	close(in->efd);
	in->efd = -1;
	pthread_mutex_destroy(&in->lock);
}
