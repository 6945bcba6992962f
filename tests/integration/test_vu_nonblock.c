/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * A VMM cannot hold the worker thread it shares with other VMs through its
 * vhost-user socket: two VMs on one worker (--threads 1), VM A's VMM
 * misbehaves on the vhost-user socket while VM B's guest does round trips
 * to a host service, and each of B's round trips must stay short.
 *  - A trickles a message, a byte every 200 ms: the worker takes the bytes
 *    as they come and serves B meanwhile; A gets its reply in the end.
 *  - A sends requests and never reads the replies: its session ends when
 *    the socket is full instead of the worker waiting for room.
 * Once, the worker read a message whole with blocking calls (up to 5 s)
 * and sent replies on a blocking socket (5 s send timeout): B stalled for
 * the whole trickle, or 5 s.
 */
#include "itest.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PORT 7200u
/* Each of B's round trips: normally well under a millisecond; a worker
 * held by A's VMM stalls it for seconds. Generous for sanitizers on a
 * shared 2-CPU machine. */
#define TRIP_MAX_MS 100
/* How long a single round trip may take before the test gives up: long
 * enough that a stalled worker shows as a measured stall, not a timeout. */
#define TRIP_TIMEOUT_MS 10000
#define TRICKLE_GAP_MS 200
/* Between B's round trips: enough of them to land in every gap of A's
 * trickle, without two processes spinning on a shared machine. */
#define TRIP_PAUSE_US 2000

/* Two VMs, CID 5 (A, at t->d.socket_path) and CID 6 (B, itest_vm2), on
 * one worker thread. */
