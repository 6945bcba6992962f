/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Number parsing for CIDs, ports and sizes. strtoull() alone accepts
 * leading spaces, a sign ("-1" wraps to UINT64_MAX) and octal, none of which
 * a user means in a CID or a size, so the digits are checked here.
 */
#include <errno.h>
#include <stdint.h>

#include "config/config_internal.h"

static int digit_value(char c, unsigned base)
{
	int d;

	if (c >= '0' && c <= '9')
		d = c - '0';
	else if (c >= 'a' && c <= 'f')
		d = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		d = c - 'A' + 10;
	else
		return -1;
	return (unsigned)d < base ? d : -1;
}

int cfg_parse_u64(const char *str, uint64_t *out)
{
	const char *p = str;
	unsigned base = 10;
	uint64_t v = 0;
	bool overflow = false;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (*p == '\0')
		return -EINVAL;
	for (; *p; p++) {
		int d = digit_value(*p, base);

		if (d < 0)
			return -EINVAL;
		/* Keep scanning after an overflow: "99999999999999999999x" is
		 * not a number at all, which is the more useful message. */
		if (v > (UINT64_MAX - (unsigned)d) / base)
			overflow = true;
		else
			v = v * base + (unsigned)d;
	}
	if (overflow)
		return -ERANGE;
	*out = v;
	return 0;
}
