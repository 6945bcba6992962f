/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Where a guest's REQUEST goes: the VM's backends, asked in order. */
#ifndef VDV_VSOCK_ROUTE_H
#define VDV_VSOCK_ROUTE_H

#include "vsock/dev_state.h"

/* Opens a connection for the guest's REQUEST h, or queues an RST. */
void route_request(struct vsock_dev *d, const struct vsock_hdr *h);

#endif
