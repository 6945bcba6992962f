/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Readiness notification; see notify.h. */
#include "daemon/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int notify_init(struct notify *n, const char *value, char *warn, size_t warnlen)
{
	size_t len;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (warn && warnlen)
		warn[0] = '\0';
	if (!value || !*value)
		return 0;
	len = strlen(value);
	if (value[0] != '/' && value[0] != '@') {
		/* systemd also knows "vsock:CID:PORT"; this daemon never opens
		 * an AF_VSOCK socket for itself. */
		snprintf(warn, warnlen,
			 "NOTIFY_SOCKET='%.64s' is neither an absolute path nor an abstract "
			 "'@name'; not notifying",
			 value);
		return 0;
	}
	/* A path needs its NUL inside sun_path; an abstract name does not
	 * (its leading NUL replaces the '@'). */
	if (len > sizeof(n->addr.sun_path) - (value[0] == '/' ? 1 : 0)) {
		snprintf(warn, warnlen,
			 "NOTIFY_SOCKET is %zu bytes long; at most %zu fit in a socket "
			 "address; not notifying",
			 len, sizeof(n->addr.sun_path) - (value[0] == '/' ? 1 : 0));
		return 0;
	}
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, value, len);
	if (value[0] == '@')
		n->addr.sun_path[0] = '\0';
	n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
				 (value[0] == '/' ? 1 : 0));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->fd < 0) {
		int r = -errno;

		snprintf(warn, warnlen, "NOTIFY_SOCKET: cannot create a socket: %s", strerror(-r));
		return r;
	}
	return 0;
}

bool notify_active(const struct notify *n)
{
	return n->fd >= 0;
}

int notify_send(struct notify *n, const char *msg)
{
	ssize_t r;

	if (n->fd < 0)
		return 0;
	do
		r = sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&n->addr,
			   n->addrlen);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

void notify_close(struct notify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

int ready_fd_check(int fd, char *err, size_t errlen)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0) {
		snprintf(err, errlen, "--ready-fd %d: not an open file descriptor", fd);
		return -EBADF;
	}
	if ((fl & O_ACCMODE) == O_RDONLY) {
		snprintf(err, errlen, "--ready-fd %d: open for reading only, not writable", fd);
		return -EACCES;
	}
	if (fd == STDERR_FILENO) {
		snprintf(err, errlen,
			 "--ready-fd 2: standard error carries the log and is never closed");
		return -EINVAL;
	}
	return 0;
}

int ready_fd_signal(int fd)
{
	static const char msg[] = "READY=1\n";
	ssize_t r;
	int ret = 0;

	do
		r = write(fd, msg, sizeof(msg) - 1);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		ret = -errno;
	else if ((size_t)r != sizeof(msg) - 1)
		ret = -EIO;
	close(fd);
	return ret;
}
