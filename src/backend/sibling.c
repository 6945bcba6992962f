/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Sibling VMs: guests of this daemon that share a group talk to each other.
 *
 * A sibling connection is a Unix socketpair whose ends the two VM threads
 * treat like host sockets, so each side runs the ordinary connection state
 * machine, credit and tx buffer against its own guest. The only cross-thread
 * step is the hand-off of the far end to the target VM (a bounded inbox and
 * an eventfd); after that no lock is taken. Memory stays bounded on both
 * sides: the socketpair's kernel buffer plus each side's tx buffer, and a
 * slow receiver throttles the sender through the sender's own credit, never
 * stalling the sender's other connections.
 *
 * Handshake over the pair: the target writes one byte, SIBLING_ACK, when its
 * guest accepts (RESPONSE); closing its end instead means refused.
 *
 * Every VM has this backend first in its list; it declines (-ENOENT) CIDs
 * that are no VM of this daemon, which then go to the host backend.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"
#include "vsock/backend.h"

#define SIBLING_INBOX_LEN 64u
#define SIBLING_ACK 'A'

/* A sibling connection handed to this VM by another VM's thread, or
 * (fd < 0) a request to look at one of ours: its far end shut its read
 * side, which our socket shows only to a write. */
struct sibling_req {
	int fd;                         /* our end of the socketpair, or -1 */
	uint64_t src_cid;
	uint32_t src_port, dst_port;
	uint16_t type;                  /* VIRTIO_VSOCK_TYPE_* */
};

/* The backend's state in one VM: its inbox, and its place in the registry. */
struct sibling {
	struct vsock_backend *b;
	pthread_mutex_t lock;           /* the inbox, filled by other threads */
	struct sibling_req items[SIBLING_INBOX_LEN];
	unsigned head, len;
	int efd;                        /* eventfd: items are waiting */
};

/* Every started instance of the process, by VM. Changed at start and stop
 * of a VM, also while other VMs run (a reload): a VM thread holds the lock
 * from finding a sibling to handing it a request, and a VM leaves the
 * registry before its inbox is freed. Lock order: registry, then inbox. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sibling **registry;
static size_t registry_len;

static bool share_group(const struct vm_config *a, const struct vm_config *b)
{
	for (size_t i = 0; i < a->n_groups; i++)
		for (size_t j = 0; j < b->n_groups; j++)
			if (strcmp(a->groups[i], b->groups[j]) == 0)
				return true;
	return false;
}

/* The sibling with cid, -EACCES when that VM exists but shares no group
 * with self (the caller must refuse, not hand the connection to its host
 * backend), -ENOENT when no VM has it. Called with registry_lock held, and
 * *out is valid only while it is: a reload may stop that VM as soon as the
 * lock is released. */
static int find_sibling_locked(const struct sibling *self, uint64_t cid, struct sibling **out)
{
	const struct vm_config *me = vsock_dev_cfg(self->b->dev);

	for (size_t i = 0; i < registry_len; i++) {
		struct sibling *t = registry[i];
		const struct vm_config *tc = vsock_dev_cfg(t->b->dev);

		if (tc->guest_cid != cid)
			continue;
		if (t == self || !share_group(me, tc))
			return -EACCES;
		*out = t;
		return 0;
	}
	return -ENOENT;
}

static int inbox_push(struct sibling *t, const struct sibling_req *req)
{
	uint64_t one = 1;
	int r = 0;

	pthread_mutex_lock(&t->lock);
	if (t->len == SIBLING_INBOX_LEN)
		r = -EBUSY; /* bounded: a VM that does not keep up refuses */
	else
		t->items[(t->head + t->len++) % SIBLING_INBOX_LEN] = *req;
	pthread_mutex_unlock(&t->lock);
	if (r == 0 && write(t->efd, &one, sizeof(one)) < 0) {
		/* The counter cannot overflow in practice; the item is queued
		 * and will be seen on the next wake-up anyway. */
	}
	return r;
}

