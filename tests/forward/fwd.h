/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The forward-cid test program's two halves, each able to carry many
 * connections at once with every byte checked:
 *
 *  - the host side (fwd_host.c): AF_VSOCK sockets, in a thread of their own,
 *    that accept what the daemon forwards to (1, port) or connect to the
 *    daemon's forward-listen ports;
 *  - the guest side (fwd_guest.c): the simulator playing the guest driver,
 *    many streams demultiplexed over one sim, driven from the caller's
 *    thread.
 *
 * The stream protocol of a test connection: the side that initiated it
 * first writes its 4-byte id (little-endian), then len_i2a pattern bytes of
 * seed FWD_SEED(id, 0); the accepting side reads the id and writes len_a2i
 * bytes of seed FWD_SEED(id, 1). Each side shuts its sending direction once
 * done, reads to EOF, then closes. Both ends regenerate and compare the
 * pattern by position, so loss, duplication and reordering all show.
 *
 * AF_VSOCK is only ever opened inside the e2e guest (never on a developer's
 * or CI host, whose vsock CID 2 may be a real hypervisor), or carried over
 * AF_UNIX by the LD_PRELOAD shim vsock_shim.c: see main().
 */
#ifndef VDV_TESTS_FORWARD_FWD_H
#define VDV_TESTS_FORWARD_FWD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sim/sim.h"
#include "sim/sim_stream.h"

#define FWD_SEED(id, dir) (((uint32_t)(id) << 1) | (uint32_t)(dir))
#define FWD_ID_LEN 4u

/* ---- payload ---- */

void fwd_pattern(uint8_t *buf, size_t n, uint32_t seed, uint64_t pos);
/* Offset of the first byte that differs from the pattern, or -1. */
ssize_t fwd_pattern_check(const uint8_t *buf, size_t n, uint32_t seed, uint64_t pos);

/* ---- host side (AF_VSOCK), one thread ---- */

struct fwd_hconn {
	int fd;
	bool initiator;      /* we connected (and send the id) */
	bool connecting;     /* non-blocking connect in progress */
	uint32_t id;
	uint8_t idbuf[FWD_ID_LEN];
	unsigned id_done;    /* id bytes sent (initiator) or received */
	uint64_t tx_len, rx_len, tx_done, rx_done;
	bool shut_wr, eof, done, failed;
	int64_t bad;         /* stream offset of the first wrong byte, or -1 */
	char why[160];
};

struct fwd_host {
	/* set up by the caller */
	int lfd;                 /* listening socket, or -1 */
	unsigned n_accept;       /* connections to accept on lfd */
	uint32_t connect_cid, connect_port;
	unsigned n_connect;      /* connections to open to (cid, port) */
	uint32_t id_base;        /* ids of the connections we open */
	uint64_t len_i2a, len_a2i;
	int timeout_ms;
	int rx_delay_ms;         /* read nothing for this long: a slow host */
	/* results */
	struct fwd_hconn *c;
	unsigned nc;
	unsigned accepted, connected, done, failed;
	int result;              /* 0 or -errno; why says what */
	char why[256];
	int64_t ms;              /* wall time of the run */
	pthread_t th;
	bool started;
};

/* A listening AF_VSOCK stream socket on (cid, port): fd or -errno. */
int fwd_vsock_listen(uint32_t cid, uint32_t port, int backlog);
/* A blocking connect with a bound (poll on a non-blocking socket): fd or
 * -errno (-ECONNRESET/-ECONNREFUSED when refused, -ETIMEDOUT). */
int fwd_vsock_connect(uint32_t cid, uint32_t port, int timeout_ms);
/* The same from a socket bound to (src_cid, any port) first: -errno of
 * that bind too (the kernel binds only the CIDs this machine has). */
int fwd_vsock_connect_from(uint32_t src_cid, uint32_t cid, uint32_t port, int timeout_ms);

int fwd_host_start(struct fwd_host *h);
/* Waits for the thread; returns h->result. */
int fwd_host_join(struct fwd_host *h);
void fwd_host_fini(struct fwd_host *h);

/* ---- guest side (the simulator), the caller's thread ---- */

enum fwd_gstate { G_CONNECTING, G_OPEN, G_DONE, G_FAILED };

struct fwd_guest;

/* One test connection: the pattern/id protocol's state. The connection
 * itself (credit, demultiplexing, close) is the socket layer's. */
struct fwd_gconn {
	struct fwd_guest *g;
	struct sg_conn *c;   /* NULL once the socket layer closed it */
	enum fwd_gstate state;
	bool initiator;
	uint64_t peer_cid;
	uint32_t local_port, peer_port;
	uint32_t id;
	uint8_t idbuf[FWD_ID_LEN];
	unsigned id_done;
	uint64_t tx_len, rx_len, tx_done, rx_done;
	bool shut_sent, close_sent, peer_shut_send, rst_rcvd;
	int64_t bad;
	char why[160];
};

struct fwd_guest {
	struct sim *sim;
	struct sg *sg;           /* made on first use, with buf_alloc */
	/* what to expect from the host */
	uint32_t accept_port;    /* REQUESTs to this port are answered */
	unsigned n_accept;
	bool refuse;             /* answer them with RST */
	uint64_t len_i2a, len_a2i;
	uint32_t buf_alloc;      /* what we advertise; 256 KiB */
	/* connections */
	struct fwd_gconn **c;
	unsigned nc, cap;
	unsigned accepted, refused_sent;
	/* after fwd_guest_run: packets no connection of ours expected */
	uint64_t stray;
	char stray_what[160];
	uint64_t stray_rst;      /* RSTs for no connection: ignored */
	uint64_t credit_violations;
	uint64_t rx_pkts, tx_pkts;
	/* REQUESTs seen for accept_port, with their source */
	uint64_t req_src_cid;
	uint32_t req_src_port_min;
	char why[256];
	uint8_t *scratch;
};

int fwd_guest_init(struct fwd_guest *g, struct sim *sim);
void fwd_guest_fini(struct fwd_guest *g);
/* Opens n connections to (cid, port) from ports src_base.. with ids
 * id_base..: sends the REQUESTs. */
int fwd_guest_connect(struct fwd_guest *g, uint64_t cid, uint32_t port, unsigned n,
		      uint32_t src_base, uint32_t id_base);
/* Runs until every connection is done or failed, n_accept connections were
 * accepted (or refused), or timeout_ms passed. Returns 0 when all went
 * well, else -1 with g->why set. */
int fwd_guest_run(struct fwd_guest *g, int timeout_ms);

#endif
