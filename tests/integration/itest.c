/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "itest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int setup_with(void **state, const char *const *extra)
{
	struct itest *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -1;
	r = sim_daemon_spawn(&t->d, sim_daemon_exe(), ITEST_CID, extra, 10000);
	if (r) {
		fprintf(stderr, "spawning %s: %s\n", sim_daemon_exe(), strerror(-r));
		sim_daemon_dump_log(&t->d, stderr, 8192);
		sim_daemon_stop(&t->d, 1000, NULL);
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

int itest_setup(void **state)
{
	return setup_with(state, NULL);
}

int itest_setup_args(void **state)
{
	return setup_with(state, *state);
}

int itest_spawn_two(struct itest *t, const char *keys1, const char *keys2,
		    const char *const *extra)
{
	char vm1[3 * SIM_DAEMON_PATH_MAX], vm2[3 * SIM_DAEMON_PATH_MAX];
	const char *argv[16] = { sim_daemon_exe(), "--vm", vm1, "--vm", vm2 };
	char path2[SIM_DAEMON_PATH_MAX + 16];
	unsigned n = 5;
	int r;

	snprintf(vm1, sizeof(vm1), "guest-cid=%u,socket=%%D/vhost.sock,uds-path=%%D/vm.vsock%s",
		 ITEST_CID, keys1);
	snprintf(vm2, sizeof(vm2), "guest-cid=%u,socket=%%D/vhost2.sock,uds-path=%%D/vm2.vsock%s",
		 ITEST_CID2, keys2);
	for (unsigned i = 0; extra && extra[i] && n + 1 < sizeof(argv) / sizeof(argv[0]); i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	r = sim_daemon_spawn_argv(&t->d, argv, NULL, 0);
	if (!r)
		r = sim_daemon_wait_path(&t->d, t->d.socket_path, 10000);
	snprintf(path2, sizeof(path2), "%s/vhost2.sock", t->d.dir);
	if (!r)
		r = sim_daemon_wait_path(&t->d, path2, 10000);
	if (r) {
		fprintf(stderr, "spawning %s with two VMs: %s\n", sim_daemon_exe(), strerror(-r));
		sim_daemon_dump_log(&t->d, stderr, 8192);
		sim_daemon_stop(&t->d, 1000, NULL);
	}
	return r;
}

int itest_setup_two(void **state)
{
	static const char *const metrics[] = { "--metrics", "unix:%D/metrics.sock", NULL };
	const char *const *keys = *state;
	struct itest *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	if (itest_spawn_two(t, keys[0], keys[1], metrics)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

void itest_vm2(const struct itest *t, struct itest *out)
{
	*out = *t;
	snprintf(out->d.socket_path, sizeof(out->d.socket_path), "%.80s/vhost2.sock", t->d.dir);
	snprintf(out->d.uds_path, sizeof(out->d.uds_path), "%.80s/vm2.vsock", t->d.dir);
}

char *itest_metrics_scrape(const struct itest *t)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	char *buf, *body;
	int fd = -1;

	snprintf(su.sun_path, sizeof(su.sun_path), "%s/metrics.sock", t->d.dir);
	/* The daemon opens it after the VMs' sockets: retry, bounded. */
	for (int64_t end = sim_now_ms() + ITEST_TIMEOUT_MS;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		if (connect(fd, (struct sockaddr *)&su, sizeof(su)) == 0)
			break;
		close(fd);
		if (sim_now_ms() > end)
			fail_msg("cannot connect to %s: %s", su.sun_path, strerror(errno));
		usleep(10000);
	}
	assert_int_equal(itest_host_write(fd, req, sizeof(req) - 1, ITEST_TIMEOUT_MS), 0);
	buf = itest_host_read_all(fd);
	close(fd);
	if (strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) || !(body = strstr(buf, "\r\n\r\n")))
		fail_msg("scrape answered: %.80s", buf);
	memmove(buf, body + 3, strlen(body + 3) + 1); /* keeps a leading '\n' */
	return buf;
}

unsigned long long itest_metrics_sample(const char *text, const char *name)
{
	char want[200];
	const char *p;

	snprintf(want, sizeof(want), "\n%s ", name);
	p = strstr(text, want);
	if (!p)
		fail_msg("no sample %s in:\n%s", name, text);
	return strtoull(p + strlen(want), NULL, 10);
}

int itest_teardown(void **state)
{
	struct itest *t = *state;
	int r, status = 0;

	if (!t)
		return 0;
	if (getenv("VDV_TEST_VERBOSE") || !sim_daemon_alive(&t->d))
		sim_daemon_dump_log(&t->d, stderr, 16384);
	r = sim_daemon_stop(&t->d, 5000, &status);
	if (r) {
		fprintf(stderr, "daemon did not exit cleanly on SIGTERM: %s (status 0x%x%s%s)\n",
			strerror(-r), status,
			WIFSIGNALED(status) ? ", signal " : "",
			WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "");
	}
	free(t);
	return r ? -1 : 0;
}

void itest_opts(struct sim_opts *o)
{
	sim_opts_init(o);
	o->connect_timeout_ms = ITEST_TIMEOUT_MS;
	o->io_timeout_ms = ITEST_TIMEOUT_MS;
	/* Small RAM keeps many back-to-back frontends cheap. */
	o->mem_size = 16u << 20;
}

struct sim *itest_connect(struct itest *t, const struct sim_opts *opts)
{
	struct sim_opts o;
	struct sim *s = NULL;
	int r;

	if (!opts) {
		itest_opts(&o);
		opts = &o;
	}
	r = sim_connect(t->d.socket_path, opts, &s);
	if (r)
		fail_msg("connect %s: %s", t->d.socket_path, strerror(-r));
	return s;
}

void itest_fresh_frontend_ok(struct itest *t)
{
	const struct sim_info *in;
	struct sim *s;
	int r;

	assert_true(sim_daemon_alive(&t->d));
	s = itest_connect(t, NULL);
	r = sim_start(s);
	if (r) {
		sim_close(s);
		fail_msg("fresh frontend: start failed: %s", strerror(-r));
	}
	in = sim_info(s);
	assert_int_equal(in->queue_num, 3);
	assert_int_equal(in->config_guest_cid, ITEST_CID);
	r = sim_stop(s);
	sim_close(s);
	if (r)
		fail_msg("fresh frontend: stop failed: %s", strerror(-r));
	assert_true(sim_daemon_alive(&t->d));
}

void itest_expect_rejected(int r, const char *what)
{
	if (r == -EIO || r == -ECONNRESET || r == -EPIPE)
		return;
	if (r == 0)
		fail_msg("%s: accepted (ack 0), expected a refusal", what);
	fail_msg("%s: expected an error ack or a close, got %s", what, strerror(-r));
}

void itest_expect_error_or_close(struct sim *s, const char *what)
{
	struct vu_msg_header hdr;
	uint64_t v = 0;
	int r;

	r = sim_recv_reply(s, &hdr, &v, sizeof(v), ITEST_TIMEOUT_MS);
	if (r == -ECONNRESET)
		return;
	if (r == (int)sizeof(v) && (hdr.flags & VHOST_USER_REPLY_MASK) && v != 0)
		return;
	if (r < 0)
		fail_msg("%s: expected an error reply or a close, got %s", what, strerror(-r));
	fail_msg("%s: expected an error reply or a close, got a reply to %u of %d bytes (u64 %llu)",
		 what, hdr.request, r, (unsigned long long)v);
}

/* ---- the guest side ---- */

struct sim *itest_start_at(const char *socket_path, uint64_t want_cid)
{
	struct sim_opts o;
	struct sim *s = NULL;
	int r;

	itest_opts(&o);
	r = sim_connect(socket_path, &o, &s);
	if (r)
		fail_msg("connect %s: %s", socket_path, strerror(-r));
	r = sim_start(s);
	if (r) {
		sim_close(s);
		fail_msg("start cid %llu: %s", (unsigned long long)want_cid, strerror(-r));
	}
	assert_int_equal(sim_guest_cid(s), want_cid);
	return s;
}

struct sim *itest_start(struct itest *t, const struct sim_opts *opts)
{
	struct sim *s = itest_connect(t, opts);
	int r = sim_start(s);

	if (r) {
		sim_close(s);
		fail_msg("start: %s", strerror(-r));
	}
	return s;
}

void itest_send_op(struct sim *s, uint32_t src_port, uint32_t dst_port, uint16_t op,
		   uint32_t flags, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(s), ITEST_HOST_CID, src_port,
						  dst_port, op, flags, 0, buf_alloc, fwd_cnt);
	int r = sim_tx_send(s, &h, NULL, 0, 0);

	if (r)
		fail_msg("sending %s %u->%u: %s", sim_op_name(op), src_port, dst_port,
			 strerror(-r));
}

void itest_expect_pkt(struct sim *s, struct sim_pkt *p, int timeout_ms)
{
	int r = sim_rx_poll(s, p, timeout_ms);

	if (r)
		fail_msg("expected an rx packet within %d ms: %s", timeout_ms, strerror(-r));
}

void itest_expect_silence(struct sim *s, int ms, const char *what)
{
	struct sim_pkt *p = sim_pkt_new();
	int r;

	assert_non_null(p);
	r = sim_rx_poll(s, p, ms);
	if (r != -ETIMEDOUT) {
		char got[128];

		snprintf(got, sizeof(got), "%s %u->%u flags %u len %u (poll %d)",
			 sim_op_name(p->op), p->src_port, p->dst_port, p->flags, p->len, r);
		free(p);
		fail_msg("%s: expected no packet within %d ms, got %s", what, ms, got);
	}
	free(p);
}

/* ---- the host side ---- */

int itest_wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do {
		r = poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms);
	} while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : (r == 0 ? -ETIMEDOUT : -errno);
}

