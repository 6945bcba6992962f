/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Fixtures shared by the integration tests: one daemon per test (guest CID
 * 5, a fresh temp dir), frontends from the simulator, and the checks that
 * every robustness test ends with: the daemon is still alive and a new
 * frontend negotiates and starts its rings.
 */
#ifndef VDV_TESTS_INTEGRATION_ITEST_H
#define VDV_TESTS_INTEGRATION_ITEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <cmocka.h>

#include "sim/sim.h"
#include "sim/sim_stream.h"
#include "sim/sim_daemon.h"

#define ITEST_CID 5
#define ITEST_HOST_CID 2
#define ITEST_TIMEOUT_MS 3000

struct itest {
	struct sim_daemon d;
};

/* cmocka setup/teardown: spawn the daemon; stop it and require a clean
 * exit (status 0 on SIGTERM). The log is printed when something is off. */
int itest_setup(void **state);
int itest_teardown(void **state);

/* Same as itest_setup, with extra daemon arguments: the test's initial
 * state is a NULL-terminated argv tail (see ITEST_T_ARGS). */
int itest_setup_args(void **state);

/* One test case with a fresh default daemon, or one run with extra
 * arguments, e.g. static const char *const a[] = { "--tx-buffer-size",
 * "65536", NULL }; ITEST_T_ARGS(test_x, a). */
#define ITEST_T(fn) cmocka_unit_test_setup_teardown(fn, itest_setup, itest_teardown)
#define ITEST_T_ARGS(fn, argv)                                                 \
	cmocka_unit_test_prestate_setup_teardown(fn, itest_setup_args,         \
						 itest_teardown, (void *)(argv))

/* ---- two VMs in one daemon ---- */

#define ITEST_CID2 6

/* cmocka setup for a daemon serving two VMs of one sibling group:
 * ITEST_CID at the usual paths (t->d.socket_path, t->d.uds_path) and
 * ITEST_CID2 at DIR/vhost2.sock and DIR/vm2.vsock (see itest_vm2), with
 * --metrics unix:DIR/metrics.sock. The prestate is a const char *[2]: more
 * --vm keys for each VM (",key=value..." or ""). */
int itest_setup_two(void **state);
/* What itest_setup_two spawns, into t: the two VMs with keys1/keys2
 * appended to their --vm strings ("" for none) and extra process
 * options (NULL-terminated, or NULL). 0, or -errno (the daemon stopped,
 * its log shown). */
int itest_spawn_two(struct itest *t, const char *keys1, const char *keys2,
		    const char *const *extra);
#define ITEST_T_TWO(fn, keys)                                                  \
	cmocka_unit_test_prestate_setup_teardown(fn, itest_setup_two,          \
						 itest_teardown, (void *)(keys))
/* The second VM as a view for itest_start, itest_host_listen and
 * itest_host_dial (the same daemon; never torn down by itself). */
void itest_vm2(const struct itest *t, struct itest *out);

/* GET /metrics on DIR/metrics.sock (--metrics unix:%D/metrics.sock): the
 * body, malloc'd and NUL-terminated (asserts a 200 answer). */
char *itest_metrics_scrape(const struct itest *t);
/* The value of the sample whose name and labels are exactly name, e.g.
 * vdv_tx_buffer_bytes{cid="5"}; fails the test when there is none. */
unsigned long long itest_metrics_sample(const char *text, const char *name);

/* Test options: defaults with bounded, shortish timeouts. */
void itest_opts(struct sim_opts *o);

/* Connects a new frontend (asserts). opts NULL = itest_opts(). */
struct sim *itest_connect(struct itest *t, const struct sim_opts *opts);

/* A fresh frontend negotiates, starts the rings and stops: the daemon got
 * over whatever the test did to it. */
void itest_fresh_frontend_ok(struct itest *t);

/* r came from a set message the daemon should refuse: accepts a non-zero
 * ack (-EIO) or a closed connection, fails on success or on a hang. */
void itest_expect_rejected(int r, const char *what);

/* After a message that cannot be parsed: the daemon must answer with an
 * error (non-zero u64 reply) or close the connection, within the timeout. */
void itest_expect_error_or_close(struct sim *s, const char *what);

/* ---- the guest side ---- */

/* Connects and starts a frontend (asserts). opts NULL = itest_opts(). */
struct sim *itest_start(struct itest *t, const struct sim_opts *opts);
/* The same for the VM at socket_path of a daemon the test runs itself;
 * asserts the guest CID it was given is want_cid. */
struct sim *itest_start_at(const char *socket_path, uint64_t want_cid);

/* Sends one header-only packet (or len payload bytes) from the guest to
 * the host (CID 2), with a STREAM header built from the arguments. */
void itest_send_op(struct sim *s, uint32_t src_port, uint32_t dst_port, uint16_t op,
		   uint32_t flags, uint32_t buf_alloc, uint32_t fwd_cnt);

/* Waits for the next rx packet (asserts it arrives within timeout_ms and
 * is well formed). */
void itest_expect_pkt(struct sim *s, struct sim_pkt *p, int timeout_ms);

/* Asserts that no rx packet at all arrives within ms (what arrived is
 * named in the failure). */
void itest_expect_silence(struct sim *s, int ms, const char *what);

/* ---- the host side: Unix sockets only, never AF_VSOCK ---- */

/* poll() one fd: 0 when ready, -ETIMEDOUT, or -errno. */
int itest_wait_fd(int fd, short events, int timeout_ms);

