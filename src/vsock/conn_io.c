/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The host-socket side of a connection; see conn_io.h. */
#include "vsock/conn_io.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "util/clock.h"
#include "util/iov.h"
#include "util/log.h"
#include "util/stat.h"

/* How long an emptied tx buffer is kept before it is freed: a connection
 * that keeps pushing back should not malloc/free per packet. */
#define TXBUF_IDLE_MS 1000u

static void conn_event(struct ev_loop *loop, int fd, uint32_t events, void *opaque);

static uint64_t now_ms(void)
{
	return (uint64_t)(vdv_now_ns() / 1000000);
}

static const char *const src_name[CONN_SRC_COUNT] = {
	[CONN_SRC_GUEST] = "guest",
	[CONN_SRC_HOST] = "host",
	[CONN_SRC_SIBLING] = "sibling",
};

bool conn_io_ctrl_push(struct vsock_dev *d, const struct vsock_hdr *h)
{
	if (d->ctrl_len == VSOCK_CTRL_QUEUE_LEN) {
		/* Bounded: a guest flooding us while posting no rx buffers
		 * loses replies, not our memory. */
		STAT_INC(d->stats.dropped_ctrl_full);
		return false;
	}
	d->ctrl[(d->ctrl_head + d->ctrl_len++) % VSOCK_CTRL_QUEUE_LEN] = *h;
	d->rx_work = true;
	return true;
}

/* Which limit a new connection of src (from peer_cid, for a sibling)
 * would break, or NULL when it has a slot. The guest's own connections
 * may use every slot; the others share all but the reserved ones, host
 * handshakes and each sibling have a cap of their own. */
static const char *no_slot(const struct vsock_dev *d, enum conn_src src, uint64_t peer_cid)
{
	const struct conn_table *t = &d->conns;
	const struct vm_config *cfg = d->cfg;
	unsigned shared = cfg->max_connections - cfg->guest_reserved_connections;

	if (t->nconns >= cfg->max_connections)
		return "max-connections";
	if (src == CONN_SRC_GUEST)
		return NULL;
	if (t->by_src[CONN_SRC_HOST] + t->by_src[CONN_SRC_SIBLING] >= shared)
		return "guest-reserved-connections";
	if (src == CONN_SRC_HOST && t->pend.len >= cfg->max_host_handshakes)
		return "max-host-handshakes";
	if (src == CONN_SRC_SIBLING && conn_peer_count(t, peer_cid) >= cfg->max_sibling_connections)
		return "max-sibling-connections";
	return NULL;
}

static void conn_free(struct vsock_conn *c);

/* Makes room for a new host connection: the oldest one still waiting for
 * the guest goes (an idle client of uds-path must not hold a slot a live
 * one needs). The guest hears an RST if it was already asked. */
static void evict_oldest_pending(struct vsock_dev *d, const char *why)
{
	struct vsock_conn *c = d->conns.pend.head;
	struct vsock_hdr h;

	STAT_INC(d->stats.handshakes_evicted);
	log_info_rl(&d->evict_rl,
		    "%s: %s reached with %u host connections waiting for the guest; "
		    "closing the oldest for a new one",
		    d->name, why, d->conns.pend.len);
	if (c->p.state == CONN_OFFERED && !(c->p.pending & PEND_REQUEST)) {
		conn_hdr(&c->p, VIRTIO_VSOCK_OP_RST, &h);
		conn_io_ctrl_push(d, &h);
	}
	conn_free(c);
}

