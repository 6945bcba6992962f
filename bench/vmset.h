/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Many VMs in one daemon under test, each with its own simulated guest: the
 * daemon started from one --config file (VMs with CIDs 3.., vhost-user
 * sockets DIR/v<cid>.sock, hybrid-vsock sockets DIR/u<cid>.vsock), one
 * struct sg per VM, all driven from the calling thread. The idle-VM scale
 * figures use the config file alone.
 *
 * Driving n guests from one thread: every pass polls each guest without
 * blocking (sg_poll with timeout 0); only when a whole pass found nothing
 * to do does vmset_wait() sleep, on all the guests' call eventfds at once,
 * as n idle vCPUs wait for their interrupts. So no guest waits behind
 * another's sleep, and the bench does not spin while the daemon works.
 */
#ifndef VDV_BENCH_VMSET_H
#define VDV_BENCH_VMSET_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "bench.h"
#include "sim/sim_daemon.h"
#include "sim/sim_sock.h"

#define VMSET_FIRST_CID 3u

struct vmset {
	struct bench *b;
	int which;
	const char *fig;         /* for error messages */
	char dir[64];            /* config and sockets; removed by vmset_stop */
	struct sim_daemon d;     /* its own temp dir holds the log */
	unsigned n;
	struct sg **g;           /* n guests (NULL until opened) */
	struct pollfd *pfd;      /* 3 per guest, for vmset_wait */
};

/* Writes DIR/vms.yaml for n VMs (path gets its name): 0 or -errno. */
int vmset_write_config(const char *dir, unsigned n, char *path, size_t cap);
/* Whether daemon `which` (T_A or T_B) takes option opt (e.g. "--threads"):
 * its `--help` names the option. Asked once per daemon and option (a
 * string literal); an error counts as no. For scenarios and options an
 * older daemon (or the Rust one) does not have. */
bool vmset_daemon_has(const struct bench *b, int which, const char *opt);
/* argv for daemon `which` serving the VMs of config file cfg: the daemon,
 * --config cfg, "--log-level warn" when it takes it (the start-up lines of
 * many VMs say nothing a measurement needs), then the --daemon-args.
 * argv needs VMSET_ARGV_BASE + BENCH_MAX_DAEMON_ARGS entries; returns how
 * many it filled (argv is not terminated). */
#define VMSET_ARGV_BASE 5
unsigned vmset_daemon_argv(const struct bench *b, int which, const char *cfg, const char **argv);
/* What a failed start means: an exit before the sockets appeared is the
 * daemon refusing its command line (its log says why), not "No child
 * processes". */
const char *vmset_start_error(int err);

/*
 * Spawns daemon `which` with --config for n VMs, then b's --daemon-arg
 * arguments, then extra (NULL-terminated, may be NULL: placed last so that
 * they win over a --daemon-arg of the same option), waits for every
 * socket, and opens a guest on each VM (tx packets up to tx_max_payload).
 * On failure the error is reported (bench_fail under fig) and everything
 * is cleaned up.
 */
int vmset_start(struct bench *b, int which, const char *fig, unsigned n,
		const char *const *extra, size_t tx_max_payload, struct vmset *s);

/* VM i's hybrid-vsock socket (its uds_path). */
const char *vmset_uds_path(const struct vmset *s, unsigned i, char *buf, size_t cap);

/* One non-blocking pass over every guest: returns the entries handled
 * (0: nothing was pending), or -errno of the first guest that failed. */
int vmset_poll_all(struct vmset *s);

/* Sleeps until some guest has something pending or timeout_ms passed:
 * 1 (something may be pending), 0 (timeout) or -errno (a VMM connection
 * hung up). */
int vmset_wait(struct vmset *s, int timeout_ms);

/* Serves every guest until thread th has ended, then joins it: 0, or -EIO
 * if a guest failed meanwhile (the thread is still joined). A thread that
 * does not end in timeout_ms aborts the process (it may still use the
 * caller's memory), as dut_poll_join(). */
int vmset_poll_join(struct vmset *s, pthread_t th, int timeout_ms);

/* Closes the guests and stops the daemon; a daemon that died during the
 * run, or a guest driver error, is a failure. Returns 0 or -1. */
int vmset_stop(struct vmset *s);

#endif
