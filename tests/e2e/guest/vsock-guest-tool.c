// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
/*
 * vsock-guest-tool: the e2e tests' hands on both sides of the device.
 *
 * In the guest (AF_VSOCK):
 *   cid                              print "CID <n>" (IOCTL_VM_SOCKETS_GET_LOCAL_CID)
 *   listen PORT [xfer options]       accept one stream connection, then transfer
 *   connect CID PORT [xfer options] [--to-host]
 * On the host (AF_UNIX, hybrid vsock as the daemon's --uds-path speaks it):
 *   uds-connect UDS_PATH PORT [xfer options]   "CONNECT PORT\n" -> "OK <n>\n", transfer
 *   uds-listen PATH [xfer options]             accept one connection on PATH
 *                                              (i.e. <uds_path>_<port>), transfer
 * Anywhere:
 *   idle PROGRAM [ARGS...]           run PROGRAM under SCHED_IDLE (see cmd_idle)
 *   gen N [--seed S]                 write the N-byte payload to stdout
 *   sum [--seed S]                   read stdin to EOF, print "SUM <bytes> <checksum>"
 *
 * Transfer options:
 *   --send-bytes N     send N bytes of the deterministic payload, then SHUT_WR
 *   --expect-bytes N   stop reading after N bytes (without waiting for EOF) and
 *                      fail if EOF comes first; without it, read until EOF
 *   --seed S           payload seed (default 1); both ends must agree
 *   --timeout-ms T     bound on the whole command (default 10000)
 *   --read-delay-ms D  read nothing for the first D ms (a host application
 *                      that stops reading: the sender must be throttled)
 *
 * SOCK_SEQPACKET (--seqpacket; listen, connect, uds-connect, uds-listen):
 *   the socket is SOCK_SEQPACKET; uds-connect connects to UDS_PATH_seqpacket
 *   and sends "CONNECT PORT\n" as one message, "OK <n>\n" comes back as one.
 *   Messages replace the byte stream (no half-close):
 *   --msgs SPEC        send these messages, SPEC = SIZE[e][xCOUNT],... (e: with
 *                      MSG_EOR; xCOUNT: COUNT such messages), contents the
 *                      next SIZE bytes of the payload of --seed
 *   --expect-msgs N    stop after N messages (fail at EOF before); without it,
 *                      receive until EOF or a reset
 *   --rcvbuf N         SO_VM_SOCKETS_BUFFER_SIZE (AF_VSOCK), before connect/listen
 *   Every recv() must return one whole message (MSG_TRUNC is a failure).
 *
 * Output lines (stdout, flushed at once; scripts grep for them):
 *   LISTENING <port>, ACCEPTED <cid-or-0> <port>, CONNECTED <ms>,
 *   SENT <bytes> <checksum>, RECV <bytes> <checksum>, REFUSED <ms>, TIMEOUT <what>
 * and with --seqpacket, instead of SENT/RECV:
 *   SMSG <n> <size> <checksum> <E|->   message n (from 1) sent, E: with MSG_EOR
 *   RMSG <n> <size> <checksum> <E|->   message n received, E: MSG_EOR set
 *   SMSGS <count> <bytes>              all sent
 *   RMSGS <count> <bytes> <DONE|EOF|RESET>  receiving ended (N reached, EOF,
 *                                      ECONNRESET)
 * <checksum> is FNV-1a 64 over the bytes, 16 hex digits.
 * Errors go to stderr as "vsock-guest-tool: <what>: <reason>".
 *
 * Exit status: 0 ok, 1 failure, 2 usage, 3 connection refused/reset (connect).
 * Every wait is bounded by --timeout-ms (poll), so a stuck device cannot hang a
 * guest forever.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#ifndef VMADDR_FLAG_TO_HOST
#define VMADDR_FLAG_TO_HOST 0x01
#endif

#define EXIT_USAGE 2
#define EXIT_REFUSED 3
#define IO_CHUNK (64 * 1024)
#define SEQ_MAX_MSGS 1024
#define SEQ_RBUF (512 * 1024) /* larger than any message a peer may send */

static const char *prog = "vsock-guest-tool";

