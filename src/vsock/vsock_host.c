/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The host socket side of a connection: readiness events, writing guest
 * data (straight, then from the tx buffer when the socket pushes back),
 * credit updates, half-close bookkeeping and the per-VM timeout timer.
 */
#include "vsock/vsock_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/log.h"

/* How long an emptied tx buffer is kept before it is freed: a connection
 * that keeps pushing back should not malloc/free per packet. */
#define TXBUF_IDLE_MS 1000u

void conn_set_interest(struct vsock_conn *c)
{
	uint32_t ev = EPOLLIN | EPOLLRDHUP | EPOLLET;

	if (c->fd < 0)
		return;
	/* A socketpair to a sibling needs no connect completion. */
	if (c->txbuf_len || (c->state == CONN_HOST_CONNECTING && !c->sibling))
		ev |= EPOLLOUT;
	/* Only on a change: the data path never calls epoll_ctl per packet. */
	if (ev != c->epoll_events && ev_mod(c->dev->loop, c->fd, ev) == 0)
		c->epoll_events = ev;
}

void conn_check_credit(struct vsock_conn *c)
{
	uint32_t buf_alloc = c->dev->cfg->tx_buffer_size;
	uint32_t seen_used = c->rx_cnt - c->fwd_cnt_sent;
	uint32_t guest_view_free = seen_used >= buf_alloc ? 0 : buf_alloc - seen_used;

	if (c->state != CONN_ESTABLISHED || c->guest_shut_send || c->fwd_cnt == c->fwd_cnt_sent)
		return;
	/* Tell the guest about freed space only once its own idea of our free
	 * space has dropped below half the buffer: often enough that it never
	 * stalls on stale credit, rarely enough not to cost a packet per
	 * packet. Data packets we send carry fwd_cnt too and reset this. */
	if (guest_view_free < buf_alloc / 2)
		conn_want(c, PEND_CREDIT_UPDATE);
}

/* Copies len bytes of iov (from byte off) into the ring buffer. */
static void txbuf_append(struct vsock_conn *c, const struct iovec *iov, unsigned n,
			 size_t off, size_t len)
{
	uint32_t cap = c->dev->cfg->tx_buffer_size;

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

int conn_write_host(struct vsock_conn *c, const struct iovec *iov, unsigned n, size_t len)
{
	uint32_t cap = c->dev->cfg->tx_buffer_size;
	ssize_t r = 0;

	if (c->fd < 0 || c->host_shut_wr)
		return -EPIPE;
	if (c->txbuf_len == 0) {
		do {
			r = writev(c->fd, iov, (int)n);
		} while (r < 0 && errno == EINTR);
		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			r = 0;
		}
		c->fwd_cnt += (uint32_t)r;
		if ((size_t)r == len) {
			conn_check_credit(c);
			return 0;
		}
	}
	/* The socket pushed back: keep the rest, within the credit we gave. */
	if ((size_t)c->txbuf_len + (len - (size_t)r) > cap) {
		log_warn("%s: guest port %u sent beyond its credit (%zu bytes over a %u-byte buffer); resetting",
			 c->dev->vu.name, c->guest_port, (size_t)c->txbuf_len + len - (size_t)r, cap);
		return -ENOBUFS;
	}
	if (!c->txbuf) {
		c->txbuf = malloc(cap);
		if (!c->txbuf)
			return -ENOMEM;
		c->txbuf_head = 0;
	}
	txbuf_append(c, iov, n, (size_t)r, len - (size_t)r);
	conn_set_interest(c);
	conn_check_credit(c);
	return 0;
}

/* Writes as much of the tx buffer as the socket takes. */
static int txbuf_flush(struct vsock_conn *c)
{
	uint32_t cap = c->dev->cfg->tx_buffer_size;

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
		c->fwd_cnt += (uint32_t)r;
	}
	if (c->txbuf_len == 0) {
		c->txbuf_head = 0;
		if (c->state == CONN_ESTABLISHED && c->txbuf)
			timed_arm(c, TXBUF_IDLE_MS);
	}
	conn_set_interest(c);
	conn_check_credit(c);
	return 0;
}

