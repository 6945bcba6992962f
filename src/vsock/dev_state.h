/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The state of one VM's vsock device, shared by the files of src/vsock/
 * (data only; the device's functions are in vsock_dev.c): its
 * config, loop and vhost-user session, its connections, backends, the
 * queue of standalone replies, counters and the scratch space of the ring
 * loops. Touched by the VM's thread only, except `accepting`.
 */
#ifndef VDV_VSOCK_DEV_STATE_H
#define VDV_VSOCK_DEV_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "util/event_loop.h"
#include "util/log.h"
#include "vhost_user/vu_dev.h"
#include "vsock/backend.h"
#include "vsock/conn_table.h"
#include "vsock/tx_budget.h"
#include "vsock/vsock_proto.h"

/* Standalone replies (RST to unknown connections) waiting for rx buffers. */
#define VSOCK_CTRL_QUEUE_LEN 256u
#define VSOCK_RX_MULTI 16u
/* A host read below this many bytes marks a stream of small writes,
 * whose reads may wait for the guest (rxq.c, rx_defer). */
#define VSOCK_RX_SMALL 1024
#define VSOCK_MAX_BACKENDS 2u
/* A host SEQPACKET message the guest cannot take at once is held whole
 * (rxq.c, read_msg): up to this size, or our own buf_alloc if larger (a
 * sibling guest's messages are bounded by that). */
#define VSOCK_SEQ_HELD_MAX (256u * 1024u)

/* Since the daemon started (cumulative, for metrics); written by the VM's
 * thread only, with STAT_ADD (util/stat.h), read by others with STAT_GET. */
struct vsock_dev_stats {
	uint64_t tx_packets, rx_packets;
	uint64_t tx_bytes, rx_bytes;
	uint64_t dropped_spoofed, dropped_malformed, dropped_ctrl_full;
	uint64_t rst_sent;
	uint64_t conn_limit_hits;            /* all sources */
	uint64_t conn_limit_hits_src[CONN_SRC_COUNT]; /* by enum conn_src */
	uint64_t handshakes_evicted;         /* oldest pending host handshakes, for a new one */
	uint64_t conns_created, conns_freed; /* connection objects */
	uint64_t conns_closed_by[CONN_END_COUNT]; /* freed, by enum conn_end */
	uint64_t conns_established;          /* handshakes completed */
	uint64_t rx_no_buffer;               /* passes that found work but no rx buffer */
	uint64_t conns_refused;              /* guest REQUESTs answered with RST */
	uint64_t rst_received;               /* guest RSTs on a live connection */
	uint64_t credit_stalls_to_guest;     /* CREDIT_REQUESTs: host data waited for guest credit */
	uint64_t host_backpressure;          /* guest data the host socket did not take at once */
	uint64_t txbuf_beyond_window;        /* tx buffers doubled: headroom the socket refused */
	uint64_t transport_resets;           /* driver resets: connections reset, event owed */
};

/* Consecutive RW packets of one connection, written with one writev. */
#define VSOCK_TX_BATCH 256u
struct tx_batch {
	struct vsock_conn *conn;
	size_t len;
	unsigned niov, nheads;
	struct iovec iov[VSOCK_TX_BATCH];
	uint16_t heads[VSOCK_TX_BATCH];  /* pushed once the data is written */
};

struct vsock_dev {
	const struct vm_config *cfg;
	struct ev_loop *loop;           /* shared with the other VMs of its worker */
	struct ev_client client;        /* our before-sleep hook and poller on it */
	struct vu_dev vu;
	char name[48];

	struct vsock_backend *backends[VSOCK_MAX_BACKENDS]; /* asked in order */
	unsigned nbackends;

	struct tx_budget txbud;          /* tx-buffer budget (promised, allocated) */
	bool limit_logged;
	/* Lines a peer can provoke at will, at most LOG_RL_BURST per 10 s:
	 * limit episodes (a flapping limit starts one per freed connection)
	 * failed host handshakes (bad or missing CONNECT line), connection
	 * timeouts. */
	struct log_ratelimit limit_rl;
	struct log_ratelimit handshake_rl;
	struct log_ratelimit timeout_rl;
	struct log_ratelimit evict_rl;  /* evicted pending host handshakes */
	unsigned ctrl_head, ctrl_len;   /* of ctrl[], below */

	struct ev_timer timer;          /* the earliest connection deadline */
	bool rx_work;                   /* run the rx path before sleeping */
	bool tx_work;                   /* tx ring not drained (budget hit) */
	/* The guest's driver reset the device: a TRANSPORT_RESET event is
	 * owed on the event queue (rxq_send_event). */
	bool event_owed;
	/* Published by this VM's thread for the others: a guest is running
	 * and can be offered connections. */
	atomic_bool accepting;

	bool rx_small;                  /* the last host read was small */
	bool rx_deferred;               /* reads wait for the guest (see rxq.c) */
	int64_t rx_defer_end_ns;        /* ... until then at the latest */

	/* Everything an idle VM writes lies above, in the first page: what
	 * follows is written only once a VMM drives the device. (The
	 * counters were above too, and pushed conn_table_init()'s write into
	 * a second page: 1000 idle VMs 9.7 -> 13.6 MiB.) The large arrays
	 * last (about 50 KiB): the device is mapped zero pages (vsock_dev.c),
	 * so a thousand idle VMs cost a few pages each. */
	struct conn_table conns;
	struct vsock_dev_stats stats;
	struct vsock_dev_stats stats_base; /* stats at session start (for its log line) */
	struct ev_poll_stats poll_base; /* loop's polling counters at session start */
	struct vsock_hdr ctrl[VSOCK_CTRL_QUEUE_LEN];
	struct vq_elem elem;            /* scratch, too big for the stack */
	struct tx_batch txb;
	/* rx buffers filled by one readv (Linux posts 4 KiB buffers: 16 of
	 * them take a 64 KiB host write in one system call). */
	struct vq_elem rxe[VSOCK_RX_MULTI];
	uint32_t rxe_room[VSOCK_RX_MULTI];
};

/* Whether packets of type may flow: STREAM always (the spec implies it
 * unless NO_IMPLIED_STREAM without STREAM was negotiated, and we offer
 * STREAM), SEQPACKET once the driver accepted the feature. */
static inline bool vsock_type_ok(const struct vsock_dev *d, uint16_t type)
{
	if (type == VIRTIO_VSOCK_TYPE_STREAM)
		return true;
	return type == VIRTIO_VSOCK_TYPE_SEQPACKET &&
	       (d->vu.features & (1ull << VSOCK_F_SEQPACKET_BIT));
}

/* One line per packet at log level trace: "tx" from the guest, "rx" to
 * it (headers only; data packets the guest sends are traced, the ones it
 * receives are not, to keep the read path lean). */
void vsock_trace_hdr(const struct vsock_dev *d, const char *dir, const struct vsock_hdr *h);
#define VSOCK_TRACE(d, dir, h)                                                \
	do {                                                                  \
		if (log_max_level >= LOG_TRACE)                               \
			vsock_trace_hdr((d), (dir), (h));                     \
	} while (0)

#endif