/* Listens on "<uds-path>_<port>", as a host service the guest connects to
 * (asserts). */
int itest_host_listen(struct itest *t, uint32_t port, int backlog);
/* The same for any uds-path (a daemon the test runs itself). */
int itest_listen_at(const char *uds_path, uint32_t port, int backlog);

/* Accepts one connection within timeout_ms: the fd, or -ETIMEDOUT. */
int itest_host_accept(int lfd, int timeout_ms);

/* Connects to uds-path without writing anything (asserts). */
int itest_host_dial(struct itest *t);

/* Connects to uds-path and writes handshake (e.g. "CONNECT 1234\n"). */
int itest_host_connect(struct itest *t, const char *handshake);

/* Reads exactly n bytes: n, fewer at EOF, -ETIMEDOUT, or -errno. */
ssize_t itest_host_read(int fd, void *buf, size_t n, int timeout_ms);

/* Writes all n bytes: 0, -ETIMEDOUT, or -errno (never SIGPIPE). */
int itest_host_write(int fd, const void *buf, size_t n, int timeout_ms);

/* Reads one '\n'-terminated line byte by byte, so that what follows stays
 * in the socket: its length, 0 at EOF, or -errno. */
int itest_host_read_line(int fd, char *line, size_t cap, int timeout_ms);

/* Reads until the peer closes (each read bounded by ITEST_TIMEOUT_MS):
 * a malloc'd, NUL-terminated copy of everything (asserts). */
char *itest_host_read_all(int fd);

/* Waits until the peer closed its end (read gives EOF or ECONNRESET):
 * 0 or -ETIMEDOUT. Bytes read meanwhile are discarded and counted. */
int itest_host_wait_closed(int fd, int timeout_ms, size_t *discarded);

/* True when the peer closed (EOF/ECONNRESET pending) without blocking;
 * leaves data in place. */
bool itest_host_closed_now(int fd);

/*
 * A host application in a thread: writes tx_len pattern bytes (then
 * shutdown(SHUT_WR) if shut_wr) while it reads and checks rx_len bytes, on
 * one non-blocking socket. Starts reading only after rx_delay_ms, for
 * hosts that are slow to read.
 */
struct itest_pump {
	int fd;
	uint32_t tx_seed, rx_seed;
	uint64_t tx_len, rx_len;
	bool shut_wr;
	int rx_delay_ms;
	int timeout_ms;
	/* results, valid after itest_pump_join() */
	uint64_t tx_done, rx_done;
	int64_t rx_bad;     /* stream offset of the first wrong byte, or -1 */
	bool rx_eof;        /* EOF came before rx_len bytes */
	int result;         /* 0, -ETIMEDOUT, -EBADMSG, -EPIPE (EOF), -errno */
	pthread_t th;
};

void itest_pump_start(struct itest_pump *p);
/* Returns p->result, after saying where the pump stopped if it failed. */
int itest_pump_join(struct itest_pump *p);

/*
 * The guest side of a bulk exchange on one sim_stream: sends tx_len pattern
 * bytes as credit allows, receives and checks rx_len bytes. With window,
 * checks after every RW packet that the device stayed within it (the bytes
 * received beyond the fwd_cnt last advertised), counters compared modulo
 * 2^32. With hold, consumes only once the device has been quiet for 10 ms,
 * so that it really runs into the limit and no packet it sent under the old
 * credit can arrive after our CREDIT_UPDATE (which would hide an excess).
 */
struct itest_xfer {
	uint32_t tx_seed, rx_seed;
	uint64_t tx_base, rx_base; /* stream offsets the patterns resume at */
	uint64_t tx_len, rx_len;
	uint32_t window;
	bool hold;
	/* results */
	uint64_t tx_done, rx_done;
	uint32_t max_in_flight;
	uint64_t rw_pkts;
};

/* Fails the test on a timeout, an RST, bad data or a window violation. */
void itest_stream_xfer(struct sim_stream *st, struct itest_xfer *x, int timeout_ms);

/* ---- data, processes, limits ---- */

/* Byte pos of the test stream named by seed: position-addressed, so that
 * a receiver can check order and completeness piece by piece. */
uint8_t itest_pattern_byte(uint32_t seed, uint64_t pos);
void itest_pattern(void *buf, size_t n, uint32_t seed, uint64_t pos);
/* Index of the first byte of buf that differs from the pattern, or -1. */
ssize_t itest_pattern_check(const void *buf, size_t n, uint32_t seed, uint64_t pos);

/* CPU time (user + system) of a process, in ms (10 ms granularity). */
int itest_proc_cpu_ms(pid_t pid, uint64_t *ms);
/* VmRSS of a process in KiB. */
int itest_proc_rss_kib(pid_t pid, uint64_t *kib);

/* Whether the daemon's log contains needle. */
bool itest_log_contains(const struct itest *t, const char *needle);
/* How many lines of the daemon's log contain needle. */
unsigned itest_log_count(const struct itest *t, const char *needle);

/* A regular file at path (which must not exist) with known content, to
 * put where the daemon must not touch; fails the test unless it is still
 * there, still regular, with that content. */
void itest_write_marker(const char *path);
void itest_assert_marker_intact(const char *path);

/* Raises this process' soft RLIMIT_NOFILE to want, and the hard limit too
 * when it is lower and the process may (CAP_SYS_RESOURCE); otherwise capped
 * by the hard limit. Children spawned later (the daemon) inherit it.
 * Returns the new soft limit. */
rlim_t itest_raise_nofile(rlim_t want);

#endif
