/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* uds_parse_connect() on arbitrary bytes, with a few properties of what
 * it accepts: the keyword, a space, digits only, a port below 2^32-1, and
 * a canonical re-formatting that parses to the same port. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend/uds.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact size, no NUL: the parser must stay within len. */
	char *line = malloc(size ? size : 1);
	uint32_t port = 0xdeadbeef, again = 0;
	char canon[32];
	size_t len = size;
	int r;

	if (!line)
		return 0;
	memcpy(line, data, size);
	r = uds_parse_connect(line, size, &port);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE);
	if (r == 0) {
		FUZZ_ASSERT(port != UINT32_MAX);
		if (len && line[len - 1] == '\r')
			len--;
		FUZZ_ASSERT(len >= 9 && strncasecmp(line, "connect ", 8) == 0);
		for (size_t i = 8; i < len; i++)
			FUZZ_ASSERT(line[i] == ' ' || isdigit((unsigned char)line[i]));
		FUZZ_ASSERT(isdigit((unsigned char)line[len - 1]));
		snprintf(canon, sizeof(canon), "CONNECT %u", port);
		FUZZ_ASSERT(uds_parse_connect(canon, strlen(canon), &again) == 0);
		FUZZ_ASSERT(again == port);
	} else {
		FUZZ_ASSERT(port == 0xdeadbeef); /* untouched on error */
	}
	free(line);
	return 0;
}
