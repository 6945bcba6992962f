/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Notification suppression, both directions: when the device signals the
 * call eventfd (EVENT_IDX used_event, VRING_AVAIL_F_NO_INTERRUPT,
 * NOTIFY_ON_EMPTY) and how it asks the driver for kicks (avail_event,
 * VRING_USED_F_NO_NOTIFY), including the re-check that closes the race
 * between re-enabling kicks and the driver adding buffers.
 *
 * A lost call hangs the guest driver; a spurious one costs an interrupt.
 * The tests count real eventfd signals to tell them apart.
 */
#include "vq_test_ring.h"

static int setup(void **state)
{
	return tr_fixture(state, 8);
}

static int setup_event_idx(void **state)
{
	struct test_ring *tr;

	tr_fixture(state, 8);
	tr = *state;
	tr->vq.event_idx = true;
	return 0;
}

static int teardown(void **state)
{
	return tr_fixture_free(state);
}

/* Pops the n buffers the driver offers in descriptors 0..n-1, then pushes
 * them all back, as one batch. */
static void complete(struct test_ring *tr, unsigned n)
{
	struct vq_elem e;

	for (unsigned i = 0; i < n; i++) {
		tr_desc(tr, (uint16_t)i, tr_gpa(TR_DATA_OFF), 64, VRING_DESC_F_WRITE, 0);
		tr_avail_add(tr, (uint16_t)i);
	}
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 1);
		vq_push(&tr->vq, e.head, 64);
	}
}

/* vq_notify, then checks the eventfd and the stats moved as expected. */
static void notify_expect(struct test_ring *tr, bool call)
{
	uint64_t n = tr->vq.stats.notifications, s = tr->vq.stats.suppressed;

	vq_notify(&tr->vq);
	/* Suppressed or not, the driver may poll: the index is published. */
	assert_int_equal(tr_used_idx(tr), tr->vq.used_idx);
	assert_int_equal(tr_calls(tr), call ? 1 : 0);
	assert_int_equal(tr->vq.stats.notifications, n + (call ? 1 : 0));
	assert_int_equal(tr->vq.stats.suppressed, s + (call ? 0 : 1));
}

/* ---- vq_need_event ---- */

/* The spec's meaning, written differently from the implementation: the
 * driver wants a call once the used entry at index event has been written,
 * i.e. when event is one of old, old + 1, ..., new - 1 (mod 2^16): its
 * distance past old is less than the batch. */
static bool need_event_ref(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(event - old) < (uint16_t)(new_idx - old);
}

static void test_need_event_table(void **state)
{
	(void)state;
	/* Hand-picked rows: event at old, at new - 1, at new, before old. */
	assert_true(vq_need_event(0, 1, 0));
	assert_false(vq_need_event(1, 1, 0));
	assert_true(vq_need_event(4, 5, 2));
	assert_true(vq_need_event(2, 5, 2));
	assert_false(vq_need_event(5, 5, 2));
	assert_false(vq_need_event(1, 5, 2));
	assert_false(vq_need_event(100, 5, 2));
	/* Nothing new: never. */
	assert_false(vq_need_event(7, 7, 7));
	assert_false(vq_need_event(6, 7, 7));
	/* Across the 16-bit wrap. */
	assert_true(vq_need_event(0xfffe, 2, 0xfffe));
	assert_true(vq_need_event(0xffff, 2, 0xfffe));
	assert_true(vq_need_event(0, 2, 0xfffe));
	assert_true(vq_need_event(1, 2, 0xfffe));
	assert_false(vq_need_event(2, 2, 0xfffe));
	assert_false(vq_need_event(0xfffd, 2, 0xfffe));
	assert_true(vq_need_event(0xffff, 0, 0xffff));
	assert_false(vq_need_event(0, 0, 0xffff));
	/* A batch of half the index space. */
	assert_true(vq_need_event(0x7fff, 0x8000, 0));
	assert_false(vq_need_event(0x8000, 0x8000, 0));
}

