/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Counters one thread writes and others read while it runs (metrics,
 * SIGUSR1). The owner adds with a relaxed atomic store of its own plain
 * read (it is the only writer): the same single mov as `x += n`, no
 * locked instruction on the data path; readers load atomically, so they
 * never see a torn value and the program has no data race.
 */
#ifndef VDV_UTIL_STAT_H
#define VDV_UTIL_STAT_H

#define STAT_ADD(field, n) __atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)
#define STAT_INC(field) STAT_ADD(field, 1)
#define STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

#endif
