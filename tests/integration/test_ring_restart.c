/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * A ring the driver broke stays broken only until the frontend restarts
 * it (SET_VRING_BASE / SET_VRING_ADDR, as on a guest reboot): then traffic
 * flows again. Both events are logged once.
 */
#include "itest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A REQUEST to a port nobody listens on comes back as an RST: the tx and
 * rx rings both work. */
static int rings_work(struct sim *s)
{
	struct sim_pkt *p = sim_pkt_new();
	int r;

	assert_non_null(p);
	itest_send_op(s, 40000, 4321, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0);
	r = sim_rx_poll(s, p, ITEST_TIMEOUT_MS);
	if (!r && (p->op != VIRTIO_VSOCK_OP_RST || p->dst_port != 40000))
		r = -EBADMSG;
	free(p);
	return r;
}

/* Waits (bounded) for needle in the daemon's log. */
static bool log_shows(struct itest *t, const char *needle)
{
	for (int i = 0; i < ITEST_TIMEOUT_MS / 10; i++) {
		if (itest_log_contains(t, needle))
			return true;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	return false;
}

static void test_broken_ring_restarts(void **state)
{
	struct itest *t = *state;
	struct sim_vq_rings tx;
	struct sim_opts o;
	struct sim *s;
	uint16_t idx;
	uint64_t one = 1;
	int r;

	/* The restart re-sends the memory: as a table that replaces it. */
	itest_opts(&o);
	o.mem_mode = SIM_MEM_TABLE;
	s = itest_start(t, &o);
	assert_int_equal(rings_work(s), 0);
	/* The driver publishes an avail index 1000 entries ahead of a
	 * 128-entry ring: the device can only stop using the ring. */
	assert_int_equal(sim_vq_rings(s, SIM_VQ_TX, &tx), 0);
	idx = __atomic_load_n(&tx.avail->idx, __ATOMIC_RELAXED);
	__atomic_store_n(&tx.avail->idx, (uint16_t)(idx + 1000), __ATOMIC_RELEASE);
	assert_int_equal(write(tx.kickfd, &one, sizeof(one)), (ssize_t)sizeof(one));
	assert_true(log_shows(t, "vm cid 5: queue 1 is broken"));
	__atomic_store_n(&tx.avail->idx, idx, __ATOMIC_RELEASE);
	assert_int_not_equal(rings_work(s), 0);

	/* The guest reboots: its VMM stops and restarts the rings. */
	r = sim_stop(s);
	if (r)
		fail_msg("stop: %s", strerror(-r));
	r = sim_start(s);
	if (r)
		fail_msg("restart: %s", strerror(-r));
	assert_true(log_shows(t, "vm cid 5: queue 1 restarted after it was broken"));
	r = rings_work(s);
	if (r)
		fail_msg("traffic after the restart: %s", strerror(-r));
	sim_close(s);
	itest_fresh_frontend_ok(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITEST_T(test_broken_ring_restarts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