static void test_need_event_exhaustive(void **state)
{
	static const uint16_t olds[] = { 0, 1, 5, 0x7fff, 0x8000, 0xfff0, 0xfffe, 0xffff };
	static const uint16_t batches[] = { 0, 1, 2, 7, 8, 256, 32768 };

	(void)state;
	for (size_t o = 0; o < sizeof(olds) / sizeof(olds[0]); o++) {
		for (size_t b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
			uint16_t old = olds[o], new_idx = (uint16_t)(old + batches[b]);

			for (uint32_t ev = 0; ev <= 0xffff; ev++)
				if (vq_need_event((uint16_t)ev, new_idx, old) !=
				    need_event_ref((uint16_t)ev, new_idx, old))
					fail_msg("need_event(%u, %u, %u)", ev, new_idx, old);
		}
	}
}

/* ---- device -> driver calls with EVENT_IDX ---- */

static void test_event_idx_notify(void **state)
{
	struct test_ring *tr = *state;

	/* The first decision after SET_VRING_ADDR has no previous value to
	 * compare with: always call, whatever used_event says. */
	tr_set_used_event(tr, 100);
	complete(tr, 1);
	notify_expect(tr, true);

	/* The batch writes entry 1 only; the driver waits for entry 5. */
	tr_set_used_event(tr, 5);
	complete(tr, 1);
	notify_expect(tr, false);
	assert_int_equal(tr_used_idx(tr), 2);

	/* This batch writes entries 2..5, including 5: call. */
	complete(tr, 4);
	notify_expect(tr, true);

	/* used_event == old (the driver has seen everything): call. */
	tr_set_used_event(tr, 6);
	complete(tr, 1);
	notify_expect(tr, true);

	/* used_event == new: entry 8 is not written yet, suppress; it is
	 * written by the next batch: call. */
	tr_set_used_event(tr, 8);
	complete(tr, 1);
	notify_expect(tr, false);
	complete(tr, 1);
	notify_expect(tr, true);

	/* A stale used_event (behind old) never matches. */
	tr_set_used_event(tr, 3);
	complete(tr, 3);
	notify_expect(tr, false);

	/* NO_INTERRUPT is a no-EVENT_IDX mechanism: ignored here. */
	tr->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	tr_set_used_event(tr, tr->vq.used_idx);
	complete(tr, 1);
	notify_expect(tr, true);
}

static void test_notify_nothing_new(void **state)
{
	struct test_ring *tr = *state;

	complete(tr, 1);
	notify_expect(tr, true);
	/* No new used entries: neither a call nor a suppression. */
	vq_notify(&tr->vq);
	assert_int_equal(tr_calls(tr), 0);
	assert_int_equal(tr->vq.stats.notifications, 1);
	assert_int_equal(tr->vq.stats.suppressed, 0);
}

static void test_event_idx_wrap(void **state)
{
	struct test_ring *tr = *state;

	tr->used->idx = 65533;
	tr_readdr(tr);
	vq_set_base(&tr->vq, 65533);
	tr_set_avail_idx(tr, 65533);
	complete(tr, 1);
	notify_expect(tr, true);                /* first: old = 65534 */
	/* Entries 65534, 65535, 0 cross the wrap and include 0. */
	tr_set_used_event(tr, 0);
	complete(tr, 3);
	assert_int_equal(tr->vq.used_idx, 1);
	notify_expect(tr, true);
	/* 65535 is now behind: writing entry 1 does not match it. */
	tr_set_used_event(tr, 65535);
	complete(tr, 1);
	notify_expect(tr, false);
	tr_set_used_event(tr, 2);
	complete(tr, 1);
	notify_expect(tr, true);
}

static void test_set_addr_resets_first_notify(void **state)
{
	struct test_ring *tr = *state;

	tr_set_used_event(tr, 50);
	complete(tr, 1);
	notify_expect(tr, true);
	complete(tr, 1);
	notify_expect(tr, false);
	/* A reconnecting frontend re-sends the ring: our previous signalled
	 * index means nothing to the new driver state. */
	tr_readdr(tr);
	complete(tr, 1);
	notify_expect(tr, true);
}

