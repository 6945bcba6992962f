/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The seccomp sandbox (--sandbox seccomp, the default): once every socket
 * of every VM is open, the process keeps only the system calls serving
 * needs (an allowlist, libseccomp) and sets no_new_privs. A call outside
 * the list never runs: the process prints
 *   vhost-device-vsock: sandbox: system call N (NAME) is not allowed;
 *   run with --sandbox none and report this
 * on stderr and dies by SIGSYS (see sandbox.c for why a SIGSYS handler
 * rather than SECCOMP_RET_KILL_PROCESS prints it).
 */
#ifndef VDV_DAEMON_SANDBOX_H
#define VDV_DAEMON_SANDBOX_H

#include <stddef.h>

#include "config/config.h"

/*
 * Applies the sandbox mode to the whole process (every thread, TSYNC).
 * SANDBOX_NONE does nothing. Call it once, after the sockets are open and
 * before the VMs' threads start. Returns 0, or -errno with a message in err.
 *
 * Environment (debugging and tests only, not documented for users):
 *  VDV_SANDBOX_LOG=1       a forbidden call prints the message and fails
 *                          with ENOSYS instead of killing the process, to
 *                          collect what a new code path needs in one run.
 */
int sandbox_apply(enum vdv_sandbox mode, char *err, size_t errlen);

/*
 * Test hook: with VDV_SANDBOX_SELFTEST=1 in the environment, makes one
 * system call that the allowlist forbids (syslog), so a test can see what
 * a user would see. Does nothing otherwise.
 */
void sandbox_selftest_if_asked(void);

#endif
