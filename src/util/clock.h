/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Monotonic time, for timeouts and polling windows (vDSO: no system call). */
#ifndef VDV_UTIL_CLOCK_H
#define VDV_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t vdv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
