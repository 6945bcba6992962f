/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host_io.h"

extern char **environ;

int capture_output(char *const argv[], const struct capture_opts *o, char *buf, size_t cap,
		   int *status)
{
	int64_t deadline = now_ns() + (int64_t)o->timeout_ms * 1000000;
	posix_spawn_file_actions_t fa;
	size_t len = 0;
	int p[2], r;
	pid_t pid = -1;

	*status = -1;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	if (o->want_stderr)
		posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	else
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	r = o->search_path ? -posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ)
			   : -posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (r) {
		close(p[0]);
		return r;
	}
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		int64_t left = (deadline - now_ns()) / 1000000;
		char sink[4096];
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		/* Past cap the output is read and dropped, so that a chatty
		 * program does not block on a full pipe until the bound. */
		if (len + 1 < cap)
			n = read(p[0], buf + len, cap - 1 - len);
		else
			n = read(p[0], sink, sizeof(sink));
		if (n <= 0)
			break;
		if (len + 1 < cap)
			len += (size_t)n;
	}
	close(p[0]);
	if (cap)
		buf[len] = 0;
	/* Bounded too: a program that closes its output and keeps running. */
	while (waitpid(pid, status, WNOHANG) == 0) {
		if (r || now_ns() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			r = -ETIMEDOUT;
			break;
		}
		usleep(1000);
	}
	return r;
}
