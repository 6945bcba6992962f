/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* top: * may include any layer, but not tests/. */
#include "high/b.h"
#include "odd/o.h"
#include "sim/sim.h"
