/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "host_io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int hio_set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		return -errno;
	return 0;
}

int hio_set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl) ? -errno : 0;
}

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

int hio_listen(const char *path, int backlog)
{
	struct sockaddr_un sa;
	int fd, r = fill_addr(&sa, path);

	if (r)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, backlog)) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int hio_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd, r = fill_addr(&sa, path);

	if (r)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int hio_accept(int lfd, int timeout_ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int r = poll(&p, 1, timeout_ms), fd;

	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

ssize_t hio_read_full(int fd, void *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = read(fd, (uint8_t *)buf + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int hio_write_full(int fd, const void *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = send(fd, (const uint8_t *)buf + done, n - done, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		done += (size_t)r;
	}
	return 0;
}

int hio_read_line(int fd, char *line, size_t cap)
{
	size_t n = 0;

	/* In chunks, not byte by byte: every exchange the bench makes is
	 * request/response, nothing follows the line until we answer. */
	while (n + 1 < cap) {
		ssize_t r = read(fd, line + n, cap - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			line[n] = 0;
			return -errno;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (memchr(line, '\n', n))
			break;
	}
	line[n] = 0;
	return (int)n;
}

int hio_hybrid_open(const char *uds_path, uint32_t port, int timeout_ms)
{
	char line[32];
	int fd = hio_connect(uds_path), n, r;

	if (fd < 0)
		return fd;
	r = hio_set_timeouts(fd, timeout_ms);
	n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (!r)
		r = hio_write_full(fd, line, (size_t)n);
	if (r) {
		close(fd);
		return r;
	}
	return fd;
}

int hio_hybrid_ok(int fd)
{
	char line[64];
	int r = hio_read_line(fd, line, sizeof(line));

	if (r < 0)
		return r;
	return r > 3 && !strncmp(line, "OK ", 3) ? 0 : -ECONNREFUSED;
}

int hio_guest_listen_path(char *out, size_t cap, const char *uds_path, uint32_t port)
{
	int n = snprintf(out, cap, "%s_%u", uds_path, port);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int hio_thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
	return -pthread_create(th, NULL, fn, arg);
}

int hio_thread_join(pthread_t th, int timeout_ms)
{
	struct timespec ts;

	ts = vdv_realtime_in_ms((unsigned)timeout_ms);
	return pthread_timedjoin_np(th, NULL, &ts) ? -ETIMEDOUT : 0;
}
