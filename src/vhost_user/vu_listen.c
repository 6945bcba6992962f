/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The vhost-user socket at a path: accept one frontend at a time and hand
 * it to the session (vu_dev_attach); refuse others while one is attached. */
#include "vhost_user/vu_listen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/unix_socket.h"

static void on_listen(struct ev_loop *loop, int fd, uint32_t events, void *opaque);

static int watch(struct vu_listen *l)
{
	int r;

	if (l->watching)
		return 0;
	r = ev_add(l->dev->loop, l->fd, EPOLLIN, on_listen, l);
	if (r == 0)
		l->watching = true;
	return r;
}

static void unwatch(struct vu_listen *l)
{
	if (!l->watching)
		return;
	ev_del(l->dev->loop, l->fd);
	l->watching = false;
}

/* The pause after EMFILE & co. is over (no frontend can have attached
 * meanwhile: it is the accept that failed). */
static void on_pause_end(struct ev_loop *loop, void *opaque)
{
	struct vu_listen *l = opaque;
	(void)loop;

	if (watch(l) < 0)
		log_error("%s: cannot resume listening on %s", l->dev->name, l->path);
}

static void on_detached(struct vu_dev *dev, void *opaque)
{
	struct vu_listen *l = opaque;

	if (watch(l) < 0)
		log_error("%s: cannot resume listening on %s", dev->name, l->path);
	else
		log_info("%s: waiting for the next frontend on %s", dev->name, l->path);
}

static void on_listen(struct ev_loop *loop, int fd, uint32_t events, void *opaque)
{
	struct vu_listen *l = opaque;
	int c, r;
	(void)loop, (void)events;

	c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0) {
		int e = errno;

		/* Out of fds: the socket stays readable; watching it would
		 * spin (util/accept_pause.h). */
		if (accept_pause_wanted(e)) {
			unwatch(l);
			accept_pause_start(&l->pause, l->dev->loop, l->dev->name, l->path, e);
		}
		return;
	}
	accept_pause_ok(&l->pause, l->dev->name, l->path);
	r = vu_dev_attach(l->dev, c);
	if (r == -EBUSY && vu_dev_peer_gone(l->dev)) {
		/* The attached frontend hung up, and its EOF came in the same
		 * wake-up as this connection: end that session first, so
		 * that a VMM that restarts at once is not refused. */
		vu_dev_detach(l->dev, "connection closed");
		r = vu_dev_attach(l->dev, c);
	}
	if (r == -EBUSY) {
		/* One frontend at a time. Left in the backlog, a second VMM
		 * would hang with no reply and nothing logged: it sees EOF
		 * now instead, and the first one keeps its session. */
		log_warn("%s: a frontend is already connected; refusing the second one",
			 l->dev->name);
		close(c);
		return;
	}
	if (r < 0) {
		log_warn("%s: cannot serve the frontend on %s: %s", l->dev->name, l->path,
			 strerror(-r));
		close(c);
		return;
	}
	log_info("%s: frontend connected on %s", l->dev->name, l->path);
}

/* chmod/chown of the socket file, before any frontend is accepted (one
 * that connects in between waits in the backlog until then). */
static int apply_access(const char *path, const struct vu_listen_access *acc, char *err,
			size_t errlen)
{
	if (acc->mode >= 0 && chmod(path, (mode_t)acc->mode) < 0) {
		int r = -errno;

		snprintf(err, errlen, "cannot set the mode of '%s' to %04o: %s", path,
			 (unsigned)acc->mode, strerror(-r));
		return r;
	}
	/* lchown: the path is the socket we just bound, never a link. */
	if (acc->set_gid && lchown(path, (uid_t)-1, acc->gid) < 0) {
		int r = -errno;

		snprintf(err, errlen, "cannot give '%s' to group %s (gid %u): %s%s", path,
			 acc->group ? acc->group : "?", (unsigned)acc->gid, strerror(-r),
			 r == -EPERM ? " (the daemon must be a member of that group or "
				       "privileged)" : "");
		return r;
	}
	return 0;
}

int vu_listen_init(struct vu_listen *l, struct vu_dev *dev, const char *path,
		   const struct vu_listen_access *acc, char *err, size_t errlen)
{
	int r;

	memset(l, 0, sizeof(*l));
	l->dev = dev;
	l->fd = -1;
	accept_pause_init(&l->pause, on_pause_end, l);
	l->path = strdup(path);
	if (!l->path) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = unix_listen(path, err, errlen);
	if (r < 0)
		goto fail;
	l->fd = r;
	unix_path_remember(path, &l->id);
	if (acc) {
		r = apply_access(path, acc, err, errlen);
		if (r < 0)
			goto fail;
	}
	r = watch(l);
	if (r < 0) {
		snprintf(err, errlen, "cannot watch '%s': %s", path, strerror(-r));
		goto fail;
	}
	vu_dev_on_detached(dev, on_detached, l);
	return 0;
fail:
	if (l->fd >= 0) {
		close(l->fd);
		unix_unlink_if_ours(path, &l->id);
	}
	free(l->path);
	l->path = NULL;
	l->fd = -1;
	return r;
}

int vu_listen_adopt(struct vu_listen *l, struct vu_dev *dev, int fd, const char *path,
		    char *err, size_t errlen)
{
	int fl, r;

	memset(l, 0, sizeof(*l));
	l->dev = dev;
	l->fd = -1;
	l->adopted = true;
	accept_pause_init(&l->pause, on_pause_end, l);
	l->path = strdup(path);
	if (!l->path) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		r = -errno;
		snprintf(err, errlen, "passed socket for '%s': %s", path, strerror(errno));
		goto fail;
	}
	l->fd = fd;
	r = watch(l);
	if (r < 0) {
		snprintf(err, errlen, "cannot watch the passed socket for '%s': %s", path,
			 strerror(-r));
		l->fd = -1;
		goto fail;
	}
	vu_dev_on_detached(dev, on_detached, l);
	return 0;
fail:
	free(l->path);
	l->path = NULL;
	return r;
}

void vu_listen_destroy(struct vu_listen *l)
{
	if (!l->dev)
		return; /* zeroed, never initialised: fd 0 is not ours */
	if (l->dev->detached == on_detached && l->dev->detached_opaque == l)
		vu_dev_on_detached(l->dev, NULL, NULL);
	accept_pause_cancel(&l->pause, l->dev->loop);
	if (l->fd >= 0) {
		unwatch(l);
		close(l->fd);
		/* Someone may have put another file at the path meanwhile:
		 * README promises that only our own socket goes. A passed
		 * socket is the service manager's, for the next start. */
		if (!l->adopted && !unix_unlink_if_ours(l->path, &l->id))
			log_warn("%s: %s is no longer our socket; left in place", l->dev->name,
				 l->path);
		l->fd = -1;
	}
	free(l->path);
	l->path = NULL;
}

void vu_listen_unlink(const struct vu_listen *l)
{
	if (l->path && l->fd >= 0 && !l->adopted)
		unix_unlink_if_ours(l->path, &l->id);
}