bool conn_io_admit(struct vsock_dev *d, enum conn_src src, uint64_t peer_cid)
{
	const char *why;

	while ((why = no_slot(d, src, peer_cid))) {
		/* A host connection takes the place of the oldest pending one;
		 * every limit it can meet counts that one too. */
		if (src == CONN_SRC_HOST && d->conns.pend.head) {
			evict_oldest_pending(d, why);
			continue;
		}
		STAT_INC(d->stats.conn_limit_hits);
		STAT_INC(d->stats.conn_limit_hits_src[src]);
		/* Once per episode, not once per refused connection; and since
		 * one freed connection ends an episode, episodes are rate
		 * limited too. */
		if (!d->limit_logged)
			log_warn_rl(&d->limit_rl,
				    "%s: connection limit (%s) reached; refusing new %s "
				    "connections (%u open, max-connections %u)",
				    d->name, why, src_name[src], d->conns.nconns,
				    d->cfg->max_connections);
		d->limit_logged = true;
		return false;
	}
	d->limit_logged = false;
	return true;
}

/* The tx buffer's size: buf_alloc, or twice that after the guest sent data
 * on headroom that the socket then refused (txbuf_reserve). */
static uint32_t txbuf_cap(const struct vsock_conn *c)
{
	return c->txbuf_big ? 2 * c->p.buf_alloc : c->p.buf_alloc;
}

/* Brings the VM's gauge of allocated tx buffer up to date for c. */
static void txmem_sync(struct vsock_conn *c)
{
	const struct conn_seq *q = conn_seq(c);
	uint32_t now = q ? (q->tx.buf ? q->tx.cap : 0) : (c->txbuf ? txbuf_cap(c) : 0);

	if (now != c->txmem) {
		STAT_ADD(c->dev->txbud.allocated, (uint64_t)now - c->txmem);
		c->txmem = now;
	}
}

/* Edge-triggered: we track readability ourselves and never have to touch
 * epoll while data moves; EPOLLOUT is added only while the tx buffer holds
 * data or a connect is in progress. */
static uint32_t interest(bool out)
{
	return EPOLLIN | EPOLLRDHUP | EPOLLET | (out ? EPOLLOUT : 0);
}

static bool seq_waiting(const struct vsock_conn *c)
{
	const uint8_t *p;
	uint32_t len, flags;

	return conn_seq(c) && msgbuf_front(&c->seq->tx, &p, &len, &flags);
}

static void set_interest(struct vsock_conn *c)
{
	bool out = c->txbuf_len || seq_waiting(c) ||
		   (c->p.state == CONN_CONNECTING && c->wait_out);

	if (c->fd < 0)
		return;
	/* Only on a change: the data path never calls epoll_ctl per packet. */
	if (out != c->out_armed && ev_mod(c->dev->loop, c->fd, interest(out)) == 0)
		c->out_armed = out;
}

/* Re-arms d's timer when c's deadline is earlier than the one it waits for. */
static void deadline_changed(struct vsock_conn *c)
{
	struct vsock_dev *d = c->dev;
	uint64_t ms = c->p.deadline_ms;

	conn_timed_update(&d->conns, c);
	if (!ms || (c->idle_ms && c->idle_ms < ms))
		ms = c->idle_ms;
	if (!ms)
		return; /* a timer that finds nothing due re-arms for the rest */
	if (!ev_timer_armed(&d->timer) || (int64_t)(ms * 1000000) < d->timer.deadline_ns)
		ev_timer_arm(d->loop, &d->timer, (int64_t)(ms * 1000000));
}

void conn_io_close(struct vsock_conn *c)
{
	if (c->fd < 0)
		return;
	/* Connection sockets are never duplicated: close() takes them out
	 * of the epoll set, no epoll_ctl needed. */
	ev_forget(c->dev->loop, c->fd);
	close(c->fd);
	c->fd = -1;
}

/* Forgets c: its socket, its promise and its memory. */
static void conn_release_all(struct vsock_conn *c)
{
	struct vsock_dev *d = c->dev;

	STAT_ADD(d->txbud.allocated, -(uint64_t)c->txmem);
	tx_budget_give(&d->txbud, c->p.buf_alloc);
	conn_release(&d->conns, c);
}

static void conn_free(struct vsock_conn *c)
{
	/* Every free counts once, under one cause: the causes sum to the
	 * connections closed. */
	STAT_INC(c->dev->stats.conns_closed_by[c->p.end < CONN_END_COUNT ? c->p.end : 0]);
	STAT_INC(c->dev->stats.conns_freed);
	conn_io_close(c);
	conn_release_all(c);
}

