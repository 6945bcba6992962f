/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum log_level log_max_level = LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_init_from_env(void)
{
	const char *v = getenv("VDV_LOG");

	if (!v)
		return;
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(v, level_names[i]) == 0)
			log_max_level = (enum log_level)i;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char buf[1024];
	int n;
	va_list ap;

	if (level > log_max_level)
		return;
	n = snprintf(buf, sizeof(buf), "vhost-device-vsock: %s: ", level_names[level]);
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
