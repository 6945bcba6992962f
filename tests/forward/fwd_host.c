/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The host side of the forward-cid tests: AF_VSOCK peers of the daemon,
 * all non-blocking in one thread under poll(), so that hundreds of
 * connections move data at once while the guest side runs in the caller's
 * thread. Only ever run inside the e2e guest or under the AF_VSOCK shim
 * (see test_forward.c).
 */
#include "fwd.h"

#include <errno.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IO_CHUNK (64u * 1024u)

static uint64_t splitmix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void fwd_pattern(uint8_t *buf, size_t n, uint32_t seed, uint64_t pos)
{
	uint64_t key = (uint64_t)seed << 40;

	while (n) {
		uint64_t x = splitmix(key ^ (pos >> 3));
		unsigned k = (unsigned)(pos & 7);

		for (; k < 8 && n; k++, n--, pos++)
			*buf++ = (uint8_t)(x >> (8 * k));
	}
}

ssize_t fwd_pattern_check(const uint8_t *buf, size_t n, uint32_t seed, uint64_t pos)
{
	uint8_t want[4096];
	size_t off = 0;

	while (off < n) {
		size_t l = n - off < sizeof(want) ? n - off : sizeof(want);

		fwd_pattern(want, l, seed, pos + off);
		if (memcmp(want, buf + off, l)) {
			for (size_t i = 0; i < l; i++)
				if (want[i] != buf[off + i])
					return (ssize_t)(off + i);
		}
		off += l;
	}
	return -1;
}

static int64_t now_ms(void)
{
	return sim_now_ms();
}

int fwd_vsock_listen(uint32_t cid, uint32_t port, int backlog)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int r;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* src_cid: the CID to bind first (to any port), or VMADDR_CID_ANY for
 * the implicit bind of connect. */
static int connect_start(uint32_t src_cid, uint32_t cid, uint32_t port, bool *in_progress)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	struct sockaddr_vm src = { .svm_family = AF_VSOCK, .svm_cid = src_cid,
				   .svm_port = VMADDR_PORT_ANY };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int r;

	*in_progress = false;
	if (fd < 0)
		return -errno;
	if (src_cid != VMADDR_CID_ANY && bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (errno == EINPROGRESS) {
		*in_progress = true;
		return fd;
	}
	r = -errno;
	close(fd);
	return r;
}

static int connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

int fwd_vsock_connect(uint32_t cid, uint32_t port, int timeout_ms)
{
	return fwd_vsock_connect_from(VMADDR_CID_ANY, cid, port, timeout_ms);
}

