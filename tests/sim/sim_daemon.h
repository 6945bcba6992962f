/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Runs the daemon under test as a child process in its own temporary
 * directory, for integration tests and benchmarks: spawn, wait (bounded) for
 * its vhost-user socket, check it is alive, stop it, clean up. The daemon's
 * stdout and stderr go to a log file in that directory so a failing test can
 * show them.
 */
#ifndef VDV_TESTS_SIM_SIM_DAEMON_H
#define VDV_TESTS_SIM_SIM_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define SIM_DAEMON_PATH_MAX 108 /* sun_path */

struct sim_daemon {
	pid_t pid;                 /* 0 when not running */
	int status;                /* wait status once reaped */
	char dir[64];              /* mkdtemp'd; removed by sim_daemon_stop */
	char socket_path[SIM_DAEMON_PATH_MAX]; /* DIR/vhost.sock */
	char uds_path[SIM_DAEMON_PATH_MAX];    /* DIR/vm.vsock */
	char log_path[SIM_DAEMON_PATH_MAX];    /* DIR/daemon.log */
};

/* The daemon executable: $VDV_DAEMON, else "vhost-device-vsock". */
const char *sim_daemon_exe(void);

/*
 * Creates a temp dir and runs
 *	EXE --guest-cid CID --socket DIR/vhost.sock --uds-path DIR/vm.vsock EXTRA...
 * then waits up to timeout_ms for the socket to exist. extra may be NULL;
 * else NULL-terminated. -ECHILD if the daemon exited meanwhile, -ETIMEDOUT
 * if the socket did not show up (the daemon is then killed). Whatever the
 * result, call sim_daemon_stop() to clean up (the log stays until then).
 */
int sim_daemon_spawn(struct sim_daemon *d, const char *exe, uint64_t guest_cid,
		     const char *const *extra, int timeout_ms);

/*
 * Same with a free-form argv (argv[0] is the executable); the temp dir is
 * created first and each "%D" in an argument is replaced by it.
 * Waits for wait_rel (a name inside the dir) unless NULL.
 */
int sim_daemon_spawn_argv(struct sim_daemon *d, const char *const *argv,
			  const char *wait_rel, int timeout_ms);

/* True while the child has not exited (reaps it if it has). */
bool sim_daemon_alive(struct sim_daemon *d);
/* Waits up to timeout_ms for the child to exit (d->status then holds its
 * wait status): 0, or -ETIMEDOUT while it still runs. */
int sim_daemon_wait_exit(struct sim_daemon *d, int timeout_ms);

/* Waits up to timeout_ms for path to exist as a socket, watching the child. */
int sim_daemon_wait_path(struct sim_daemon *d, const char *path, int timeout_ms);

/*
 * SIGTERM, wait up to timeout_ms, then SIGKILL; removes the temp dir unless
 * $VDV_KEEP_TMP is set. *status (may be NULL) gets the wait status. Returns 0
 * if the daemon exited by itself with status 0 after SIGTERM, -ETIMEDOUT if
 * it had to be killed, -ECHILD if it had died before, -EIO on another status.
 */
int sim_daemon_stop(struct sim_daemon *d, int timeout_ms, int *status);

/*
 * The end of a test with its own daemon: shows the log when asked
 * ($VDV_TEST_VERBOSE), when the daemon died, or when show_log; stops it
 * (sim_daemon_stop, saying so when it did not exit cleanly, log
 * included); removes dir unless $VDV_KEEP_TMP. 0, or -1 on an unclean
 * stop.
 */
int sim_daemon_finish(struct sim_daemon *d, const char *dir, bool show_log, int timeout_ms);

/* Removes dir and the files in it (one level: what tests put there). */
void sim_rm_tree(const char *dir);

/* A numeric field of /proc/PID/status ("Threads", "VmRSS" in KiB, ...;
 * pid 0: this process), or -1. */
long sim_proc_status(pid_t pid, const char *key);

/* Copies the daemon's log (at most max bytes of its tail) to out. */
void sim_daemon_dump_log(const struct sim_daemon *d, FILE *out, size_t max);

#endif