static int sibling_connect(struct vsock_backend *b, const struct vsock_hdr *h,
			   uint32_t *wait_events)
{
	struct sibling *t = NULL;
	struct sibling_req req;
	int sv[2], r;

	*wait_events = 0;
	if (h->dst_cid == VSOCK_HOST_CID)
		return -ENOENT;
	/* Found, checked and handed over under one lock: the target VM
	 * cannot be stopped (a reload) in between. */
	pthread_mutex_lock(&registry_lock);
	r = find_sibling_locked(b->priv, h->dst_cid, &t);
	if (r == 0 && !vsock_dev_accepting(t->b->dev))
		r = -EHOSTUNREACH;
	/* SEQPACKET keeps the guests' message boundaries; the core puts one
	 * flags byte (EOR) in front of each message (seq_flags_byte). */
	if (r == 0 && socketpair(AF_UNIX, vsock_socket_type(h->type) | SOCK_NONBLOCK | SOCK_CLOEXEC,
				 0, sv) < 0)
		r = -errno;
	if (r == 0) {
		req = (struct sibling_req){
			.fd = sv[1],
			.src_cid = vsock_dev_cfg(b->dev)->guest_cid,
			.src_port = h->src_port,
			.dst_port = h->dst_port,
			.type = h->type,
		};
		if (inbox_push(t, &req) < 0) {
			close(sv[0]);
			close(sv[1]);
			r = -EBUSY;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	if (r < 0)
		return r;
	/* The answer is one byte, or the far end closing. */
	*wait_events = EPOLLIN;
	return sv[0];
}

static int sibling_connect_done(struct vsock_conn *c, uint32_t events)
{
	char b;
	ssize_t r;

	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
		return 0;
	r = recv(vsock_conn_fd(c), &b, 1, 0);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	/* Anything but the ack: the sibling's guest refused, timed out or
	 * is gone. */
	return r == 1 && b == SIBLING_ACK ? 1 : -ECONNREFUSED;
}

static int sibling_established(struct vsock_conn *c)
{
	char ack = SIBLING_ACK;

	return send(vsock_conn_fd(c), &ack, 1, MSG_NOSIGNAL) == 1 ? 0 : -EIO;
}

/* The guest shut its read side: the sibling's guest must hear SHUTDOWN RCV
 * before it sends again, and the socketpair tells its end only on a write. */
static void sibling_guest_shutdown(struct vsock_conn *c, uint32_t flags)
{
	const struct vsock_backend *b = vsock_conn_backend(c);
	struct sibling *t = NULL;
	struct sibling_req req;

	int r;

	if (!(flags & VIRTIO_VSOCK_SHUTDOWN_RCV))
		return;
	req = (struct sibling_req){
		.fd = -1,
		.src_cid = vsock_dev_cfg(b->dev)->guest_cid,
		.src_port = vsock_conn_guest_port(c),
		.dst_port = vsock_conn_peer_port(c),
	};
	pthread_mutex_lock(&registry_lock);
	r = find_sibling_locked(b->priv, vsock_conn_peer_cid(c), &t);
	if (r == 0)
		r = inbox_push(t, &req);
	pthread_mutex_unlock(&registry_lock);
	/* A full inbox loses only the early word: the sibling's next write
	 * finds EPIPE and says the same. */
	if (r == -EBUSY)
		log_debug("%s: sibling inbox full; cid %llu learns of SHUT_RD on its next write",
			  vsock_dev_name(b->dev), (unsigned long long)vsock_conn_peer_cid(c));
}

static void inbox_event(struct ev_loop *loop, int fd, uint32_t events, void *opaque)
{
	struct sibling *s = opaque;
	uint64_t v;
	ssize_t n = read(fd, &v, sizeof(v));
	(void)loop, (void)events, (void)n;

	for (;;) {
		struct sibling_req req;

		pthread_mutex_lock(&s->lock);
		if (!s->len) {
			pthread_mutex_unlock(&s->lock);
			return;
		}
		req = s->items[s->head];
		s->head = (s->head + 1) % SIBLING_INBOX_LEN;
		s->len--;
		pthread_mutex_unlock(&s->lock);
		if (req.fd < 0) {
			struct vsock_conn *c = vsock_conn_find(s->b, req.src_cid, req.src_port,
							       req.dst_port);
			if (c)
				vsock_conn_probe(c);
			continue;
		}
		/* On failure our end is closed: the initiator reads "refused". */
		vsock_offer(s->b, req.fd, req.type, req.src_cid, req.src_port, req.dst_port);
	}
}

static void sibling_stop(struct vsock_backend *b)
{
	struct sibling *s = b->priv;

	if (!s)
		return;
	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < registry_len; i++)
		if (registry[i] == s) {
			registry[i] = registry[--registry_len];
			break;
		}
	if (!registry_len) {
		/* The last VM went: nothing is left to find. */
		free(registry);
		registry = NULL;
	}
	pthread_mutex_unlock(&registry_lock);
	while (s->len) {
		if (s->items[s->head].fd >= 0)
			close(s->items[s->head].fd);
		s->head = (s->head + 1) % SIBLING_INBOX_LEN;
		s->len--;
	}
	if (s->efd >= 0) {
		ev_del(vsock_dev_loop(b->dev), s->efd);
		close(s->efd);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
	b->priv = NULL;
}

static int sibling_start(struct vsock_backend *b, char *err, size_t errlen)
{
	struct sibling *s = calloc(1, sizeof(*s));
	struct sibling **grown;
	int r;

	if (!s) {
		snprintf(err, errlen, "sibling inbox: out of memory");
		return -ENOMEM;
	}
	s->b = b;
	pthread_mutex_init(&s->lock, NULL);
	b->priv = s;
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0) {
		r = -errno;
		goto fail;
	}
	r = ev_add(vsock_dev_loop(b->dev), s->efd, EPOLLIN, inbox_event, s);
	if (r < 0) {
		close(s->efd);
		s->efd = -1;
		goto fail;
	}
	pthread_mutex_lock(&registry_lock);
	grown = realloc(registry, (registry_len + 1) * sizeof(*registry));
	if (grown) {
		registry = grown;
		registry[registry_len++] = s;
	}
	pthread_mutex_unlock(&registry_lock);
	if (!grown) {
		r = -ENOMEM;
		goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "cannot create the sibling inbox: %s", strerror(-r));
	sibling_stop(b);
	return r;
}

const struct vsock_backend_ops sibling_backend_ops = {
	.name = "sibling",
	.start = sibling_start,
	.stop = sibling_stop,
	.connect = sibling_connect,
	.connect_done = sibling_connect_done,
	.established = sibling_established,
	.guest_shutdown = sibling_guest_shutdown,
	.seq_flags_byte = true,
	.socket_room = true,
	/* no handshake: a request from a sibling is offered at once */
};