/* ------------------------------------------------------------------ */
/* time */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline, clamped to [0, INT_MAX] for poll(). */
static int ms_left(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	if (left < 0)
		return 0;
	if (left > INT_MAX)
		return INT_MAX;
	return (int)left;
}

/* ------------------------------------------------------------------ */
/* output */

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void err(const char *what, int errnum)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errnum));
}

static void errmsg(const char *what)
{
	fprintf(stderr, "%s: %s\n", prog, what);
}

/* ------------------------------------------------------------------ */
/* payload and checksum */

/*
 * The payload is a stream of xorshift64* outputs, little-endian, so any
 * prefix of it is the same whatever the chunking; both ends can regenerate
 * it from (seed, length) alone.
 */
struct gen {
	uint64_t state;
	uint8_t buf[8];
	unsigned int used; /* bytes of buf already handed out */
};

static void gen_init(struct gen *g, uint64_t seed)
{
	/* splitmix64 so that small seeds give unrelated streams; never 0 */
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	g->state = z ? z : 0x2545f4914f6cdd1dULL;
	g->used = sizeof(g->buf);
}

static void gen_fill(struct gen *g, uint8_t *p, size_t n)
{
	while (n) {
		if (g->used == sizeof(g->buf)) {
			uint64_t x = g->state;

			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
			g->state = x;
			x *= 0x2545f4914f6cdd1dULL;
			for (unsigned int i = 0; i < 8; i++)
				g->buf[i] = (uint8_t)(x >> (8 * i));
			g->used = 0;
		}
		*p++ = g->buf[g->used++];
		n--;
	}
}

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv_update(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* ------------------------------------------------------------------ */
/* options */

struct opts {
	uint64_t send_bytes;
	uint64_t expect_bytes;
	bool have_expect;
	uint64_t seed;
	int timeout_ms;
	int read_delay_ms;
	bool to_host;
	/* --seqpacket */
	bool seqpacket;
	unsigned int nmsgs;
	uint32_t msg_size[SEQ_MAX_MSGS];
	bool msg_eor[SEQ_MAX_MSGS];
	uint64_t expect_msgs;
	bool have_expect_msgs;
	uint64_t rcvbuf;
};

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*v = x;
	return 0;
}

static int parse_u32(const char *s, uint32_t *v)
{
	uint64_t x;

	if (parse_u64(s, &x) < 0 || x > UINT32_MAX)
		return -EINVAL;
	*v = (uint32_t)x;
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: %s cid\n"
		"       %s listen PORT [OPTS]\n"
		"       %s connect CID PORT [OPTS] [--to-host]\n"
		"       %s uds-connect UDS_PATH PORT [OPTS]\n"
		"       %s uds-listen PATH [OPTS]\n"
		"       %s gen N [--seed S]\n"
		"       %s sum\n"
		"OPTS: --send-bytes N --expect-bytes N --seed S --timeout-ms T\n"
		"      --seqpacket [--msgs SIZE[e][xCOUNT],...] [--expect-msgs N] [--rcvbuf N]\n",
		prog, prog, prog, prog, prog, prog, prog);
}

/* --msgs SPEC: SIZE[e][xCOUNT],... into o; 0 or -EINVAL. */
static int parse_msgs(const char *spec, struct opts *o)
{
	const char *p = spec;

	if (!p || !*p)
		return -EINVAL;
	o->nmsgs = 0;
	for (;;) {
		char *end;
		unsigned long long size, count = 1;
		bool eor = false;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		size = strtoull(p, &end, 10);
		p = end;
		if (*p == 'e') {
			eor = true;
			p++;
		}
		if (*p == 'x') {
			p++;
			if (*p < '0' || *p > '9')
				return -EINVAL;
			count = strtoull(p, &end, 10);
			p = end;
		}
		if (size == 0 || size > SEQ_RBUF - 1 || count > SEQ_MAX_MSGS - o->nmsgs)
			return -EINVAL;
		while (count--) {
			o->msg_size[o->nmsgs] = (uint32_t)size;
			o->msg_eor[o->nmsgs] = eor;
			o->nmsgs++;
		}
		if (!*p)
			return 0;
		if (*p++ != ',')
			return -EINVAL;
	}
}

