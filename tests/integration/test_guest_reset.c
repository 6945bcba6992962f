/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The VMM stops the rings (GET_VRING_BASE) and restarts them, under the
 * same vhost-user session:
 *  - as after a guest reboot (fresh rings, bases 0): the VM's connections
 *    are reset (host peers see their sockets close, within a bound), the
 *    new driver gets one TRANSPORT_RESET on the event queue (also when it
 *    posts its event buffers only later), the reset is logged and counted,
 *    and the guest connects again;
 *  - as after a pause (QEMU stop/cont: the bases we returned): the
 *    connection and the host data that came meanwhile survive, no event is
 *    sent, and the paused VM's thread does not spin, even when the pause
 *    came right after a full ring of tx packets (Firecracker #6074).
 */
#include "itest.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PORT 7000u

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

static void sleep_ms(int ms)
{
	nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L },
		  NULL);
}

/* A guest connection to the host's port with one message each way: its
 * host end (the listener is closed). */
static int connected(struct itest *t, struct sim *s, struct sim_stream *st, uint32_t port,
		     uint32_t src_port)
{
	int lfd = itest_host_listen(t, port, 8), hfd;
	char buf[8];

	assert_int_equal(sim_stream_connect(s, st, ITEST_HOST_CID, port, src_port, 0,
					    ITEST_TIMEOUT_MS), 0);
	hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	close(lfd);
	assert_int_equal(sim_stream_send(st, "ping", 4, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_host_read(hfd, buf, 4, ITEST_TIMEOUT_MS), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(itest_host_write(hfd, "pong", 4, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(sim_stream_recv(st, buf, sizeof(buf), ITEST_TIMEOUT_MS), 4);
	assert_memory_equal(buf, "pong", 4);
	return hfd;
}

static struct sim *start(struct itest *t, unsigned event_bufs)
{
	struct sim_opts o;

	/* A restart re-sends the memory: as a table that replaces it. */
	itest_opts(&o);
	o.mem_mode = SIM_MEM_TABLE;
	o.event_bufs = event_bufs;
	return itest_start(t, &o);
}

static void test_reboot_resets_connections(void **state)
{
	struct itest *t = *state;
	struct sim *s = start(t, 8);
	struct sim_stream st;
	int hfd = connected(t, s, &st, PORT, 50001), r;
	char want[128];
	uint32_t id = 99;
	int64_t t0;

	/* Host data the guest will never read: lost with the guest. */
	assert_int_equal(itest_host_write(hfd, "unread", 6, ITEST_TIMEOUT_MS), 0);

	/* The guest reboots: QEMU stops the rings at the device reset, and
	 * the new driver's rings start at 0. */
	t0 = sim_now_ms();
	r = sim_reset(s);
	if (r)
		fail_msg("reset: %s", strerror(-r));
	r = sim_start(s);
	if (r)
		fail_msg("restart: %s", strerror(-r));
	r = itest_host_wait_closed(hfd, ITEST_TIMEOUT_MS, NULL);
	if (r)
		fail_msg("the host side of the rebooted guest's connection is still open "
			 "after %d ms", ITEST_TIMEOUT_MS);
	printf("host peer saw the close %lld ms after the reboot began\n",
	       (long long)(sim_now_ms() - t0));
	close(hfd);
	r = sim_event_poll(s, &id, ITEST_TIMEOUT_MS);
	if (r)
		fail_msg("no event on the event queue: %s", strerror(-r));
	assert_int_equal(id, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	assert_true(log_shows(t, "vm cid 5: the guest reset its vsock device (rings restarted "
				 "anew): 1 connection reset"));
	/* One reset, one event. */
	assert_int_equal(sim_event_poll(s, &id, 200), -ETIMEDOUT);
	assert_int_equal(itest_log_count(t, "the guest reset its vsock device"), 1);
	assert_int_equal(kill(t->d.pid, SIGUSR1), 0);
	snprintf(want, sizeof(want), "metrics: vdv_transport_resets_total{cid=\"%u\"} 1\n",
		 ITEST_CID);
	assert_true(log_shows(t, want));

	/* The new guest connects again, and hears nothing of the old one. */
	sim_stream_fini(&st);
	hfd = connected(t, s, &st, PORT + 1, 50001);
	assert_int_equal(sim_stream_stray(&st), 0);
	close(hfd);
	sim_stream_fini(&st);
	sim_close(s);
	itest_fresh_frontend_ok(t);
}

static void test_reset_event_waits_for_buffer(void **state)
{
	struct itest *t = *state;
	/* This driver posts its event buffers by hand, after the rings run. */
	struct sim *s = start(t, 0);
	struct sim_stream st;
	int hfd = connected(t, s, &st, PORT, 50002), r;
	uint32_t id = 99;

	assert_int_equal(sim_event_post(s, 2), 0);
	assert_int_equal(sim_reset(s), 0);
	r = sim_start(s);
	if (r)
		fail_msg("restart: %s", strerror(-r));
	assert_int_equal(itest_host_wait_closed(hfd, ITEST_TIMEOUT_MS, NULL), 0);
	close(hfd);
	assert_true(log_shows(t, "1 connection reset"));
	/* Nothing posted yet: nothing can come. */
	assert_int_equal(sim_event_poll(s, &id, 200), -ETIMEDOUT);
	assert_int_equal(sim_event_post(s, 1), 0);
	r = sim_event_poll(s, &id, ITEST_TIMEOUT_MS);
	if (r)
		fail_msg("no TRANSPORT_RESET after the event buffer came: %s", strerror(-r));
	assert_int_equal(id, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	sim_stream_fini(&st);
	sim_close(s);
}

/* Whether every thread of pid is stopped (state T): SIGSTOP takes
 * effect after kill() returns. */
static bool all_stopped(pid_t pid)
{
	char path[64], buf[512];
	struct dirent *de;
	bool all = true;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return false;
	while (all && (de = readdir(dir))) {
		FILE *f;
		char *p;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.20s/stat", (int)pid, de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue; /* the thread ended */
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		all = p && p[1] == ' ' && p[2] == 'T';
		fclose(f);
	}
	closedir(dir);
	return all;
}

static void stop_daemon(struct itest *t)
{
	assert_int_equal(kill(t->d.pid, SIGSTOP), 0);
	for (int i = 0; !all_stopped(t->d.pid); i++) {
		assert_true(i < ITEST_TIMEOUT_MS);
		sleep_ms(1);
	}
}

/* tx packets the device answers with nothing: RSTs for no connection. */
static void fill_tx_ring(struct sim *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct virtio_vsock_hdr h = sim_vsock_hdr(ITEST_CID, ITEST_HOST_CID, 60000 + i,
							  1, VIRTIO_VSOCK_OP_RST, 0, 0, 0, 0);

		assert_int_equal(sim_tx_send(s, &h, NULL, 0, SIM_TX_NO_KICK), 0);
	}
}

static void test_pause_resume_keeps_connection(void **state)
{
	struct itest *t = *state;
	struct sim *s = start(t, 8);
	struct sim_stream st;
	int hfd = connected(t, s, &st, PORT, 50003), r;
	struct vu_vring_state gs = { .index = SIM_VQ_TX }, reply;
	struct vu_msg_header hdr;
	uint64_t cpu0, cpu1;
	uint32_t id;
	char buf[64];

	/*
	 * The pause lands right after the device took a full ring of tx
	 * packets in one pass (in-flight traffic at pause time): the kick
	 * and GET_VRING_BASE reach the daemon's loop in the same turn, kick
	 * first (the daemon is stopped while both are sent).
	 */
	sim_tx_reclaim(s);
	fill_tx_ring(s, sim_opts(s)->queue_size[SIM_VQ_TX]);
	stop_daemon(t);
	assert_int_equal(sim_vq_kick(s, SIM_VQ_TX), 0);
	assert_int_equal(sim_send_msg(s, VHOST_USER_GET_VRING_BASE, VHOST_USER_VERSION, &gs,
				      sizeof(gs), NULL, 0), 0);
	assert_int_equal(kill(t->d.pid, SIGCONT), 0);
	r = sim_recv_reply(s, &hdr, &reply, sizeof(reply), ITEST_TIMEOUT_MS);
	assert_int_equal(r, (int)sizeof(reply));
	/* The rest of QEMU's vhost_dev_stop. */
	r = sim_stop(s);
	if (r)
		fail_msg("stop: %s", strerror(-r));

	/* Paused: host data waits, and the VM's thread sleeps. */
	assert_int_equal(itest_host_write(hfd, "while paused", 12, ITEST_TIMEOUT_MS), 0);
	sleep_ms(50);
	assert_int_equal(itest_proc_cpu_ms(t->d.pid, &cpu0), 0);
	sleep_ms(500);
	assert_int_equal(itest_proc_cpu_ms(t->d.pid, &cpu1), 0);
	printf("daemon CPU while paused: %llu ms in 500 ms\n",
	       (unsigned long long)(cpu1 - cpu0));
	if (cpu1 - cpu0 > 150)
		fail_msg("the paused VM's daemon burnt %llu ms of CPU in 500 ms",
			 (unsigned long long)(cpu1 - cpu0));
	assert_false(itest_host_closed_now(hfd));

	/* cont: the rings restart where they stopped. */
	r = sim_start(s);
	if (r)
		fail_msg("resume: %s", strerror(-r));
	assert_int_equal(sim_stream_recv(&st, buf, sizeof(buf), ITEST_TIMEOUT_MS), 12);
	assert_memory_equal(buf, "while paused", 12);
	assert_int_equal(sim_stream_send(&st, "resumed", 7, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_host_read(hfd, buf, 7, ITEST_TIMEOUT_MS), 7);
	assert_memory_equal(buf, "resumed", 7);
	assert_int_equal(sim_event_poll(s, &id, 200), -ETIMEDOUT);
	assert_false(itest_log_contains(t, "the guest reset its vsock device"));
	assert_false(st.c->reset);
	close(hfd);
	sim_stream_fini(&st);
	sim_close(s);
}

/* Polling would find the tx packets by itself, before the kick: the
 * pause would not land right after the full pass. */
static const char *const no_polling[] = { "--poll-us", "0", NULL };

int main(void)
{
	const struct CMUnitTest tests[] = {
		ITEST_T(test_reboot_resets_connections),
		ITEST_T(test_reset_event_waits_for_buffer),
		ITEST_T_ARGS(test_pause_resume_keeps_connection, no_polling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
