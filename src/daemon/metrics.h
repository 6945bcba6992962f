/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * --metrics ADDR: every VM's counters in the Prometheus text exposition
 * format (version 0.0.4), served over HTTP on a Unix or TCP socket by a
 * thread of its own, one request at a time; and the same text for the log
 * on SIGUSR1. Reading the counters never stops or slows a VM's thread
 * (vsock_dev_metrics()).
 */
#ifndef VDV_DAEMON_METRICS_H
#define VDV_DAEMON_METRICS_H

#include <stddef.h>

#include "daemon/vm_set.h"
#include "util/net_addr.h"

struct metrics;

/* Renders the snapshot of every VM of set (locked meanwhile) into a
 * malloc'd, NUL-terminated text (*out, its length returned), or returns
 * -ENOMEM. */
long metrics_render(struct vm_set *set, char **out);

/* Logs the snapshot, one line per sample (SIGUSR1). */
void metrics_log(struct vm_set *set);

/* Binds addr and starts the server thread. 0, or -errno with a message
 * naming the address in err (nothing left open). */
int metrics_start(struct metrics **out, const struct net_addr *addr, struct vm_set *set,
		  char *err, size_t errlen);
/* Stops the thread, closes the socket and removes a Unix socket path we
 * created. NULL is fine. */
void metrics_stop(struct metrics *m);

#endif
