/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "app.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "host_io.h"
#include "util/clock.h"

/* A prime period, so that successive writes of any size start at
 * different pattern offsets. */
#define PATTERN_PERIOD 65521u
#define PATTERN_SIZE (PATTERN_PERIOD + 65536u)

static uint8_t pattern[PATTERN_SIZE];
static pthread_once_t pattern_once = PTHREAD_ONCE_INIT;

static void pattern_init(void)
{
	uint64_t x = 0x243f6a8885a308d3ull;

	for (size_t i = 0; i < PATTERN_SIZE; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		pattern[i] = (uint8_t)(x >> 24);
	}
}

const uint8_t *app_chunk(uint64_t off, size_t n)
{
	(void)n;
	pthread_once(&pattern_once, pattern_init);
	return pattern + off % PATTERN_PERIOD;
}

/* ---- one stream ---- */

void *app_stream_write(void *arg)
{
	struct app_stream *s = arg;

	/* At least one write, even if the thread started late on a busy
	 * machine: a run must move data to mean anything. */
	do {
		const uint8_t *p = app_chunk(s->bytes, s->io_size);
		int r;

		if (s->verify)
			csum_update(&s->sum, p, s->io_size);
		r = hio_write_full(s->fd, p, s->io_size);
		if (r) {
			s->err = r;
			break;
		}
		s->bytes += s->io_size;
	} while (now_ns() < s->deadline_ns);
	s->t_end_ns = now_ns();
	shutdown(s->fd, SHUT_WR);
	return NULL;
}

void *app_stream_read(void *arg)
{
	struct app_stream *s = arg;
	uint8_t *buf = malloc(s->io_size);

	if (!buf) {
		s->err = -ENOMEM;
		return NULL;
	}
	for (;;) {
		ssize_t r = read(s->fd, buf, s->io_size);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			s->err = -errno;
			break;
		}
		if (r == 0)
			break;
		if (s->verify)
			csum_update(&s->sum, buf, (size_t)r);
		s->bytes += (uint64_t)r;
	}
	s->t_end_ns = now_ns();
	free(buf);
	return NULL;
}

/* ---- request/response ---- */

/* Samples an rr client takes even past its deadline. */
#define APP_RR_MIN_SAMPLES 10u

void *app_rr_client(void *arg)
{
	struct app_rr *s = arg;
	uint8_t out[4096], in[4096];
	unsigned i;

	if (s->msg > sizeof(out)) {
		s->err = -EINVAL;
		return NULL;
	}
	memcpy(out, app_chunk(0, s->msg), s->msg);
	for (i = 0; i < s->warmup + s->max_iters; i++) {
		int64_t t0 = now_ns();
		ssize_t r;

		/* A few samples whatever the deadline: a short (smoke) run
		 * whose warm-up took the whole time must still give a p50. */
		if (i >= s->warmup && t0 >= s->deadline_ns && s->nsamples >= APP_RR_MIN_SAMPLES)
			break;
		out[0] = (uint8_t)i;
		r = hio_write_full(s->fd, out, s->msg);
		if (!r)
			r = hio_read_full(s->fd, in, s->msg);
		if (r >= 0 && (size_t)r != s->msg)
			r = -EPIPE;
		if (r < 0) {
			s->err = (int)r;
			break;
		}
		if (memcmp(in, out, s->msg)) {
			s->err = -EBADMSG;
			break;
		}
		if (i >= s->warmup)
			s->samples_us[s->nsamples++] = (double)(now_ns() - t0) / 1e3;
	}
	shutdown(s->fd, SHUT_WR);
	return NULL;
}

void *app_rr_server(void *arg)
{
	struct app_rr *s = arg;
	uint8_t buf[4096];

	for (;;) {
		ssize_t r = read(s->fd, buf, s->msg < sizeof(buf) ? s->msg : sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0)
				s->err = -errno;
			break;
		}
		r = hio_write_full(s->fd, buf, (size_t)r);
		if (r) {
			s->err = (int)r;
			break;
		}
	}
	return NULL;
}

/* ---- many streams ---- */

static int multi_epoll(struct app_multi *m, uint32_t events)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		return -errno;
	for (unsigned i = 0; i < m->n; i++) {
		struct epoll_event ev = { .events = events, .data.u32 = i };

		if (hio_set_nonblock(m->fds[i], true) ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, m->fds[i], &ev)) {
			int e = -errno;

			close(ep);
			return e;
		}
	}
	return ep;
}

