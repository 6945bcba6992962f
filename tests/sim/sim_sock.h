/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The socket layer of the simulated guest: what Linux's
 * virtio_transport_common.c and af_vsock.c do for stream sockets, on top of
 * the packet level of sim.h (rx buffer pool, tx slots). One library for the
 * integration tests (through the blocking sim_stream.h), the forward-cid
 * test program and the benchmark, written to cost what Linux's driver costs
 * per packet and no more, so that the bench measures the daemon rather than
 * the harness:
 *  - rx: buffers of header + rx_buf_size bytes in one descriptor (Linux >=
 *    6.2), posted once and recycled, refilled in a batch once half are gone
 *    (virtio_vsock_rx_fill()); the payload is handed to the application by
 *    pointer, and the application copies it once (its recv()).
 *  - tx: the simulator's slot pool (Linux's skbs), the payload copied once
 *    from the application (its send()). Kicks only when the device asks
 *    (EVENT_IDX), decided after each application write (sg_kick()).
 *  - credit: Linux's rules. We advertise buf_alloc (256 KiB by default, the
 *    SO_VM_SOCKETS_BUFFER_SIZE default), send CREDIT_UPDATE once the space
 *    the peer believes we have falls under one maximal packet, count every
 *    byte the device sends beyond our credit, and never send beyond the
 *    peer's credit.
 *  - many connections on one device, demultiplexed by (peer, ports), and
 *    listeners that accept REQUESTs; packets for no connection are answered
 *    with RST, as Linux does (cfg.quiet turns that off for tests that drive
 *    other ports by hand on the same device).
 *
 * A struct sg is attached to a started struct sim (sg_attach) or opens its
 * own (sg_open). Several may share one sim, each seeing the packets it
 * polls: drive one at a time. One thread per sim; no locks. Every wait is
 * bounded.
 */
#ifndef VDV_TESTS_SIM_SIM_SOCK_H
#define VDV_TESTS_SIM_SIM_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sim/sim.h"

#define SG_HOST_CID 2u

struct sg;
struct sg_conn;

struct sg_cfg {
	unsigned queue_size;    /* sg_open: every queue; QEMU uses 128 */
	size_t rx_buf_size;     /* sg_open: payload room per rx buffer; 4096 */
	size_t tx_max_payload;  /* largest payload of one packet we send */
	uint32_t buf_alloc;     /* advertised per connection; 256 KiB */
	unsigned max_conns;     /* connections alive at once */
	int timeout_ms;         /* bound of any single wait for the device */
	bool quiet;             /* never answer packets for no connection */
	bool keep_closed;       /* closed connections stay readable until
				 * sg_close (tests inspect them afterwards),
				 * and still own their ports: what the device
				 * sends for them is no stray */
};

enum sg_state {
	SG_CONNECTING,   /* REQUEST sent */
	SG_ESTABLISHED,
	SG_CLOSING,      /* we sent SHUTDOWN(RCV|SEND), waiting for the RST */
	SG_CLOSED,       /* gone: freed right after the event callback */
};

enum sg_event {
	SG_EV_ACCEPTED,  /* a listener accepted c (RESPONSE sent) */
	SG_EV_CONNECTED, /* our REQUEST was answered */
	SG_EV_SHUTDOWN,  /* the peer shut down a direction (see peer_shut_*) */
	SG_EV_CLOSED,    /* RST (or refusal); c is freed after the callback */
};

struct sg_conn_ops {
	/* Payload for c, a pointer into guest RAM valid during the call only:
	 * the application consumes all of it now, as a recv() would, unless
	 * c->hold (then it calls sg_consume() once it has read it). */
	void (*data)(struct sg_conn *c, const uint8_t *p, size_t n);
	void (*event)(struct sg_conn *c, enum sg_event ev);
	/* Optional: every packet for c, before it is applied (h in wire
	 * order), for applications that check the peer's protocol. */
	void (*pkt)(struct sg_conn *c, const struct virtio_vsock_hdr *h);
	/* Optional: c was just made (by sg_connect or a listener), before
	 * its first packet: the place to set buf_alloc, hold or tx_flags. */
	void (*init)(struct sg_conn *c);
	/* Optional, listeners only: a REQUEST from (cid, port); false
	 * answers it with RST instead of accepting. */
	bool (*accept)(struct sg *g, uint64_t cid, uint32_t port, void *user);
};

struct sg_conn {
	struct sg *g;
	const struct sg_conn_ops *ops;
	void *user;
	enum sg_state state;
	uint64_t peer_cid;
	uint32_t peer_port, local_port;
	bool peer_shut_send, peer_shut_rcv;
	bool refused;            /* RST in answer to our REQUEST */
	bool reset;              /* the peer sent RST */
	bool rst_sent;           /* we sent RST */
	bool hold;               /* the application consumes with sg_consume() */
	unsigned tx_flags;       /* SIM_TX_* layout of data packets; 0 = slots */
	bool ignore_credit;      /* a broken guest: sends beyond the peer's credit */
	/* Credit, as in virtio_transport_common.c. */
	uint32_t buf_alloc, fwd_cnt, fwd_cnt_sent, rx_cnt, tx_cnt;
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint64_t credit_violations; /* the device sent beyond our credit */
	uint64_t credit_updates_sent, credit_updates_rcvd;
	/* internal */
	struct sg_conn *hnext;
	bool dead;
};

