/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* A private header: one module with p (module: line), no cycle. */
#include "low/p_internal.h"
