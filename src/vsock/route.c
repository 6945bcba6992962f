/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* A guest REQUEST goes to the first backend of the VM that takes it. */
#include "vsock/route.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "util/log.h"
#include "util/stat.h"
#include "vsock/conn_io.h"
#include "vsock/rxq.h"

/* The guest's REQUEST is answered with RST. */
static void refuse(struct vsock_dev *d, const struct vsock_hdr *h)
{
	STAT_INC(d->stats.conns_refused);
	rxq_reply_rst(d, h);
}

void route_request(struct vsock_dev *d, const struct vsock_hdr *h)
{
	struct vsock_backend *b = NULL;
	struct vsock_conn *c;
	uint32_t wait = 0;
	int fd = -EHOSTUNREACH;
	unsigned fx;

	c = conn_lookup(&d->conns, h->dst_cid, h->dst_port, h->src_port);
	if (c && c->p.state == CONN_CLOSING && c->p.pending == PEND_RST) {
		/* Closed and only its RST still owed: the guest, dialling the
		 * same pair again, is done with it, and that RST would now end
		 * the new connection. Forget it quietly. */
		conn_io_apply(c, CONN_FX_CLOSE | CONN_FX_FREE);
		c = NULL;
	}
	if (c) {
		/* The guest reuses a live port pair: the old one is dead to it. */
		log_debug("%s: REQUEST for existing connection %u->%u, resetting it", d->name,
			  h->src_port, h->dst_port);
		conn_io_apply(c, conn_reset_for(&c->p, CONN_END_GUEST_RST));
		refuse(d, h);
		return;
	}
	if (!conn_io_admit(d, CONN_SRC_GUEST, 0)) {
		refuse(d, h);
		return;
	}
	for (unsigned i = 0; i < d->nbackends; i++) {
		b = d->backends[i];
		fd = b->ops->connect(b, h, &wait);
		if (fd != -ENOENT)
			break;
	}
	if (fd < 0) {
		log_debug("%s: guest connect to cid %llu port %u refused: %s", d->name,
			  (unsigned long long)h->dst_cid, h->dst_port, strerror(-fd));
		refuse(d, h);
		return;
	}
	c = conn_io_new(d, b, fd, (wait & EPOLLOUT) != 0, CONN_SRC_GUEST, 0);
	if (!c) {
		close(fd);
		refuse(d, h);
		return;
	}
	fx = conn_guest_request(&c->p, h, wait != 0); /* sets the port pair */
	if (c->p.state == CONN_ESTABLISHED)
		STAT_INC(d->stats.conns_established); /* connected at once */
	conn_hash_insert(&d->conns, c);
	conn_io_apply(c, fx);
}
