/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The vhost-user socket at a path: accept one frontend at a time and hand
 * it to the session (vu_dev_attach); resume accepting when it detaches. */
#include "vhost_user/vu_listen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
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

/* One frontend at a time: while one is attached the socket is not watched,
 * so a second VMM waits in the backlog until the first one goes. */
static void unwatch(struct vu_listen *l)
{
	if (!l->watching)
		return;
	ev_del(l->dev->loop, l->fd);
	l->watching = false;
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
	if (c < 0)
		return;
	r = vu_dev_attach(l->dev, c);
	if (r == -EBUSY) {
		/* The socket is normally not watched while a frontend is
		 * attached; this is a safety net. */
		log_warn("%s: refusing a second frontend while one is connected", l->dev->name);
		close(c);
		return;
	}
	if (r < 0) {
		log_warn("%s: cannot serve the frontend on %s: %s", l->dev->name, l->path,
			 strerror(-r));
		close(c);
		return;
	}
	unwatch(l);
	log_info("%s: frontend connected on %s", l->dev->name, l->path);
}

int vu_listen_init(struct vu_listen *l, struct vu_dev *dev, const char *path,
		   char *err, size_t errlen)
{
	int r;

	memset(l, 0, sizeof(*l));
	l->dev = dev;
	l->fd = -1;
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

void vu_listen_destroy(struct vu_listen *l)
{
	if (!l->dev)
		return; /* zeroed, never initialised: fd 0 is not ours */
	if (l->dev->detached == on_detached && l->dev->detached_opaque == l)
		vu_dev_on_detached(l->dev, NULL, NULL);
	if (l->fd >= 0) {
		unwatch(l);
		close(l->fd);
		/* Someone may have put another file at the path meanwhile:
		 * README promises that only our own socket goes. */
		if (!unix_unlink_if_ours(l->path, &l->id))
			log_warn("%s: %s is no longer our socket; left in place", l->dev->name,
				 l->path);
		l->fd = -1;
	}
	free(l->path);
	l->path = NULL;
}
