/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Logging to stderr with a level filter. Messages are one line each and are
 * written with a single write(2) so that lines from different VM threads do
 * not interleave.
 */
#ifndef VDV_UTIL_LOG_H
#define VDV_UTIL_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Messages above this level are dropped. Default LOG_INFO; the environment
 * variable VDV_LOG (error|warn|info|debug) overrides it at start-up. */
extern enum log_level log_max_level;

void log_init_from_env(void);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                        \
	do {                                                                  \
		if (log_max_level >= LOG_DEBUG)                               \
			log_msg(LOG_DEBUG, __VA_ARGS__);                      \
	} while (0)

#endif
