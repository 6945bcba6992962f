/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The log settings read from the environment, on arbitrary bytes (cut at
 * the first NUL, as an environment value is): RUST_LOG, VDV_LOG and
 * JOURNAL_STREAM. Never crashes; results are in range; messages are one
 * printable line.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_quiet_logs();
	return 0;
}

static void check_message(const char *msg)
{
	FUZZ_ASSERT(memchr(msg, '\0', 256));
	for (const char *p = msg; *p; p++)
		FUZZ_ASSERT((unsigned char)*p >= 0x20 && (unsigned char)*p != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), msg[256];
	enum log_level lv = (enum log_level)99;
	const char *source;
	struct vdv_opts o;
	int r;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	r = config_rust_log_parse(text, &lv, msg, sizeof(msg));
	FUZZ_ASSERT(r == 1 || r == 0 || r == -EINVAL);
	if (r == 1)
		FUZZ_ASSERT((unsigned)lv < LOG_LEVEL_COUNT);
	else
		FUZZ_ASSERT(lv == (enum log_level)99);
	check_message(msg);
	FUZZ_ASSERT((r == -EINVAL) == (msg[0] != '\0'));

	r = config_log_level_parse(text, &lv);
	FUZZ_ASSERT(r == 0 || r == -EINVAL);

	config_opts_init(&o);
	r = config_log_level_resolve(&o, NULL, text, &lv, &source, msg, sizeof(msg));
	FUZZ_ASSERT(r == 0 && (unsigned)lv < LOG_LEVEL_COUNT && source);
	check_message(msg);
	r = config_log_level_resolve(&o, text, NULL, &lv, &source, msg, sizeof(msg));
	FUZZ_ASSERT((r == 0 && !msg[0]) || (r == -EINVAL && msg[0] && lv == LOG_INFO));
	check_message(msg);

	(void)config_journal_stream_matches(text, 8, 12345);
	free(text);
	return 0;
}