int itest_listen_at(const char *uds_path, uint32_t port, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", uds_path, port) >=
	    (int)sizeof(sa.sun_path))
		fail_msg("listener path too long");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, backlog))
		fail_msg("listen on %s: %s", sa.sun_path, strerror(errno));
	return fd;
}

int itest_host_listen(struct itest *t, uint32_t port, int backlog)
{
	return itest_listen_at(t->d.uds_path, port, backlog);
}

int itest_host_accept(int lfd, int timeout_ms)
{
	int fd;

	if (itest_wait_fd(lfd, POLLIN, timeout_ms))
		return -ETIMEDOUT;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int itest_host_dial(struct itest *t)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path, t->d.uds_path, sizeof(sa.sun_path) - 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		fail_msg("connect %s: %s", sa.sun_path, strerror(errno));
	return fd;
}

int itest_host_connect(struct itest *t, const char *handshake)
{
	int fd = itest_host_dial(t);

	assert_int_equal(itest_host_write(fd, handshake, strlen(handshake), ITEST_TIMEOUT_MS), 0);
	return fd;
}

ssize_t itest_host_read(int fd, void *buf, size_t n, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	size_t done = 0;

	while (done < n) {
		int left = (int)(deadline - sim_now_ms());
		ssize_t r;

		if (left <= 0 || itest_wait_fd(fd, POLLIN, left))
			return -ETIMEDOUT;
		r = recv(fd, (uint8_t *)buf + done, n - done, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int itest_host_write(int fd, const void *buf, size_t n, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	size_t done = 0;

	while (done < n) {
		int left = (int)(deadline - sim_now_ms());
		ssize_t r;

		if (left <= 0 || itest_wait_fd(fd, POLLOUT, left))
			return -ETIMEDOUT;
		r = send(fd, (const uint8_t *)buf + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return -errno;
		done += (size_t)r;
	}
	return 0;
}

char *itest_host_read_all(int fd)
{
	size_t cap = 1 << 16, got = 0;
	char *buf = malloc(cap);

	assert_non_null(buf);
	for (;;) {
		ssize_t n;

		if (got + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = itest_host_read(fd, buf + got, cap - 1 - got, ITEST_TIMEOUT_MS);
		if (n == 0)
			break;
		assert_true(n > 0);
		got += (size_t)n;
	}
	buf[got] = '\0';
	return buf;
}

int itest_host_read_line(int fd, char *line, size_t cap, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	size_t n = 0;

	while (n + 1 < cap) {
		int left = (int)(deadline - sim_now_ms());
		ssize_t r = itest_host_read(fd, line + n, 1, left > 0 ? left : 0);

		if (r <= 0) {
			line[n] = 0;
			return r < 0 ? (int)r : 0;
		}
		if (line[n++] == '\n')
			break;
	}
	line[n] = 0;
	return (int)n;
}

int itest_host_wait_closed(int fd, int timeout_ms, size_t *discarded)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	uint8_t buf[16384];

	if (discarded)
		*discarded = 0;
	for (;;) {
		int left = (int)(deadline - sim_now_ms());
		ssize_t r;

		if (left <= 0 || itest_wait_fd(fd, POLLIN, left))
			return -ETIMEDOUT;
		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return 0;
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return -errno;
		if (discarded)
			*discarded += (size_t)r;
	}
}

bool itest_host_closed_now(int fd)
{
	char c;
	ssize_t r = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);

	return r == 0 || (r < 0 && errno == ECONNRESET);
}

static void *pump_thread(void *arg)
{
	struct itest_pump *p = arg;
	int64_t deadline = sim_now_ms() + p->timeout_ms;
	int64_t rx_start = sim_now_ms() + p->rx_delay_ms;
	uint8_t tbuf[32768], rbuf[32768];
	bool shut = false;

	p->result = 0;
	while (p->tx_done < p->tx_len || p->rx_done < p->rx_len || (p->shut_wr && !shut)) {
		struct pollfd pfd = { .fd = p->fd };
		int64_t now = sim_now_ms();
		bool reading = p->rx_done < p->rx_len && now >= rx_start;
		ssize_t r;

		if (now >= deadline) {
			p->result = -ETIMEDOUT;
			break;
		}
		if (p->tx_done == p->tx_len && p->shut_wr && !shut) {
			shutdown(p->fd, SHUT_WR);
			shut = true;
			continue;
		}
		if (p->tx_done < p->tx_len)
			pfd.events |= POLLOUT;
		if (reading)
			pfd.events |= POLLIN;
		r = poll(&pfd, 1, reading || !pfd.events ? 10 : (int)(rx_start - now) + 1);
		if (r < 0 && errno != EINTR) {
			p->result = -errno;
			break;
		}
		if ((pfd.revents & POLLOUT) && p->tx_done < p->tx_len) {
			uint64_t n = p->tx_len - p->tx_done;

			if (n > sizeof(tbuf))
				n = sizeof(tbuf);
			itest_pattern(tbuf, n, p->tx_seed, p->tx_done);
			r = send(p->fd, tbuf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (r < 0 && errno != EAGAIN && errno != EINTR) {
				p->result = -errno;
				break;
			}
			if (r > 0)
				p->tx_done += (uint64_t)r;
		}
		if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) && reading) {
			uint64_t n = p->rx_len - p->rx_done;
			ssize_t bad;

			if (n > sizeof(rbuf))
				n = sizeof(rbuf);
			r = recv(p->fd, rbuf, n, MSG_DONTWAIT);
			if (r == 0) {
				p->rx_eof = true;
				p->result = -EPIPE;
				break;
			}
			if (r < 0 && errno != EAGAIN && errno != EINTR) {
				p->result = -errno;
				break;
			}
			if (r > 0) {
				bad = itest_pattern_check(rbuf, (size_t)r, p->rx_seed, p->rx_done);
				if (bad >= 0) {
					p->rx_bad = (int64_t)(p->rx_done + (uint64_t)bad);
					p->result = -EBADMSG;
					break;
				}
				p->rx_done += (uint64_t)r;
			}
		}
	}
	return NULL;
}

void itest_pump_start(struct itest_pump *p)
{
	int fl = fcntl(p->fd, F_GETFL);

	p->tx_done = p->rx_done = 0;
	p->rx_bad = -1;
	p->rx_eof = false;
	p->result = -EINPROGRESS;
	if (!p->timeout_ms)
		p->timeout_ms = 20000;
	assert_true(fl >= 0);
	assert_int_equal(fcntl(p->fd, F_SETFL, fl | O_NONBLOCK), 0);
	assert_int_equal(pthread_create(&p->th, NULL, pump_thread, p), 0);
}

int itest_pump_join(struct itest_pump *p)
{
	pthread_join(p->th, NULL);
	if (p->result)
		print_message("host pump: %s: sent %llu/%llu, received %llu/%llu%s, first bad "
			    "byte at %lld\n", strerror(-p->result),
			    (unsigned long long)p->tx_done, (unsigned long long)p->tx_len,
			    (unsigned long long)p->rx_done, (unsigned long long)p->rx_len,
			    p->rx_eof ? " (EOF)" : "", (long long)p->rx_bad);
	return p->result;
}

void itest_stream_xfer(struct sim_stream *st, struct itest_xfer *x, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	uint8_t *buf = malloc(SIM_PKT_MAX);

	assert_non_null(buf);
	x->tx_done = x->rx_done = 0;
	x->max_in_flight = 0;
	x->rw_pkts = 0;
	while (x->tx_done < x->tx_len || x->rx_done < x->rx_len) {
		uint32_t in_flight = st->c->rx_cnt - st->c->fwd_cnt_sent;
		bool sent = false;
		int r;

		if (sim_now_ms() >= deadline) {
			free(buf);
			fail_msg("guest transfer timed out: sent %llu/%llu, received %llu/%llu, "
				 "peer credit %u (buf_alloc %u), in flight to us %u",
				 (unsigned long long)x->tx_done, (unsigned long long)x->tx_len,
				 (unsigned long long)x->rx_done, (unsigned long long)x->rx_len,
				 sg_peer_credit(st->c), st->c->peer_buf_alloc, in_flight);
		}
		if (x->tx_done < x->tx_len) {
			uint32_t credit = sg_peer_credit(st->c);

			/* Only what the credit allows, so that sim_stream_send
			 * never waits (and handles packets we would not see). */
			if (credit) {
				uint64_t n = x->tx_len - x->tx_done;

				if (n > credit)
					n = credit;
				if (n > SIM_PKT_MAX)
					n = SIM_PKT_MAX;
				itest_pattern(buf, n, x->tx_seed, x->tx_base + x->tx_done);
				r = sim_stream_send(st, buf, n, ITEST_TIMEOUT_MS);
				if (r) {
					free(buf);
					fail_msg("guest send: %s", strerror(-r));
				}
				x->tx_done += n;
				sent = true;
			}
		}
		r = sim_stream_poll(st, sent ? 0 : 10);
		if (r < 0) {
			free(buf);
			fail_msg("guest poll: %s", strerror(-r));
		}
		if (st->c->reset) {
			free(buf);
			fail_msg("connection reset by the device: sent %llu, received %llu",
				 (unsigned long long)x->tx_done, (unsigned long long)x->rx_done);
		}
		in_flight = st->c->rx_cnt - st->c->fwd_cnt_sent;
		if (r == 1 && st->pkt->op == VIRTIO_VSOCK_OP_RW) {
			x->rw_pkts++;
			if (in_flight > x->max_in_flight)
				x->max_in_flight = in_flight;
			if (x->window && in_flight > x->window) {
				free(buf);
				fail_msg("device exceeded the credit: %u bytes beyond the last "
					 "fwd_cnt we sent (%u), window %u", in_flight,
					 st->c->fwd_cnt_sent, x->window);
			}
		}
		/* Holding, consume only after 10 ms of quiet: whatever the device
		 * sent under the old credit has arrived by then, so the check
		 * above judged every packet by the credit it was sent under. */
		if (st->rxq_len && (!x->hold || (r == 0 && !sent))) {
			ssize_t n = sim_stream_recv(st, buf, SIM_PKT_MAX, 0);
			uint64_t pos;
			ssize_t bad;

			if (n <= 0) {
				free(buf);
				fail_msg("guest recv: %zd", n);
			}
			if ((uint64_t)n > x->rx_len - x->rx_done) {
				free(buf);
				fail_msg("guest received %llu bytes, more than the %llu expected",
					 (unsigned long long)(x->rx_done + (uint64_t)n),
					 (unsigned long long)x->rx_len);
			}
			pos = x->rx_base + x->rx_done;
			bad = itest_pattern_check(buf, (size_t)n, x->rx_seed, pos);
			if (bad >= 0) {
				free(buf);
				fail_msg("guest received a wrong byte at stream offset %llu",
					 (unsigned long long)(pos + (uint64_t)bad));
			}
			x->rx_done += (uint64_t)n;
		}
	}
	free(buf);
}

/* ---- data, processes, limits ---- */

uint8_t itest_pattern_byte(uint32_t seed, uint64_t pos)
{
	/* splitmix64 of (seed, pos): no period a stream could hide in. */
	uint64_t x = (pos + 1) * 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed << 32 | seed);

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return (uint8_t)x;
}

void itest_pattern(void *buf, size_t n, uint32_t seed, uint64_t pos)
{
	uint8_t *b = buf;

	for (size_t i = 0; i < n; i++)
		b[i] = itest_pattern_byte(seed, pos + i);
}

ssize_t itest_pattern_check(const void *buf, size_t n, uint32_t seed, uint64_t pos)
{
	const uint8_t *b = buf;

	for (size_t i = 0; i < n; i++)
		if (b[i] != itest_pattern_byte(seed, pos + i))
			return (ssize_t)i;
	return -1;
}

static int read_proc(pid_t pid, const char *what, char *buf, size_t cap)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

int itest_proc_cpu_ms(pid_t pid, uint64_t *ms)
{
	unsigned long long ut, st;
	char buf[1024], *p;
	long hz = sysconf(_SC_CLK_TCK);
	int r = read_proc(pid, "stat", buf, sizeof(buf));

	if (r)
		return r;
	/* comm may hold spaces and parentheses: fields restart after the
	 * last ')'. utime and stime are fields 14 and 15. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return -EPROTO;
	*ms = (ut + st) * 1000ull / (unsigned long long)(hz > 0 ? hz : 100);
	return 0;
}

int itest_proc_rss_kib(pid_t pid, uint64_t *kib)
{
	char buf[4096], *p;
	unsigned long long v;
	int r = read_proc(pid, "status", buf, sizeof(buf));

	if (r)
		return r;
	p = strstr(buf, "VmRSS:");
	if (!p || sscanf(p + 6, "%llu", &v) != 1)
		return -EPROTO;
	*kib = v;
	return 0;
}

bool itest_log_contains(const struct itest *t, const char *needle)
{
	return itest_log_count(t, needle) > 0;
}

unsigned itest_log_count(const struct itest *t, const char *needle)
{
	FILE *f = fopen(t->d.log_path, "r");
	char line[1024];
	unsigned n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

rlim_t itest_raise_nofile(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	if (rl.rlim_cur >= want)
		return rl.rlim_cur;
	/* A hard limit below want can still be raised with CAP_SYS_RESOURCE
	 * (CI runs as root): try that first, so that a low hard limit does not
	 * turn a test into a skip where it need not. */
	if (rl.rlim_max < want) {
		struct rlimit up = { .rlim_cur = want, .rlim_max = want };

		if (!setrlimit(RLIMIT_NOFILE, &up))
			return want;
	}
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		getrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_cur;
}

/* What itest_write_marker puts in a file: a test can tell it is the same. */
static const char marker[] = "precious data that is not a socket\n";

void itest_write_marker(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, marker, sizeof(marker) - 1), (ssize_t)sizeof(marker) - 1);
	close(fd);
}

void itest_assert_marker_intact(const char *path)
{
	char buf[sizeof(marker) + 16];
	struct stat st;
	ssize_t n;
	int fd;

	if (lstat(path, &st))
		fail_msg("%s is gone: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		fail_msg("%s is no longer a regular file (mode 0%o)", path, st.st_mode);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, (ssize_t)sizeof(marker) - 1);
	assert_memory_equal(buf, marker, sizeof(marker) - 1);
}