/* ---- device -> driver calls without EVENT_IDX ---- */

static void test_no_interrupt_flag(void **state)
{
	struct test_ring *tr = *state;

	/* Without EVENT_IDX used_event is meaningless: calls every time. */
	tr_set_used_event(tr, 1000);
	complete(tr, 1);
	notify_expect(tr, true);
	complete(tr, 2);
	notify_expect(tr, true);

	tr->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	complete(tr, 1);
	notify_expect(tr, false);
	complete(tr, 1);
	notify_expect(tr, false);

	tr->avail->flags = 0;
	complete(tr, 1);
	notify_expect(tr, true);
}

static void test_notify_on_empty(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;

	tr->vq.notify_on_empty = true;
	tr->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;

	/* Still one buffer in flight: NO_INTERRUPT wins. */
	complete(tr, 1);
	tr_desc(tr, 1, tr_gpa(TR_DATA_OFF), 64, VRING_DESC_F_WRITE, 0);
	tr_avail_add(tr, 1);
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 1);
	notify_expect(tr, false);

	/* More buffers available: not empty, NO_INTERRUPT wins. */
	vq_push(&tr->vq, e.head, 0);
	tr_desc(tr, 2, tr_gpa(TR_DATA_OFF), 64, VRING_DESC_F_WRITE, 0);
	tr_avail_add(tr, 2);
	notify_expect(tr, false);

	/* Everything used and nothing available: the device ran out of
	 * buffers and must say so, despite NO_INTERRUPT. */
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 1);
	vq_push(&tr->vq, e.head, 0);
	assert_int_equal(tr->vq.inflight, 0);
	notify_expect(tr, true);

	/* Without the feature, the same state stays silent. */
	tr->vq.notify_on_empty = false;
	complete(tr, 1);
	notify_expect(tr, false);
}

static void test_notify_on_empty_event_idx(void **state)
{
	struct test_ring *tr = *state;

	tr->vq.notify_on_empty = true;
	complete(tr, 1);
	notify_expect(tr, true);               /* first */
	/* used_event far away would suppress, but the ring is empty. */
	tr_set_used_event(tr, 40);
	complete(tr, 1);
	notify_expect(tr, true);
}

static void test_notify_broken_or_unset(void **state)
{
	struct test_ring *tr = *state;

	complete(tr, 1);
	tr->vq.broken = true;
	vq_notify(&tr->vq);
	assert_int_equal(tr_calls(tr), 0);
	assert_int_equal(tr->vq.stats.notifications + tr->vq.stats.suppressed, 0);
	tr->vq.broken = false;
	notify_expect(tr, true);
}

/* ---- driver -> device kicks ---- */

static void test_disable_enable_no_event_idx(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;

	tr->used->flags = 0;
	vq_disable_notify(&tr->vq);
	assert_true(tr->used->flags & VRING_USED_F_NO_NOTIFY);
	/* Nothing arrived meanwhile: no need to drain again. */
	assert_false(vq_enable_notify(&tr->vq));
	assert_false(tr->used->flags & VRING_USED_F_NO_NOTIFY);

	/* The race: the driver adds a buffer while kicks are off (so it
	 * does not kick); re-enabling must report it. */
	vq_disable_notify(&tr->vq);
	tr_desc(tr, 0, tr_gpa(TR_DATA_OFF), 8, 0, 0);
	tr_avail_add(tr, 0);
	assert_true(vq_enable_notify(&tr->vq));
	assert_false(tr->used->flags & VRING_USED_F_NO_NOTIFY);
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 1);
	assert_false(vq_enable_notify(&tr->vq));
	/* avail_event is an EVENT_IDX field: left alone. */
	assert_int_equal(tr_avail_event(tr), 0);
}