int fwd_vsock_connect_from(uint32_t src_cid, uint32_t cid, uint32_t port, int timeout_ms)
{
	bool in_progress;
	int fd = connect_start(src_cid, cid, port, &in_progress), r;
	struct pollfd p;

	if (fd < 0 || !in_progress)
		return fd;
	p.fd = fd;
	p.events = POLLOUT;
	r = poll(&p, 1, timeout_ms);
	if (r <= 0) {
		close(fd);
		return r == 0 ? -ETIMEDOUT : -errno;
	}
	r = connect_result(fd);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static void hc_fail(struct fwd_host *h, struct fwd_hconn *c, const char *fmt, int err)
{
	if (c->failed || c->done)
		return;
	c->failed = true;
	h->failed++;
	snprintf(c->why, sizeof(c->why), "%s%s%s", fmt, err ? ": " : "", err ? strerror(err) : "");
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void hc_check_done(struct fwd_host *h, struct fwd_hconn *c)
{
	if (c->failed || c->done || !c->shut_wr || !c->eof)
		return;
	c->done = true;
	h->done++;
	close(c->fd);
	c->fd = -1;
}

static void hc_init(struct fwd_hconn *c, int fd, bool initiator, uint64_t tx_len,
		    uint64_t rx_len)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->initiator = initiator;
	c->tx_len = tx_len;
	c->rx_len = rx_len;
	c->bad = -1;
}

static void hc_write(struct fwd_host *h, struct fwd_hconn *c, uint8_t *buf)
{
	while (!c->failed && !c->shut_wr) {
		size_t n = 0;
		ssize_t r;

		if (c->initiator && c->id_done < FWD_ID_LEN) {
			uint8_t id[FWD_ID_LEN] = { (uint8_t)c->id, (uint8_t)(c->id >> 8),
						   (uint8_t)(c->id >> 16), (uint8_t)(c->id >> 24) };
			n = FWD_ID_LEN - c->id_done;
			memcpy(buf, id + c->id_done, n);
		} else if (!c->initiator && c->id_done < FWD_ID_LEN) {
			return; /* the id tells us what to send */
		}
		if (n == 0 && c->tx_done == c->tx_len) {
			if (shutdown(c->fd, SHUT_WR) < 0) {
				hc_fail(h, c, "shutdown(SHUT_WR)", errno);
				return;
			}
			c->shut_wr = true;
			hc_check_done(h, c);
			return;
		}
		if (c->id_done == FWD_ID_LEN || !c->initiator) {
			uint64_t left = c->tx_len - c->tx_done;
			size_t l = left < IO_CHUNK - n ? (size_t)left : IO_CHUNK - n;

			fwd_pattern(buf + n, l, FWD_SEED(c->id, c->initiator ? 0 : 1), c->tx_done);
			n += l;
		}
		r = send(c->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				hc_fail(h, c, "send", errno);
			return;
		}
		if (c->initiator && c->id_done < FWD_ID_LEN) {
			unsigned take = (size_t)r < FWD_ID_LEN - c->id_done ? (unsigned)r
									  : FWD_ID_LEN - c->id_done;
			c->id_done += take;
			r -= take;
		}
		c->tx_done += (uint64_t)r;
	}
}

static void hc_read(struct fwd_host *h, struct fwd_hconn *c, uint8_t *buf)
{
	while (!c->failed && !c->eof) {
		ssize_t r = recv(c->fd, buf, IO_CHUNK, MSG_DONTWAIT);
		size_t off = 0;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				char what[96];

				snprintf(what, sizeof(what), "recv after %llu of %llu bytes",
					 (unsigned long long)c->rx_done,
					 (unsigned long long)c->rx_len);
				hc_fail(h, c, what, errno);
			}
			return;
		}
		if (r == 0) {
			c->eof = true;
			if (c->rx_done != c->rx_len || c->id_done < FWD_ID_LEN) {
				char what[96];

				snprintf(what, sizeof(what), "EOF after %llu of %llu bytes",
					 (unsigned long long)c->rx_done,
					 (unsigned long long)c->rx_len);
				hc_fail(h, c, what, 0);
				return;
			}
			hc_check_done(h, c);
			return;
		}
		if (!c->initiator && c->id_done < FWD_ID_LEN) {
			while (off < (size_t)r && c->id_done < FWD_ID_LEN)
				c->idbuf[c->id_done++] = buf[off++];
			if (c->id_done == FWD_ID_LEN)
				c->id = (uint32_t)c->idbuf[0] | (uint32_t)c->idbuf[1] << 8 |
					(uint32_t)c->idbuf[2] << 16 | (uint32_t)c->idbuf[3] << 24;
		}
		if ((size_t)r > off) {
			size_t n = (size_t)r - off;
			ssize_t bad;

			if (c->rx_done + n > c->rx_len) {
				hc_fail(h, c, "more data than sent", 0);
				return;
			}
			bad = fwd_pattern_check(buf + off, n, FWD_SEED(c->id, c->initiator ? 1 : 0),
						c->rx_done);
			if (bad >= 0) {
				char what[96];

				c->bad = (int64_t)c->rx_done + bad;
				snprintf(what, sizeof(what), "wrong byte at stream offset %lld",
					 (long long)c->bad);
				hc_fail(h, c, what, 0);
				return;
			}
			c->rx_done += n;
		}
	}
}

