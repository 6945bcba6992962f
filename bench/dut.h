/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * A daemon under test for one measurement: spawned fresh (so no run
 * inherits another's state), with its command line
 *	DAEMON --guest-cid 3 --socket DIR/vhost.sock --uds-path DIR/vm.vsock ARGS...
 * (what rust-vmm's vhost-device-vsock takes too), and the bench guest
 * driving its device.
 */
#ifndef VDV_BENCH_DUT_H
#define VDV_BENCH_DUT_H

#include <pthread.h>

#include "bench.h"
#include "csum.h"
#include "sim/sim_sock.h"
#include "sim/sim_daemon.h"

#define DUT_GUEST_CID 3

struct dut {
	struct bench *b;
	int which;
	const char *fig;        /* for error messages */
	struct sim_daemon d;
	struct sg *g;
};

/*
 * A real guest application enters its kernel for every send() and recv();
 * the simulated one calls the driver directly. dut_app_call() stands for
 * that entry (one getpid-class system call, about what a syscall inside a VM
 * costs: it does not exit to the host), so that the daemon path's
 * applications pay per call what the baseline's pay. Off with
 * --no-guest-syscalls.
 */
void dut_app_calls(bool on);
void dut_app_call(void);

/* A guest application's recv() calls: it takes whatever arrived together,
 * up to its buffer size, per call, so one call per rx pass and per `cap`
 * bytes, not one per packet. */
struct dut_recv {
	uint64_t batch;
	size_t taken;
};
void dut_app_recv(struct dut_recv *r, const struct sg_conn *c, size_t n, size_t cap);

/* A guest application receiving a stream: its recv() buffer (allocated by
 * the caller), the calls it pays, and what it got. */
struct dut_app_rx {
	uint8_t *buf;
	size_t cap, pos;
	bool verify;
	uint64_t bytes;
	struct csum sum;
	struct dut_recv recv;
};
/* One packet's payload as the application's recv() takes it: the call is
 * charged (dut_app_recv), the bytes copied through buf and checksummed. */
void dut_app_rx_take(struct dut_app_rx *a, const struct sg_conn *c, const uint8_t *p,
		     size_t n);

/* A guest application reading one stream to its end (user of its
 * connection, with dut_reader_ops): what it got, and when the end came. */
struct dut_reader {
	struct dut_app_rx rx;
	bool eof, closed;           /* end of stream; the connection is gone */
	uint64_t credit_violations; /* the connection's, at the end */
	int64_t t_end_ns;
};
extern const struct sg_conn_ops dut_reader_ops;

/* A guest application echoing what it receives as soon as it receives it
 * (user of its connection, with dut_echo_ops). */
struct dut_echo {
	int err;
	bool done;     /* the peer is gone */
};
extern const struct sg_conn_ops dut_echo_ops;

/* A guest application writing size-byte writes on c for the measured
 * duration (at least one write), then SHUTDOWN(SEND): 0 or -errno; *bytes
 * and *sent (checksummed when verifying) say what it wrote. */
int dut_guest_write(const struct bench *b, struct sg_conn *c, size_t size, uint64_t *bytes,
		    struct csum *sent);

/* Fills cfg from the bench options; tx_max_payload is the largest write. */
void dut_sg_cfg(const struct bench *b, size_t tx_max_payload, struct sg_cfg *cfg);

/* Spawns the daemon and starts the guest. On failure the error is
 * reported (bench_fail) and everything is cleaned up. */
int dut_start(struct bench *b, int which, const char *fig, size_t tx_max_payload,
	      struct dut *s);
/* The single-VM command line of daemon `which` (NULL-terminated in argv,
 * which has cap entries); returns the argument count. */
unsigned dut_argv(const struct bench *b, int which, const char **argv, unsigned cap);
/* Starts the guest on a spawned daemon (dut_start does both); on failure
 * the error is reported and the caller still calls dut_stop(). */
int dut_open_guest(struct dut *s, size_t tx_max_payload);
/* Spawns with a free-form argv ("%D" = the temp dir) and no guest. */
int dut_spawn_argv(struct bench *b, int which, const char *fig, const char *const *argv,
		   const char *wait_rel, struct dut *s);

/* Stops the guest and the daemon. A daemon that died during the run is a
 * failure (its log is shown); returns 0 or -1. */
int dut_stop(struct dut *s);

/* Polls the guest until *flag becomes true: 0, or -ETIMEDOUT/-errno. */
int dut_poll_until(struct dut *s, const bool *flag, int timeout_ms);

/* Keeps serving the guest until thread th has ended, then joins it.
 * Returns 0, or -EIO if the guest driver failed meanwhile (the thread is
 * still joined). A thread that does not end in timeout_ms aborts the
 * process: it may still be using the caller's memory. */
int dut_poll_join(struct dut *s, pthread_t th, int timeout_ms);

/*
 * n guest-initiated connections to host port `port` (hybrid vsock: a host
 * listener at UDS_PATH_port), each with ops and users[i]; fills conns[]
 * and the host ends hfds[] (in accept order). Returns 0 or -errno.
 */
int dut_connect_pairs(struct dut *s, uint32_t port, unsigned n, const struct sg_conn_ops *ops,
		      void *const *users, struct sg_conn **conns, int *hfds);
/* The same on any guest g whose daemon serves uds_path (one VM of many). */
int dut_connect_pairs_at(const struct bench *b, struct sg *g, const char *uds_path,
			 uint32_t port, unsigned n, const struct sg_conn_ops *ops,
			 void *const *users, struct sg_conn **conns, int *hfds);

#endif
