/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Guest -> device: the tx ring loop (see txq.c). */
#ifndef VDV_VSOCK_TXQ_H
#define VDV_VSOCK_TXQ_H

#include "vsock/dev_state.h"

/* Drains the tx ring, at most one ring's worth per call. */
void txq_process(struct vsock_dev *d);

#endif