struct sg_stats {
	uint64_t rx_pkts, tx_pkts, rx_bytes, tx_bytes;
	uint64_t credit_updates_sent, credit_updates_rcvd;
	uint64_t credit_violations;
	uint64_t stray;      /* packets for no connection (RSTs aside) */
	uint64_t stray_rst;  /* RSTs for no connection: ignored, as Linux */
	uint64_t late_rst;   /* RSTs for a closed connection kept by
			      * keep_closed: ignored, and no stray */
	uint64_t refused;    /* REQUESTs a listener's accept hook refused */
	uint64_t bad;        /* malformed used entries (device bugs) */
	uint64_t waits;      /* times the driver slept on a call eventfd */
	struct virtio_vsock_hdr first_stray; /* wire order; valid if stray */
};

void sg_cfg_init(struct sg_cfg *cfg);

/* Connects to the daemon's vhost-user socket, starts the device with
 * cfg's ring and rx buffer sizes, and attaches; sg_close closes the sim. */
int sg_open(const char *socket_path, const struct sg_cfg *cfg, struct sg **out);
/* Drives a started sim (its rx buffers, its tx slots); the sim stays the
 * caller's. cfg's queue_size and rx_buf_size are not used. */
int sg_attach(struct sim *sim, const struct sg_cfg *cfg, struct sg **out);
/* Frees the connections (sending nothing); an sg_open'ed sim is stopped
 * (GET_VRING_BASE) and closed. */
void sg_close(struct sg *g);

struct sim *sg_sim(const struct sg *g);
uint64_t sg_guest_cid(const struct sg *g);
bool sg_indirect(const struct sg *g);
const struct sg_stats *sg_stats(const struct sg *g);
/* First fatal driver error seen (a wait that timed out while sending a
 * control packet, a malformed packet), or 0. */
int sg_error(const struct sg *g);
/* Why the last sg_send_all() timed out (credit, slots, ring counters), or
 * NULL. */
const char *sg_stall(const struct sg *g);
/* One line of counters: packets, bytes, kicks, calls, credit updates. */
void sg_describe(const struct sg *g, char *buf, size_t cap);
/* Records c's view of credit and slots as the reason of a stall. */
void sg_note_stall(const struct sg_conn *c);

/* Accept REQUESTs to port: RESPONSE, then ops->event(SG_EV_ACCEPTED). */
int sg_listen(struct sg *g, uint32_t port, const struct sg_conn_ops *ops, void *user);
/* Stops accepting on port: later REQUESTs are strays. */
int sg_unlisten(struct sg *g, uint32_t port);

/* Sends a REQUEST from src_port (0: the next free ephemeral port);
 * SG_EV_CONNECTED or SG_EV_CLOSED (refused) follows. */
int sg_connect(struct sg *g, uint64_t dst_cid, uint32_t dst_port, uint32_t src_port,
	       const struct sg_conn_ops *ops, void *user, struct sg_conn **out);

/* Queues as much of buf as the peer's credit and free packet slots allow
 * (a non-blocking send); returns the bytes queued or -errno. Does not
 * kick: call sg_kick() once the application's write is done. */
ssize_t sg_send(struct sg_conn *c, const void *buf, size_t len);
/* What the peer lets us send now: its buf_alloc minus what it has not
 * consumed of ours. */
uint32_t sg_peer_credit(const struct sg_conn *c);
/* sg_send() until all of buf is queued, polling meanwhile. */
int sg_send_all(struct sg_conn *c, const void *buf, size_t len, int timeout_ms);
/* Notifies the device of new tx packets if it asked for it. */
int sg_kick(struct sg *g);

/* A held connection's application read n bytes: fwd_cnt moves, and a
 * CREDIT_UPDATE goes out by Linux's rule (queued: sg_kick()). */
int sg_consume(struct sg_conn *c, uint32_t n);

/* SHUTDOWN with VIRTIO_VSOCK_SHUTDOWN_* flags. */
int sg_shutdown(struct sg_conn *c, uint32_t flags);
/* close() as Linux: RST if the peer is gone both ways, else SHUTDOWN both
 * ways and wait (in sg_poll) for the peer's RST. */
int sg_close_conn(struct sg_conn *c);
int sg_rst(struct sg_conn *c);

/*
 * Handles whatever the device did (rx packets, tx completions), calling the
 * connections' callbacks. If nothing was pending, sleeps up to timeout_ms
 * on the call eventfds. Returns the number of entries handled, 0 on timeout,
 * or -errno (-ECONNRESET when the daemon went away).
 */
int sg_poll(struct sg *g, int timeout_ms);
/* sg_poll() handling at most max_rx rx packets per call (1: one packet at
 * a time, for tests that look at each). */
int sg_poll_max(struct sg *g, unsigned max_rx, int timeout_ms);

/* Counts the passes over the rx ring: packets handed to the application in
 * one pass arrived together, as after one interrupt. */
uint64_t sg_rx_batch(const struct sg *g);

/* Connections alive (any state but CLOSED). */
unsigned sg_nconns(const struct sg *g);

#endif
