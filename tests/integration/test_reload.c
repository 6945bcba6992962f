/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * SIGHUP re-reads --config FILE: VMs added start, VMs removed stop (their
 * VMM is disconnected, their socket removed), a VM whose entry changed
 * restarts with the new entry, and a VM whose entry did not change keeps
 * its VMM and its connections, also while data flows through them. An
 * invalid file changes nothing; without --config, SIGHUP is ignored.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "itest.h"

#define NVM 4
#define PORT 7000u
#define PART (1u << 20) /* bytes each way before the reload, and after */

static const uint64_t cids[NVM] = { 3, 4, 5, 6 };

struct rt {
	struct sim_daemon d;
	char dir[64];
	char yaml[128];
	char sock[NVM][SIM_DAEMON_PATH_MAX];
	char uds[NVM][SIM_DAEMON_PATH_MAX];
};

/* The VMs whose bit is set in mask; VM 1 (cid 4) with tx_buf. */
static void write_yaml(struct rt *t, unsigned mask, unsigned tx_buf)
{
	char tmp[160];
	FILE *f;

	/* Written aside and renamed: the daemon never reads half a file. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", t->yaml);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fprintf(f, "vms:\n");
	for (unsigned i = 0; i < NVM; i++) {
		if (!(mask & (1u << i)))
			continue;
		fprintf(f, "  - guest_cid: %llu\n    socket: %s\n    uds_path: %s\n",
			(unsigned long long)cids[i], t->sock[i], t->uds[i]);
		if (i == 1)
			fprintf(f, "    tx_buffer_size: %u\n", tx_buf);
	}
	fclose(f);
	assert_int_equal(rename(tmp, t->yaml), 0);
}

static int spawn(struct rt *t, bool with_config)
{
	const char *argv[8];
	char vmarg[400];
	unsigned n = 0;
	int r;

	argv[n++] = sim_daemon_exe();
	if (with_config) {
		argv[n++] = "--config";
		argv[n++] = t->yaml;
	} else {
		snprintf(vmarg, sizeof(vmarg), "guest-cid=3,socket=%s,uds-path=%s", t->sock[0],
			 t->uds[0]);
		argv[n++] = "--vm";
		argv[n++] = vmarg;
	}
	argv[n] = NULL;
	r = sim_daemon_spawn_argv(&t->d, argv, NULL, 0);
	return r ? r : sim_daemon_wait_path(&t->d, t->sock[0], 10000);
}

static int setup_with(void **state, bool with_config)
{
	struct rt *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -1;
	strcpy(t->dir, "/tmp/vdv-reload-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->yaml, sizeof(t->yaml), "%s/vms.yaml", t->dir);
	for (unsigned i = 0; i < NVM; i++) {
		snprintf(t->sock[i], sizeof(t->sock[i]), "%s/vhost%llu.sock", t->dir,
			 (unsigned long long)cids[i]);
		snprintf(t->uds[i], sizeof(t->uds[i]), "%s/vm%llu.vsock", t->dir,
			 (unsigned long long)cids[i]);
	}
	write_yaml(t, 0x7, 65536); /* cids 3, 4, 5 */
	r = spawn(t, with_config);
	for (unsigned i = 1; !r && with_config && i < 3; i++)
		r = sim_daemon_wait_path(&t->d, t->sock[i], 10000);
	if (r) {
		fprintf(stderr, "spawning %s: %s\n", sim_daemon_exe(), strerror(-r));
		sim_daemon_dump_log(&t->d, stderr, 8192);
		sim_daemon_stop(&t->d, 1000, NULL);
		sim_rm_tree(t->dir);
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int setup_config(void **state)
{
	return setup_with(state, true);
}

static int setup_cli(void **state)
{
	return setup_with(state, false);
}

static int teardown(void **state)
{
	struct rt *t = *state;
	int r;

	if (!t)
		return 0;
	r = sim_daemon_finish(&t->d, t->dir, false, 5000);
	free(t);
	return r;
}

/* The log of the daemon, through the itest helpers (they read d's log). */
static bool log_has(struct rt *t, const char *needle)
{
	struct itest it = { .d = t->d };

	return itest_log_contains(&it, needle);
}

/* Waits (bounded) for a line containing needle. */
static void wait_log(struct rt *t, const char *needle, int timeout_ms)
{
	for (int waited = 0; !log_has(t, needle); waited += 10) {
		if (waited >= timeout_ms) {
			sim_daemon_dump_log(&t->d, stderr, 16384);
			fail_msg("no log line with '%s' within %d ms", needle, timeout_ms);
		}
		assert_true(sim_daemon_alive(&t->d));
		usleep(10000);
	}
}

static struct sim *vm_start(struct rt *t, unsigned i)
{
	return itest_start_at(t->sock[i], cids[i]);
}

static int host_listen(struct rt *t, unsigned i)
{
	return itest_listen_at(t->uds[i], PORT, 8);
}

/* A guest connection of VM i to the host service of that VM. */
static int open_conn(struct rt *t, unsigned i, struct sim *s, struct sim_stream *st,
		     uint32_t local_port)
{
	int lfd = host_listen(t, i), hfd;

	assert_int_equal(sim_stream_connect(s, st, ITEST_HOST_CID, PORT, local_port, 0,
					    ITEST_TIMEOUT_MS), 0);
	hfd = itest_host_accept(lfd, ITEST_TIMEOUT_MS);
	assert_true(hfd >= 0);
	close(lfd);
	return hfd;
}

/* Guest side of one exchange, in a thread while the main thread reloads. */
struct gside {
	struct sim_stream *st;
	struct itest_xfer x;
	pthread_t th;
};

static void *gside_main(void *arg)
{
	struct gside *g = arg;

	itest_stream_xfer(g->st, &g->x, 30000);
	return NULL;
}

/* How long the host side leaves the guest's data unread when a reload
 * runs meanwhile: the connection is then certainly mid-transfer (the
 * daemon holds its bytes, the guest waits for credit) during the reload. */
#define HOLD_MS 1000

/* PART bytes each way on an open connection, both sides checked; with
 * reload, the main thread runs it while the bytes are in flight. */
static void exchange(struct sim_stream *st, int hfd, struct rt *t, void (*reload)(struct rt *))
{
	struct itest_pump p = {
		.fd = hfd, .tx_seed = 21, .rx_seed = 22, .tx_len = PART, .rx_len = PART,
		.timeout_ms = 30000, .rx_delay_ms = reload ? HOLD_MS : 0,
	};
	int64_t t0 = sim_now_ms();
	struct gside g = {
		.st = st,
		.x = { .tx_seed = 22, .rx_seed = 21, .tx_len = PART, .rx_len = PART },
	};

	itest_pump_start(&p);
	assert_int_equal(pthread_create(&g.th, NULL, gside_main, &g), 0);
	if (reload) {
		reload(t);
		/* Done before the host read anything: it ran mid-transfer. */
		if (sim_now_ms() - t0 >= HOLD_MS)
			fail_msg("the reload took %lld ms, longer than the transfer was held",
				 (long long)(sim_now_ms() - t0));
	}
	pthread_join(g.th, NULL);
	assert_int_equal(itest_pump_join(&p), 0);
	assert_int_equal(g.x.tx_done, PART);
	assert_int_equal(g.x.rx_done, PART);
}

static void reload_changed(struct rt *t)
{
	/* cid 3 as it was, cid 4 changed, cid 5 gone, cid 6 new. */
	write_yaml(t, 0xb, 131072);
	assert_int_equal(kill(t->d.pid, SIGHUP), 0);
	wait_log(t, "reload done", 10000);
}

static void test_reload_changes_only_what_changed(void **state)
{
	struct rt *t = *state;
	struct sim *a = vm_start(t, 0), *b = vm_start(t, 1), *c = vm_start(t, 2), *b2, *d;
	struct sim_stream sa, sb;
	struct stat sb_st;
	int ha, hb;

	ha = open_conn(t, 0, a, &sa, 50001);
	exchange(&sa, ha, t, NULL);
	/* The reload happens while cid 3's connection carries data. */
	exchange(&sa, ha, t, reload_changed);
	assert_true(log_has(t, "1 VMs added, 1 removed, 1 restarted, 1 unchanged, 0 failed"));
	/* ... and the connection goes on after it. */
	exchange(&sa, ha, t, NULL);

	/* Removed: its VMM is disconnected and its socket is gone. */
	assert_int_equal(sim_wait_closed(c, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(stat(t->sock[2], &sb_st), -1);
	assert_int_equal(errno, ENOENT);
	/* Changed: the old session ends, a new one gets the new entry. */
	assert_int_equal(sim_wait_closed(b, ITEST_TIMEOUT_MS), 0);
	b2 = vm_start(t, 1);
	hb = open_conn(t, 1, b2, &sb, 50002);
	/* The RESPONSE carried the new entry's tx-buffer-size. */
	assert_int_equal(sb.c->peer_buf_alloc, 131072);
	/* Added: served. */
	d = vm_start(t, 3);

	close(hb);
	sim_stream_fini(&sb);
	close(ha);
	sim_stream_fini(&sa);
	sim_close(d);
	sim_close(b2);
	sim_close(b);
	sim_close(c);
	sim_close(a);
}

static void test_invalid_reload_changes_nothing(void **state)
{
	struct rt *t = *state;
	struct sim *a = vm_start(t, 0);
	struct sim_stream sa;
	FILE *f;
	int ha = open_conn(t, 0, a, &sa, 50003);

	exchange(&sa, ha, t, NULL);
	/* Two VMs with one CID: the file is rejected as a whole. */
	f = fopen(t->yaml, "a");
	assert_non_null(f);
	fprintf(f, "  - guest_cid: 3\n    socket: %s/other.sock\n    uds_path: %s/o.vsock\n",
		t->dir, t->dir);
	fclose(f);
	assert_int_equal(kill(t->d.pid, SIGHUP), 0);
	wait_log(t, "not reloaded, nothing changed", 10000);
	assert_false(log_has(t, "reload done"));
	assert_false(log_has(t, "stopping (reload)"));
	/* Every VM still served, the connection still carries data. */
	sim_close(vm_start(t, 1));
	sim_close(vm_start(t, 2));
	exchange(&sa, ha, t, NULL);
	close(ha);
	sim_stream_fini(&sa);
	sim_close(a);
}

static void test_sighup_without_config_is_ignored(void **state)
{
	struct rt *t = *state;
	struct sim *a;

	assert_int_equal(kill(t->d.pid, SIGHUP), 0);
	wait_log(t, "SIGHUP ignored", 10000);
	assert_true(sim_daemon_alive(&t->d));
	a = vm_start(t, 0);
	sim_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reload_changes_only_what_changed,
						setup_config, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_reload_changes_nothing,
						setup_config, teardown),
		cmocka_unit_test_setup_teardown(test_sighup_without_config_is_ignored,
						setup_cli, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
