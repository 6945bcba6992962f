/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Stop signals and --exit-with-fd; see lifetime.h. */
#include "daemon/lifetime.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Each poll() is bounded; the loop just waits again. */
#define LIFETIME_POLL_MS 60000

int lifetime_check_fd(int fd, char *err, size_t errlen)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "--exit-with-fd %d: not an open file descriptor", fd);
		return -EBADF;
	}
	if ((fl & O_ACCMODE) == O_WRONLY) {
		snprintf(err, errlen, "--exit-with-fd %d: open for writing only, not readable", fd);
		return -EACCES;
	}
	if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen,
			 "--exit-with-fd %d: not a pipe, FIFO or socket (nothing else reports "
			 "hang-up)",
			 fd);
		return -EINVAL;
	}
	return 0;
}

int lifetime_init(struct lifetime *lt, int exit_fd, char *err, size_t errlen)
{
	sigset_t sigs;
	int r;

	lt->sfd = -1;
	lt->exit_fd = exit_fd;
	lt->on_usr1 = lt->on_hup = NULL;
	/* A peer closing a socket must not kill the daemon: SIGPIPE is
	 * ignored and sends use MSG_NOSIGNAL. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	r = pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (r != 0) {
		snprintf(err, errlen, "cannot block signals: %s", strerror(r));
		return -r;
	}
	lt->sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (lt->sfd < 0) {
		r = -errno;
		snprintf(err, errlen, "signalfd: %s", strerror(-r));
		return r;
	}
	return 0;
}

/* The exit fd is readable: data (drained and ignored), EOF or an error.
 * Returns true when it is time to stop. */
static bool exit_fd_readable(int fd)
{
	char buf[4096];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0 && errno == ENOTSOCK) {
		/* A pipe: poll said readable, and only we read it. */
		n = read(fd, buf, sizeof(buf));
	}
	if (n > 0)
		return false;
	return n == 0 || (errno != EAGAIN && errno != EINTR);
}

int lifetime_wait(struct lifetime *lt, char *why, size_t whylen)
{
	struct pollfd p[2] = {
		{ .fd = lt->sfd, .events = POLLIN },
		{ .fd = lt->exit_fd, .events = POLLIN | POLLRDHUP },
	};
	nfds_t n = lt->exit_fd >= 0 ? 2 : 1;

	for (;;) {
		int r = poll(p, n, LIFETIME_POLL_MS);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			snprintf(why, whylen, "poll: %s", strerror(-r));
			return r;
		}
		if (p[0].revents) {
			struct signalfd_siginfo si;
			ssize_t got = read(lt->sfd, &si, sizeof(si));

			if (got == (ssize_t)sizeof(si) && si.ssi_signo == SIGUSR1) {
				if (lt->on_usr1)
					lt->on_usr1(lt->usr1_opaque);
			} else if (got == (ssize_t)sizeof(si) && si.ssi_signo == SIGHUP) {
				if (lt->on_hup)
					lt->on_hup(lt->hup_opaque);
			} else if (got == (ssize_t)sizeof(si)) {
				snprintf(why, whylen, "signal %u (%s)", si.ssi_signo,
					 strsignal((int)si.ssi_signo));
				return 0;
			}
		}
		if (n == 2 && p[1].revents) {
			short ev = p[1].revents;

			if (ev & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL) ||
			    exit_fd_readable(lt->exit_fd)) {
				snprintf(why, whylen, "--exit-with-fd %d: hang-up", lt->exit_fd);
				return 0;
			}
		}
	}
}

void lifetime_close(struct lifetime *lt)
{
	if (lt->sfd >= 0)
		close(lt->sfd);
	lt->sfd = -1;
}
