/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "util/log.h"

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

void log_msg(enum log_level level, const char *fmt, ...)
{
	char buf[1024];
	int n;
	va_list ap;

	if (level > log_max_level || (unsigned)level >= LOG_LEVEL_COUNT)
		return;
	/* The journal records the time and the program; the priority prefix
	 * replaces both and the level word. */
	if (journal)
		n = snprintf(buf, sizeof(buf), "<%c>", level_prio[level]);
	else {
		n = timestamp(buf, sizeof(buf));
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "vhost-device-vsock: %s: ",
			      level_names[level]);
	}
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* One write per line; a short write to stderr is not worth retrying. */
	ssize_t r = write(STDERR_FILENO, buf, (size_t)n);
	(void)r;
}
