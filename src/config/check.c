/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * --check's look at the file system: could the daemon create its sockets?
 * Each socket path's directory must exist and be writable (bind() creates
 * a file there), and an existing file at the path must be a socket (the
 * daemon never removes anything else). Nothing is created or removed; a
 * socket another daemon serves is only found when the daemon starts.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_internal.h"

static int check_one(const struct vm_config *vm, const char *key, const char *path,
		     struct cfg_err *e)
{
	char dir[CFG_SUN_PATH_MAX + 1];
	const char *slash = strrchr(path, '/');
	struct stat st;

	/* Paths were checked to fit in sun_path, so the directory fits too. */
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);

	if (stat(dir, &st) != 0)
		return cfg_errf(e, "vm cid %" PRIu64 ": %s '%s': directory '%s': %s",
				vm->guest_cid, key, path, dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return cfg_errf(e, "vm cid %" PRIu64 ": %s '%s': '%s' is not a directory",
				vm->guest_cid, key, path, dir);
	if (access(dir, W_OK | X_OK) != 0)
		return cfg_errf(e, "vm cid %" PRIu64 ": %s '%s': cannot create a socket in '%s': %s",
				vm->guest_cid, key, path, dir, strerror(errno));
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		return cfg_errf(e, "vm cid %" PRIu64 ": %s '%s' exists and is not a socket "
				"(the daemon removes only stale sockets)",
				vm->guest_cid, key, path);
	return 0;
}

int config_check_paths(const struct vdv_config *cfg, char *err, size_t errlen)
{
	struct cfg_err e = { err, errlen };
	int r = 0;

	if (err && errlen)
		err[0] = '\0';
	for (size_t i = 0; i < cfg->n_vms && !r; i++) {
		/* A socket-fd was checked when it was parsed (it listens). */
		if (cfg->vms[i].socket)
			r = check_one(&cfg->vms[i], "socket", cfg->vms[i].socket, &e);
		if (!r && cfg->vms[i].uds_path)
			r = check_one(&cfg->vms[i], "uds-path", cfg->vms[i].uds_path, &e);
	}
	return r;
}