/* Parses argv[i..] as options; returns 0 or -EINVAL after printing why. */
static int parse_opts(int argc, char **argv, int i, struct opts *o, bool allow_to_host)
{
	memset(o, 0, sizeof(*o));
	o->seed = 1;
	o->timeout_ms = 10000;

	for (; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t x;

		if (!strcmp(a, "--to-host") && allow_to_host) {
			o->to_host = true;
			continue;
		}
		if (!strcmp(a, "--seqpacket")) {
			o->seqpacket = true;
			continue;
		}
		if (!strcmp(a, "--msgs")) {
			if (parse_msgs(v, o) < 0) {
				fprintf(stderr, "%s: --msgs: invalid spec '%s'\n", prog,
					v ? v : "(missing)");
				return -EINVAL;
			}
			i++;
			continue;
		}
		if (!strcmp(a, "--expect-msgs") || !strcmp(a, "--rcvbuf")) {
			if (parse_u64(v, &x) < 0) {
				fprintf(stderr, "%s: %s: invalid value '%s'\n", prog, a,
					v ? v : "(missing)");
				return -EINVAL;
			}
			i++;
			if (!strcmp(a, "--rcvbuf")) {
				o->rcvbuf = x;
			} else {
				o->expect_msgs = x;
				o->have_expect_msgs = true;
			}
			continue;
		}
		if (!strcmp(a, "--send-bytes") || !strcmp(a, "--expect-bytes") ||
		    !strcmp(a, "--seed") || !strcmp(a, "--timeout-ms") ||
		    !strcmp(a, "--read-delay-ms")) {
			if (parse_u64(v, &x) < 0) {
				fprintf(stderr, "%s: %s: invalid value '%s'\n", prog, a,
					v ? v : "(missing)");
				return -EINVAL;
			}
			i++;
			if (!strcmp(a, "--send-bytes")) {
				o->send_bytes = x;
			} else if (!strcmp(a, "--expect-bytes")) {
				o->expect_bytes = x;
				o->have_expect = true;
			} else if (!strcmp(a, "--seed")) {
				o->seed = x;
			} else if (!strcmp(a, "--read-delay-ms")) {
				if (x > INT_MAX) {
					fprintf(stderr, "%s: --read-delay-ms: must be 0..%d\n",
						prog, INT_MAX);
					return -EINVAL;
				}
				o->read_delay_ms = (int)x;
			} else {
				if (x == 0 || x > INT_MAX) {
					fprintf(stderr, "%s: --timeout-ms: must be 1..%d\n", prog,
						INT_MAX);
					return -EINVAL;
				}
				o->timeout_ms = (int)x;
			}
			continue;
		}
		fprintf(stderr, "%s: unknown option '%s'\n", prog, a);
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* fd helpers */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* Waits for events on fd until deadline; returns revents, 0 on timeout, -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, ms_left(deadline));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return 0;
		return p.revents;
	}
}

/*
 * Sends opts->send_bytes of payload and receives at the same time (so that
 * two peers sending large amounts cannot deadlock on full buffers), until
 * both directions are done or the deadline passes.
 */
