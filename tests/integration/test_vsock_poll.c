/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Adaptive polling (--poll-us): while the daemon's VM thread polls the tx
 * ring it asks the guest not to kick, so a guest that answers quickly
 * saves its kick and the daemon's wake-up; with --poll-us 0 every packet
 * after a quiet moment needs a kick; an idle daemon does not spin.
 *
 * The exchange: the guest sends REQUEST to a host port nobody listens on
 * and waits for the daemon's RST, over and over (a request/response
 * pattern with nothing on the host side to wait for).
 */
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#define ROUNDS 400
#define NO_LISTENER_PORT 7777

/* Sends ROUNDS requests, each after the answer to the previous one, and
 * checks every answer. Returns the tx queue's counters for the run. */
static struct sim_vq_stats ping_pong(struct sim *s, unsigned rounds)
{
	struct sim_pkt *p = sim_pkt_new();
	struct sim_vq_stats st;

	assert_non_null(p);
	sim_stats_reset(s);
	for (unsigned i = 0; i < rounds; i++) {
		uint32_t src = 50000 + i;

		itest_send_op(s, src, NO_LISTENER_PORT, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0);
		itest_expect_pkt(s, p, ITEST_TIMEOUT_MS);
		assert_int_equal(p->op, VIRTIO_VSOCK_OP_RST);
		assert_int_equal(p->dst_port, src);
		assert_int_equal(p->src_port, NO_LISTENER_PORT);
		/* Give back the tx descriptor the daemon returned. */
		assert_int_equal(sim_tx_reclaim(s) >= 0, 1);
	}
	assert_int_equal(sim_vq_stats(s, 1, &st), 0);
	free(p);
	return st;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void test_off_every_request_kicks(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_vq_stats st = ping_pong(s, ROUNDS);

	/* The daemon re-enables kicks before it answers, so the guest's
	 * next packet always finds them wanted. */
	assert_int_equal(st.kicks, ROUNDS);
	assert_int_equal(st.kicks_suppressed, 0);
	sim_close(s);
}

static void test_on_saves_kicks(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_vq_stats st = ping_pong(s, ROUNDS);

	/* The window needs a few rounds to grow, and a slow test machine
	 * may miss some; a quarter is far from the zero of polling off. */
	print_message("kicks %llu, suppressed %llu of %u\n", (unsigned long long)st.kicks,
		      (unsigned long long)st.kicks_suppressed, ROUNDS);
	assert_int_equal(st.kicks + st.kicks_suppressed, ROUNDS);
	assert_true(st.kicks_suppressed >= ROUNDS / 4);
	sim_close(s);
}

/* utime + stime of a process, in clock ticks. */
static long long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long ut = 0, st = 0;
	FILE *f;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	/* Fields after the command name, which may contain spaces. */
	p = strrchr(buf, ')');
	assert_non_null(p);
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&ut, &st), 2);
	return (long long)(ut + st);
}


/* After a burst, a quiet daemon goes back to sleeping: the first packet
 * after a pause is kicked again, and the pause costs next to no CPU. */
static void test_idle_does_not_spin(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_vq_stats st;
	long long t0, used;
	long hz = sysconf(_SC_CLK_TCK);

	ping_pong(s, ROUNDS);
	t0 = cpu_ticks(t->d.pid);
	sleep_ms(500);
	used = cpu_ticks(t->d.pid) - t0;
	/* A spinning thread would use ~500 ms (50 ticks at 100 Hz). */
	print_message("daemon CPU over 500 ms idle: %lld ticks (%ld Hz)\n", used, hz);
	assert_true(used * 1000 / hz <= 50);
	st = ping_pong(s, 1);
	assert_int_equal(st.kicks, 1);
	assert_int_equal(st.kicks_suppressed, 0);
	sim_close(s);
}

/*
 * A host application writing small messages quickly while the guest is
 * busy (it has not taken the last packets yet): the daemon lets them
 * gather in the socket and delivers several per packet, at most --poll-us
 * later. Read one by one, 40 messages would make 40 packets.
 */
#define SMALL_MSGS 40
#define SMALL_LEN 32
#define HOST_PORT 6001

