/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "daemon/activation.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* sd_listen_fds(3): the first passed descriptor. */
#define LISTEN_FDS_START 3

static int parse_count(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || *out > max ? -1 : 0;
}

/* A listening AF_UNIX SOCK_STREAM socket: 0, or -1 with why set. */
static int check_socket(int fd, const char **why)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (fcntl(fd, F_GETFD) < 0) {
		*why = "is not open";
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0 || v != AF_UNIX) {
		*why = "is not a Unix socket";
		return -1;
	}
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 || v != SOCK_STREAM) {
		*why = "is not a stream socket";
		return -1;
	}
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v) {
		*why = "is not listening";
		return -1;
	}
	return 0;
}

static void unset_all(void)
{
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

int activation_init(struct activation *a, char *err, size_t errlen)
{
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	unsigned long pid, n;

	memset(a, 0, sizeof(*a));
	err[0] = '\0';
	if (!pid_s && !fds_s)
		return 0;
	if (parse_count(pid_s, (unsigned long)-1, &pid) < 0) {
		snprintf(err, errlen, "LISTEN_PID='%s' is not a process ID", pid_s ? pid_s : "");
		unset_all();
		return -EINVAL;
	}
	if (pid != (unsigned long)getpid()) {
		/* Meant for another process (e.g. our parent): not ours. */
		unset_all();
		return 0;
	}
	if (parse_count(fds_s, ACTIVATION_MAX_FDS, &n) < 0) {
		snprintf(err, errlen, "LISTEN_FDS='%s' is not a count of descriptors (0..%d)",
			 fds_s ? fds_s : "", ACTIVATION_MAX_FDS);
		unset_all();
		return -EINVAL;
	}
	unset_all();
	if (!n)
		return 0;
	a->v = calloc(n, sizeof(*a->v));
	if (!a->v) {
		snprintf(err, errlen, "LISTEN_FDS: out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct activated *x = &a->v[i];
		struct sockaddr_un sa;
		socklen_t len = sizeof(sa);
		const char *why;

		x->fd = LISTEN_FDS_START + (int)i;
		/* Names are colon-separated, one per fd, possibly fewer. */
		if (names && *names) {
			size_t l = strcspn(names, ":");

			if (l >= sizeof(x->name))
				l = sizeof(x->name) - 1;
			memcpy(x->name, names, l);
			x->name[l] = '\0';
			names += strcspn(names, ":");
			if (*names == ':')
				names++;
		}
		a->n = i + 1;
		if (check_socket(x->fd, &why) < 0) {
			snprintf(err, errlen, "LISTEN_FDS: descriptor %d%s%s%s %s", x->fd,
				 x->name[0] ? " ('" : "", x->name, x->name[0] ? "')" : "", why);
			return -EINVAL;
		}
		memset(&sa, 0, sizeof(sa));
		if (getsockname(x->fd, (struct sockaddr *)&sa, &len) == 0 &&
		    len > offsetof(struct sockaddr_un, sun_path) && sa.sun_path[0])
			snprintf(x->path, sizeof(x->path), "%.*s",
				 (int)(len - offsetof(struct sockaddr_un, sun_path)), sa.sun_path);
		/* Not inherited by anything we might start. */
		(void)fcntl(x->fd, F_SETFD, FD_CLOEXEC);
	}
	return 0;
}

int activation_take(struct activation *a, const char *path)
{
	for (size_t i = 0; i < a->n; i++) {
		struct activated *x = &a->v[i];

		if (x->claimed || x->fd < 0)
			continue;
		if ((x->path[0] && !strcmp(x->path, path)) || (x->name[0] && !strcmp(x->name, path))) {
			x->claimed = true;
			return x->fd;
		}
	}
	return -1;
}

bool activation_take_fd(struct activation *a, int fd)
{
	for (size_t i = 0; i < a->n; i++) {
		if (a->v[i].fd == fd) {
			a->v[i].claimed = true;
			return true;
		}
	}
	return false;
}

int activation_check(const struct activation *a, char *err, size_t errlen)
{
	for (size_t i = 0; i < a->n; i++) {
		const struct activated *x = &a->v[i];

		if (!x->claimed) {
			snprintf(err, errlen,
				 "LISTEN_FDS: descriptor %d (name '%s', bound to '%s') is no VM's "
				 "socket: give a VM that socket path, or do not pass it",
				 x->fd, x->name, x->path);
			return -EINVAL;
		}
	}
	return 0;
}

void activation_free(struct activation *a)
{
	for (size_t i = 0; i < a->n; i++)
		if (!a->v[i].claimed)
			close(a->v[i].fd);
	free(a->v);
	a->v = NULL;
	a->n = 0;
}
