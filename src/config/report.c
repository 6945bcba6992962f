/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Error messages: one line, naming the VM (by position and, once known, by
 * guest CID), the key, the value and the rule that was broken.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"

/* Values come from users and files; a newline or escape sequence inside one
 * must not break the one-line contract or the terminal. */
static void sanitize(char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			*s = '?';
	}
}

/* Keep the first (root-cause) message if a caller reports again. */
static bool err_open(const struct cfg_err *e)
{
	return e && e->buf && e->len && !e->buf[0];
}

static void err_vappend(struct cfg_err *e, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Appends to the message, truncating at the buffer's end. */
static void err_vappend(struct cfg_err *e, const char *fmt, va_list ap)
{
	size_t used = strlen(e->buf);

	if (used + 1 < e->len)
		vsnprintf(e->buf + used, e->len - used, fmt, ap);
}

static void err_append(struct cfg_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void err_append(struct cfg_err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vappend(e, fmt, ap);
	va_end(ap);
}

int cfg_errf(struct cfg_err *e, const char *fmt, ...)
{
	va_list ap;

	if (!err_open(e))
		return -EINVAL;
	va_start(ap, fmt);
	err_vappend(e, fmt, ap);
	va_end(ap);
	sanitize(e->buf);
	return -EINVAL;
}

static int vm_verrf(struct cfg_err *e, const struct vm_spec *s, unsigned line, const char *fmt,
		    va_list ap) __attribute__((format(printf, 4, 0)));

static int vm_verrf(struct cfg_err *e, const struct vm_spec *s, unsigned line, const char *fmt,
		    va_list ap)
{
	if (!err_open(e))
		return -EINVAL;
	switch (s->origin) {
	case VM_ORIGIN_CLI:
		/* Only one VM: the option names in the message suffice. */
		break;
	case VM_ORIGIN_VM_ARG:
		err_append(e, "--vm #%zu", s->index);
		break;
	case VM_ORIGIN_YAML:
	default:
		err_append(e, "%s:%u: vms[%zu]", s->file ? s->file : "<yaml>",
			   line ? line : s->line, s->index);
		break;
	}
	if (s->origin != VM_ORIGIN_CLI && s->cid_known)
		err_append(e, " (guest-cid %" PRIu64 "): ", s->cid);
	else if (s->origin != VM_ORIGIN_CLI)
		err_append(e, ": ");
	err_vappend(e, fmt, ap);
	sanitize(e->buf);
	return -EINVAL;
}

int vm_errf(struct cfg_err *e, const struct vm_spec *s, int key, const char *fmt, ...)
{
	unsigned line = 0;
	va_list ap;
	int r;

	if (key >= 0 && key < VM_KEY_COUNT && s->v[key].set)
		line = s->v[key].line;
	va_start(ap, fmt);
	r = vm_verrf(e, s, line, fmt, ap);
	va_end(ap);
	return r;
}

int vm_errf_at(struct cfg_err *e, const struct vm_spec *s, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vm_verrf(e, s, line, fmt, ap);
	va_end(ap);
	return r;
}

void vm_spec_ref(const struct vm_spec *s, char *buf, size_t len)
{
	switch (s->origin) {
	case VM_ORIGIN_CLI:
		snprintf(buf, len, "the command line");
		break;
	case VM_ORIGIN_VM_ARG:
		snprintf(buf, len, "--vm #%zu", s->index);
		break;
	case VM_ORIGIN_YAML:
	default:
		snprintf(buf, len, "vms[%zu] (line %u)", s->index, s->line);
		break;
	}
}
