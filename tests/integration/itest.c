/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "itest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

int itest_setup(void **state)
{
	struct itest *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -1;
	r = sim_daemon_spawn(&t->d, sim_daemon_exe(), ITEST_CID, NULL, 10000);
	if (r) {
		fprintf(stderr, "spawning %s: %s\n", sim_daemon_exe(), strerror(-r));
		sim_daemon_dump_log(&t->d, stderr, 8192);
		sim_daemon_stop(&t->d, 1000, NULL);
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

int itest_teardown(void **state)
{
	struct itest *t = *state;
	int r, status = 0;

	if (!t)
		return 0;
	if (getenv("VDV_TEST_VERBOSE") || !sim_daemon_alive(&t->d))
		sim_daemon_dump_log(&t->d, stderr, 16384);
	r = sim_daemon_stop(&t->d, 5000, &status);
	if (r) {
		fprintf(stderr, "daemon did not exit cleanly on SIGTERM: %s (status 0x%x%s%s)\n",
			strerror(-r), status,
			WIFSIGNALED(status) ? ", signal " : "",
			WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "");
	}
	free(t);
	return r ? -1 : 0;
}

void itest_opts(struct sim_opts *o)
{
	sim_opts_init(o);
	o->connect_timeout_ms = ITEST_TIMEOUT_MS;
	o->io_timeout_ms = ITEST_TIMEOUT_MS;
	/* Small RAM keeps many back-to-back frontends cheap. */
	o->mem_size = 16u << 20;
}

struct sim *itest_connect(struct itest *t, const struct sim_opts *opts)
{
	struct sim_opts o;
	struct sim *s = NULL;
	int r;

	if (!opts) {
		itest_opts(&o);
		opts = &o;
	}
	r = sim_connect(t->d.socket_path, opts, &s);
	if (r)
		fail_msg("connect %s: %s", t->d.socket_path, strerror(-r));
	return s;
}

void itest_fresh_frontend_ok(struct itest *t)
{
	const struct sim_info *in;
	struct sim *s;
	int r;

	assert_true(sim_daemon_alive(&t->d));
	s = itest_connect(t, NULL);
	r = sim_start(s);
	if (r) {
		sim_close(s);
		fail_msg("fresh frontend: start failed: %s", strerror(-r));
	}
	in = sim_info(s);
	assert_int_equal(in->queue_num, 3);
	assert_int_equal(in->config_guest_cid, ITEST_CID);
	r = sim_stop(s);
	sim_close(s);
	if (r)
		fail_msg("fresh frontend: stop failed: %s", strerror(-r));
	assert_true(sim_daemon_alive(&t->d));
}

void itest_expect_rejected(int r, const char *what)
{
	if (r == -EIO || r == -ECONNRESET || r == -EPIPE)
		return;
	if (r == 0)
		fail_msg("%s: accepted (ack 0), expected a refusal", what);
	fail_msg("%s: expected an error ack or a close, got %s", what, strerror(-r));
}

void itest_expect_error_or_close(struct sim *s, const char *what)
{
	struct vu_msg_header hdr;
	uint64_t v = 0;
	int r;

	r = sim_recv_reply(s, &hdr, &v, sizeof(v), ITEST_TIMEOUT_MS);
	if (r == -ECONNRESET)
		return;
	if (r == (int)sizeof(v) && (hdr.flags & VHOST_USER_REPLY_MASK) && v != 0)
		return;
	if (r < 0)
		fail_msg("%s: expected an error reply or a close, got %s", what, strerror(-r));
	fail_msg("%s: expected an error reply or a close, got a reply to %u of %d bytes (u64 %llu)",
		 what, hdr.request, r, (unsigned long long)v);
}
