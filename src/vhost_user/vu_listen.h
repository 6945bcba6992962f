/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * A listening Unix socket that feeds one vhost-user session: accepts a
 * frontend (VMM) and attaches it to the session. A frontend that connects
 * while one is attached is accepted and closed at once (with a log line),
 * rather than left waiting in the backlog with no answer.
 */
#ifndef VDV_VHOST_USER_VU_LISTEN_H
#define VDV_VHOST_USER_VU_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/accept_pause.h"
#include "util/unix_socket.h"
#include "vhost_user/vu_dev.h"

struct vu_listen {
	struct vu_dev *dev;
	char *path;
	int fd;                 /* the listening socket, or -1 */
	bool watching;          /* fd is on the loop */
	struct accept_pause pause; /* out of fds: unwatched for a while */
	struct unix_path_id id; /* the socket file we bound: removed only if
				 * the path still names it */
	bool adopted;           /* passed to us (socket activation): never removed */
};

/* Who may connect: applied to the socket file right after it is bound. */
struct vu_listen_access {
	int mode;       /* permission bits for chmod, or -1: as the umask left them */
	bool set_gid;
	gid_t gid;      /* group for chown, when set_gid */
	const char *group; /* how the configuration named it (messages) */
};

/*
 * Creates the listening socket at path (a stale socket file is replaced;
 * any other existing file is an error) and starts accepting on dev's loop.
 * acc (may be NULL) sets its mode and group before any frontend is
 * accepted. dev must be initialised and stay alive until vu_listen_destroy();
 * this takes dev's detached callback. Returns 0 or -errno; on error, err
 * holds a message naming the path (and the mode or group that could not be
 * applied), and nothing is left at the path.
 */
int vu_listen_init(struct vu_listen *l, struct vu_dev *dev, const char *path,
		   const struct vu_listen_access *acc, char *err, size_t errlen);

/* The same with a listening socket the service manager bound and passed
 * (socket activation): fd is taken over (made non-blocking); the socket
 * file is its, so it stays at exit. path is for messages. 0 or -errno
 * (fd then still the caller's). */
int vu_listen_adopt(struct vu_listen *l, struct vu_dev *dev, int fd, const char *path,
		    char *err, size_t errlen);

/* Stops accepting, closes the socket and removes its path if the path still
 * names the socket we bound (never a file put there meanwhile), and gives dev's detached
 * callback back. An attached frontend stays attached (vu_dev_destroy()).
 * Safe after a failed init and on a zeroed struct. */
void vu_listen_destroy(struct vu_listen *l);

/* Removes the socket's path if it is still ours, and touches nothing
 * else: for an owner whose thread may still be using the listener. */
void vu_listen_unlink(const struct vu_listen *l);

#endif