static unsigned small_writes_packets(struct itest *t, long gap_us)
{
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	struct sim_vq_stats vs;
	int lfd = itest_host_listen(t, HOST_PORT, 4), hfd;
	uint8_t sent[SMALL_MSGS * SMALL_LEN], got[sizeof(sent)];
	size_t have = 0;

	assert_int_equal(sim_stream_connect(s, &st, ITEST_HOST_CID, HOST_PORT, 50100, 0,
					    ITEST_TIMEOUT_MS), 0);
	hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	for (size_t i = 0; i < sizeof(sent); i++)
		sent[i] = (uint8_t)(i * 7 + i / SMALL_LEN);
	sim_stats_reset(s);
	/* The guest takes nothing meanwhile: to the daemon it looks busy
	 * from the first packet on. */
	for (unsigned m = 0; m < SMALL_MSGS; m++) {
		struct timespec ts = { .tv_nsec = gap_us * 1000 };

		assert_int_equal(itest_host_write(hfd, sent + m * SMALL_LEN, SMALL_LEN,
						  ITEST_TIMEOUT_MS), 0);
		nanosleep(&ts, NULL);
	}
	while (have < sizeof(got)) {
		ssize_t n = sim_stream_recv(&st, got + have, sizeof(got) - have, ITEST_TIMEOUT_MS);

		assert_true(n > 0);
		have += (size_t)n;
	}
	assert_memory_equal(got, sent, sizeof(sent));
	assert_int_equal(st.c->credit_violations, 0);
	assert_int_equal(sim_vq_stats(s, 0, &vs), 0);
	close(hfd);
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
	return (unsigned)vs.used;
}

static void test_small_writes_gather(void **state)
{
	unsigned pkts = small_writes_packets(*state, 150);

	print_message("%u messages arrived in %u packets\n", SMALL_MSGS, pkts);
	assert_true(pkts <= SMALL_MSGS * 3 / 4);
}

/* Without polling nothing waits: every message is read as it comes (2 ms
 * apart, so that even a slow machine reads them one by one). */
static void test_small_writes_no_wait_when_off(void **state)
{
	unsigned pkts = small_writes_packets(*state, 2000);

	print_message("%u messages arrived in %u packets\n", SMALL_MSGS, pkts);
	assert_true(pkts >= SMALL_MSGS - 2);
}

/* A connection that goes away while its reads wait (the guest resets it)
 * must not leave the daemon polling for nothing. */
static void test_reset_while_gathering_does_not_spin(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_start(t, NULL);
	struct sim_stream st;
	int lfd = itest_host_listen(t, HOST_PORT, 4), hfd;
	uint8_t msg[SMALL_LEN] = { 1 };
	long hz = sysconf(_SC_CLK_TCK);
	long long t0, used;

	assert_int_equal(sim_stream_connect(s, &st, ITEST_HOST_CID, HOST_PORT, 50200, 0,
					    ITEST_TIMEOUT_MS), 0);
	hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	for (unsigned m = 0; m < 12; m++) {
		assert_int_equal(itest_host_write(hfd, msg, sizeof(msg), ITEST_TIMEOUT_MS), 0);
		usleep(150);
	}
	assert_int_equal(sim_stream_rst(&st), 0);
	itest_host_wait_closed(hfd, ITEST_TIMEOUT_MS, NULL);
	sleep_ms(50);
	t0 = cpu_ticks(t->d.pid);
	sleep_ms(500);
	used = cpu_ticks(t->d.pid) - t0;
	print_message("daemon CPU over 500 ms after the reset: %lld ticks (%ld Hz)\n", used, hz);
	assert_true(used * 1000 / hz <= 100);
	close(hfd);
	close(lfd);
	sim_stream_fini(&st);
	sim_close(s);
}

static const char *const poll_off[] = { "--poll-us", "0", NULL };
/* 1 ms: long enough for a loaded machine's scheduler to run the guest. */
static const char *const poll_1ms[] = { "--poll-us", "1000", NULL };

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITEST_T_ARGS(test_off_every_request_kicks, poll_off),
		ITEST_T_ARGS(test_on_saves_kicks, poll_1ms),
		ITEST_T_ARGS(test_idle_does_not_spin, poll_1ms),
		ITEST_T_ARGS(test_small_writes_gather, poll_1ms),
		ITEST_T_ARGS(test_small_writes_no_wait_when_off, poll_off),
		ITEST_T_ARGS(test_reset_while_gathering_does_not_spin, poll_1ms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
