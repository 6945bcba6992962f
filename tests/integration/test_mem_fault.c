/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Guest memory the VMM cuts short: a region larger than its file is refused
 * when it is announced, and a file shrunk after the mapping (the daemon's
 * next ring access raises SIGBUS) costs that VM its session, not the
 * daemon: the other VM of the process keeps exchanging packets, and the
 * faulted VM takes a new frontend.
 */
#include "itest.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define OTHER_CID 6

/* The usual VM (CID 5 on vhost.sock, so that itest_fresh_frontend_ok
 * works) and a second one on b.sock. */
static int setup_two_vms(void **state)
{
	static const char *argv[] = {
		NULL, "--vm", "guest-cid=5,socket=%D/vhost.sock,uds-path=%D/vm.vsock",
		"--vm", "guest-cid=6,socket=%D/b.sock,uds-path=%D/b.vsock", NULL,
	};
	struct itest *t = calloc(1, sizeof(*t));
	char b[SIM_DAEMON_PATH_MAX + 16];
	int r;

	if (!t)
		return -1;
	argv[0] = sim_daemon_exe();
	r = sim_daemon_spawn_argv(&t->d, argv, "vhost.sock", 10000);
	if (!r) {
		snprintf(b, sizeof(b), "%s/b.sock", t->d.dir);
		r = sim_daemon_wait_path(&t->d, b, 10000);
	}
	if (r) {
		fprintf(stderr, "spawning %s with 2 VMs: %s\n", sim_daemon_exe(), strerror(-r));
		sim_daemon_dump_log(&t->d, stderr, 8192);
		sim_daemon_stop(&t->d, 1000, NULL);
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

/* 0 once the daemon closed the vhost-user connection, or -ETIMEDOUT. */
static int wait_closed(int fd, int timeout_ms)
{
	char c;

	for (;;) {
		int r = itest_wait_fd(fd, POLLIN, timeout_ms);
		ssize_t n;

		if (r)
			return r;
		n = recv(fd, &c, 1, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		/* A stray byte (a late reply): keep waiting, the timeout
		 * bounds it through itest_wait_fd. */
	}
}

/* A REQUEST to a port nobody listens on comes back as an RST: the VM's
 * rings work both ways. */
static void expect_rings_work(struct sim *s, uint64_t cid)
{
	struct sim_pkt *p = sim_pkt_new();

	assert_non_null(p);
	itest_send_op(s, 40000, 4321, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0);
	if (sim_rx_poll(s, p, ITEST_TIMEOUT_MS))
		fail_msg("vm cid %llu: no answer to a REQUEST", (unsigned long long)cid);
	assert_int_equal(p->op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p->dst_cid, cid);
	assert_int_equal(p->dst_port, 40000);
	free(p);
}

static void test_shrunk_memory_drops_only_that_vm(void **state)
{
	struct itest *t = *state;
	char bpath[SIM_DAEMON_PATH_MAX + 16];
	struct sim_vq_rings tx;
	struct sim *a, *b;
	struct stat st;
	uint64_t one = 1;
	int memfd;

	snprintf(bpath, sizeof(bpath), "%s/b.sock", t->d.dir);
	a = itest_start_at(t->d.socket_path, ITEST_CID);
	b = itest_start_at(bpath, OTHER_CID);
	expect_rings_work(a, ITEST_CID);
	expect_rings_work(b, OTHER_CID);

	/* The VMM cuts VM 5's RAM to nothing; the guest then kicks its tx
	 * ring, which the daemon reads: SIGBUS in the VM 5 thread. The
	 * simulator must not touch that memory either from here on. */
	assert_int_equal(sim_vq_rings(a, SIM_VQ_TX, &tx), 0);
	memfd = sim_mem_fd(a);
	assert_int_equal(fstat(memfd, &st), 0);
	assert_int_equal(ftruncate(memfd, 0), 0);
	assert_int_equal(write(tx.kickfd, &one, sizeof(one)), (ssize_t)sizeof(one));

	if (wait_closed(sim_socket_fd(a), ITEST_TIMEOUT_MS))
		fail_msg("the daemon did not drop the session whose memory faulted");
	assert_true(sim_daemon_alive(&t->d));
	assert_true(itest_log_contains(t, "raised SIGBUS"));
	/* Whole again (zeros) so that closing the simulator is safe. */
	assert_int_equal(ftruncate(memfd, st.st_size), 0);
	sim_close(a);

	/* The other VM did not notice... */
	expect_rings_work(b, OTHER_CID);
	sim_close(b);
	/* ...and VM 5 serves its next frontend. */
	itest_fresh_frontend_ok(t);
	a = itest_start_at(t->d.socket_path, ITEST_CID);
	expect_rings_work(a, ITEST_CID);
	sim_close(a);
}

static void test_region_beyond_file_refused(void **state)
{
	struct itest *t = *state;
	struct sim *s = itest_connect(t, NULL);
	int memfd = sim_mem_fd(s);
	struct stat st;
	int r;

	/* The file is half the RAM the simulator announces. The rings sit
	 * at its start, so nothing the simulator touches goes missing. */
	assert_int_equal(fstat(memfd, &st), 0);
	assert_int_equal(ftruncate(memfd, st.st_size / 2), 0);
	r = sim_start(s);
	assert_int_equal(ftruncate(memfd, st.st_size), 0);
	sim_close(s);
	if (r == 0)
		fail_msg("a memory region larger than its file was accepted");
	assert_true(itest_log_contains(t, "beyond its file's size"));
	itest_fresh_frontend_ok(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shrunk_memory_drops_only_that_vm,
						setup_two_vms, itest_teardown),
		ITEST_T(test_region_beyond_file_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
