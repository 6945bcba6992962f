/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Telling whoever started us that the sockets listen: --ready-fd N (write
 * "READY=1\n" to fd N, then close it) and systemd's notification protocol
 * (NOTIFY_SOCKET: datagrams "READY=1", "STATUS=...", "STOPPING=1" to an
 * AF_UNIX socket at a path or an abstract "@name"), without libsystemd.
 */
#ifndef VDV_DAEMON_NOTIFY_H
#define VDV_DAEMON_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

struct notify {
	int fd;                 /* datagram socket, or -1 */
	struct sockaddr_un addr;
	socklen_t addrlen;
};

/*
 * Reads NOTIFY_SOCKET's value (NULL: unset). A path ("/run/...") or an
 * abstract name ("@name") that fits in sun_path is used; anything else
 * (relative path, "vsock:...", too long) is ignored: 0 is returned with a
 * warning in warn and notifications stay off. -errno if the socket cannot
 * be created (message in warn). Creates no file.
 */
int notify_init(struct notify *n, const char *value, char *warn, size_t warnlen);

/* True when notifications go somewhere. */
bool notify_active(const struct notify *n);

/* Sends one datagram (e.g. "READY=1\nSTATUS=..."): 0, or -errno. A no-op
 * (0) when inactive. */
int notify_send(struct notify *n, const char *msg);

void notify_close(struct notify *n);

/* --ready-fd: fd must be open for writing. 0, or -EBADF/-EACCES with a
 * message naming the fd in err. */
int ready_fd_check(int fd, char *err, size_t errlen);

/* Writes "READY=1\n" to fd and closes it: 0, or -errno (closed anyway). */
int ready_fd_signal(int fd);

#endif
