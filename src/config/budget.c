/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * A VM's connection and tx-buffer budgets: max-connections and the shares
 * of it (guest-reserved-connections, max-host-handshakes,
 * max-sibling-connections), whose defaults are fractions of the total so
 * that a smaller total needs no other key; and tx-buffer-budget, which
 * must hold the floor of every connection.
 */
#include <inttypes.h>

#include "config/config_internal.h"

/* One share of max-connections: def when absent, lo..max otherwise. */
static int build_share(struct vm_spec *s, enum vm_key k, uint64_t def, uint64_t lo,
		       uint64_t max, uint32_t *out, struct cfg_err *e)
{
	uint64_t n;
	int r = cfg_build_number(s, k, def, &n, e);

	if (r)
		return r;
	if (n < lo || n > max)
		return vm_errf(e, s, k,
			       "%s %" PRIu64 " is out of range %" PRIu64 "..%" PRIu64
			       " (max-connections is %" PRIu64 ")",
			       vm_key_disp(s, k), n, lo, max, max);
	*out = (uint32_t)n;
	return 0;
}

int cfg_build_budgets(struct vm_spec *s, struct vm_config *vm, struct cfg_err *e)
{
	const enum vm_key mk = VM_KEY_MAX_CONNECTIONS, bk = VM_KEY_TX_BUFFER_BUDGET;
	uint64_t max, floor, budget, def;
	int r;

	r = cfg_build_number(s, mk, VDV_DEFAULT_MAX_CONNECTIONS, &max, e);
	if (r)
		return r;
	if (max < 1 || max > VDV_MAX_MAX_CONNECTIONS)
		return vm_errf(e, s, mk, "%s %" PRIu64 " is out of range 1..%u",
			       vm_key_disp(s, mk), max, VDV_MAX_MAX_CONNECTIONS);
	vm->max_connections = (uint32_t)max;
	r = build_share(s, VM_KEY_GUEST_RESERVED_CONNECTIONS,
			max / VDV_DEFAULT_GUEST_RESERVED_DIV, 0, max,
			&vm->guest_reserved_connections, e);
	if (!r)
		r = build_share(s, VM_KEY_MAX_HOST_HANDSHAKES,
				max / VDV_DEFAULT_HOST_HANDSHAKES_DIV ? max / VDV_DEFAULT_HOST_HANDSHAKES_DIV : 1,
				1, max, &vm->max_host_handshakes, e);
	if (!r)
		r = build_share(s, VM_KEY_MAX_SIBLING_CONNECTIONS,
				max / VDV_DEFAULT_SIBLING_DIV ? max / VDV_DEFAULT_SIBLING_DIV : 1, 1,
				max, &vm->max_sibling_connections, e);
	if (r)
		return r;

	/* Every connection is promised at least the floor, so the budget
	 * must hold that many floors; the default grows to fit. */
	floor = max * VDV_TX_BUFFER_FLOOR;
	def = floor > VDV_DEFAULT_TX_BUFFER_BUDGET ? floor : VDV_DEFAULT_TX_BUFFER_BUDGET;
	r = cfg_build_number(s, bk, def, &budget, e);
	if (r)
		return r;
	if (budget < floor || budget > VDV_MAX_TX_BUFFER_BUDGET)
		return vm_errf(e, s, bk,
			       "%s %" PRIu64 " is out of range %" PRIu64 "..%llu (at least "
			       "max-connections %" PRIu64 " x %u bytes: every connection gets "
			       "that much)",
			       vm_key_disp(s, bk), budget, floor, VDV_MAX_TX_BUFFER_BUDGET, max,
			       VDV_TX_BUFFER_FLOOR);
	vm->tx_buffer_budget = budget;
	return 0;
}
