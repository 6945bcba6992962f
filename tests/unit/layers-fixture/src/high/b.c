/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Same directory, no path: resolves to high/b.h. */
#include "b.h"
