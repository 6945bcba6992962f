/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Upward, but excepted in layers.txt. */
#include "high/b.h"
