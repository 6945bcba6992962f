/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Prints the --help text for check_manpage.sh, without running the daemon. */
#include <stdio.h>

#include "config/config.h"

int main(void)
{
	return fputs(config_usage_text, stdout) < 0 ? 1 : 0;
}
