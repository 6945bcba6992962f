/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Tx-buffer budgets per VM and per process; see tx_budget.h. */
#include "vsock/tx_budget.h"

#include <stdatomic.h>

#include "config/config.h"
#include "util/stat.h"

static _Atomic uint64_t total_limit = VDV_DEFAULT_TX_BUFFER_BUDGET_TOTAL;
static _Atomic uint64_t total_promised;

void tx_budget_set_total(uint64_t limit)
{
	atomic_store(&total_limit, limit);
}

uint64_t tx_budget_total_promised(void)
{
	return atomic_load_explicit(&total_promised, memory_order_relaxed);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint32_t tx_budget_take(struct tx_budget *b, uint32_t want, unsigned free_slots)
{
	const uint64_t floor = VDV_TX_BUFFER_FLOOR;
	uint64_t keep = floor * free_slots, vm_room = 0, limit, old, vm_grant, grant;

	/* The VM's room, with a floor kept back for every free slot. */
	if (b->limit > b->promised + keep)
		vm_room = b->limit - b->promised - keep;
	vm_grant = min_u64(want, vm_room);
	/* The process' room: one compare-and-swap loop on the shared
	 * counter; relaxed is enough (it orders nothing else). */
	limit = atomic_load_explicit(&total_limit, memory_order_relaxed);
	old = atomic_load_explicit(&total_promised, memory_order_relaxed);
	do {
		uint64_t g = min_u64(vm_grant, old < limit ? limit - old : 0);

		grant = g < floor ? floor : g;
	} while (!atomic_compare_exchange_weak_explicit(&total_promised, &old, old + grant,
							 memory_order_relaxed,
							 memory_order_relaxed));
	STAT_ADD(b->promised, grant);
	return (uint32_t)grant;
}

void tx_budget_give(struct tx_budget *b, uint32_t n)
{
	atomic_fetch_sub_explicit(&total_promised, n, memory_order_relaxed);
	STAT_ADD(b->promised, -(uint64_t)n);
}
