/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Running a short helper program (a daemon's --help or --version, git) and
 * keeping what it printed, within a time bound. */
#ifndef VDV_BENCH_CAPTURE_H
#define VDV_BENCH_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>

struct capture_opts {
	bool search_path;   /* argv[0] without '/' is looked up in PATH (git) */
	bool want_stderr;   /* stderr goes to buf too; else to /dev/null */
	int timeout_ms;     /* bound of the whole run, output and exit */
};

/* Runs argv with stdin from /dev/null, stores up to cap - 1 bytes of its
 * output in buf (NUL-terminated, the rest is read and dropped) and its
 * wait status in *status. Returns 0, or -errno (-ETIMEDOUT: killed after
 * the bound). */
int capture_output(char *const argv[], const struct capture_opts *o, char *buf, size_t cap,
		   int *status);

#endif
