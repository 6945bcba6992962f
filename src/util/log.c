/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "util/log.h"

#include "util/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum log_level log_max_level = LOG_INFO;

static bool journal;

static const char *const level_names[LOG_LEVEL_COUNT] = { "error", "warn", "info", "debug",
							  "trace" };
/* syslog priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG (trace too). */
static const char level_prio[LOG_LEVEL_COUNT] = { '3', '4', '6', '7', '7' };

const char *log_level_name(enum log_level level)
{
	return (unsigned)level < LOG_LEVEL_COUNT ? level_names[level] : "?";
}

void log_set_journal(bool on)
{
	journal = on;
}

/* "2026-12-06T06:15:25.123Z " (UTC, milliseconds); empty if the clock fails. */
static int timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	if (clock_gettime(CLOCK_REALTIME, &ts) || !gmtime_r(&ts.tv_sec, &tm))
		return 0;
	return snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ", tm.tm_year + 1900,
			tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			ts.tv_nsec / 1000000);
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char buf[1024];
	int n;

	/* The journal records the time and the program; the priority prefix
	 * replaces both and the level word. */
	if (journal)
		n = snprintf(buf, sizeof(buf), "<%c>", level_prio[level]);
	else {
		n = timestamp(buf, sizeof(buf));
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "vhost-device-vsock: %s: ",
			      level_names[level]);
	}
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* One write per line; a short write to stderr is not worth retrying. */
	ssize_t r = write(STDERR_FILENO, buf, (size_t)n);
	(void)r;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_max_level || (unsigned)level >= LOG_LEVEL_COUNT)
		return;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

bool log_ratelimit_pass(struct log_ratelimit *rl, int64_t now_ns, unsigned *suppressed)
{
	/* Fixed windows, started by the first line after the previous one
	 * ended: an idle limiter costs nothing and lets the next burst pass. */
	if (!rl->started || now_ns - rl->window_start_ns >= LOG_RL_WINDOW_NS ||
	    now_ns < rl->window_start_ns) {
		rl->started = true;
		rl->window_start_ns = now_ns;
		rl->lines = 0;
	}
	if (rl->lines >= LOG_RL_BURST) {
		if (rl->suppressed < UINT32_MAX)
			rl->suppressed++;
		return false;
	}
	rl->lines++;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}

void log_msg_rl(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
{
	unsigned dropped = 0;
	va_list ap;

	if (level > log_max_level || (unsigned)level >= LOG_LEVEL_COUNT)
		return;
	if (!log_ratelimit_pass(rl, vdv_now_ns(), &dropped))
		return;
	if (dropped)
		log_msg(level, "suppressed %u similar messages (at most %u per %lld s)", dropped,
			LOG_RL_BURST, (long long)(LOG_RL_WINDOW_NS / 1000000000LL));
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
