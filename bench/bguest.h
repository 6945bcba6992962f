/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The benchmark's guest: a lean virtio-vsock driver on top of the
 * simulator's public ring API, written to cost what Linux's
 * virtio_transport.c costs per packet and no more, so that the bench
 * measures the daemon rather than the test harness.
 *
 * Why not sim_stream: it drives one connection per sim, allocates and
 * copies per packet (fine for tests, not for a benchmark). Here:
 *  - rx: buffers of hdr + rx_buf_size bytes in one descriptor (Linux >= 6.2),
 *    posted once and recycled; refilled in a batch once half are gone, as
 *    virtio_vsock_rx_fill() does; payload is handed to the application by
 *    pointer, the application copies it once (its recv()).
 *  - tx: a fixed pool of packet slots in guest RAM (the skbs of Linux), the
 *    payload copied once from the application (its send()); header and
 *    payload in an indirect table of two descriptors when INDIRECT_DESC is
 *    negotiated (as virtqueue_add_sgs() does), else two ring descriptors;
 *    header-only packets use one descriptor. Kicks only when the device asks
 *    (EVENT_IDX), decided after each application write.
 *  - credit: Linux's rules: we advertise buf_alloc (256 KiB by default, the
 *    SO_VM_SOCKETS_BUFFER_SIZE default) and send CREDIT_UPDATE once the
 *    space the peer believes we have falls under one maximal packet (64 KiB);
 *    we never send beyond the peer's credit.
 *  - many connections on one device, demultiplexed by (peer, ports), and
 *    listeners that accept REQUESTs, as the guest's socket layer would.
 *
 * One thread per struct bg; no locks. Every wait is bounded.
 */
#ifndef VDV_BENCH_BGUEST_H
#define VDV_BENCH_BGUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BG_HOST_CID 2u
#define BG_MAX_PKT (64u * 1024u)

struct bg;
struct bg_conn;

struct bg_cfg {
	unsigned queue_size;    /* every queue; QEMU uses 128 */
	size_t rx_buf_size;     /* payload room per rx buffer; 4096 as Linux */
	size_t tx_max_payload;  /* largest payload of one packet we send */
	uint32_t buf_alloc;     /* advertised per connection; 256 KiB */
	unsigned max_conns;     /* connections alive at once */
	int timeout_ms;         /* bound of any single wait for the device */
};

enum bg_state {
	BG_CONNECTING,   /* REQUEST sent */
	BG_ESTABLISHED,
	BG_CLOSING,      /* we sent SHUTDOWN(RCV|SEND), waiting for the RST */
	BG_CLOSED,       /* gone: freed right after the event callback */
};

enum bg_event {
	BG_EV_ACCEPTED,  /* a listener accepted c (RESPONSE sent) */
	BG_EV_CONNECTED, /* our REQUEST was answered */
	BG_EV_SHUTDOWN,  /* the peer shut down a direction (see peer_shut_*) */
	BG_EV_CLOSED,    /* RST (or refusal); c is freed after the callback */
};

struct bg_conn_ops {
	/* Payload for c, a pointer into guest RAM valid during the call only:
	 * the application consumes all of it now, as a recv() would. */
	void (*data)(struct bg_conn *c, const uint8_t *p, size_t n);
	void (*event)(struct bg_conn *c, enum bg_event ev);
};

struct bg_conn {
	struct bg *g;
	const struct bg_conn_ops *ops;
	void *user;
	enum bg_state state;
	uint64_t peer_cid;
	uint32_t peer_port, local_port;
	bool peer_shut_send, peer_shut_rcv, refused;
	/* Credit, as in virtio_transport_common.c. */
	uint32_t buf_alloc, fwd_cnt, fwd_cnt_sent, rx_cnt, tx_cnt;
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint64_t credit_violations; /* the device sent beyond our credit */
	/* internal */
	struct bg_conn *hnext;
	bool dead;
};

struct bg_stats {
	uint64_t rx_pkts, tx_pkts, rx_bytes, tx_bytes;
	uint64_t credit_updates_sent, credit_updates_rcvd;
	uint64_t stray;      /* packets for no connection */
	uint64_t bad;        /* malformed used entries (device bugs) */
	uint64_t waits;      /* times the driver slept on a call eventfd */
};

void bg_cfg_init(struct bg_cfg *cfg);

/* Connects to the daemon's vhost-user socket, starts the device (rings,
 * memory) and posts the rx buffers. */
int bg_open(const char *socket_path, const struct bg_cfg *cfg, struct bg **out);
/* Stops the rings (GET_VRING_BASE) and frees everything. */
void bg_close(struct bg *g);

uint64_t bg_guest_cid(const struct bg *g);
bool bg_indirect(const struct bg *g);
const struct bg_stats *bg_stats(const struct bg *g);
/* First fatal driver error seen (a wait that timed out while sending a
 * control packet, a malformed packet), or 0. */
int bg_error(const struct bg *g);
/* Why the last bg_send_all() timed out (credit, slots, ring counters), or
 * NULL. */
const char *bg_stall(const struct bg *g);
/* One line of counters: packets, bytes, kicks, calls, credit updates. */
void bg_describe(const struct bg *g, char *buf, size_t cap);
/* Records c's view of credit and slots as the reason of a stall. */
void bg_note_stall(const struct bg_conn *c);

/* Accept REQUESTs to port: RESPONSE, then ops->event(BG_EV_ACCEPTED). */
int bg_listen(struct bg *g, uint32_t port, const struct bg_conn_ops *ops, void *user);

/* Sends a REQUEST; BG_EV_CONNECTED or BG_EV_CLOSED (refused) follows. */
int bg_connect(struct bg *g, uint64_t dst_cid, uint32_t dst_port, const struct bg_conn_ops *ops,
	       void *user, struct bg_conn **out);

/* Queues as much of buf as the peer's credit and free packet slots allow
 * (a non-blocking send); returns the bytes queued or -errno. Does not
 * kick: call bg_kick() once the application's write is done. */
ssize_t bg_send(struct bg_conn *c, const void *buf, size_t len);
/* bg_send() until all of buf is queued, polling meanwhile. */
int bg_send_all(struct bg_conn *c, const void *buf, size_t len, int timeout_ms);
/* Notifies the device of new tx packets if it asked for it. */
int bg_kick(struct bg *g);

/* SHUTDOWN with VIRTIO_VSOCK_SHUTDOWN_* flags. */
int bg_shutdown(struct bg_conn *c, uint32_t flags);
/* close() as Linux: RST if the peer is gone both ways, else SHUTDOWN both
 * ways and wait (in bg_poll) for the peer's RST. */
int bg_close_conn(struct bg_conn *c);
int bg_rst(struct bg_conn *c);

/*
 * Handles whatever the device did (rx packets, tx completions), calling the
 * connections' callbacks. If nothing was pending, sleeps up to timeout_ms
 * on the call eventfds. Returns the number of entries handled, 0 on timeout,
 * or -errno (-ECONNRESET when the daemon went away).
 */
int bg_poll(struct bg *g, int timeout_ms);

/* Counts the passes over the rx ring: packets handed to the application in
 * one pass arrived together, as after one interrupt. */
uint64_t bg_rx_batch(const struct bg *g);

/* Connections alive (any state but CLOSED). */
unsigned bg_nconns(const struct bg *g);

#endif