static int transfer(int fd, const struct opts *o, int64_t deadline)
{
	static uint8_t sbuf[IO_CHUNK], rbuf[IO_CHUNK];
	struct gen g;
	uint64_t sent = 0, recvd = 0;
	uint64_t sh = FNV_OFFSET, rh = FNV_OFFSET;
	size_t spos = 0, slen = 0;
	bool send_done = o->send_bytes == 0;
	bool recv_done = o->have_expect && o->expect_bytes == 0;
	int64_t read_at = now_ms() + o->read_delay_ms;
	int r;

	gen_init(&g, o->seed);
	r = set_nonblock(fd);
	if (r < 0) {
		err("fcntl O_NONBLOCK", -r);
		return -1;
	}
	if (send_done && shutdown(fd, SHUT_WR) < 0) {
		err("shutdown(SHUT_WR)", errno);
		return -1;
	}

	while (!send_done || !recv_done) {
		struct pollfd p = { .fd = fd, .events = 0 };
		int wait = ms_left(deadline);
		bool delaying = !recv_done && now_ms() < read_at;

		if (!send_done)
			p.events |= POLLOUT;
		if (!recv_done && !delaying)
			p.events |= POLLIN;
		if (delaying && ms_left(read_at) < wait)
			wait = ms_left(read_at);
		r = poll(&p, 1, wait);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err("poll", errno);
			return -1;
		}
		if (r == 0 && delaying && ms_left(deadline) > 0)
			continue;
		if (r == 0) {
			out("TIMEOUT transfer sent=%" PRIu64 " recv=%" PRIu64 "\n", sent,
			    recvd);
			return -1;
		}

		if (!recv_done && !delaying && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
			size_t want = sizeof(rbuf);
			ssize_t n;

			if (o->have_expect && o->expect_bytes - recvd < want)
				want = (size_t)(o->expect_bytes - recvd);
			n = recv(fd, rbuf, want, 0);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				err("recv", errno);
				return -1;
			}
			if (n == 0) {
				if (o->have_expect) {
					fprintf(stderr,
						"%s: recv: EOF after %" PRIu64
						" of %" PRIu64 " expected bytes\n",
						prog, recvd, o->expect_bytes);
					out("RECV %" PRIu64 " %016" PRIx64 "\n", recvd, rh);
					return -1;
				}
				recv_done = true;
			} else if (n > 0) {
				rh = fnv_update(rh, rbuf, (size_t)n);
				recvd += (uint64_t)n;
				if (o->have_expect && recvd == o->expect_bytes)
					recv_done = true;
			}
		}

		if (!send_done && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t n;

			if (spos == slen) {
				uint64_t left = o->send_bytes - sent;

				slen = left < sizeof(sbuf) ? (size_t)left : sizeof(sbuf);
				gen_fill(&g, sbuf, slen);
				spos = 0;
			}
			n = send(fd, sbuf + spos, slen - spos, MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				err("send", errno);
				return -1;
			}
			if (n > 0) {
				sh = fnv_update(sh, sbuf + spos, (size_t)n);
				spos += (size_t)n;
				sent += (uint64_t)n;
				if (sent == o->send_bytes) {
					send_done = true;
					if (shutdown(fd, SHUT_WR) < 0 && errno != ENOTCONN) {
						err("shutdown(SHUT_WR)", errno);
						return -1;
					}
				}
			}
		}
	}

	out("SENT %" PRIu64 " %016" PRIx64 "\n", sent, sh);
	out("RECV %" PRIu64 " %016" PRIx64 "\n", recvd, rh);
	return 0;
}

