/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "util/unix_socket.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

/* 1 if something accepts connections of type on the socket at path, 0 if
 * not (a listener of another type refuses with EPROTOTYPE: in use too). */
static int socket_in_use(const struct sockaddr_un *sa, int type)
{
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int r;

	if (fd < 0)
		return 0;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	/* EAGAIN: a live listener with a full backlog is still in use. */
	r = (r == 0 || errno == EAGAIN || errno == EPROTOTYPE) ? 1 : 0;
	close(fd);
	return r;
}

int unix_listen(const char *path, char *err, size_t errlen)
{
	return unix_listen_type(path, SOCK_STREAM, err, errlen);
}

int unix_listen_type(const char *path, int type, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, r;

	if (fill_addr(&sa, path) < 0) {
		snprintf(err, errlen, "socket path '%s' is too long (max %zu bytes)",
			 path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen,
				 "'%s' exists and is not a socket; refusing to replace it", path);
			return -EEXIST;
		}
		if (socket_in_use(&sa, type)) {
			snprintf(err, errlen, "socket '%s' is in use by another process", path);
			return -EADDRINUSE;
		}
		if (unlink(path) < 0 && errno != ENOENT) {
			r = -errno;
			snprintf(err, errlen, "cannot remove stale socket '%s': %s", path,
				 strerror(errno));
			return r;
		}
	}
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "socket(AF_UNIX): %s", strerror(errno));
		return r;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot listen on '%s': %s", path, strerror(errno));
		close(fd);
		return r;
	}
	return fd;
}

void unix_path_remember(const char *path, struct unix_path_id *id)
{
	struct stat st;

	id->valid = lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
	id->dev = id->valid ? st.st_dev : 0;
	id->ino = id->valid ? st.st_ino : 0;
}

bool unix_unlink_if_ours(const char *path, const struct unix_path_id *id)
{
	struct stat st;

	/* Between the lstat and the unlink someone could swap the file
	 * again; only a process that can write the directory can, and it
	 * could as well remove the file itself. */
	if (!id->valid || lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    st.st_dev != id->dev || st.st_ino != id->ino)
		return false;
	return unlink(path) == 0;
}