static void host_accept(struct fwd_host *h)
{
	while (h->accepted < h->n_accept) {
		struct sockaddr_vm peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(h->lfd, (struct sockaddr *)&peer, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct fwd_hconn *c;

		if (fd < 0)
			return;
		c = &h->c[h->nc++];
		h->accepted++;
		hc_init(c, fd, false, h->len_a2i, h->len_i2a);
	}
}

static void *host_thread(void *arg)
{
	struct fwd_host *h = arg;
	unsigned total = h->n_accept + h->n_connect;
	int64_t t0 = now_ms(), deadline = t0 + h->timeout_ms;
	struct pollfd *pfd = calloc(total + 1, sizeof(*pfd));
	unsigned *map = calloc(total + 1, sizeof(*map));
	uint8_t *buf = malloc(IO_CHUNK);

	if (!pfd || !map || !buf) {
		h->result = -ENOMEM;
		snprintf(h->why, sizeof(h->why), "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < h->n_connect; i++) {
		bool in_progress;
		int fd = connect_start(VMADDR_CID_ANY, h->connect_cid, h->connect_port,
				       &in_progress);
		struct fwd_hconn *c = &h->c[h->nc++];

		hc_init(c, -1, true, h->len_i2a, h->len_a2i);
		c->id = h->id_base + i;
		if (fd < 0) {
			hc_fail(h, c, "connect", -fd);
			continue;
		}
		c->fd = fd;
		c->connecting = in_progress;
		if (!in_progress)
			h->connected++;
	}
	for (;;) {
		bool reading = now_ms() >= t0 + h->rx_delay_ms;
		unsigned np = 0;
		int r, wait = 100;

		if (h->done + h->failed == total && h->accepted == h->n_accept)
			break;
		if (now_ms() >= deadline) {
			h->result = -ETIMEDOUT;
			break;
		}
		if (h->lfd >= 0 && h->accepted < h->n_accept) {
			pfd[np].fd = h->lfd;
			pfd[np].events = POLLIN;
			map[np++] = UINT32_MAX;
		}
		for (unsigned i = 0; i < h->nc; i++) {
			struct fwd_hconn *c = &h->c[i];

			if (c->fd < 0)
				continue;
			pfd[np].fd = c->fd;
			pfd[np].events = 0;
			/* An acceptor has nothing to send before the id came. */
			if (c->connecting ||
			    (!c->shut_wr && (c->initiator || c->id_done == FWD_ID_LEN)))
				pfd[np].events |= POLLOUT;
			if (!c->connecting && !c->eof && reading)
				pfd[np].events |= POLLIN;
			map[np++] = i;
		}
		if (!reading && t0 + h->rx_delay_ms - now_ms() < wait)
			wait = (int)(t0 + h->rx_delay_ms - now_ms()) + 1;
		r = poll(pfd, np, wait);
		if (r < 0 && errno != EINTR) {
			h->result = -errno;
			snprintf(h->why, sizeof(h->why), "poll: %s", strerror(errno));
			break;
		}
		for (unsigned k = 0; r > 0 && k < np; k++) {
			struct fwd_hconn *c;

			if (!pfd[k].revents)
				continue;
			if (map[k] == UINT32_MAX) {
				host_accept(h);
				continue;
			}
			c = &h->c[map[k]];
			if (c->connecting) {
				int e = connect_result(c->fd);

				if (e < 0) {
					hc_fail(h, c, "connect", -e);
					continue;
				}
				c->connecting = false;
				h->connected++;
			}
			if (reading)
				hc_read(h, c, buf);
			hc_write(h, c, buf);
		}
	}
	if (h->failed || h->result) {
		unsigned shown = 0;
		int len;

		if (!h->result)
			h->result = -EIO;
		len = snprintf(h->why, sizeof(h->why),
			       "host: %u/%u accepted, %u/%u connected, %u done, %u failed%s",
			       h->accepted, h->n_accept, h->connected, h->n_connect, h->done,
			       h->failed, h->result == -ETIMEDOUT ? ", timed out" : "");
		for (unsigned i = 0; i < h->nc && shown < 2 && len < (int)sizeof(h->why); i++) {
			struct fwd_hconn *c = &h->c[i];

			if (c->done)
				continue;
			shown++;
			len += snprintf(h->why + len, sizeof(h->why) - (size_t)len,
					"; conn id %u: %s (tx %llu/%llu rx %llu/%llu)", c->id,
					c->failed ? c->why : "unfinished",
					(unsigned long long)c->tx_done,
					(unsigned long long)c->tx_len,
					(unsigned long long)c->rx_done,
					(unsigned long long)c->rx_len);
		}
	}
out:
	h->ms = now_ms() - t0;
	free(pfd);
	free(map);
	free(buf);
	return NULL;
}

int fwd_host_start(struct fwd_host *h)
{
	unsigned total = h->n_accept + h->n_connect;
	int r;

	h->c = calloc(total ? total : 1, sizeof(*h->c));
	if (!h->c)
		return -ENOMEM;
	h->nc = h->accepted = h->connected = h->done = h->failed = 0;
	h->result = 0;
	h->why[0] = 0;
	r = pthread_create(&h->th, NULL, host_thread, h);
	if (r)
		return -r;
	h->started = true;
	return 0;
}

int fwd_host_join(struct fwd_host *h)
{
	if (h->started) {
		pthread_join(h->th, NULL);
		h->started = false;
	}
	return h->result;
}

void fwd_host_fini(struct fwd_host *h)
{
	fwd_host_join(h);
	for (unsigned i = 0; h->c && i < h->nc; i++)
		if (h->c[i].fd >= 0)
			close(h->c[i].fd);
	free(h->c);
	h->c = NULL;
	h->nc = 0;
}
