/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Socket activation (systemd's LISTEN_FDS protocol, sd_listen_fds(3)
 * without libsystemd): the service manager binds the vhost-user sockets and
 * passes them as fds 3, 4, ... A VM whose socket path is the bound path of
 * a passed socket, or its name in LISTEN_FDNAMES, serves that socket
 * instead of binding one; a passed socket that no VM claims is an error.
 */
#ifndef VDV_DAEMON_ACTIVATION_H
#define VDV_DAEMON_ACTIVATION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/un.h>

/* Far more than any unit passes; bounds what a bad environment costs. */
#define ACTIVATION_MAX_FDS 4096

struct activated {
	int fd;
	char name[256];                                     /* LISTEN_FDNAMES entry, or "" */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* bound path, or "" */
	bool claimed;
};

struct activation {
	struct activated *v;
	size_t n;
};

/*
 * Takes the fds passed to this process (LISTEN_PID is ours), checks that
 * each is a listening Unix stream socket, and removes LISTEN_* from the
 * environment (as sd_listen_fds(1) does). Call before any thread starts.
 * 0 (also when nothing was passed), or -errno with a message naming the
 * variable or the fd in err.
 */
int activation_init(struct activation *a, char *err, size_t errlen);

/* The passed socket for a VM's socket path (its bound path or its name
 * equals path), claimed now; or -1. */
int activation_take(struct activation *a, const char *path);

/* A VM's socket-fd that is also a passed socket: claimed by that VM (it
 * is served once, and is no "unclaimed" error). True if fd was passed. */
bool activation_take_fd(struct activation *a, int fd);

/* 0 if every passed socket was claimed, else -EINVAL naming the first. */
int activation_check(const struct activation *a, char *err, size_t errlen);

/* Closes the sockets nobody claimed and frees the list. */
void activation_free(struct activation *a);

#endif
