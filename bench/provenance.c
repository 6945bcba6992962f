/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "provenance.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "capture.h"

bool prov_commit_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64)
		return false;
	return strspn(s, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._+-") == n;
}

/* Drops trailing blanks; other bytes outside printable ASCII (and a tab
 * or newline) become '?': the output goes to a terminal and into JSON,
 * which must be UTF-8. */
static void trim(char *s)
{
	size_t n = strlen(s);

	for (char *p = s; *p; p++)
		if ((*p < 0x20 && *p != '\n' && *p != '\t') || (unsigned char)*p >= 0x7f)
			*p = '?';

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
}

/* "exit status 2", "killed by signal 9", "timed out", or errno's text. */
static void why(int r, int status, char *buf, size_t cap)
{
	if (r == -ETIMEDOUT)
		snprintf(buf, cap, "timed out");
	else if (r)
		snprintf(buf, cap, "%s", strerror(-r));
	else if (WIFEXITED(status))
		snprintf(buf, cap, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, cap, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, cap, "wait status %d", status);
}

static bool ok(int r, int status)
{
	return !r && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void version(const char *exe, int timeout_ms, struct daemon_prov *d)
{
	char *const argv[] = { (char *)exe, (char *)"--version", NULL };
	const struct capture_opts o = { .want_stderr = true, .timeout_ms = timeout_ms };
	char why_buf[64];
	int r, status;

	r = capture_output(argv, &o, d->version, sizeof(d->version), &status);
	trim(d->version);
	if (!ok(r, status) || !d->version[0]) {
		why(r, status, why_buf, sizeof(why_buf));
		snprintf(d->version_err, sizeof(d->version_err), "%s --version: %s%s", exe,
			 why_buf, ok(r, status) ? " but printed nothing" : "");
		d->version[0] = 0;
	}
}

static void git_commit(const char *exe, int timeout_ms, struct daemon_prov *d)
{
	const struct capture_opts o = { .search_path = true, .timeout_ms = timeout_ms };
	char real[PATH_MAX], out[4096], why_buf[64], *slash;
	int r, status;

	if (!realpath(exe, real)) {
		snprintf(d->commit_err, sizeof(d->commit_err), "cannot resolve %s: %s", exe,
			 strerror(errno));
		return;
	}
	/* The directory the binary was built in: a meson build directory
	 * inside the source tree, or a cargo target/ directory, is in the
	 * tree's git repository. */
	slash = strrchr(real, '/');
	if (slash == real)
		slash[1] = 0;
	else
		*slash = 0;
	if (strlen(real) >= sizeof(d->commit_dir)) {
		snprintf(d->commit_err, sizeof(d->commit_err), "the daemon's directory is too long");
		return;
	}
	memcpy(d->commit_dir, real, strlen(real) + 1);
	{
		char *const argv[] = { (char *)"git", (char *)"-C", d->commit_dir,
				       (char *)"rev-parse", (char *)"HEAD", NULL };

		r = capture_output(argv, &o, out, sizeof(out), &status);
	}
	trim(out);
	if (!ok(r, status) || strlen(out) >= sizeof(d->commit) || !prov_commit_valid(out)) {
		why(r, status, why_buf, sizeof(why_buf));
		snprintf(d->commit_err, sizeof(d->commit_err),
			 "git -C %.80s rev-parse HEAD: %.30s (not a git tree? use --commit)",
			 d->commit_dir, ok(r, status) ? "unexpected output" : why_buf);
		return;
	}
	/* Its length was checked above (snprintf would make gcc's
	 * -Wformat-truncation guess at it). */
	memcpy(d->commit, out, strlen(out) + 1);
	snprintf(d->commit_src, sizeof(d->commit_src), "git");
	{
		/* Tracked files changed since that commit: the binary may not be
		 * HEAD's. It says how the tree is now, not when it was built. */
		char *const argv[] = { (char *)"git", (char *)"-C", d->commit_dir,
				       (char *)"status", (char *)"--porcelain",
				       (char *)"--untracked-files=no", NULL };

		r = capture_output(argv, &o, out, sizeof(out), &status);
		d->dirty = ok(r, status) ? out[0] != 0 : -1;
	}
}

void prov_daemon(const char *exe, const char *commit_opt, int timeout_ms, struct daemon_prov *d)
{
	memset(d, 0, sizeof(*d));
	d->dirty = -1;
	version(exe, timeout_ms, d);
	if (commit_opt) {
		snprintf(d->commit, sizeof(d->commit), "%s", commit_opt);
		snprintf(d->commit_src, sizeof(d->commit_src), "option");
		return;
	}
	git_commit(exe, timeout_ms, d);
}
