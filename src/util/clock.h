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

/* The CLOCK_REALTIME instant ms from now, the absolute deadline that
 * pthread_timedjoin_np() and pthread_cond_timedwait() take. */
static inline struct timespec vdv_realtime_in_ms(unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

#endif
