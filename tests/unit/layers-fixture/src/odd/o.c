/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* A layer the table does not know. */
#include "low/a.h"
