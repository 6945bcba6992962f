/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Unix sockets: listening on a path without ever deleting a file that is
 * not a stale socket. */
#ifndef VDV_UTIL_UNIX_SOCKET_H
#define VDV_UTIL_UNIX_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Listens on path (non-blocking, close-on-exec). If path exists: a socket
 * nobody accepts on is stale and replaced; a socket in use is -EADDRINUSE;
 * anything else (regular file, directory, ...) is -EEXIST and left alone.
 * Returns the fd or -errno, with a message in err.
 */
int unix_listen(const char *path, char *err, size_t errlen);
/* The same for type SOCK_STREAM (what unix_listen makes) or SOCK_SEQPACKET. */
int unix_listen_type(const char *path, int type, char *err, size_t errlen);

/* Which file a path named when we bound it: so that at exit we remove our
 * socket, never a file someone put at the path meanwhile. */
struct unix_path_id {
	dev_t dev;
	ino_t ino;
	bool valid;
};

/* Records what path is now (call right after binding it). */
void unix_path_remember(const char *path, struct unix_path_id *id);
/* Unlinks path only if it is still the socket remembered in id; returns
 * whether it did. */
bool unix_unlink_if_ours(const char *path, const struct unix_path_id *id);

#endif
