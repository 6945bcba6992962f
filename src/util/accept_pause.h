/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * A listening socket that runs out of file descriptors (or kernel memory)
 * must stop being watched: it stays readable while connections wait, so a
 * level-triggered listener whose accept4() fails with EMFILE would wake the
 * loop again at once, for ever, at 100 % CPU. The owner removes it from the
 * loop, and this one-shot timer tells it to watch again after
 * ACCEPT_PAUSE_NS; one warning per episode, one info line when an accept
 * succeeds again.
 */
#ifndef VDV_UTIL_ACCEPT_PAUSE_H
#define VDV_UTIL_ACCEPT_PAUSE_H

#include <stdbool.h>

#include "util/event_loop.h"
#include "util/log.h"

#define ACCEPT_PAUSE_NS (100 * 1000000LL)

struct accept_pause {
	struct ev_timer timer;
	bool episode; /* warned; cleared by the next successful accept */
	/* Episodes can flap (one fd freed, one accept, EMFILE again): their
	 * lines are rate limited too. */
	struct log_ratelimit rl;
};

/* resume(loop, opaque) runs when the pause ends: it watches the listener
 * again (the next failure pauses it again). */
void accept_pause_init(struct accept_pause *p, ev_timer_fn resume, void *opaque);

/* Whether accept4()'s errno means "out of fds or memory": pause. */
bool accept_pause_wanted(int err);

/* The owner just stopped watching its listener after err: arms the
 * resume timer and warns (once per episode) naming name/what and err.
 * Returns 0 or -ENOMEM (the timer could not be armed: logged). */
int accept_pause_start(struct accept_pause *p, struct ev_loop *loop, const char *name,
		       const char *what, int err);

/* An accept succeeded: ends the episode (with an info line if it warned). */
void accept_pause_ok(struct accept_pause *p, const char *name, const char *what);

/* Before the owner goes: disarms the timer. */
void accept_pause_cancel(struct accept_pause *p, struct ev_loop *loop);

#endif
