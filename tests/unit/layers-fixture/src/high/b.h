/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Allowed (high: low), but low/a.c includes b.h back. */
#include "low/a.h"
