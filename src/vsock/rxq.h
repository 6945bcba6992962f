/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Device -> guest: the rx ring loop (see rxq.c). */
#ifndef VDV_VSOCK_RXQ_H
#define VDV_VSOCK_RXQ_H

#include "vsock/dev_state.h"

/* Queues a standalone RST answering hdr (a packet from the guest). */
void rxq_reply_rst(struct vsock_dev *d, const struct vsock_hdr *hdr);
/* Moves control packets and data into the guest's rx buffers. */
void rxq_process(struct vsock_dev *d);
/* Puts the owed TRANSPORT_RESET (d->event_owed) into an event buffer, or,
 * with none posted, asks the guest to kick the event queue when it posts
 * one. */
void rxq_send_event(struct vsock_dev *d);

#endif
