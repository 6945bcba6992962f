/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * How long the daemon lives: until SIGINT or SIGTERM, or, with
 * --exit-with-fd N, until fd N reports hang-up (the read end of a pipe
 * whose writers are gone, a socket whose peer closed). The main thread
 * waits for both with signalfd + poll.
 */
#ifndef VDV_DAEMON_LIFETIME_H
#define VDV_DAEMON_LIFETIME_H

#include <stddef.h>

struct lifetime {
	int sfd;     /* signalfd for the stop signals and SIGUSR1 */
	int exit_fd; /* --exit-with-fd, or -1 */
	/* SIGUSR1 calls this (from lifetime_wait) and waiting goes on. */
	void (*on_usr1)(void *opaque);
	void *usr1_opaque;
	/* SIGHUP likewise (a reload); when NULL, SIGHUP is ignored. */
	void (*on_hup)(void *opaque);
	void *hup_opaque;
};

/* --exit-with-fd: fd must be open for reading and be a pipe, FIFO or
 * socket (a regular file or tty never hangs up). 0, or -errno with a
 * message naming the fd in err. */
int lifetime_check_fd(int fd, char *err, size_t errlen);

/*
 * Blocks SIGINT, SIGTERM, SIGHUP and SIGUSR1 in the calling thread (threads started
 * later inherit the mask, so only the signalfd sees them), ignores SIGPIPE
 * and opens the signalfd. Call before starting any thread. exit_fd: -1 or
 * a descriptor accepted by lifetime_check_fd. Clears the callbacks (set
 * them afterwards). 0 or -errno (message in err).
 */
int lifetime_init(struct lifetime *lt, int exit_fd, char *err, size_t errlen);

/* Waits until it is time to stop; why says what happened ("signal 15
 * (Terminated)", "--exit-with-fd 3: hang-up"). Returns 0, or -errno if
 * waiting itself failed. */
int lifetime_wait(struct lifetime *lt, char *why, size_t whylen);

void lifetime_close(struct lifetime *lt);

#endif