void conn_io_apply(struct vsock_conn *c, unsigned fx)
{
	struct vsock_dev *d = c->dev;

	if (fx & CONN_FX_FREE) {
		conn_free(c);
		return;
	}
	/* The backend speaks first: "OK <port>" must precede any data. */
	if (fx & CONN_FX_ESTAB) {
		if (c->via->ops->established(c) < 0)
			fx |= conn_reset(&c->p);
		else
			STAT_INC(d->stats.conns_established);
	}
	if (fx & CONN_FX_CLOSE) {
		if (c->p.why)
			log_debug("%s: guest port %u: %s; resetting", d->name, c->p.guest_port,
				  conn_why_text(c->p.why));
		conn_io_close(c);
	} else if (c->fd >= 0) {
		if (fx & CONN_FX_SHUT_WR)
			shutdown(c->fd, SHUT_WR);
		if (fx & CONN_FX_SHUT_RD) {
			shutdown(c->fd, SHUT_RD);
			if (c->via->ops->guest_shutdown)
				c->via->ops->guest_shutdown(c, VIRTIO_VSOCK_SHUTDOWN_RCV);
		}
	}
	if (fx & CONN_FX_ARM)
		deadline_changed(c);
	if (fx & CONN_FX_RX) {
		conn_ready_add(&d->conns, c);
		d->rx_work = true;
	}
	/* Accepted by the guest, reset or closing: no longer pending. */
	if (c->on_pend && c->p.state != CONN_HANDSHAKE && c->p.state != CONN_OFFERED)
		conn_pend_remove(&d->conns, c);
}

struct vsock_conn *conn_io_new(struct vsock_dev *d, struct vsock_backend *via, int fd,
			       bool wait_out, enum conn_src src, uint64_t peer_cid)
{
	struct vsock_conn *c;
	uint32_t buf_alloc;

	if (!conn_io_admit(d, src, peer_cid))
		return NULL;
	/* Promised for the connection's life: the slots left free after it
	 * keep a floor each out of the VM's budget. */
	buf_alloc = tx_budget_take(&d->txbud, d->cfg->tx_buffer_size,
				   d->cfg->max_connections - d->conns.nconns - 1);
	c = conn_alloc(&d->conns, d, (uint32_t)d->cfg->guest_cid, buf_alloc, src, peer_cid);
	if (!c) {
		tx_budget_give(&d->txbud, buf_alloc);
		return NULL;
	}
	c->via = via;
	c->fd = fd;
	c->wait_out = wait_out;
	c->out_armed = wait_out;
	if (ev_add(d->loop, fd, interest(wait_out), conn_event, c) < 0) {
		c->fd = -1;
		conn_release_all(c);
		return NULL;
	}
	if (src == CONN_SRC_HOST)
		conn_pend_add(&d->conns, c);
	STAT_INC(d->stats.conns_created);
	return c;
}

/* The host side reads no more: what we hold for it is dropped. */
static unsigned host_stopped_reading(struct vsock_conn *c)
{
	c->txbuf_len = 0;
	c->txbuf_head = 0;
	if (conn_seq(c)) {
		msgbuf_clear(&c->seq->tx);
		msgbuf_trim(&c->seq->tx);
		txmem_sync(c);
	}
	set_interest(c);
	return conn_on_host_shut_rd(&c->p);
}

bool conn_io_peer_reads(const struct vsock_conn *c)
{
	/* A socket shuts nothing by a zero-length send, but refuses it
	 * (EPIPE; ENOTCONN for AF_VSOCK once closed) when its peer reads no
	 * more: closed, or shut its read side. Our own SHUT_WR says so as
	 * well, but then the guest already sends nothing. */
	if (c->fd < 0 || c->p.host_shut_wr)
		return true;
	return send(c->fd, "", 0, MSG_NOSIGNAL | MSG_DONTWAIT) == 0 ||
	       (errno != EPIPE && errno != ENOTCONN && errno != ECONNRESET);
}

