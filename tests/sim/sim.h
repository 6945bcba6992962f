/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Frontend simulator: plays the VMM (QEMU's vhost-user-vsock-pci) on a
 * vhost-user socket and the Linux virtio-vsock driver on the vrings, so that
 * integration tests and benchmarks can drive the daemon without a VM.
 *
 * What it owns: one connection to a backend socket, a memfd that stands for
 * guest RAM (split into one or more regions), the three split virtqueues
 * (0 rx, 1 tx, 2 event) laid out in that RAM, and their kick/call eventfds.
 *
 * Layers, each using only the one below: this header (VMM, rings, and the
 * driver's packet level: rx buffer pool, tx slots, raw chains), then
 * sim_sock.h (connections, listeners, credit: the guest's socket layer),
 * then sim_stream.h (one stream with blocking calls, for tests).
 *
 * Conventions: every function returns 0 (or a count) on success and a
 * negative errno on failure; nothing aborts on an unexpected backend reply,
 * so that tests can assert on what happened. Every wait is bounded by a
 * timeout in milliseconds. There is no global state and no thread: a test may
 * open several sims to one or several daemons and drive them in turn.
 *
 * Typical use:
 *	struct sim *s;
 *	sim_connect(path, NULL, &s);     // defaults: 3 x 128 entries, 64 MiB
 *	sim_start(s);                    // negotiate, memory, rings, rx fill
 *	struct virtio_vsock_hdr h = sim_vsock_hdr(sim_guest_cid(s), 2, 1234,
 *			80, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 65536, 0);
 *	sim_tx_send(s, &h, NULL, 0, 0);
 *	struct sim_pkt *p = sim_pkt_new();
 *	sim_rx_poll(s, p, 1000);         // RESPONSE or RST
 *	sim_stop(s);                     // GET_VRING_BASE on every ring
 *	sim_close(s);
 */
#ifndef VDV_TESTS_SIM_SIM_H
#define VDV_TESTS_SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_vsock.h>

#include "vhost_user/vu_protocol.h"

struct sim;

/* Queue indices of the vsock device. */
enum sim_queue {
	SIM_VQ_RX = 0,    /* device -> driver */
	SIM_VQ_TX = 1,    /* driver -> device */
	SIM_VQ_EVENT = 2, /* device -> driver, transport events */
	SIM_NUM_VQS = 3,
};

/* How the guest RAM is announced to the backend. */
enum sim_mem_mode {
	SIM_MEM_AUTO = 0,  /* like QEMU: ADD_MEM_REG iff CONFIGURE_MEM_SLOTS */
	SIM_MEM_TABLE,     /* always SET_MEM_TABLE */
	SIM_MEM_ADD_REG,   /* always ADD_MEM_REG (fails if not negotiated) */
};

#define SIM_MAX_REGIONS VHOST_USER_MEM_MAX_REGIONS
#define SIM_RX_FILL 0xffffffffu   /* sim_opts.rx_bufs: fill the whole ring */
#define SIM_PKT_MAX (64u * 1024u) /* largest payload a vsock packet carries */
#define SIM_HDR_SIZE ((unsigned)sizeof(struct virtio_vsock_hdr)) /* 44 */
/* The vsock device's feature bit for stream sockets (virtio spec 5.10.3);
 * the simulator keeps its own copy of the wire facts it relies on. */
#ifndef VIRTIO_VSOCK_F_STREAM_BIT
#define VIRTIO_VSOCK_F_STREAM_BIT 0
#endif

/* Default virtio features the simulated driver accepts (intersected with
 * what the backend offers). NOTIFY_ON_EMPTY is left out because Linux's
 * vring_transport_features() clears it: a real guest never acks it. */
#define SIM_DEFAULT_FEATURES                                                   \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX) |    \
	 (1ull << VIRTIO_RING_F_INDIRECT_DESC) |                               \
	 (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |                            \
	 (1ull << VIRTIO_VSOCK_F_STREAM_BIT))

/* Default protocol features requested, as QEMU's vhost-user-vsock would. */
#define SIM_DEFAULT_PROTOCOL_FEATURES                                          \
	((1ull << VHOST_USER_PROTOCOL_F_MQ) |                                  \
	 (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |                           \
	 (1ull << VHOST_USER_PROTOCOL_F_CONFIG) |                              \
	 (1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS))

/*
 * Options; start from sim_opts_init() and change what matters. Fields are
 * taken literally (a zero queue size is an error, not "default").
 */
struct sim_opts {
	unsigned queue_size[SIM_NUM_VQS]; /* power of two <= 32768; 128 */
	size_t mem_size;            /* guest RAM bytes; 64 MiB */
	unsigned mem_regions;       /* 1..SIM_MAX_REGIONS, equal parts; 1 */
	uint64_t region_gap;        /* GPA hole between regions; 1 GiB */
	enum sim_mem_mode mem_mode; /* SIM_MEM_AUTO */
	uint64_t features;          /* SIM_DEFAULT_FEATURES */
	uint64_t protocol_features; /* SIM_DEFAULT_PROTOCOL_FEATURES */
	bool no_reply_ack;          /* never set NEED_REPLY on set messages */
	int connect_timeout_ms;     /* retry connect() this long; 5000 */
	int io_timeout_ms;          /* wait for one reply; 5000 */
	uint64_t guest_cid;         /* src_cid; 0 = from GET_CONFIG (else 3) */
	unsigned rx_bufs;           /* rx buffers posted by sim_start; FILL */
	size_t rx_buf_size;         /* payload room per rx buffer; 4096 */
	bool rx_split_hdr;          /* rx: header and payload in 2 descs */
	unsigned event_bufs;        /* event buffers posted by sim_start; 8 */
	size_t tx_slot_size;        /* payload room of a tx slot; SIM_PKT_MAX */
};

/* What negotiation found out; valid after sim_negotiate()/sim_start(). */
struct sim_info {
	uint64_t features_offered;  /* GET_FEATURES */
	uint64_t features_acked;    /* SET_FEATURES */
	uint64_t protocol_offered;  /* GET_PROTOCOL_FEATURES (0 if none) */
	uint64_t protocol_acked;    /* SET_PROTOCOL_FEATURES */
	uint64_t queue_num;         /* GET_QUEUE_NUM, 0 if MQ not negotiated */
	uint64_t max_mem_slots;     /* GET_MAX_MEM_SLOTS, 0 if not negotiated */
	bool has_config;            /* GET_CONFIG succeeded */
	uint64_t config_guest_cid;  /* from GET_CONFIG */
	bool reply_ack;             /* acks requested on set messages */
	uint32_t vring_base[SIM_NUM_VQS]; /* GET_VRING_BASE results of stop */
};

/* Notification and ring counters of one queue. */
struct sim_vq_stats {
	uint64_t added;            /* chains made available */
	uint64_t used;             /* used entries consumed */
	uint64_t kicks;            /* eventfd writes to the backend */
	uint64_t kicks_suppressed; /* kicks the device asked us to skip */
	uint64_t calls;            /* backend signals on the call eventfd */
	uint64_t bad_used;         /* used entries with an id not in flight */
};

/* Raw view of one virtqueue for malformed-input tests. */
struct sim_vq_rings {
	unsigned num;
	struct vring_desc *desc;
	struct vring_avail *avail; /* ring[num] is used_event */
	struct vring_used *used;   /* ring[num] holds avail_event */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	int kickfd, callfd;
};

/* One received packet, header decoded to host byte order. */
struct sim_pkt {
	struct virtio_vsock_hdr raw; /* as the device wrote it */
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;         /* header's len field */
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
	uint32_t used_len;    /* bytes the device said it wrote (hdr + data) */
	size_t payload_len;   /* bytes copied to payload */
	uint8_t payload[SIM_PKT_MAX];
};

/* sim_tx_send() layouts and flags. Default (0) is what Linux does: the
 * header in one descriptor, the payload in a second one. */
#define SIM_TX_LINEAR   (1u << 0) /* header + payload in one descriptor */
#define SIM_TX_PAGES    (1u << 1) /* payload split in 4 KiB descriptors */
#define SIM_TX_INDIRECT (1u << 2) /* chain goes in an indirect table */
#define SIM_TX_NO_KICK  (1u << 3) /* publish only; sim_vq_notify() later */

/* ---- lifecycle ---- */

void sim_opts_init(struct sim_opts *opts);

/*
 * Connects to a backend socket (retrying while it does not exist or refuses,
 * up to connect_timeout_ms), creates guest RAM, the rings and eventfds. No
 * vhost-user message is sent yet. opts NULL means defaults.
 */
int sim_connect(const char *socket_path, const struct sim_opts *opts, struct sim **out);

/*
 * The device-init half of QEMU's sequence: GET_FEATURES,
 * GET/SET_PROTOCOL_FEATURES, GET_QUEUE_NUM (MQ), GET_MAX_MEM_SLOTS
 * (CONFIGURE_MEM_SLOTS), SET_OWNER, GET_CONFIG (CONFIG), SET_FEATURES.
 */
int sim_negotiate(struct sim *sim);

/*
 * Negotiates if not done yet, then the device-start half: memory table (or
 * ADD_MEM_REG), and per ring SET_VRING_NUM, _BASE 0, _ADDR, _KICK, _CALL and
 * SET_VRING_ENABLE 1 (if PROTOCOL_FEATURES); acks checked when REPLY_ACK.
 * Then fills rx and event queues like the Linux driver's probe.
 */
int sim_start(struct sim *sim);

/* Announces guest RAM as sim_start() does (SET_MEM_TABLE, or one
 * ADD_MEM_REG per region); for tests that stop half-way. */
int sim_send_mem(struct sim *sim);

/* SET_VRING_ENABLE 0 (if PROTOCOL_FEATURES) and GET_VRING_BASE on each
 * started ring, like QEMU's vhost_dev_stop(); bases land in sim_info. */
int sim_stop(struct sim *sim);

/* A guest reboot under the same VMM: stops the rings as QEMU's device
 * reset does (sim_stop), then the driver's state starts over: fresh rings
 * (at the same guest addresses, so only their bases tell), no buffer
 * posted, bases 0 for the next sim_start(). Negotiation is kept. */
int sim_reset(struct sim *sim);

/* Closes the socket and frees everything (does not send anything). */
void sim_close(struct sim *sim);

const struct sim_info *sim_info(const struct sim *sim);
const struct sim_opts *sim_opts(const struct sim *sim);
uint64_t sim_guest_cid(const struct sim *sim);
int sim_socket_fd(const struct sim *sim);

/* ---- vhost-user messages ---- */

/* Sends one message; flags are sent verbatim (add VHOST_USER_VERSION). */
int sim_send_msg(struct sim *sim, uint32_t request, uint32_t flags,
		 const void *payload, size_t size, const int *fds, unsigned nfds);

/* Sends arbitrary bytes (with optional fds) on the socket. */
int sim_send_raw(struct sim *sim, const void *buf, size_t len,
		 const int *fds, unsigned nfds);

/*
 * Receives one message: header into *hdr, payload into buf. Returns the
 * payload size, -ETIMEDOUT, -ECONNRESET when the backend closed, or
 * -EMSGSIZE if the payload exceeded cap (it is consumed and dropped).
 */
int sim_recv_reply(struct sim *sim, struct vu_msg_header *hdr, void *buf,
		   size_t cap, int timeout_ms);

/* A request with a reply: checks the reply's code and REPLY flag (-EPROTO).
 * Returns the reply payload size. */
int sim_request(struct sim *sim, uint32_t request, const void *payload,
		size_t size, void *reply, size_t reply_cap);

/* A request without reply: sets NEED_REPLY when REPLY_ACK is in force and
 * then waits for the ack; a non-zero ack gives -EIO. */
int sim_set_msg(struct sim *sim, uint32_t request, const void *payload,
		size_t size, const int *fds, unsigned nfds);

/* The ack value of the last sim_set_msg() that waited for one. */
uint64_t sim_last_ack(const struct sim *sim);

/* Waits until the backend closes the connection: 0, or -ETIMEDOUT. Any
 * message that arrives meanwhile is read and dropped. */
int sim_wait_closed(struct sim *sim, int timeout_ms);

int sim_get_features(struct sim *sim, uint64_t *features);
int sim_set_features(struct sim *sim, uint64_t features);
int sim_get_protocol_features(struct sim *sim, uint64_t *features);
int sim_set_protocol_features(struct sim *sim, uint64_t features);
int sim_set_owner(struct sim *sim);
int sim_get_queue_num(struct sim *sim, uint64_t *num);
int sim_get_max_mem_slots(struct sim *sim, uint64_t *num);
int sim_get_config(struct sim *sim, uint32_t offset, uint32_t size, void *buf);
int sim_set_vring_enable(struct sim *sim, unsigned idx, bool enable);
int sim_get_vring_base(struct sim *sim, unsigned idx, uint32_t *base);

/* ---- guest memory ---- */

/* Allocates guest RAM; returns the sim's pointer and the GPA in *gpa.
 * Successive allocations rotate over the regions, so that with several
 * regions rings and buffers end up in different ones. NULL if full. */
void *sim_guest_alloc(struct sim *sim, size_t size, size_t align, uint64_t *gpa);
void sim_guest_free(struct sim *sim, uint64_t gpa, size_t size);

/* Pointer for [gpa, gpa+len) if inside one region, else NULL. */
void *sim_gpa_to_ptr(struct sim *sim, uint64_t gpa, size_t len);

/* The regions as announced to the backend (userspace_addr = our mapping). */
unsigned sim_mem_nregions(const struct sim *sim);
int sim_mem_region(const struct sim *sim, unsigned i, struct vu_mem_region *out);
int sim_mem_fd(const struct sim *sim);

/* ---- virtqueues, driver side ---- */

int sim_vq_rings(struct sim *sim, unsigned q, struct sim_vq_rings *out);
int sim_vq_stats(const struct sim *sim, unsigned q, struct sim_vq_stats *out);
void sim_stats_reset(struct sim *sim);

/*
 * Takes n free descriptors, copies descs into them and makes the chain
 * available. `next` of descs[i] (i < n-1) is rewritten to the slot of
 * descs[i+1]; flags and the last descriptor's next are kept verbatim, so a
 * test can build loops, dangling NEXT or out-of-range indices. Kicks when
 * asked. Returns the head's index, or -ENOSPC.
 */
int sim_vq_add_raw_chain(struct sim *sim, unsigned q, const struct vring_desc *descs,
			 unsigned n, bool kick);

/* The slots the next n descriptors taken from q's free list will occupy
 * (slots[0] is the next head), so a test can aim `next` at them. */
int sim_vq_peek_free(const struct sim *sim, unsigned q, uint16_t *slots, unsigned n);

/* Pops one used entry of q (any kind of chain): 1 with id and len set, 0 if none.
 * Buffers the sim owns for that chain are released or recycled. */
int sim_vq_get_used(struct sim *sim, unsigned q, uint32_t *id, uint32_t *len);

/* Kicks unconditionally (counted). */
int sim_vq_kick(struct sim *sim, unsigned q);
/* Kicks if the device wants it (EVENT_IDX avail_event or NO_NOTIFY). */
int sim_vq_notify(struct sim *sim, unsigned q);

/*
 * Waits until q has a used entry pending: enables callbacks (used_event or
 * flags), re-checks, then sleeps on the call eventfd. 0, -ETIMEDOUT, or
 * -ECONNRESET if the backend socket hung up meanwhile.
 */
int sim_vq_wait_used(struct sim *sim, unsigned q, int timeout_ms);

/* Reads the call eventfd without blocking; returns the number of signals. */
int sim_vq_drain_calls(struct sim *sim, unsigned q);

/* Chains of q made available and not yet used. */
unsigned sim_vq_in_flight(const struct sim *sim, unsigned q);

/* ---- vsock driver ---- */

/* Builds a STREAM header in little-endian wire order. */
struct virtio_vsock_hdr sim_vsock_hdr(uint64_t src_cid, uint64_t dst_cid,
				      uint32_t src_port, uint32_t dst_port,
				      uint16_t op, uint32_t flags, uint32_t len,
				      uint32_t buf_alloc, uint32_t fwd_cnt);

/*
 * Queues one packet on tx: hdr verbatim (its len is not checked against
 * len, so that tests can lie) and len payload bytes, laid out as flags say.
 * Reclaims used tx chains first; if the ring is still full, waits up to
 * io_timeout_ms for the device. Kicks unless SIM_TX_NO_KICK.
 */
int sim_tx_send(struct sim *sim, const struct virtio_vsock_hdr *hdr,
		const void *payload, size_t len, unsigned flags);

/* Releases used tx chains; returns how many. */
int sim_tx_reclaim(struct sim *sim);

/* Waits until every tx chain was used: 0 or -ETIMEDOUT. */
int sim_tx_flush(struct sim *sim, int timeout_ms);

/*
 * Preallocated tx packets, as the skbs of Linux's driver, for drivers that
 * must not allocate per packet (the socket layer, sim_sock.h). A slot holds a
 * header and up to opts.tx_slot_size payload bytes, and goes on the ring as
 * one descriptor (header only), as an indirect table of two when
 * INDIRECT_DESC was negotiated (as virtqueue_add_sgs() does), else as two
 * ring descriptors. The pool (one slot per ring entry with INDIRECT_DESC,
 * half as many without) is carved from guest RAM on first use; a slot comes
 * back when its chain is reclaimed (sim_tx_reclaim(), sim_vq_get_used()).
 *
 * sim_tx_slot_take() returns a free slot's index and its buffer (header,
 * then payload room), or -ENOSPC when all are in flight.
 * sim_tx_slot_send() publishes the slot with len payload bytes, without a
 * kick (sim_vq_notify() decides); on failure the slot is free again.
 */
int sim_tx_slot_take(struct sim *sim, uint8_t **buf);
int sim_tx_slot_send(struct sim *sim, int slot, uint32_t len);
/* Free slots now; *total (if not NULL) gets the pool's size. */
unsigned sim_tx_slots_free(const struct sim *sim, unsigned *total);

/* Posts nbufs more device-writable rx buffers of buf_size payload bytes
 * (0 = opts.rx_buf_size) and kicks if needed. */
int sim_rx_post(struct sim *sim, unsigned nbufs, size_t buf_size);

/* One filled rx buffer, seen in place in guest RAM (no copy). */
struct sim_rx_buf {
	const uint8_t *data; /* the header, then the payload */
	uint32_t used_len;   /* bytes the device said it wrote */
	uint32_t size;       /* the buffer's size (header + payload room) */
};

/*
 * Takes the next filled rx buffer without waiting: 1 with *b set, 0 if
 * none, or -errno. Raw chains a test put on the ring are skipped. The
 * buffer joins the idle pool at once and is reposted by the next refill,
 * so *b is valid until sim_rx_refill(), sim_rx_poll() or sim_rx_post().
 */
int sim_rx_next(struct sim *sim, struct sim_rx_buf *b);

/* Reposts the idle rx buffers once fewer than half are on the ring, as
 * Linux refills: one batch, one kick decision. */
int sim_rx_refill(struct sim *sim);

/* What the device must get right in every rx buffer: it reports exactly
 * the header plus the len the header announces, and never more than the
 * buffer. 0 or -EBADMSG. */
int sim_rx_check(const struct sim_rx_buf *b);

/* Allocates a packet buffer (it is large: 64 KiB of payload). */
struct sim_pkt *sim_pkt_new(void);

/* Decodes a wire-order header into out's fields (payload untouched). */
void sim_pkt_decode(struct sim_pkt *out, const struct virtio_vsock_hdr *h);

/*
 * Waits for the next rx packet and copies it out. The buffer goes back to
 * the ring in batches, as Linux refills when half the buffers are gone.
 * Returns 0, -ETIMEDOUT, -ECONNRESET, or -EBADMSG when the device wrote an
 * inconsistent packet (used len < header, or header len != data written);
 * *out is still filled for inspection.
 */
int sim_rx_poll(struct sim *sim, struct sim_pkt *out, int timeout_ms);

/* Posts the event buffers (sim_start does it with opts.event_bufs). */
int sim_event_post(struct sim *sim, unsigned nbufs);

/* Waits for a transport event (e.g. TRANSPORT_RESET) and reposts it. */
int sim_event_poll(struct sim *sim, uint32_t *id, int timeout_ms);

/* CLOCK_MONOTONIC in milliseconds, for tests' own deadlines. */
int64_t sim_now_ms(void);

/* Human-readable names for logs. */
const char *sim_op_name(uint16_t op);
const char *sim_request_name(uint32_t request);

#endif