void conn_check_closed(struct vsock_conn *c)
{
	if (c->pending & PEND_RST)
		return;
	if (c->guest_shut_send && c->guest_shut_recv && c->state != CONN_CLOSING) {
		/* The guest closed its socket: deliver what we hold, then RST
		 * (what Linux waits for), bounded by the close timeout. */
		c->state = CONN_CLOSING;
		timed_arm(c, VSOCK_TIMEOUT_MS);
	}
	if (c->state == CONN_CLOSING && c->txbuf_len == 0) {
		conn_reset(c); /* closes the socket: no separate shutdown */
		return;
	}
	if (c->guest_shut_send && c->txbuf_len == 0 && !c->host_shut_wr && c->fd >= 0) {
		shutdown(c->fd, SHUT_WR);
		c->host_shut_wr = true;
	}
	/* Both directions finished: nothing can flow any more. */
	if (c->host_shut_wr && c->host_eof && !(c->pending & PEND_SHUTDOWN))
		conn_reset(c);
}

static void host_connected(struct vsock_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		log_debug("%s: host connect for guest port %u failed: %s", c->dev->vu.name,
			  c->guest_port, strerror(err));
		conn_reset(c);
		return;
	}
	timed_disarm(c);
	c->state = CONN_ESTABLISHED;
	conn_set_interest(c);
	conn_want(c, PEND_RESPONSE);
}

void conn_host_event(struct ev_loop *loop, int fd, uint32_t events, void *opaque)
{
	struct vsock_conn *c = opaque;
	(void)loop, (void)fd;

	if (c->state == CONN_HANDSHAKE) {
		if (c->dev->backend->handshake_readable)
			c->dev->backend->handshake_readable(c, events);
		return;
	}
	if (c->state == CONN_HOST_CONNECTING) {
		if (c->sibling) {
			if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
				sibling_answer_readable(c);
		} else if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
			host_connected(c);
		}
		return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		/* Errors and hang-ups surface through the next read. */
		c->readable = true;
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			c->hangup_seen = true;
		if (c->state == CONN_ESTABLISHED)
			ready_add(c);
	}
	if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && c->txbuf_len) {
		if (txbuf_flush(c) < 0) {
			conn_reset(c);
			return;
		}
		conn_check_closed(c);
	}
}

static void conn_timeout(struct vsock_conn *c)
{
	struct vsock_dev *d = c->dev;

	timed_disarm(c);
	switch (c->state) {
	case CONN_HANDSHAKE:
		log_info("%s: host connection sent no CONNECT line within %u ms; closing",
			 d->vu.name, VSOCK_TIMEOUT_MS);
		conn_free(c);
		break;
	case CONN_HOST_CONNECTING:
		log_info("%s: connect from guest port %u to cid %llu port %u timed out",
			 d->vu.name, c->guest_port, (unsigned long long)c->peer_cid,
			 c->peer_port);
		conn_reset(c);
		break;
	case CONN_GUEST_CONNECTING:
		log_info("%s: guest did not answer the connection to port %u within %u ms",
			 d->vu.name, c->guest_port, VSOCK_TIMEOUT_MS);
		conn_reset(c);
		break;
	case CONN_CLOSING:
		conn_reset(c);
		break;
	case CONN_ESTABLISHED:
		/* The idle tx buffer timer. */
		if (c->txbuf_len == 0) {
			free(c->txbuf);
			c->txbuf = NULL;
		}
		break;
	}
}

void vsock_timer_update(struct vsock_dev *d)
{
	struct itimerspec its = { 0 };
	bool want = d->timed.head != NULL;

	if (want == d->timer_armed || d->timer_fd < 0)
		return;
	if (want) {
		its.it_interval.tv_nsec = VSOCK_TIMER_TICK_MS * 1000000L;
		its.it_value = its.it_interval;
	}
	if (timerfd_settime(d->timer_fd, 0, &its, NULL) == 0)
		d->timer_armed = want;
}

void vsock_timer_event(struct ev_loop *loop, int fd, uint32_t events, void *opaque)
{
	struct vsock_dev *d = opaque;
	uint64_t ticks, now = vsock_now_ms();
	struct vsock_conn *c, *next;
	ssize_t r = read(fd, &ticks, sizeof(ticks));
	(void)loop, (void)events, (void)r;

	for (c = d->timed.head; c; c = next) {
		next = c->timed.next;
		/* conn_timeout() unlinks (or frees) c only: next stays valid. */
		if (c->deadline_ms <= now)
			conn_timeout(c);
	}
	vsock_timer_update(d);
}
