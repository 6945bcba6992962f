/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The log level: --log-level, VDV_LOG, RUST_LOG (for users coming from
 * rust-vmm's daemon, which reads it through env_logger), and whether stderr
 * is the journal (JOURNAL_STREAM). All inputs come from the environment or
 * the command line: lengths are bounded and messages sanitized.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/config_internal.h"

/* Longer values are not a log filter anyone wrote by hand. */
#define RUST_LOG_MAX 4096u

static int level_from(const char *text, size_t len, bool allow_off, enum log_level *out)
{
	for (unsigned i = 0; i < LOG_LEVEL_COUNT; i++) {
		const char *name = log_level_name((enum log_level)i);

		if (strlen(name) == len && strncasecmp(text, name, len) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (allow_off && len == 3 && strncasecmp(text, "off", 3) == 0) {
		*out = LOG_ERROR;
		return 0;
	}
	return -EINVAL;
}

int config_log_level_parse(const char *text, enum log_level *out)
{
	return level_from(text, strlen(text), false, out);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Trims blanks around [*p, *p + *len). */
static void trim(const char **p, size_t *len)
{
	while (*len && is_space(**p)) {
		(*p)++;
		(*len)--;
	}
	while (*len && is_space((*p)[*len - 1]))
		(*len)--;
}

/* Rust crate names use '_'; the binary's name uses '-'. A module path
 * below the crate ("vhost_device_vsock::vhu_vsock") names it too. */
static bool names_us(const char *t, size_t len)
{
	static const char *const names[] = { "vhost_device_vsock", "vhost-device-vsock" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);

		if (len >= n && memcmp(t, names[i], n) == 0 &&
		    (len == n || (len > n + 1 && t[n] == ':' && t[n + 1] == ':')))
			return true;
	}
	return false;
}

/* Copies at most 40 bytes of s, printable ASCII only, for a message. */
static void quote(char *buf, size_t cap, const char *s, size_t len)
{
	size_t i, n = len < 40 ? len : 40;

	for (i = 0; i < n && i + 1 < cap; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
}

int config_rust_log_parse(const char *text, enum log_level *out, char *warn, size_t warnlen)
{
	enum log_level global = LOG_INFO, ours = LOG_INFO, lv;
	bool has_global = false, has_ours = false;
	size_t total = strlen(text), len;
	const char *p = text, *slash;
	char shown[48];

	if (warn && warnlen)
		warn[0] = '\0';
	if (total > RUST_LOG_MAX) {
		snprintf(warn, warnlen, "RUST_LOG is %zu bytes long (more than %u); ignored", total,
			 RUST_LOG_MAX);
		return -EINVAL;
	}
	/* env_logger: "directives/regex"; the filter is about messages, not
	 * levels, and we do not apply it. */
	slash = strchr(text, '/');
	if (slash)
		total = (size_t)(slash - text);
	while (p < text + total) {
		const char *d = p, *eq;

		len = strcspn(p, ",");
		if (p + len > text + total)
			len = (size_t)(text + total - p);
		p += len + 1;
		trim(&d, &len);
		if (len == 0)
			continue;
		eq = memchr(d, '=', len);
		if (!eq) {
			if (level_from(d, len, true, &lv) == 0) {
				global = lv;
				has_global = true;
			} else if (names_us(d, len)) {
				ours = LOG_TRACE;
				has_ours = true;
			}
			continue;
		}
		const char *tgt = d, *val = eq + 1;
		size_t tlen = (size_t)(eq - d), vlen = len - tlen - 1;

		trim(&tgt, &tlen);
		trim(&val, &vlen);
		if (!names_us(tgt, tlen))
			continue;
		if (level_from(val, vlen, true, &lv) != 0) {
			quote(shown, sizeof(shown), d, len);
			snprintf(warn, warnlen,
				 "RUST_LOG: '%s' has no level this daemon knows "
				 "(off, error, warn, info, debug, trace); RUST_LOG ignored",
				 shown);
			return -EINVAL;
		}
		ours = lv;
		has_ours = true;
	}
	if (has_ours)
		*out = ours;
	else if (has_global)
		*out = global;
	else
		return 0;
	return 1;
}

int config_log_level_resolve(const struct vdv_opts *opts, const char *vdv_log,
			     const char *rust_log, enum log_level *out, const char **source,
			     char *msg, size_t msglen)
{
	char shown[48];
	int r;

	if (msg && msglen)
		msg[0] = '\0';
	*out = LOG_INFO;
	*source = "default";
	if (opts && opts->has_log_level) {
		*out = opts->log_level;
		*source = "--log-level";
		return 0;
	}
	if (vdv_log) {
		if (config_log_level_parse(vdv_log, out) != 0) {
			quote(shown, sizeof(shown), vdv_log, strlen(vdv_log));
			snprintf(msg, msglen,
				 "VDV_LOG='%s' is not a log level (error, warn, info, debug, trace)",
				 shown);
			*out = LOG_INFO;
			return -EINVAL;
		}
		*source = "VDV_LOG";
		return 0;
	}
	if (rust_log) {
		r = config_rust_log_parse(rust_log, out, msg, msglen);
		if (r == 1)
			*source = "RUST_LOG";
		else
			*out = LOG_INFO;
	}
	return 0;
}

bool config_journal_stream_matches(const char *value, dev_t dev, ino_t ino)
{
	const char *colon;
	uint64_t d, i;
	char num[24];
	size_t len;

	if (!value)
		return false;
	colon = strchr(value, ':');
	if (!colon)
		return false;
	len = (size_t)(colon - value);
	if (len == 0 || len >= sizeof(num))
		return false;
	memcpy(num, value, len);
	num[len] = '\0';
	/* Decimal only: cfg_parse_u64 also takes 0x, which systemd never writes. */
	if (num[0] == '0' && len > 1)
		return false;
	if (strchr(num, 'x') || strchr(num, 'X') || strchr(colon + 1, 'x') ||
	    strchr(colon + 1, 'X'))
		return false;
	if (cfg_parse_u64(num, &d) != 0 || cfg_parse_u64(colon + 1, &i) != 0)
		return false;
	return d == (uint64_t)dev && i == (uint64_t)ino;
}