void *app_multi_write(void *arg)
{
	struct app_multi *m = arg;
	struct epoll_event evs[256];
	int ep = multi_epoll(m, EPOLLOUT);

	if (ep < 0) {
		m->err = ep;
		return NULL;
	}
	/* At least one round, as app_stream_write. */
	do {
		int n = epoll_wait(ep, evs, 256, m->timeout_ms);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			m->err = n < 0 ? -errno : -ETIMEDOUT;
			break;
		}
		for (int k = 0; k < n; k++) {
			unsigned i = evs[k].data.u32;
			const uint8_t *p = app_chunk(m->bytes[i], m->io_size);
			ssize_t r = send(m->fds[i], p, m->io_size, MSG_NOSIGNAL);

			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r < 0) {
				m->err = -errno;
				goto out;
			}
			if (m->verify)
				csum_update(&m->sums[i], p, (size_t)r);
			m->bytes[i] += (uint64_t)r;
		}
	} while (now_ns() < m->deadline_ns);
out:
	m->t_end_ns = now_ns();
	for (unsigned i = 0; i < m->n; i++)
		shutdown(m->fds[i], SHUT_WR);
	close(ep);
	return NULL;
}

void *app_multi_read(void *arg)
{
	struct app_multi *m = arg;
	struct epoll_event evs[256];
	size_t cap = m->io_size;
	uint8_t *buf = malloc(cap);
	unsigned open = m->n;
	int ep = multi_epoll(m, EPOLLIN);

	if (ep < 0 || !buf) {
		m->err = ep < 0 ? ep : -ENOMEM;
		goto out;
	}
	while (open) {
		int n = epoll_wait(ep, evs, 256, m->timeout_ms);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			m->err = n < 0 ? -errno : -ETIMEDOUT;
			break;
		}
		for (int k = 0; k < n; k++) {
			unsigned i = evs[k].data.u32;
			ssize_t r = read(m->fds[i], buf, cap);

			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0) {
				if (r < 0)
					m->err = -errno;
				epoll_ctl(ep, EPOLL_CTL_DEL, m->fds[i], NULL);
				open--;
				continue;
			}
			if (m->verify)
				csum_update(&m->sums[i], buf, (size_t)r);
			m->bytes[i] += (uint64_t)r;
		}
	}
	m->t_end_ns = now_ns();
out:
	if (ep >= 0)
		close(ep);
	free(buf);
	return NULL;
}

/* ---- connection set-up ---- */

void app_gate_init(struct app_gate *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->done = 0;
}

void app_gate_destroy(struct app_gate *g)
{
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
}

void app_gate_done(struct app_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->done++;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

uint64_t app_gate_count(struct app_gate *g)
{
	uint64_t v;

	pthread_mutex_lock(&g->lock);
	v = g->done;
	pthread_mutex_unlock(&g->lock);
	return v;
}

int app_gate_wait(struct app_gate *g, uint64_t target, int timeout_ms)
{
	struct timespec ts;
	int r = 0;

	ts = vdv_realtime_in_ms((unsigned)timeout_ms);
	pthread_mutex_lock(&g->lock);
	while (g->done < target && r == 0)
		r = pthread_cond_timedwait(&g->cond, &g->lock, &ts);
	pthread_mutex_unlock(&g->lock);
	return g->done >= target ? 0 : -ETIMEDOUT;
}

void *app_connect_cycles(void *arg)
{
	struct app_connect *s = arg;

	while (s->cycles < s->max_cycles && now_ns() < s->deadline_ns) {
		int fd, r;

		if (s->cycles >= s->window) {
			r = app_gate_wait(s->gate, s->cycles - s->window + 1, s->timeout_ms);
			if (r) {
				s->err = r;
				break;
			}
		}
		fd = hio_hybrid_open(s->path, s->port, s->timeout_ms);
		if (fd < 0) {
			s->err = fd;
			break;
		}
		r = hio_hybrid_ok(fd);
		close(fd);
		if (r) {
			s->err = r;
			break;
		}
		s->cycles++;
	}
	s->t_end_ns = now_ns();
	return NULL;
}

void *app_accept_server(void *arg)
{
	struct app_accept *s = arg;
	char line[64];

	while (!atomic_load(&s->stop)) {
		int fd = hio_accept(s->lfd, 50), r;
		uint32_t port = 0;

		if (fd == -ETIMEDOUT)
			continue;
		if (fd < 0) {
			s->err = fd;
			break;
		}
		hio_set_timeouts(fd, s->timeout_ms);
		r = hio_read_line(fd, line, sizeof(line));
		if (r > 0 && sscanf(line, "CONNECT %u", &port) == 1) {
			int n = snprintf(line, sizeof(line), "OK %u\n", port);

			r = hio_write_full(fd, line, (size_t)n);
			/* Wait for the client's close, as the daemon does. */
			if (!r)
				r = (int)read(fd, line, sizeof(line));
		} else {
			r = r < 0 ? r : -EPROTO;
		}
		close(fd);
		if (r < 0) {
			s->err = r;
			break;
		}
		s->served++;
		app_gate_done(s->gate);
	}
	return NULL;
}
