/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* For unit tests (after cmocka.h): what the code under test logs to stderr
 * (fd 2) between cap_begin() and cap_end() goes to a memfd; cap_end()
 * returns it as a string (the first 4095 bytes). */
#ifndef VDV_TESTS_STDERR_CAPTURE_H
#define VDV_TESTS_STDERR_CAPTURE_H

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static int cap_fd = -1, cap_saved = -1;

static inline void cap_begin(void)
{
	fflush(stderr);
	cap_fd = memfd_create("test-log", MFD_CLOEXEC);
	cap_saved = dup(2);
	assert_true(cap_fd >= 0 && cap_saved >= 0);
	assert_int_equal(dup2(cap_fd, 2), 2);
}

static inline const char *cap_end(void)
{
	static char buf[4096];
	ssize_t n;

	fflush(stderr);
	assert_int_equal(dup2(cap_saved, 2), 2);
	close(cap_saved);
	n = pread(cap_fd, buf, sizeof(buf) - 1, 0);
	close(cap_fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

#endif
