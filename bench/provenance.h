/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * What was measured, for the record: each daemon's --version output and the
 * git commit of the tree its binary was built in (or the one --commit
 * names). A figure without them cannot be compared with a later one.
 */
#ifndef VDV_BENCH_PROVENANCE_H
#define VDV_BENCH_PROVENANCE_H

#include <stdbool.h>

struct daemon_prov {
	char version[256];      /* --version output, trimmed; "" if none */
	char version_err[128];  /* why there is none */
	char commit[72];        /* "" if unknown */
	char commit_src[16];    /* "option" or "git" */
	char commit_dir[512];   /* where git was asked */
	char commit_err[192];   /* why there is none */
	int dirty;              /* git: tracked files differ from HEAD now; -1 unknown */
};

/* Fills d for the daemon binary exe. commit_opt (may be NULL) wins over
 * git. Every helper program runs within timeout_ms. */
void prov_daemon(const char *exe, const char *commit_opt, int timeout_ms, struct daemon_prov *d);

/* Whether s is acceptable as --commit: 1..64 of [0-9A-Za-z._+-]. */
bool prov_commit_valid(const char *s);

#endif
