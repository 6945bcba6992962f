/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* x and y include each other inside one layer. */
#include "low/x.h"
#include "low/y.h"