/* Sets SO_SNDTIMEO to what is left until deadline (at least 1 ms). */
static void set_sndtimeo(int fd, int64_t deadline)
{
	int ms = ms_left(deadline);
	struct timeval tv;

	if (ms < 1)
		ms = 1;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/*
 * SEQPACKET: sends the messages of o (each in one blocking send() bounded
 * by SO_SNDTIMEO: a non-blocking vsock send may stop in the middle of a
 * message) while receiving whole messages with MSG_DONTWAIT, until both
 * are done or the deadline passes.
 */
static int transfer_seq(int fd, const struct opts *o, int64_t deadline)
{
	static uint8_t sbuf[SEQ_RBUF], rbuf[SEQ_RBUF];
	struct gen g;
	unsigned int si = 0;
	uint64_t sbytes = 0, rn = 0, rbytes = 0;
	bool send_done = o->nmsgs == 0;
	bool recv_done = o->have_expect_msgs && o->expect_msgs == 0;
	const char *how = "DONE";
	int r, rc = 0;

	gen_init(&g, o->seed);
	r = fcntl(fd, F_GETFL);
	if (r < 0 || fcntl(fd, F_SETFL, r & ~O_NONBLOCK) < 0) {
		err("fcntl ~O_NONBLOCK", errno);
		return -1;
	}
	while (!send_done || !recv_done) {
		struct pollfd p = { .fd = fd, .events = 0 };

		if (!send_done)
			p.events |= POLLOUT;
		if (!recv_done)
			p.events |= POLLIN;
		r = poll(&p, 1, ms_left(deadline));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err("poll", errno);
			return -1;
		}
		if (r == 0) {
			out("TIMEOUT transfer sent=%u recv=%" PRIu64 "\n", si, rn);
			return -1;
		}

		if (!recv_done && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
			struct iovec iov = { .iov_base = rbuf, .iov_len = sizeof(rbuf) };
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
			ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

			if (n < 0 && errno == ECONNRESET) {
				how = "RESET";
				recv_done = true;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				err("recv", errno);
				return -1;
			} else if (n == 0) {
				how = "EOF";
				recv_done = true;
			} else if (n > 0) {
				rn++;
				rbytes += (uint64_t)n;
				out("RMSG %" PRIu64 " %zd %016" PRIx64 " %s\n", rn, n,
				    fnv_update(FNV_OFFSET, rbuf, (size_t)n),
				    (mh.msg_flags & MSG_EOR) ? "E" : "-");
				if (mh.msg_flags & MSG_TRUNC) {
					fprintf(stderr, "%s: recv: message %" PRIu64
						" truncated (MSG_TRUNC)\n", prog, rn);
					rc = -1;
				}
				if (o->have_expect_msgs && rn == o->expect_msgs)
					recv_done = true;
			}
			if (recv_done && o->have_expect_msgs && rn < o->expect_msgs) {
				fprintf(stderr, "%s: recv: %s after %" PRIu64 " of %" PRIu64
					" expected messages\n", prog, how, rn, o->expect_msgs);
				rc = -1;
			}
		}

		if (!send_done && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
			size_t len = o->msg_size[si];
			ssize_t n;

			gen_fill(&g, sbuf, len);
			set_sndtimeo(fd, deadline);
			n = send(fd, sbuf, len, MSG_NOSIGNAL | (o->msg_eor[si] ? MSG_EOR : 0));
			if (n < 0) {
				err("send", errno);
				out("SMSGS %u %" PRIu64 "\n", si, sbytes);
				return -1;
			}
			if ((size_t)n != len) {
				fprintf(stderr, "%s: send: message %u: %zd of %zu bytes\n",
					prog, si + 1, n, len);
				return -1;
			}
			si++;
			sbytes += len;
			out("SMSG %u %zu %016" PRIx64 " %s\n", si, len,
			    fnv_update(FNV_OFFSET, sbuf, len), o->msg_eor[si - 1] ? "E" : "-");
			if (si == o->nmsgs)
				send_done = true;
		}
	}
	out("SMSGS %u %" PRIu64 "\n", si, sbytes);
	out("RMSGS %" PRIu64 " %" PRIu64 " %s\n", rn, rbytes, how);
	return rc;
}

/* transfer or transfer_seq, as o says. */
static int xfer(int fd, const struct opts *o, int64_t deadline)
{
	if (o->seqpacket)
		return transfer_seq(fd, o, deadline);
	return transfer(fd, o, deadline);
}

/* SO_VM_SOCKETS_BUFFER_SIZE from --rcvbuf, if given; 0 or -1. */
static int set_rcvbuf(int fd, const struct opts *o)
{
	unsigned long long v = o->rcvbuf;

	if (!o->rcvbuf)
		return 0;
	if (setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &v, sizeof(v)) < 0) {
		err("setsockopt(SO_VM_SOCKETS_BUFFER_SIZE)", errno);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* subcommands */

static int cmd_cid(void)
{
	unsigned int cid = 0;
	int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		err("open /dev/vsock", errno);
		return 1;
	}
	if (ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) < 0) {
		err("ioctl IOCTL_VM_SOCKETS_GET_LOCAL_CID", errno);
		close(fd);
		return 1;
	}
	close(fd);
	out("CID %u\n", cid);
	return 0;
}

