/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Logging to stderr with a level filter. Messages are one line each and are
 * written with a single write(2) so that lines from different VM threads do
 * not interleave. Each line starts with a UTC timestamp, or, when stderr is
 * the journal (log_set_journal), with a syslog priority prefix ("<3>") that
 * journald turns into the entry's priority.
 */
#ifndef VDV_UTIL_LOG_H
#define VDV_UTIL_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3, LOG_TRACE = 4 };

#define LOG_LEVEL_COUNT 5

/* Messages above this level are dropped. Default LOG_INFO; main.c sets it
 * from --log-level, VDV_LOG or RUST_LOG (config/log_level.c) at start-up. */
extern enum log_level log_max_level;

/* "error", "warn", "info", "debug", "trace". */
const char *log_level_name(enum log_level level);
/* true: "<N>" priority prefixes for journald, no timestamp. */
void log_set_journal(bool on);

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
#define log_trace(...)                                                        \
	do {                                                                  \
		if (log_max_level >= LOG_TRACE)                               \
			log_msg(LOG_TRACE, __VA_ARGS__);                      \
	} while (0)

/*
 * Rate limiting for lines a peer can provoke at will (refused connections,
 * failed handshakes, bad messages): at most LOG_RL_BURST lines per
 * LOG_RL_WINDOW_NS for each struct log_ratelimit (one per call site and
 * VM, embedded in the VM's state and touched by its thread only). When a
 * line passes after some were dropped, a "suppressed K similar messages"
 * line comes first, so the count is never lost, only deferred.
 */
#define LOG_RL_BURST 5u
#define LOG_RL_WINDOW_NS (10 * 1000000000LL)

struct log_ratelimit {
	int64_t window_start_ns;
	unsigned lines;      /* passed in the current window */
	unsigned suppressed; /* dropped since the last line that passed */
	bool started;
};

/* Decides whether a line may pass at now_ns (monotonic). On true,
 * *suppressed gets how many were dropped before it (and is reset). Pure:
 * no clock, no output (unit-testable with any clock). */
bool log_ratelimit_pass(struct log_ratelimit *rl, int64_t now_ns, unsigned *suppressed);

/* log_msg through rl (zero-initialised is ready to use). Lines above
 * log_max_level are neither written nor counted. */
void log_msg_rl(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_warn_rl(rl, ...) log_msg_rl((rl), LOG_WARN, __VA_ARGS__)
#define log_info_rl(rl, ...) log_msg_rl((rl), LOG_INFO, __VA_ARGS__)

#endif