static int setup_two_on_one_worker(void **state)
{
	static const char *const one_worker[] = { "--threads", "1", NULL };
	struct itest *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	if (itest_spawn_two(t, "", "", one_worker)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

/* A raw connection to a vhost-user socket (asserts). */
static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* VM B: a running guest with one connection to a host service. */
struct vm_b {
	struct itest v;
	struct sim *s;
	struct sim_stream st;
	int lfd, hfd;
	unsigned trips;
	int64_t worst_ms;
};

static void b_start(struct itest *t, struct vm_b *b)
{
	memset(b, 0, sizeof(*b));
	itest_vm2(t, &b->v);
	b->s = itest_start(&b->v, NULL);
	assert_int_equal(sim_guest_cid(b->s), ITEST_CID2);
	b->lfd = itest_host_listen(&b->v, PORT, 4);
	assert_int_equal(sim_stream_connect(b->s, &b->st, ITEST_HOST_CID, PORT, 52000, 0,
					    ITEST_TIMEOUT_MS), 0);
	b->hfd = itest_host_accept(b->lfd, ITEST_TIMEOUT_MS);
	assert_true(b->hfd >= 0);
}

/* One round trip: 64 bytes guest -> host, echoed back. Records its time. */
static void b_trip(struct vm_b *b)
{
	uint8_t msg[64], echo[64];
	int64_t t0 = sim_now_ms(), took;
	ssize_t got = 0;

	memset(msg, (int)(b->trips & 0xff), sizeof(msg));
	assert_int_equal(sim_stream_send(&b->st, msg, sizeof(msg), TRIP_TIMEOUT_MS), 0);
	assert_int_equal(itest_host_read(b->hfd, echo, sizeof(echo), TRIP_TIMEOUT_MS),
			 (ssize_t)sizeof(echo));
	assert_int_equal(itest_host_write(b->hfd, echo, sizeof(echo), TRIP_TIMEOUT_MS), 0);
	while (got < (ssize_t)sizeof(echo)) {
		ssize_t n = sim_stream_recv(&b->st, echo + got, sizeof(echo) - (size_t)got,
					    TRIP_TIMEOUT_MS);
		assert_true(n > 0);
		got += n;
	}
	assert_memory_equal(echo, msg, sizeof(msg));
	took = sim_now_ms() - t0;
	if (took > b->worst_ms)
		b->worst_ms = took;
	b->trips++;
	usleep(TRIP_PAUSE_US);
}

static void b_stop(struct vm_b *b)
{
	close(b->hfd);
	close(b->lfd);
	sim_stream_fini(&b->st);
	assert_int_equal(sim_stop(b->s), 0);
	sim_close(b->s);
}

/* VM A's VMM, in a thread: a GET_FEATURES header a byte at a time, then
 * the reply. */
struct trickler {
	int fd;
	atomic_bool done;
	int result;             /* 0: the right reply came */
	int64_t took_ms;
	pthread_t th;
};

static void *trickle_main(void *arg)
{
	struct trickler *tr = arg;
	struct vu_msg_header h = {
		.request = VHOST_USER_GET_FEATURES, .flags = VHOST_USER_VERSION, .size = 0,
	};
	struct {
		struct vu_msg_header h;
		uint64_t v;
	} __attribute__((packed)) reply;
	int64_t t0 = sim_now_ms();
	ssize_t n;

	tr->result = -EIO;
	for (size_t i = 0; i < sizeof(h); i++) {
		if (i)
			usleep(TRICKLE_GAP_MS * 1000);
		if (send(tr->fd, (const uint8_t *)&h + i, 1, MSG_NOSIGNAL) != 1) {
			tr->result = -errno;
			goto out;
		}
	}
	n = itest_host_read(tr->fd, &reply, sizeof(reply), ITEST_TIMEOUT_MS);
	if (n != (ssize_t)sizeof(reply))
		tr->result = n < 0 ? (int)n : -ECONNRESET;
	else if (reply.h.request == VHOST_USER_GET_FEATURES &&
		 reply.h.flags == (VHOST_USER_VERSION | VHOST_USER_REPLY_MASK) &&
		 reply.h.size == sizeof(uint64_t) &&
		 (reply.v & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
		tr->result = 0;
out:
	tr->took_ms = sim_now_ms() - t0;
	atomic_store(&tr->done, true);
	return NULL;
}

static void test_trickle_does_not_stall_neighbour(void **state)
{
	struct itest *t = *state;
	struct trickler tr = { .fd = -1 };
	struct vm_b b;

	b_start(t, &b);
	b_trip(&b); /* warm: the connection works */
	b.worst_ms = 0;
	b.trips = 0;
	tr.fd = raw_connect(t->d.socket_path);
	assert_int_equal(pthread_create(&tr.th, NULL, trickle_main, &tr), 0);
	while (!atomic_load(&tr.done))
		b_trip(&b);
	pthread_join(tr.th, NULL);
	print_message("A trickled its message over %lld ms; B did %u round trips meanwhile, "
		      "the worst took %lld ms\n", (long long)tr.took_ms, b.trips,
		      (long long)b.worst_ms);
	if (tr.result)
		fail_msg("the trickled GET_FEATURES got no proper reply: %s",
			 strerror(-tr.result));
	/* A's session goes on: the message was taken in, not cut off. */
	assert_false(itest_log_contains(t, "unreadable vhost-user message"));
	if (b.worst_ms >= TRIP_MAX_MS)
		fail_msg("a round trip of VM B took %lld ms while VM A's VMM trickled a "
			 "message on the same worker (want < %d ms)", (long long)b.worst_ms,
			 TRIP_MAX_MS);
	assert_true(b.trips >= 10);
	close(tr.fd);
	b_stop(&b);
	itest_fresh_frontend_ok(t);
}

static void test_unread_replies_do_not_stall_neighbour(void **state)
{
	struct itest *t = *state;
	struct vu_msg_header h = {
		.request = VHOST_USER_GET_FEATURES, .flags = VHOST_USER_VERSION, .size = 0,
	};
	enum { N = 8192 };
	static struct vu_msg_header reqs[N];
	int64_t end;
	struct vm_b b;
	int fd;

	for (size_t i = 0; i < N; i++)
		reqs[i] = h;
	b_start(t, &b);
	b_trip(&b);
	b.worst_ms = 0;
	b.trips = 0;
	fd = raw_connect(t->d.socket_path);
	/* As many requests as fit, their replies never read. */
	assert_true(send(fd, reqs, sizeof(reqs), MSG_DONTWAIT | MSG_NOSIGNAL) > 0);
	/* B's round trips meanwhile: at least 20, and for 1 s. */
	end = sim_now_ms() + 1000;
	while (b.trips < 20 || sim_now_ms() < end)
		b_trip(&b);
	print_message("B did %u round trips while A's replies piled up; the worst took "
		      "%lld ms\n", b.trips, (long long)b.worst_ms);
	if (b.worst_ms >= TRIP_MAX_MS)
		fail_msg("a round trip of VM B took %lld ms while VM A's VMM read no replies "
			 "on the same worker (want < %d ms)", (long long)b.worst_ms, TRIP_MAX_MS);
	/* A's session ended, and the log says why. */
	for (end = sim_now_ms() + ITEST_TIMEOUT_MS;
	     !itest_log_contains(t, "vm cid 5: frontend disconnected (not reading its replies)");
	     usleep(10000))
		if (sim_now_ms() > end)
			fail_msg("VM A's session did not end although its VMM reads no replies");
	assert_true(itest_log_contains(t, "vm cid 5: the frontend does not read its replies"));
	close(fd);
	b_stop(&b);
	itest_fresh_frontend_ok(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_trickle_does_not_stall_neighbour,
						setup_two_on_one_worker, itest_teardown),
		cmocka_unit_test_setup_teardown(test_unread_replies_do_not_stall_neighbour,
						setup_two_on_one_worker, itest_teardown),
	};

	return cmocka_run_group_tests_name("vhost-user without blocking", tests, NULL, NULL);
}