static int cmd_listen(uint32_t port, const struct opts *o)
{
	int64_t deadline = now_ms() + o->timeout_ms;
	struct sockaddr_vm sa = { 0 };
	struct sockaddr_vm peer = { 0 };
	socklen_t plen = sizeof(peer);
	int lfd, fd, r, rc = 1;

	lfd = socket(AF_VSOCK, (o->seqpacket ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		err("socket(AF_VSOCK)", errno);
		return 1;
	}
	if (set_rcvbuf(lfd, o) < 0)
		goto out_lfd;
	sa.svm_family = AF_VSOCK;
	sa.svm_cid = VMADDR_CID_ANY;
	sa.svm_port = port;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err("bind", errno);
		goto out_lfd;
	}
	if (listen(lfd, 16) < 0) {
		err("listen", errno);
		goto out_lfd;
	}
	out("LISTENING %u\n", port);

	r = wait_fd(lfd, POLLIN, deadline);
	if (r < 0) {
		err("poll(listen)", -r);
		goto out_lfd;
	}
	if (r == 0) {
		out("TIMEOUT accept\n");
		goto out_lfd;
	}
	fd = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
	if (fd < 0) {
		err("accept", errno);
		goto out_lfd;
	}
	out("ACCEPTED %u %u\n", peer.svm_cid, peer.svm_port);
	rc = xfer(fd, o, deadline) < 0 ? 1 : 0;
	close(fd);
out_lfd:
	close(lfd);
	return rc;
}

/*
 * Non-blocking connect bounded by the deadline; returns the connected fd,
 * -ECONNREFUSED/-ECONNRESET (printed as REFUSED), -ETIMEDOUT or another -errno.
 */
static int connect_bounded(int fd, const struct sockaddr *sa, socklen_t len, int64_t deadline,
			   int64_t start)
{
	int r, soerr = 0;
	socklen_t elen = sizeof(soerr);

	r = set_nonblock(fd);
	if (r < 0)
		return r;
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR && errno != EAGAIN) {
		r = -errno;
		goto fail;
	}
	r = wait_fd(fd, POLLOUT, deadline);
	if (r < 0)
		return r;
	if (r == 0) {
		out("TIMEOUT connect %" PRId64 "\n", now_ms() - start);
		return -ETIMEDOUT;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0)
		return -errno;
	if (soerr == 0)
		return 0;
	r = -soerr;
fail:
	if (r == -ECONNREFUSED || r == -ECONNRESET)
		out("REFUSED %" PRId64 "\n", now_ms() - start);
	return r;
}

static int connect_result(int r, const char *what)
{
	if (r == -ECONNREFUSED || r == -ECONNRESET)
		return EXIT_REFUSED;
	if (r != -ETIMEDOUT)
		err(what, -r);
	return 1;
}

static int cmd_connect(uint32_t cid, uint32_t port, const struct opts *o)
{
	int64_t start = now_ms();
	int64_t deadline = start + o->timeout_ms;
	struct sockaddr_vm sa = { 0 };
	struct timeval tv;
	int fd, r, rc;

	fd = socket(AF_VSOCK, (o->seqpacket ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err("socket(AF_VSOCK)", errno);
		return 1;
	}
	if (set_rcvbuf(fd, o) < 0) {
		close(fd);
		return 1;
	}
	/* the kernel's own connect timer (2 s default) must not fire first */
	tv.tv_sec = o->timeout_ms / 1000;
	tv.tv_usec = (o->timeout_ms % 1000) * 1000;
	if (setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv)) < 0)
		err("setsockopt(SO_VM_SOCKETS_CONNECT_TIMEOUT) (ignored)", errno);

	sa.svm_family = AF_VSOCK;
	sa.svm_cid = cid;
	sa.svm_port = port;
	if (o->to_host)
		sa.svm_flags = VMADDR_FLAG_TO_HOST;
	r = connect_bounded(fd, (struct sockaddr *)&sa, sizeof(sa), deadline, start);
	if (r < 0) {
		rc = connect_result(r, "connect");
		close(fd);
		return rc;
	}
	out("CONNECTED %" PRId64 "\n", now_ms() - start);
	rc = xfer(fd, o, deadline) < 0 ? 1 : 0;
	close(fd);
	return rc;
}

