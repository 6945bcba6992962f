/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Upward: low may include nothing. Also closes a cycle with high/b. */
#include "high/b.h"
#include "low/a.h"