static void test_disable_enable_event_idx(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;

	for (uint16_t i = 0; i < 4; i++)
		tr_desc(tr, i, tr_gpa(TR_DATA_OFF), 8, 0, 0);

	/* Popping with kicks wanted moves avail_event along, so that the
	 * driver kicks for the next buffer. */
	tr_avail_add(tr, 0);
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 1);
	assert_int_equal(tr_avail_event(tr), 1);

	/* Disabled: avail_event stays behind (that is the suppression), and
	 * the flag is not used with EVENT_IDX. */
	vq_disable_notify(&tr->vq);
	assert_int_equal(tr->used->flags, 0);
	tr_avail_add(tr, 1);
	tr_avail_add(tr, 2);
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 1);
	assert_int_equal(tr_avail_event(tr), 1);

	/* Re-enabling publishes where we are and reports what is pending. */
	assert_true(vq_enable_notify(&tr->vq));
	assert_int_equal(tr_avail_event(tr), 2);
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 1);
	assert_int_equal(tr_avail_event(tr), 3);
	assert_false(vq_enable_notify(&tr->vq));
	assert_int_equal(tr_avail_event(tr), 3);

	/* vq_unpop gives the entry back, avail_event follows. */
	tr_avail_add(tr, 3);
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 1);
	assert_int_equal(tr_avail_event(tr), 4);
	vq_unpop(&tr->vq);
	assert_int_equal(tr_avail_event(tr), 3);
}

/* Would a driver (virtio spec 2.7.10) kick after moving avail->idx from
 * old to new, given the avail_event the device published? */
static bool driver_kicks(struct test_ring *tr, uint16_t old)
{
	return vq_need_event(tr_avail_event(tr), tr->avail_idx, old);
}

static void test_kicks_driver_view(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;

	for (uint16_t i = 0; i < 4; i++)
		tr_desc(tr, i, tr_gpa(TR_DATA_OFF), 8, 0, 0);
	tr_avail_add(tr, 0);
	assert_true(driver_kicks(tr, 0));
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 1);

	/* While the device drains with kicks off, the driver's buffers after
	 * the one that woke it up cause no kick. */
	vq_disable_notify(&tr->vq);
	tr_avail_add(tr, 1);
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 1);
	tr_avail_add(tr, 2);
	assert_false(driver_kicks(tr, 2));

	/* Re-enabling finds that buffer; after draining it, the driver's
	 * next buffer is kicked again. */
	assert_true(vq_enable_notify(&tr->vq));
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 1);
	assert_false(vq_enable_notify(&tr->vq));
	tr_avail_add(tr, 3);
	assert_true(driver_kicks(tr, 3));
}

/* A polling device wants no kick at all, not even for the next buffer;
 * re-enabling restores the kick for the next one and reports what came. */
static void test_suppress_kicks_event_idx(void **state)
{
	struct test_ring *tr = *state;
	struct vq_elem e;

	for (uint16_t i = 0; i < 8; i++)
		tr_desc(tr, i, tr_gpa(TR_DATA_OFF), 8, 0, 0);
	tr_avail_add(tr, 0);
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 1);
	assert_false(vq_enable_notify(&tr->vq));
	vq_suppress_kicks(&tr->vq);
	assert_int_equal(tr->used->flags, 0);
	/* Buffer after buffer, up to a full ring, never a kick. */
	for (uint16_t i = 1; i < 8; i++) {
		uint16_t old = tr->avail_idx;

		tr_avail_add(tr, i);
		assert_false(driver_kicks(tr, old));
	}
	/* Popping while suppressed leaves the suppression in place. */
	assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 1);
	assert_false(driver_kicks(tr, (uint16_t)(tr->avail_idx - 1)));
	assert_true(vq_enable_notify(&tr->vq));
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(vq_pop(&tr->vq, &tr->gm, &e), 1);
	assert_false(vq_enable_notify(&tr->vq));
	tr_desc(tr, 0, tr_gpa(TR_DATA_OFF), 8, 0, 0);
	tr_avail_add(tr, 0);
	assert_true(driver_kicks(tr, (uint16_t)(tr->avail_idx - 1)));
}

