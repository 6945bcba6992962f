/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Tx-buffer budgets: how much guest data waiting for a slow host socket
 * (a connection's buf_alloc: the credit we give the guest, and so the most
 * we may have to hold for it) one VM and the whole process may promise.
 *
 * A connection is promised its buf_alloc when it is created and keeps it
 * until it is freed: the guest may spend that credit at any time, so the
 * promise, not the memory allocated now, is what the budget must cover
 * (a window that shrank later could make us drop data we accepted). When
 * a budget runs low, new connections get a smaller buf_alloc, down to
 * VDV_TX_BUFFER_FLOOR; never fail for it.
 *
 *  - Per VM (tx-buffer-budget): strict. Room for the floor of every free
 *    connection slot is kept back, so the VM's promises never exceed it
 *    (config/budget.c checks budget >= max-connections x floor).
 *  - Per process (--tx-buffer-budget-total): shared by the VM threads
 *    through one atomic counter (no lock on the data path). Above the
 *    floor it is strict; the floor itself is granted even when it is
 *    spent, so one VM's load never refuses another VM's connections.
 */
#ifndef VDV_VSOCK_TX_BUDGET_H
#define VDV_VSOCK_TX_BUDGET_H

#include <stdint.h>

/* One VM's; touched by its thread only (the fields are read by others
 * with STAT_GET for metrics). */
struct tx_budget {
	uint64_t limit;      /* tx-buffer-budget */
	uint64_t promised;   /* sum of buf_alloc of its live connections */
	uint64_t allocated;  /* bytes of tx buffer allocated now */
};

/* Sets the per-process budget; before any VM thread runs. */
void tx_budget_set_total(uint64_t limit);
/* Bytes promised by all VMs now (any thread). */
uint64_t tx_budget_total_promised(void);

/* The buf_alloc for a new connection that wants `want` bytes (>= the
 * floor), with free_slots connection slots left free after it: want or
 * less, never below the floor. Counted as promised until tx_budget_give. */
uint32_t tx_budget_take(struct tx_budget *b, uint32_t want, unsigned free_slots);
/* A connection promised n bytes is gone. */
void tx_budget_give(struct tx_budget *b, uint32_t n);

#endif
