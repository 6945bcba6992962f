/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Pausing a listener that runs out of fds; see accept_pause.h. */
#include "util/accept_pause.h"

#include <errno.h>
#include <string.h>

#include "util/clock.h"
#include "util/log.h"

void accept_pause_init(struct accept_pause *p, ev_timer_fn resume, void *opaque)
{
	p->episode = false;
	p->rl = (struct log_ratelimit){ 0 };
	ev_timer_init(&p->timer, resume, opaque);
}

bool accept_pause_wanted(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

int accept_pause_start(struct accept_pause *p, struct ev_loop *loop, const char *name,
		       const char *what, int err)
{
	int r;

	if (!p->episode)
		log_warn_rl(&p->rl, "%s: cannot accept on %s: %s; pausing it, retrying every "
			    "%lld ms", name, what, strerror(err),
			    (long long)(ACCEPT_PAUSE_NS / 1000000));
	p->episode = true;
	r = ev_timer_arm(loop, &p->timer, vdv_now_ns() + ACCEPT_PAUSE_NS);
	if (r < 0)
		log_error("%s: cannot arm the timer that resumes %s: %s", name, what,
			  strerror(-r));
	return r;
}

void accept_pause_ok(struct accept_pause *p, const char *name, const char *what)
{
	if (!p->episode)
		return;
	p->episode = false;
	log_info_rl(&p->rl, "%s: accepting on %s again", name, what);
}

void accept_pause_cancel(struct accept_pause *p, struct ev_loop *loop)
{
	ev_timer_cancel(loop, &p->timer);
}
