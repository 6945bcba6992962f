/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The host applications of every scenario. The baseline runs two of them
 * against each other over a socketpair; a daemon run puts one of them on
 * the host end of the daemon and the guest application (in the dut_*.c
 * files) on the other, so the host half does exactly the same work in both.
 * Each runs in its own thread (a pthread start routine taking its struct).
 *
 * Data is a fixed pseudo-random pattern read at a rolling offset, so that
 * every write is different; both ends fold what they wrote or read into a
 * struct csum and the runner compares byte counts and sums.
 */
#ifndef VDV_BENCH_APP_H
#define VDV_BENCH_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "csum.h"

/* The bytes at stream offset off (any n <= 64 KiB). */
const uint8_t *app_chunk(uint64_t off, size_t n);

/* One stream: a writer writes io_size chunks until deadline_ns, then
 * shuts down its send side; a reader reads io_size at most per call until
 * EOF. */
struct app_stream {
	int fd;
	size_t io_size;
	int64_t deadline_ns;
	bool verify;
	/* results */
	uint64_t bytes;
	struct csum sum;
	int64_t t_end_ns; /* EOF seen (reader) or last write done (writer) */
	int err;
};
void *app_stream_write(void *arg);
void *app_stream_read(void *arg);

/* Request/response: the client sends msg bytes, waits for msg bytes back,
 * and records each round trip; the server echoes what it reads until EOF. */
struct app_rr {
	int fd;
	size_t msg;
	unsigned warmup, max_iters;
	int64_t deadline_ns;
	double *samples_us; /* max_iters entries */
	unsigned nsamples;
	int err;
};
void *app_rr_client(void *arg);
void *app_rr_server(void *arg);

/* Many streams at once over non-blocking sockets and epoll: the writer gives
 * each writable socket one io_size write per round (a fair application),
 * until deadline_ns, then shuts all down; the reader reads until every
 * socket is at EOF. bytes[] and sums[] are per connection. */
struct app_multi {
	int *fds;
	unsigned n;
	size_t io_size;
	int64_t deadline_ns;
	int timeout_ms;
	bool verify;
	uint64_t *bytes;
	struct csum *sums;
	int64_t t_end_ns;
	int err;
};
void *app_multi_write(void *arg);
void *app_multi_read(void *arg);

/* Counts connection teardowns finished by the accepting side, so that the
 * connecting side keeps at most `window` connections in flight: a rate is
 * only meaningful if teardown keeps up with set-up. */
struct app_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t done;
};
void app_gate_init(struct app_gate *g);
void app_gate_destroy(struct app_gate *g);
void app_gate_done(struct app_gate *g);
/* Waits until done >= target: 0 or -ETIMEDOUT. */
int app_gate_wait(struct app_gate *g, uint64_t target, int timeout_ms);
uint64_t app_gate_count(struct app_gate *g);

/* Connection set-up cycles until deadline_ns: connect to path, send
 * "CONNECT <port>\n", read the "OK" line, close. */
struct app_connect {
	const char *path;
	uint32_t port;
	int64_t deadline_ns;
	unsigned max_cycles;
	unsigned window;
	int timeout_ms;
	struct app_gate *gate;
	/* results */
	unsigned cycles;
	int64_t t_end_ns;
	int err;
};
void *app_connect_cycles(void *arg);

/* The baseline's accepting side: accept, read the line, answer
 * "OK <port>\n", wait for EOF, close; until `stop` is set. */
struct app_accept {
	int lfd;
	int timeout_ms;
	struct app_gate *gate;
	atomic_int stop;
	unsigned served;
	int err;
};
void *app_accept_server(void *arg);

#endif
