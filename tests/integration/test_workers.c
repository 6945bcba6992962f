/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Worker threads (--threads N): many VMs on few threads. 300 VMs on 2
 * workers run on 3 threads (main + 2) and a sample of them, spread over
 * both workers, move data at the same time, every byte checked. A VM that
 * floods its worker does not starve another VM on the same worker: that
 * one's round trips go on. (Sibling traffic within one thread and across
 * threads: test_sibling, with --threads 1 and --threads 3.)
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "itest.h"

#define MANY 300
#define PORT 7100u
#define SAMPLE_BYTES (512u * 1024u)

struct wt {
	struct sim_daemon d;
	char dir[64];
	unsigned n;
};

static void sock_path(const struct wt *t, unsigned i, char *buf, size_t len)
{
	snprintf(buf, len, "%s/v%u.sock", t->dir, 3 + i);
}

static void uds_path(const struct wt *t, unsigned i, char *buf, size_t len)
{
	snprintf(buf, len, "%s/u%u.vsock", t->dir, 3 + i);
}

/* n VMs (CIDs 3..) from one YAML file, served by `threads` workers. */
static int setup_n(void **state, unsigned n, const char *threads)
{
	struct wt *t = calloc(1, sizeof(*t));
	char yaml[128], last[SIM_DAEMON_PATH_MAX];
	const char *argv[6];
	FILE *f;
	int r;

	if (!t)
		return -1;
	t->n = n;
	strcpy(t->dir, "/tmp/vdv-wk-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(yaml, sizeof(yaml), "%s/vms.yaml", t->dir);
	f = fopen(yaml, "w");
	if (!f)
		return -1;
	fprintf(f, "vms:\n");
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "  - {guest_cid: %u, socket: %s/v%u.sock, uds_path: %s/u%u.vsock}\n",
			3 + i, t->dir, 3 + i, t->dir, 3 + i);
	fclose(f);
	argv[0] = sim_daemon_exe();
	argv[1] = "--config";
	argv[2] = yaml;
	argv[3] = "--threads";
	argv[4] = threads;
	argv[5] = NULL;
	r = sim_daemon_spawn_argv(&t->d, argv, NULL, 0);
	sock_path(t, n - 1, last, sizeof(last));
	if (!r)
		r = sim_daemon_wait_path(&t->d, last, 20000);
	if (r) {
		fprintf(stderr, "spawning %s with %u VMs: %s\n", sim_daemon_exe(), n, strerror(-r));
		sim_daemon_dump_log(&t->d, stderr, 8192);
		sim_daemon_stop(&t->d, 1000, NULL);
		sim_rm_tree(t->dir);
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int setup_many(void **state)
{
	return setup_n(state, MANY, "2");
}

static int setup_two_on_one(void **state)
{
	return setup_n(state, 2, "1");
}

static int teardown(void **state)
{
	struct wt *t = *state;
	int r;

	if (!t)
		return 0;
	r = sim_daemon_finish(&t->d, t->dir, false, 10000);
	free(t);
	return r;
}

/* The sockets exist before the workers start (readiness comes after
 * both): waits, bounded, until the daemon has want threads; the count. */
static long wait_threads(struct wt *t, long want)
{
	long n = sim_proc_status(t->d.pid, "Threads");

	for (int waited = 0; n != want && waited < 5000; waited += 10) {
		usleep(10000);
		n = sim_proc_status(t->d.pid, "Threads");
	}
	return n;
}

static struct sim *vm_start(struct wt *t, unsigned i)
{
	char path[SIM_DAEMON_PATH_MAX];

	sock_path(t, i, path, sizeof(path));
	return itest_start_at(path, 3 + i);
}

static int host_listen(struct wt *t, unsigned i)
{
	char base[SIM_DAEMON_PATH_MAX];

	uds_path(t, i, base, sizeof(base));
	return itest_listen_at(base, PORT, 8);
}

/* One VM of the sample: its guest and its host service exchange
 * SAMPLE_BYTES each way; the guest side runs here, the host in a pump. */
struct sample {
	struct wt *t;
	unsigned vm;
	struct sim *s;
	struct sim_stream st;
	int hfd;
	struct itest_xfer x;
	pthread_t th;
};

static void *sample_guest(void *arg)
{
	struct sample *sp = arg;

	itest_stream_xfer(&sp->st, &sp->x, 60000);
	return NULL;
}

static void test_300_vms_on_2_threads(void **state)
{
	static const unsigned pick[] = { 0, 1, 2, 3, 150, 151, 298, 299 };
	enum { NS = sizeof(pick) / sizeof(pick[0]) };
	struct wt *t = *state;
	struct sample sp[NS];
	struct itest_pump pump[NS];
	long threads = wait_threads(t, 3);

	/* main + 2 workers: not a thread per VM. */
	assert_int_equal(threads, 3);
	for (unsigned k = 0; k < NS; k++) {
		int lfd;

		sp[k] = (struct sample){ .t = t, .vm = pick[k] };
		sp[k].s = vm_start(t, pick[k]);
		lfd = host_listen(t, pick[k]);
		assert_int_equal(sim_stream_connect(sp[k].s, &sp[k].st, ITEST_HOST_CID, PORT,
						    50000 + k, 0, ITEST_TIMEOUT_MS), 0);
		sp[k].hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
		assert_true(sp[k].hfd >= 0);
		close(lfd);
		sp[k].x = (struct itest_xfer){ .tx_seed = 100 + k, .rx_seed = 200 + k,
					       .tx_len = SAMPLE_BYTES, .rx_len = SAMPLE_BYTES };
		pump[k] = (struct itest_pump){ .fd = sp[k].hfd, .tx_seed = 200 + k,
					       .rx_seed = 100 + k, .tx_len = SAMPLE_BYTES,
					       .rx_len = SAMPLE_BYTES, .timeout_ms = 60000 };
	}
	/* All at once: both workers busy with several VMs each. */
	for (unsigned k = 0; k < NS; k++) {
		itest_pump_start(&pump[k]);
		assert_int_equal(pthread_create(&sp[k].th, NULL, sample_guest, &sp[k]), 0);
	}
	for (unsigned k = 0; k < NS; k++) {
		pthread_join(sp[k].th, NULL);
		assert_int_equal(itest_pump_join(&pump[k]), 0);
		assert_int_equal(sp[k].x.tx_done, SAMPLE_BYTES);
		assert_int_equal(sp[k].x.rx_done, SAMPLE_BYTES);
	}
	assert_int_equal(sim_proc_status(t->d.pid, "Threads"), 3);
	for (unsigned k = 0; k < NS; k++) {
		close(sp[k].hfd);
		sim_stream_fini(&sp[k].st);
		sim_close(sp[k].s);
	}
}

/* The flood: VM 0's guest sends as fast as credit allows. */
struct flood {
	struct sim_stream *st;
	atomic_bool stop;
	_Atomic uint64_t sent;
	int result;
	pthread_t th;
};

static void *flood_main(void *arg)
{
	struct flood *fl = arg;
	static uint8_t buf[65536];

	memset(buf, 0x5a, sizeof(buf));
	while (!atomic_load(&fl->stop)) {
		int r = sim_stream_send(fl->st, buf, sizeof(buf), 20000);

		if (r) {
			fl->result = r;
			break;
		}
		fl->sent += sizeof(buf);
	}
	return NULL;
}

/* The host side of the flood: reads and drops, until EOF or stop. */
struct sink {
	int fd;
	atomic_bool stop;
	uint64_t got;
	pthread_t th;
};

static void *sink_main(void *arg)
{
	struct sink *sk = arg;
	static uint8_t buf[65536];

	while (!atomic_load(&sk->stop)) {
		ssize_t n;

		if (itest_wait_fd(sk->fd, POLLIN, 100))
			continue;
		n = read(sk->fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		sk->got += (uint64_t)n;
	}
	return NULL;
}

/*
 * Two VMs on one worker: VM 0 floods (64 KiB writes, the host reads as fast
 * as it can), VM 1 does 64-byte round trips meanwhile. Each round trip must
 * complete, and none may take long: the flooding VM gets a budget per loop
 * turn, so the other VM's packets are served every turn.
 */
static void test_flood_does_not_starve_neighbour(void **state)
{
	struct wt *t = *state;
	struct sim *a = vm_start(t, 0), *b = vm_start(t, 1);
	struct sim_stream sa, sb;
	struct flood fl = { .st = &sa };
	struct sink sk = { 0 };
	int la = host_listen(t, 0), lb = host_listen(t, 1), hb;
	int64_t worst = 0;
	uint8_t msg[64], echo[64];

	assert_int_equal(wait_threads(t, 2), 2);
	assert_int_equal(sim_stream_connect(a, &sa, ITEST_HOST_CID, PORT, 51000, 0,
					    ITEST_TIMEOUT_MS), 0);
	sk.fd = itest_host_accept(la, ITEST_TIMEOUT_MS);
	assert_true(sk.fd >= 0);
	assert_int_equal(sim_stream_connect(b, &sb, ITEST_HOST_CID, PORT, 51001, 0,
					    ITEST_TIMEOUT_MS), 0);
	hb = itest_host_accept(lb, ITEST_TIMEOUT_MS);
	assert_true(hb >= 0);
	assert_int_equal(pthread_create(&sk.th, NULL, sink_main, &sk), 0);
	assert_int_equal(pthread_create(&fl.th, NULL, flood_main, &fl), 0);
	/* Let the flood get going. */
	while (fl.sent < 4u << 20 && fl.result == 0)
		usleep(1000);
	/* Round trips until the flood has moved 16 MiB more meanwhile (so
	 * both really ran at once), at least 50 of them, for 20 s at most. */
	uint64_t base = atomic_load(&fl.sent);
	int64_t until = sim_now_ms() + 20000;
	unsigned trips = 0;

	for (unsigned i = 0; trips < 50 || (atomic_load(&fl.sent) - base < 16u << 20 &&
					    sim_now_ms() < until && fl.result == 0);
	     i++, trips++) {
		int64_t t0 = sim_now_ms(), took;
		ssize_t got = 0;

		memset(msg, (int)i, sizeof(msg));
		assert_int_equal(sim_stream_send(&sb, msg, sizeof(msg), ITEST_TIMEOUT_MS), 0);
		assert_int_equal(itest_host_read(hb, echo, sizeof(echo), ITEST_TIMEOUT_MS),
				 (ssize_t)sizeof(echo));
		assert_int_equal(itest_host_write(hb, echo, sizeof(echo), ITEST_TIMEOUT_MS), 0);
		while (got < (ssize_t)sizeof(echo)) {
			ssize_t n = sim_stream_recv(&sb, echo + got, sizeof(echo) - (size_t)got,
						    ITEST_TIMEOUT_MS);
			assert_true(n > 0);
			got += n;
		}
		assert_memory_equal(echo, msg, sizeof(msg));
		took = sim_now_ms() - t0;
		if (took > worst)
			worst = took;
	}
	atomic_store(&fl.stop, true);
	pthread_join(fl.th, NULL);
	atomic_store(&sk.stop, true);
	pthread_join(sk.th, NULL);
	print_message("flood: %llu MiB sent during %u round trips; the worst took %lld ms\n",
		      (unsigned long long)((fl.sent - base) >> 20), trips, (long long)worst);
	assert_int_equal(fl.result, 0);
	/* The flood really ran beside the round trips. */
	assert_true(fl.sent - base >= 16u << 20);
	/* Generous for a shared 2-CPU machine under sanitizers; a starved
	 * VM would wait for the whole flood (seconds) or time out. */
	assert_true(worst < 1000);
	close(hb);
	close(sk.fd);
	close(la);
	close(lb);
	sim_stream_fini(&sa);
	sim_stream_fini(&sb);
	sim_close(a);
	sim_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_300_vms_on_2_threads, setup_many, teardown),
		cmocka_unit_test_setup_teardown(test_flood_does_not_starve_neighbour,
						setup_two_on_one, teardown),
	};

	return cmocka_run_group_tests_name("workers", tests, NULL, NULL);
}