void conn_io_note_hangup(struct vsock_conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLRDHUP };

	/* One poll per connection, at the end of its handshake. */
	if (c->fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		c->p.hangup_seen = true;
}

void conn_io_probe(struct vsock_conn *c)
{
	if (c->fd >= 0 && !conn_io_peer_reads(c))
		conn_io_apply(c, host_stopped_reading(c));
}

/*
 * Room for `need` bytes in the tx buffer; false when memory is short or
 * need is beyond what conn.c can have admitted. Up to buf_alloc as always;
 * more only for data the guest sent on headroom (conn.h) that the socket
 * then took less of than its free space promised: a 2 x buf_alloc buffer,
 * the old contents moved to its start, freed as soon as it is empty.
 */
static bool txbuf_reserve(struct vsock_conn *c, size_t need)
{
	uint32_t cap = txbuf_cap(c), first;
	uint8_t *big;

	if (c->txbuf && need <= cap)
		return true;
	if (!c->txbuf && need <= c->p.buf_alloc) {
		c->txbuf = malloc(c->p.buf_alloc);
		c->txbuf_head = 0;
		return c->txbuf != NULL;
	}
	if (need > 2 * (size_t)c->p.buf_alloc)
		return false;
	big = malloc(2 * (size_t)c->p.buf_alloc);
	if (!big)
		return false;
	if (c->txbuf) {
		first = cap - c->txbuf_head < c->txbuf_len ? cap - c->txbuf_head : c->txbuf_len;
		memcpy(big, c->txbuf + c->txbuf_head, first);
		memcpy(big + first, c->txbuf, c->txbuf_len - first);
		free(c->txbuf);
	}
	c->txbuf = big;
	c->txbuf_head = 0;
	c->txbuf_big = true;
	STAT_INC(c->dev->stats.txbuf_beyond_window);
	return true;
}

/* Frees c's emptied stream tx buffer, whatever its size. */
static void txbuf_release(struct vsock_conn *c)
{
	free(c->txbuf);
	c->txbuf = NULL;
	c->txbuf_big = false;
	txmem_sync(c);
}

/*
 * Before a credit update, how much beyond buf_alloc the guest may be
 * offered: half the host socket's free send space. An AF_UNIX stream
 * socket takes a write while its queued skbs' truesize is under SO_SNDBUF,
 * and a skb costs its payload plus a few hundred bytes, so half the free
 * space is payload it takes at once for any packet of 1 KiB or more, and
 * only our writes use that space up. (Smaller packets may find less room:
 * txbuf_reserve keeps what the socket refuses.) Skipped while the guest's
 * credit is ample or an update is owed anyway: two system calls per half
 * window forwarded.
 */
static void refresh_headroom(struct vsock_conn *c)
{
	int queued = 0, sndbuf = 0;
	socklen_t sl = sizeof(sndbuf);

	if (!c->via || !c->via->ops->socket_room || c->p.type != VIRTIO_VSOCK_TYPE_STREAM ||
	    (c->p.pending & PEND_CREDIT_UPDATE) || !conn_window_low(&c->p))
		return;
	if (ioctl(c->fd, SIOCOUTQ, &queued) < 0 ||
	    getsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl) < 0 || sndbuf <= queued) {
		conn_set_headroom(&c->p, 0);
		return;
	}
	/* Whole pages: guests and tests size packets in round numbers, and a
	 * few bytes more is not worth a credit update. */
	conn_set_headroom(&c->p, ((uint32_t)(sndbuf - queued) / 2) & ~4095u);
}