static int fill_sun(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		fprintf(stderr, "%s: %s: path longer than %zu bytes\n", prog, path,
			sizeof(sun->sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

/* Reads one '\n'-terminated line (without it) byte by byte, bounded. */
static int read_line(int fd, char *buf, size_t size, int64_t deadline)
{
	size_t n = 0;

	for (;;) {
		ssize_t r;
		int w = wait_fd(fd, POLLIN, deadline);

		if (w < 0)
			return w;
		if (w == 0)
			return -ETIMEDOUT;
		r = read(fd, buf + n, 1);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ECONNRESET;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 0;
		}
		if (++n == size - 1)
			return -EMSGSIZE;
	}
}

/* SEQPACKET: the next message, which must be one '\n'-terminated line. */
static int read_msg_line(int fd, char *buf, size_t size, int64_t deadline)
{
	for (;;) {
		ssize_t r;
		int w = wait_fd(fd, POLLIN, deadline);

		if (w < 0)
			return w;
		if (w == 0)
			return -ETIMEDOUT;
		r = recv(fd, buf, size - 1, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ECONNRESET;
		if (buf[r - 1] != '\n')
			return -EBADMSG;
		buf[r - 1] = '\0';
		return 0;
	}
}

static int cmd_uds_connect(const char *path, uint32_t port, const struct opts *o)
{
	int64_t start = now_ms();
	int64_t deadline = start + o->timeout_ms;
	struct sockaddr_un sun;
	char line[64], spath[sizeof(sun.sun_path) + 16];
	int fd, r, rc = 1;
	size_t off = 0, len;

	if (o->seqpacket) {
		snprintf(spath, sizeof(spath), "%s_seqpacket", path);
		path = spath;
	}
	if (fill_sun(&sun, path) < 0)
		return 1;
	fd = socket(AF_UNIX, (o->seqpacket ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err("socket(AF_UNIX)", errno);
		return 1;
	}
	r = connect_bounded(fd, (struct sockaddr *)&sun, sizeof(sun), deadline, start);
	if (r < 0) {
		rc = connect_result(r, path);
		goto out;
	}
	len = (size_t)snprintf(line, sizeof(line), "CONNECT %u\n", port);
	while (off < len) {
		ssize_t n;
		int w = wait_fd(fd, POLLOUT, deadline);

		if (w <= 0) {
			out("TIMEOUT handshake-send\n");
			goto out;
		}
		n = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			err("send CONNECT", errno);
			goto out;
		}
		off += (size_t)n;
	}
	if (o->seqpacket)
		r = read_msg_line(fd, line, sizeof(line), deadline);
	else
		r = read_line(fd, line, sizeof(line), deadline);
	if (r == -ECONNRESET) {
		/* the daemon closes the socket when the guest refuses */
		out("REFUSED %" PRId64 "\n", now_ms() - start);
		rc = EXIT_REFUSED;
		goto out;
	}
	if (r == -ETIMEDOUT) {
		out("TIMEOUT handshake\n");
		goto out;
	}
	if (r < 0) {
		err("reading OK line", -r);
		goto out;
	}
	if (strncmp(line, "OK ", 3) != 0) {
		fprintf(stderr, "%s: unexpected handshake reply '%s'\n", prog, line);
		goto out;
	}
	out("CONNECTED %" PRId64 " %s\n", now_ms() - start, line + 3);
	rc = xfer(fd, o, deadline) < 0 ? 1 : 0;
out:
	close(fd);
	return rc;
}

static int cmd_uds_listen(const char *path, const struct opts *o)
{
	int64_t deadline = now_ms() + o->timeout_ms;
	struct sockaddr_un sun;
	int lfd, fd, r, rc = 1;

	if (fill_sun(&sun, path) < 0)
		return 1;
	lfd = socket(AF_UNIX, (o->seqpacket ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		err("socket(AF_UNIX)", errno);
		return 1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		err("unlink stale socket", errno);
		goto out_lfd;
	}
	if (bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		err("bind", errno);
		goto out_lfd;
	}
	if (listen(lfd, 16) < 0) {
		err("listen", errno);
		goto out_unlink;
	}
	out("LISTENING %s\n", path);
	r = wait_fd(lfd, POLLIN, deadline);
	if (r < 0) {
		err("poll(listen)", -r);
		goto out_unlink;
	}
	if (r == 0) {
		out("TIMEOUT accept\n");
		goto out_unlink;
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		err("accept", errno);
		goto out_unlink;
	}
	out("ACCEPTED 0 0\n");
	rc = xfer(fd, o, deadline) < 0 ? 1 : 0;
	close(fd);
out_unlink:
	unlink(path);
out_lfd:
	close(lfd);
	return rc;
}

static int cmd_gen(uint64_t n, uint64_t seed)
{
	static uint8_t buf[IO_CHUNK];
	struct gen g;

	gen_init(&g, seed);
	while (n) {
		size_t len = n < sizeof(buf) ? (size_t)n : sizeof(buf);
		size_t off = 0;

		gen_fill(&g, buf, len);
		while (off < len) {
			ssize_t w = write(STDOUT_FILENO, buf + off, len - off);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				err("write", errno);
				return 1;
			}
			off += (size_t)w;
		}
		n -= len;
	}
	return 0;
}

static int cmd_sum(void)
{
	static uint8_t buf[IO_CHUNK];
	uint64_t h = FNV_OFFSET, total = 0;

	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err("read", errno);
			return 1;
		}
		if (n == 0)
			break;
		h = fnv_update(h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	out("SUM %" PRIu64 " %016" PRIx64 "\n", total, h);
	return 0;
}

/*
 * The kernel's vsock suites signal "I did X" over a TCP control channel and
 * assume the peer's kernel has already handled the vsock packets that X sent
 * (e.g. SHUT_RD: the client's send() must fail once "SHUTRDDONE" arrived).
 * In a one-vCPU guest, the packet waits for the virtio-vsock rx worker while
 * the woken test program may run first. A SCHED_IDLE program runs only when
 * no ordinary task (such as that worker) is runnable, as if the worker had a
 * CPU of its own.
 */
static int cmd_idle(char **argv)
{
	struct sched_param sp = { .sched_priority = 0 };

	if (sched_setscheduler(0, SCHED_IDLE, &sp) < 0) {
		err("idle: sched_setscheduler(SCHED_IDLE)", errno);
		return EXIT_FAILURE;
	}
	execvp(argv[0], argv);
	err("idle: exec", errno);
	return EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	struct opts o;
	uint32_t cid, port;
	uint64_t n;
	const char *cmd;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage();
		return EXIT_USAGE;
	}
	cmd = argv[1];

	if (!strcmp(cmd, "cid") && argc == 2)
		return cmd_cid();
	if (!strcmp(cmd, "idle") && argc >= 3)
		return cmd_idle(argv + 2);
	if (!strcmp(cmd, "sum") && argc == 2)
		return cmd_sum();
	if (!strcmp(cmd, "gen") && argc >= 3) {
		if (parse_u64(argv[2], &n) < 0) {
			errmsg("gen: N must be a non-negative integer");
			return EXIT_USAGE;
		}
		if (parse_opts(argc, argv, 3, &o, false) < 0)
			return EXIT_USAGE;
		return cmd_gen(n, o.seed);
	}
	if (!strcmp(cmd, "listen") && argc >= 3) {
		if (parse_u32(argv[2], &port) < 0) {
			errmsg("listen: PORT must be a 32-bit unsigned integer");
			return EXIT_USAGE;
		}
		if (parse_opts(argc, argv, 3, &o, false) < 0)
			return EXIT_USAGE;
		return cmd_listen(port, &o);
	}
	if (!strcmp(cmd, "connect") && argc >= 4) {
		if (parse_u32(argv[2], &cid) < 0 || parse_u32(argv[3], &port) < 0) {
			errmsg("connect: CID and PORT must be 32-bit unsigned integers");
			return EXIT_USAGE;
		}
		if (parse_opts(argc, argv, 4, &o, true) < 0)
			return EXIT_USAGE;
		return cmd_connect(cid, port, &o);
	}
	if (!strcmp(cmd, "uds-connect") && argc >= 4) {
		if (parse_u32(argv[3], &port) < 0) {
			errmsg("uds-connect: PORT must be a 32-bit unsigned integer");
			return EXIT_USAGE;
		}
		if (parse_opts(argc, argv, 4, &o, false) < 0)
			return EXIT_USAGE;
		return cmd_uds_connect(argv[2], port, &o);
	}
	if (!strcmp(cmd, "uds-listen") && argc >= 3) {
		if (parse_opts(argc, argv, 3, &o, false) < 0)
			return EXIT_USAGE;
		return cmd_uds_listen(argv[2], &o);
	}
	usage();
	return EXIT_USAGE;
}
