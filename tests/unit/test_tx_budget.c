/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The tx-buffer budgets (src/vsock/tx_budget.c): a VM's promises stay
 * within its budget with a floor kept back for every free slot, the
 * process' budget is strict above the floor and shared, and what is given
 * back can be promised again.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config/config.h"
#include "vsock/tx_budget.h"

#define KIB 1024u
#define FLOOR VDV_TX_BUFFER_FLOOR

static void test_vm_budget_keeps_floors(void **state)
{
	/* 16 slots, 256 KiB: three full 64 KiB windows, one that takes
	 * what is left above the floors of the slots still free, then floors
	 * up to the last slot, and never more than the budget in all. */
	struct tx_budget b = { .limit = 256 * KIB };
	uint32_t got[16], sum = 0;
	(void)state;

	tx_budget_set_total(1ull << 40);
	for (unsigned i = 0; i < 16; i++) {
		got[i] = tx_budget_take(&b, 64 * KIB, 16 - i - 1);
		sum += got[i];
		assert_true(got[i] >= FLOOR);
	}
	assert_int_equal(got[0], 64 * KIB);
	assert_int_equal(got[2], 64 * KIB);
	assert_int_equal(got[3], 16 * KIB);
	assert_int_equal(got[4], FLOOR);
	assert_int_equal(got[15], FLOOR);
	assert_int_equal(sum, 256 * KIB);
	assert_int_equal(b.promised, 256 * KIB);
	assert_int_equal(tx_budget_total_promised(), 256 * KIB);

	/* Given back, it is promised again. */
	tx_budget_give(&b, got[0]);
	assert_int_equal(tx_budget_take(&b, 64 * KIB, 0), 64 * KIB);
	for (unsigned i = 1; i < 16; i++)
		tx_budget_give(&b, got[i]);
	tx_budget_give(&b, 64 * KIB);
	assert_int_equal(b.promised, 0);
	assert_int_equal(tx_budget_total_promised(), 0);
}

static void test_process_budget(void **state)
{
	struct tx_budget a = { .limit = 1u << 30 }, b = { .limit = 1u << 30 };
	(void)state;

	tx_budget_set_total(100 * KIB);
	assert_int_equal(tx_budget_take(&a, 64 * KIB, 10), 64 * KIB);
	/* What the process has left, though the VM has more. */
	assert_int_equal(tx_budget_take(&b, 64 * KIB, 10), 36 * KIB);
	/* Spent: the floor is granted even so. */
	assert_int_equal(tx_budget_take(&b, 64 * KIB, 10), FLOOR);
	assert_int_equal(tx_budget_total_promised(), 104 * KIB);
	tx_budget_give(&a, 64 * KIB);
	assert_int_equal(tx_budget_take(&b, 64 * KIB, 10), 60 * KIB);
	tx_budget_give(&b, 36 * KIB);
	tx_budget_give(&b, FLOOR);
	tx_budget_give(&b, 60 * KIB);
	assert_int_equal(tx_budget_total_promised(), 0);
}

/* Two threads (two VMs) take and give back at once: the shared counter
 * never goes beyond the budget plus the floors, and ends at zero. */
#define ROUNDS 20000

static void *churn(void *arg)
{
	struct tx_budget *b = arg;
	uint32_t held[8] = { 0 };

	for (unsigned r = 0; r < ROUNDS; r++) {
		unsigned k = r % 8;

		if (held[k])
			tx_budget_give(b, held[k]);
		held[k] = tx_budget_take(b, 64 * KIB, 8);
		if (tx_budget_total_promised() > 256 * KIB + 16 * FLOOR)
			return (void *)1;
	}
	for (unsigned k = 0; k < 8; k++)
		tx_budget_give(b, held[k]);
	return NULL;
}

static void test_process_budget_threads(void **state)
{
	struct tx_budget a = { .limit = 1u << 30 }, b = { .limit = 1u << 30 };
	pthread_t ta, tb;
	void *ra, *rb;
	(void)state;

	tx_budget_set_total(256 * KIB);
	assert_int_equal(pthread_create(&ta, NULL, churn, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, churn, &b), 0);
	pthread_join(ta, &ra);
	pthread_join(tb, &rb);
	assert_null(ra);
	assert_null(rb);
	assert_int_equal(tx_budget_total_promised(), 0);
	assert_int_equal(a.promised, 0);
	assert_int_equal(b.promised, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vm_budget_keeps_floors),
		cmocka_unit_test(test_process_budget),
		cmocka_unit_test(test_process_budget_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