/* Copies len bytes of iov (from byte off) into the ring buffer. */
static void txbuf_append(struct vsock_conn *c, const struct iovec *iov, unsigned n, size_t off,
			 size_t len)
{
	uint32_t cap = txbuf_cap(c);

	for (unsigned i = 0; i < n && len; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t l = iov[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		p += off;
		l -= off;
		off = 0;
		if (l > len)
			l = len;
		len -= l;
		while (l) {
			uint32_t tail = (c->txbuf_head + c->txbuf_len) % cap;
			uint32_t chunk = cap - tail < l ? cap - tail : (uint32_t)l;
			memcpy(c->txbuf + tail, p, chunk);
			c->txbuf_len += chunk;
			p += chunk;
			l -= chunk;
		}
	}
}

void conn_io_write(struct vsock_conn *c, const struct iovec *iov, unsigned n, size_t len)
{
	ssize_t r = 0;
	unsigned fx = 0;

	/* Reset meanwhile (an earlier packet of the same batch): dropped. */
	if (c->fd < 0 || (c->p.pending & PEND_RST))
		return;
	if (c->txbuf_len == 0) {
		do {
			r = writev(c->fd, iov, (int)n);
		} while (r < 0 && errno == EINTR);
		if (r < 0) {
			if (errno == EPIPE) {
				conn_io_apply(c, host_stopped_reading(c));
				return;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				log_debug("%s: host socket of guest port %u: %s", c->dev->name,
					  c->p.guest_port, strerror(errno));
				conn_io_apply(c, conn_reset(&c->p));
				return;
			}
			r = 0;
		}
		if ((size_t)r == len) {
			refresh_headroom(c);
			conn_io_apply(c, conn_on_written(&c->p, (uint32_t)r));
			return;
		}
	}
	/* The socket pushed back: keep the rest, and offer no more than the
	 * tx buffer until it has drained. conn.c admitted no more than the
	 * credit we gave, so it fits; check anyway. */
	STAT_INC(c->dev->stats.host_backpressure);
	conn_set_headroom(&c->p, 0);
	if (!txbuf_reserve(c, (size_t)c->txbuf_len + (len - (size_t)r))) {
		conn_io_apply(c, conn_reset(&c->p));
		return;
	}
	txbuf_append(c, iov, n, (size_t)r, len - (size_t)r);
	txmem_sync(c);
	if (c->idle_ms) {
		c->idle_ms = 0;
		conn_timed_update(&c->dev->conns, c);
	}
	set_interest(c);
	if (r > 0)
		fx = conn_on_written(&c->p, (uint32_t)r);
	conn_io_apply(c, fx);
}

/* The SEQPACKET state of c, allocated on first use; NULL if memory is short. */
static struct conn_seq *seq_of(struct vsock_conn *c)
{
	if (!c->seq) {
		c->seq = calloc(1, sizeof(*c->seq));
		if (c->seq && msgbuf_init(&c->seq->tx, c->p.buf_alloc) < 0) {
			free(c->seq);
			c->seq = NULL;
		}
	}
	return c->seq;
}

struct conn_seq *conn_io_seq(struct vsock_conn *c)
{
	return seq_of(c);
}

ssize_t conn_io_msg_size(struct vsock_conn *c, bool *eof)
{
	bool tagged = c->via->ops->seq_flags_byte;
	struct pollfd p = { .fd = c->fd, .events = POLLRDHUP };
	uint8_t tag;
	ssize_t r;

	*eof = false;
	do {
		/* MSG_TRUNC: the message's real length, whatever we take. At
		 * least one byte: AF_VSOCK answers a zero-length recv with 0
		 * at once, without looking at its queue. */
		r = recv(c->fd, &tag, 1, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
	} while (r < 0 && errno == EINTR);
	/* AF_VSOCK before Linux 6.3 cannot peek a SEQPACKET message: its
	 * recvmsg turns the transport's EOPNOTSUPP into ENOMEM. */
	if (r < 0 && !tagged && (errno == ENOMEM || errno == EOPNOTSUPP))
		return -EOPNOTSUPP;
	if (r < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (r > 0)
		return r - (tagged ? 1 : 0);
	/* Nothing, or an empty message: only a shut read side tells. A
	 * flags byte makes every message of ours at least one byte long. */
	if (tagged || (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP)))) {
		*eof = true;
		return 0;
	}
	/* An empty message from a host application: a vsock peer never
	 * sends one (Linux does not); it is dropped. */
	r = recv(c->fd, &tag, 0, MSG_DONTWAIT);
	(void)r;
	return -EAGAIN;
}

ssize_t conn_io_recv_msg(struct vsock_conn *c, const struct iovec *iov, unsigned n,
			 uint32_t *flags)
{
	struct iovec v[VQ_ELEM_MAX_IOV + 1];
	bool tagged = c->via->ops->seq_flags_byte;
	struct msghdr mh = { .msg_iov = v };
	uint8_t tag = 0;
	unsigned k = 0;
	ssize_t r;

	if (n > VQ_ELEM_MAX_IOV)
		return -EINVAL;
	if (tagged)
		v[k++] = (struct iovec){ &tag, 1 };
	memcpy(v + k, iov, n * sizeof(*iov));
	mh.msg_iovlen = k + n;
	do {
		r = recvmsg(c->fd, &mh, MSG_DONTWAIT);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	if (tagged && r == 0)
		return 0;
	*flags = (tagged ? tag : (mh.msg_flags & MSG_EOR) ? VIRTIO_VSOCK_SEQ_EOR : 0) &
		 VIRTIO_VSOCK_SEQ_EOR;
	return r - (tagged ? 1 : 0);
}

/* One message to the host socket: len bytes of iov from byte off, with
 * flags (VIRTIO_VSOCK_SEQ_EOR) as the backend's sockets carry them. 0 or
 * -errno; a message goes whole or not at all. */
static int send_msg(struct vsock_conn *c, const struct iovec *iov, unsigned n, size_t off,
		    size_t len, uint32_t flags)
{
	struct iovec v[VQ_ELEM_MAX_IOV + 1];
	uint8_t tag = (uint8_t)(flags & VIRTIO_VSOCK_SEQ_EOR);
	struct msghdr mh = { .msg_iov = v };
	unsigned k = 0;
	size_t got = 0;
	int mflags = MSG_NOSIGNAL | MSG_DONTWAIT;
	ssize_t r;

	if (c->via->ops->seq_flags_byte)
		v[k++] = (struct iovec){ &tag, 1 };
	else if (flags & VIRTIO_VSOCK_SEQ_EOR)
		mflags |= MSG_EOR;
	k += iov_slice(iov, n, off, len, v + k, VQ_ELEM_MAX_IOV, &got);
	if (got != len)
		return -EINVAL;
	mh.msg_iovlen = k;
	do {
		r = sendmsg(c->fd, &mh, mflags);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	/* A datagram-like socket never takes part of a message. */
	return (size_t)r == len + (c->via->ops->seq_flags_byte ? 1 : 0) ? 0 : -EMSGSIZE;
}

/* Sends the queued complete messages the socket takes now: the bytes sent
 * (their credit goes back), or -errno. */
static ssize_t seq_flush(struct vsock_conn *c)
{
	struct msgbuf *m = &c->seq->tx;
	const uint8_t *p;
	uint32_t len, flags;
	ssize_t total = 0;

	while (msgbuf_front(m, &p, &len, &flags)) {
		struct iovec one = { (void *)p, len };
		int r = send_msg(c, &one, 1, 0, len, flags);

		if (r == -EAGAIN)
			break;
		if (r < 0)
			return r;
		msgbuf_pop(m);
		total += len;
	}
	msgbuf_trim(m);
	txmem_sync(c);
	set_interest(c);
	return total;
}

/* The result of a write or a flush, as effects. */
static unsigned written(struct vsock_conn *c, ssize_t r)
{
	if (r == -EPIPE)
		return host_stopped_reading(c);
	if (r < 0) {
		log_debug("%s: host socket of guest port %u: %s", c->dev->name, c->p.guest_port,
			  strerror((int)-r));
		return conn_reset(&c->p);
	}
	return r > 0 ? conn_on_written(&c->p, (uint32_t)r) : 0;
}

void conn_io_write_msg(struct vsock_conn *c, const struct iovec *iov, unsigned n, size_t off,
		       size_t len, uint32_t flags)
{
	bool eom = flags & VIRTIO_VSOCK_SEQ_EOM;
	struct conn_seq *q;
	int r;

	if (c->fd < 0 || (c->p.pending & PEND_RST))
		return;
	/* The common case: a whole message in one packet, nothing before it.
	 * Straight from guest memory to the socket. */
	if (eom && (!c->seq || msgbuf_empty(&c->seq->tx))) {
		r = send_msg(c, iov, n, off, len, flags);
		if (r != -EAGAIN) {
			conn_io_apply(c, written(c, r < 0 ? r : (ssize_t)len));
			return;
		}
	}
	q = seq_of(c);
	if (!q || msgbuf_append(&q->tx, iov, n, off, len, eom, flags) < 0) {
		log_debug("%s: guest port %u: no room for its SEQPACKET message (%u queued)",
			  c->dev->name, c->p.guest_port, q ? q->tx.nmsgs : 0);
		conn_io_apply(c, conn_reset(&c->p));
		return;
	}
	txmem_sync(c);
	if (eom) {
		conn_io_apply(c, written(c, seq_flush(c)));
		return;
	}
	/* A part held for its EOM: the guest sent it because its credit ran
	 * out, and Linux waits for an update without asking. Data the host
	 * took earlier may not have been worth an update then: it is now, or
	 * guest and device would wait for each other. */
	conn_io_apply(c, conn_on_written(&c->p, 0));
}

/* Writes as much of the tx buffer as the socket takes: bytes or -errno. */
static ssize_t txbuf_flush(struct vsock_conn *c)
{
	uint32_t cap = txbuf_cap(c);
	ssize_t total = 0;

	while (c->txbuf_len) {
		uint32_t first = cap - c->txbuf_head < c->txbuf_len ? cap - c->txbuf_head
								    : c->txbuf_len;
		struct iovec iov[2] = {
			{ c->txbuf + c->txbuf_head, first },
			{ c->txbuf, c->txbuf_len - first },
		};
		ssize_t r = writev(c->fd, iov, iov[1].iov_len ? 2 : 1);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		c->txbuf_head = (c->txbuf_head + (uint32_t)r) % cap;
		c->txbuf_len -= (uint32_t)r;
		total += r;
	}
	if (c->txbuf_len == 0) {
		c->txbuf_head = 0;
		/* A doubled buffer (txbuf_reserve) was for a moment only. */
		if (c->txbuf_big)
			txbuf_release(c);
		if (c->txbuf) {
			c->idle_ms = now_ms() + TXBUF_IDLE_MS;
			deadline_changed(c);
		}
	}
	set_interest(c);
	return total;
}

ssize_t conn_io_readv(struct vsock_conn *c, const struct iovec *iov, unsigned n)
{
	ssize_t r;

	do {
		r = readv(c->fd, iov, (int)n);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static void conn_event(struct ev_loop *loop, int fd, uint32_t events, void *opaque)
{
	struct vsock_conn *c = opaque;
	unsigned fx = 0;
	(void)loop, (void)fd;

	if (c->p.state == CONN_HANDSHAKE) {
		if (c->via->ops->handshake_readable)
			c->via->ops->handshake_readable(c, events);
		return;
	}
	if (c->p.state == CONN_CONNECTING) {
		int r = c->via->ops->connect_done(c, events);

		if (r == 0)
			return;
		if (r < 0)
			log_debug("%s: connect for guest port %u to cid %llu port %u failed: %s",
				  c->dev->name, c->p.guest_port, (unsigned long long)c->p.peer_cid,
				  c->p.peer_port, strerror(-r));
		/* An EPOLLIN that came with it was consumed here: look again;
		 * and a hang-up in the same edge brings no further one (the
		 * sibling's ACK, its data and its close can all come at once). */
		fx = conn_connected(&c->p, r > 0, events & EPOLLIN);
		if (r > 0 && c->p.state == CONN_ESTABLISHED)
			STAT_INC(c->dev->stats.conns_established);
		if (r > 0 && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
			fx |= conn_on_host_readable(&c->p, true);
		set_interest(c);
		conn_io_apply(c, fx);
		return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		/* Errors and hang-ups surface through the next read. */
		fx |= conn_on_host_readable(&c->p, events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
	/* A hang-up we did not cause by a SHUT_WR of ours: the host side
	 * closed or shut its read side, so it reads no more. Said here only
	 * when no read will come to say it with the EOF (one SHUTDOWN with
	 * RCV|SEND): after the EOF, or once the guest shut its read side. */
	if ((events & EPOLLHUP) && !c->p.host_shut_wr &&
	    (c->p.host_eof || (c->p.guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV)))
		fx |= host_stopped_reading(c);
	if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && seq_waiting(c))
		fx |= written(c, seq_flush(c));
	if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && c->txbuf_len)
		fx |= written(c, txbuf_flush(c));
	conn_io_apply(c, fx);
}

void conn_io_free_all(struct vsock_dev *d)
{
	struct conn_table *t = &d->conns;

	/* Handshakes are only on the deadline list; everything else is hashed. */
	while (t->timed.head) {
		conn_end_as(&t->timed.head->p, CONN_END_VMM_GONE);
		conn_free(t->timed.head);
	}
	for (unsigned b = 0; b < VSOCK_HASH_BUCKETS; b++)
		while (t->buckets[b]) {
			conn_end_as(&t->buckets[b]->p, CONN_END_VMM_GONE);
			conn_free(t->buckets[b]);
		}
	d->ctrl_len = d->ctrl_head = 0;
	ev_timer_cancel(d->loop, &d->timer);
}

static void log_timeout(struct vsock_conn *c, enum conn_timeout_why why)
{
	const char *name = c->dev->name;

	switch (why) {
	case CONN_TMO_HANDSHAKE:
		log_info_rl(&c->dev->handshake_rl,
			    "%s: host connection sent no CONNECT line within %u ms; closing",
			    name, CONN_TIMEOUT_MS);
		break;
	case CONN_TMO_CONNECT:
		log_info_rl(&c->dev->timeout_rl,
			    "%s: connect from guest port %u to cid %llu port %u timed out", name,
			    c->p.guest_port, (unsigned long long)c->p.peer_cid, c->p.peer_port);
		break;
	case CONN_TMO_GUEST:
		log_info_rl(&c->dev->timeout_rl,
			    "%s: guest did not answer the connection to port %u within %u ms",
			    name, c->p.guest_port, CONN_TIMEOUT_MS);
		break;
	case CONN_TMO_CLOSE:
	case CONN_TMO_NONE:
		break;
	}
}

void conn_io_timer_fired(struct ev_loop *loop, void *opaque)
{
	struct vsock_dev *d = opaque;
	uint64_t now = now_ms(), next = 0;
	struct vsock_conn *c, *nx;
	(void)loop;

	for (c = d->conns.timed.head; c; c = nx) {
		enum conn_timeout_why why;
		unsigned fx;

		nx = c->timed.next;
		if (c->idle_ms && c->idle_ms <= now) {
			c->idle_ms = 0;
			if (c->txbuf_len == 0 && !conn_seq(c))
				txbuf_release(c);
		}
		fx = conn_on_timeout(&c->p, now, &why);
		log_timeout(c, why);
		/* Applying c's effects unlinks or frees c only: nx stays valid. */
		conn_io_apply(c, fx);
		if (fx & CONN_FX_FREE)
			continue;
		conn_timed_update(&d->conns, c);
		if (c->p.deadline_ms && (!next || c->p.deadline_ms < next))
			next = c->p.deadline_ms;
		if (c->idle_ms && (!next || c->idle_ms < next))
			next = c->idle_ms;
	}
	if (next)
		ev_timer_arm(d->loop, &d->timer, (int64_t)(next * 1000000));
}