static void test_suppress_kicks_event_idx_wrap(void **state)
{
	struct test_ring *tr = *state;

	/* Just past a 16-bit wrap, avail_event must wrap too (65535). */
	vq_set_base(&tr->vq, 0);
	tr->vq.last_avail_idx = 0;
	vq_suppress_kicks(&tr->vq);
	assert_int_equal(tr_avail_event(tr), 0xffff);
	for (uint16_t n = 1; n <= 8; n++)
		assert_false(vq_need_event(tr_avail_event(tr), n, 0));
}

static void test_suppress_kicks_flag(void **state)
{
	struct test_ring *tr = *state;

	vq_suppress_kicks(&tr->vq);
	assert_true(tr->used->flags & VRING_USED_F_NO_NOTIFY);
	assert_false(vq_enable_notify(&tr->vq));
	assert_false(tr->used->flags & VRING_USED_F_NO_NOTIFY);
}

/* The driver waits for us once it asked about the entry we publish next;
 * before that it is still working through what we gave it. */
static void test_driver_waiting_event_idx(void **state)
{
	struct test_ring *tr = *state;

	tr_set_used_event(tr, 0);
	assert_true(vq_driver_waiting(&tr->vq));
	complete(tr, 3);
	vq_notify(&tr->vq);
	assert_false(vq_driver_waiting(&tr->vq)); /* used_event 0, used idx 3 */
	tr_set_used_event(tr, 2);
	assert_false(vq_driver_waiting(&tr->vq));
	tr_set_used_event(tr, 3);
	assert_true(vq_driver_waiting(&tr->vq));
	/* Not ready: nobody to wait for, never hold anything back. */
	tr->vq.broken = true;
	tr_set_used_event(tr, 0);
	assert_true(vq_driver_waiting(&tr->vq));
}

static void test_driver_waiting_flag(void **state)
{
	struct test_ring *tr = *state;

	assert_true(vq_driver_waiting(&tr->vq));
	tr->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	assert_false(vq_driver_waiting(&tr->vq));
	tr->avail->flags = 0;
	assert_true(vq_driver_waiting(&tr->vq));
}

static void test_enable_notify_not_ready(void **state)
{
	struct test_ring *tr = *state;

	tr_desc(tr, 0, tr_gpa(TR_DATA_OFF), 8, 0, 0);
	tr_avail_add(tr, 0);
	/* A broken queue is never drained again, whatever is pending. */
	tr->vq.broken = true;
	assert_false(vq_enable_notify(&tr->vq));
	tr->vq.broken = false;
	assert_true(vq_enable_notify(&tr->vq));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_need_event_table),
		cmocka_unit_test(test_need_event_exhaustive),
		cmocka_unit_test_setup_teardown(test_event_idx_notify, setup_event_idx, teardown),
		cmocka_unit_test_setup_teardown(test_notify_nothing_new, setup_event_idx, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx_wrap, setup_event_idx, teardown),
		cmocka_unit_test_setup_teardown(test_set_addr_resets_first_notify, setup_event_idx,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_interrupt_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_on_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notify_on_empty_event_idx, setup_event_idx,
						teardown),
		cmocka_unit_test_setup_teardown(test_notify_broken_or_unset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disable_enable_no_event_idx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disable_enable_event_idx, setup_event_idx,
						teardown),
		cmocka_unit_test_setup_teardown(test_kicks_driver_view, setup_event_idx, teardown),
		cmocka_unit_test_setup_teardown(test_enable_notify_not_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suppress_kicks_event_idx, setup_event_idx,
						teardown),
		cmocka_unit_test_setup_teardown(test_suppress_kicks_event_idx_wrap, setup_event_idx,
						teardown),
		cmocka_unit_test_setup_teardown(test_suppress_kicks_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_driver_waiting_event_idx, setup_event_idx,
						teardown),
		cmocka_unit_test_setup_teardown(test_driver_waiting_flag, setup, teardown),
	};

	return cmocka_run_group_tests_name("event_idx", tests, NULL, NULL);
}
