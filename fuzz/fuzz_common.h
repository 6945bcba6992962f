/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Helpers shared by the libFuzzer targets (header-only, static). */
#ifndef VDV_FUZZ_COMMON_H
#define VDV_FUZZ_COMMON_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Warnings about malformed input are the normal case here: keep them out
 * of the fuzzer's output (VDV_FUZZ_LOG=1 shows them when reproducing). */
static inline void fuzz_quiet_logs(void)
{
	log_max_level = getenv("VDV_FUZZ_LOG") ? LOG_DEBUG : LOG_ERROR;
}

/*
 * Number of open sockets, eventfds, timerfds, epoll fds and memfds: what
 * the code under test creates (a leak check between inputs). Pipes and
 * files are left out: the sanitizers open some (llvm-symbolizer) while
 * printing a recovered report.
 */
static inline int fuzz_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], target[256];
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		ssize_t len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (!strncmp(target, "socket:", 7) || !strncmp(target, "anon_inode:", 11) ||
		    !strncmp(target, "/memfd:", 7))
			n++;
	}
	closedir(d);
	return n;
}

/* Lists the open fds on stderr (to see what leaked). */
static inline void fuzz_dump_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], target[256];

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "  fd %s -> %s\n", e->d_name, target);
	}
	closedir(d);
}

static inline uint16_t fuzz_u16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t fuzz_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

#define FUZZ_ASSERT(cond)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant violated: %s\n",     \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#endif
