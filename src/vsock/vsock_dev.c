/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The vsock device of one VM: its vhost-user callbacks (config space,
 * kicks, reset), its loop hooks (batched work before sleeping, adaptive
 * polling), and the calls its backends make (vsock/backend.h).
 */
#include "vsock/vsock.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/stat.h"
#include "virtio/mem_fault.h"
#include "vsock/conn_io.h"
#include "vsock/rxq.h"
#include "vsock/txq.h"

#define VSOCK_CONFIG_SIZE 8u /* le64 guest_cid */

static struct vsock_dev *dev_of(struct vu_dev *vu)
{
	return vu->opaque;
}

static void vsock_get_config(struct vu_dev *vu, uint32_t offset, uint32_t size, uint8_t *out)
{
	uint64_t cid = htole64(dev_of(vu)->cfg->guest_cid);

	memcpy(out, (const uint8_t *)&cid + offset, size);
}

static void vsock_queue_kick(struct vu_dev *vu, unsigned q)
{
	struct vsock_dev *d = dev_of(vu);

	/* Also called when a ring starts (SET_VRING_KICK), before the VMM
	 * gets its REPLY_ACK: siblings must see the guest as reachable from
	 * then on, not only after this turn's before-sleep hook (a VMM that
	 * starts its guest right after the ack could be refused meanwhile). */
	atomic_store_explicit(&d->accepting, vsock_guest_ready(d), memory_order_relaxed);

	if (q == VSOCK_TX_Q) {
		/* After a driver reset, the reset event goes before any new
		 * connection of the guest: its driver posts event buffers
		 * before any socket can send, so they are there by now, and a
		 * late TRANSPORT_RESET would kill the new connections. */
		if (d->event_owed)
			rxq_send_event(d);
		txq_process(d);
	} else if (q == VSOCK_RX_Q) {
		d->rx_work = true; /* new rx buffers: pending data can flow */
	} else if (q == VSOCK_EVENT_Q) {
		/* Buffers stay posted until a driver reset owes an event. */
		rxq_send_event(d);
	}
}

/* One line per guest session, so an operator sees what went through and
 * what was refused without turning on debug logging. */
/* The session's line: what moved since the VMM attached (stats are
 * cumulative, for the metrics). */
static void log_stats(struct vsock_dev *d)
{
	const struct vsock_dev_stats *s = &d->stats, *b = &d->stats_base;
	struct ev_poll_stats p;

	ev_get_poll_stats(d->loop, &p);
	if (s->tx_packets != b->tx_packets || s->rx_packets != b->rx_packets)
		log_info("%s: session: from guest %llu packets / %llu data bytes, to guest %llu "
			 "packets / %llu data bytes; RST sent %llu; dropped: %llu spoofed, %llu "
			 "malformed, %llu replies (queue full); connection limit hit %llu times; "
			 "polling: %llu of %llu windows found work, %llu sleeps",
			 d->name, (unsigned long long)(s->tx_packets - b->tx_packets),
			 (unsigned long long)(s->tx_bytes - b->tx_bytes),
			 (unsigned long long)(s->rx_packets - b->rx_packets),
			 (unsigned long long)(s->rx_bytes - b->rx_bytes),
			 (unsigned long long)(s->rst_sent - b->rst_sent),
			 (unsigned long long)(s->dropped_spoofed - b->dropped_spoofed),
			 (unsigned long long)(s->dropped_malformed - b->dropped_malformed),
			 (unsigned long long)(s->dropped_ctrl_full - b->dropped_ctrl_full),
			 (unsigned long long)(s->conn_limit_hits - b->conn_limit_hits),
			 (unsigned long long)(p.hits - d->poll_base.hits),
			 (unsigned long long)(p.polls - d->poll_base.polls),
			 (unsigned long long)(p.sleeps - d->poll_base.sleeps));
	d->poll_base = p;
	d->stats_base = *s;
}

_Static_assert(VSOCK_CLOSE_CAUSES == CONN_END_COUNT, "one close cause per enum conn_end");

const char *vsock_close_cause_name(unsigned i)
{
	return conn_end_name((enum conn_end)i);
}

void vsock_dev_metrics(const struct vsock_dev *d, struct vsock_metrics *m)
{
	const struct vsock_dev_stats *s = &d->stats;
	const struct vu_stats *v = &d->vu.stats;
	struct ev_poll_stats p;
	/* Freed before created: created >= freed at every instant and only
	 * grows, so the difference below cannot go negative. */
	uint64_t freed = STAT_GET(s->conns_freed), created = STAT_GET(s->conns_created);
	uint64_t detaches = STAT_GET(v->detaches);

	*m = (struct vsock_metrics){
		.packets_from_guest = STAT_GET(s->tx_packets),
		.packets_to_guest = STAT_GET(s->rx_packets),
		.bytes_from_guest = STAT_GET(s->tx_bytes),
		.bytes_to_guest = STAT_GET(s->rx_bytes),
		.rst_sent = STAT_GET(s->rst_sent),
		.dropped_spoofed = STAT_GET(s->dropped_spoofed),
		.dropped_malformed = STAT_GET(s->dropped_malformed),
		.dropped_ctrl_full = STAT_GET(s->dropped_ctrl_full),
		.conn_limit_hits = STAT_GET(s->conn_limit_hits),
		.conn_limit_hits_guest = STAT_GET(s->conn_limit_hits_src[CONN_SRC_GUEST]),
		.conn_limit_hits_host = STAT_GET(s->conn_limit_hits_src[CONN_SRC_HOST]),
		.conn_limit_hits_sibling = STAT_GET(s->conn_limit_hits_src[CONN_SRC_SIBLING]),
		.handshakes_evicted = STAT_GET(s->handshakes_evicted),
		.tx_buffer_bytes = STAT_GET(d->txbud.allocated),
		.tx_buffer_promised = STAT_GET(d->txbud.promised),
		.conns_established = STAT_GET(s->conns_established),
		.conns_open = created - freed,
		.rx_no_buffer = STAT_GET(s->rx_no_buffer),
		.conns_refused = STAT_GET(s->conns_refused),
		.rst_received = STAT_GET(s->rst_received),
		.credit_stalls_to_guest = STAT_GET(s->credit_stalls_to_guest),
		.host_backpressure = STAT_GET(s->host_backpressure),
		.txbuf_beyond_window = STAT_GET(s->txbuf_beyond_window),
		.transport_resets = STAT_GET(s->transport_resets),
		.frontends = STAT_GET(v->frontends),
		.vu_messages = STAT_GET(v->messages),
		.vu_bad_messages = STAT_GET(v->bad_messages),
	};
	m->frontend_attached = m->frontends > detaches;
	/* conns_closed is the sum of the causes as read here, so a scrape's
	 * cause samples always add up to it. */
	m->conns_closed = 0;
	for (unsigned i = 0; i < VSOCK_CLOSE_CAUSES; i++) {
		m->conns_closed_by[i] = STAT_GET(s->conns_closed_by[i]);
		m->conns_closed += m->conns_closed_by[i];
	}
	ev_get_poll_stats(d->loop, &p);
	m->poll_windows = p.polls;
	m->poll_hits = p.hits;
	m->poll_sleeps = p.sleeps;
}

void vsock_trace_hdr(const struct vsock_dev *d, const char *dir, const struct vsock_hdr *h)
{
	log_msg(LOG_TRACE,
		"%s: %s %s %llu:%u -> %llu:%u type %u len %u flags 0x%x buf_alloc %u fwd_cnt %u",
		d->name, dir, vsock_op_name(h->op), (unsigned long long)h->src_cid, h->src_port,
		(unsigned long long)h->dst_cid, h->dst_port, h->type, h->len, h->flags,
		h->buf_alloc, h->fwd_cnt);
}

static void vsock_reset(struct vu_dev *vu)
{
	struct vsock_dev *d = dev_of(vu);

	/* The guest is gone: its connections die with it. Host peers see
	 * their sockets close. */
	atomic_store(&d->accepting, false);
	conn_io_free_all(d);
	d->rx_work = d->tx_work = d->rx_deferred = false;
	d->rx_small = false;
	d->event_owed = false; /* a new frontend brings a new driver */
	log_stats(d);
}

/* The guest's driver reset the device under the same VMM (a reboot): its
 * sockets are gone, so are our connections. Host peers see their sockets
 * close instead of waiting for a guest that will never answer; the new
 * driver hears TRANSPORT_RESET on the event queue once that runs (with
 * QEMU, whose vhost-user-vsock keeps the event queue to itself, never:
 * its guest starts with no socket anyway). */
static void vsock_driver_reset(struct vu_dev *vu)
{
	struct vsock_dev *d = dev_of(vu);
	unsigned n = d->conns.nconns;

	atomic_store(&d->accepting, false);
	conn_io_free_all(d);
	d->rx_work = d->tx_work = d->rx_deferred = false;
	d->rx_small = false;
	d->event_owed = true;
	STAT_INC(d->stats.transport_resets);
	log_info("%s: the guest reset its vsock device (rings restarted anew): %u connection%s "
		 "reset", d->name, n, n == 1 ? "" : "s");
	rxq_send_event(d);
}

static const struct vu_dev_ops vsock_ops = {
	/* NO_IMPLIED_STREAM with STREAM: a driver that knows the bit takes
	 * both types explicitly; QEMU passes on only SEQPACKET of the three,
	 * and the spec implies STREAM then. */
	.device_features = (1ull << VSOCK_F_STREAM_BIT) | (1ull << VSOCK_F_SEQPACKET_BIT) |
			   (1ull << VSOCK_F_NO_IMPLIED_STREAM_BIT),
	.num_queues = VSOCK_QUEUES,
	.config_size = VSOCK_CONFIG_SIZE,
	.get_config = vsock_get_config,
	.queue_kick = vsock_queue_kick,
	.reset = vsock_reset,
	.driver_reset = vsock_driver_reset,
};

/* An access to guest memory raised SIGBUS (the VMM cut its memory file
 * short) and virtio/mem_fault.c put zero pages in its place: the guest's
 * memory is gone, so is its session. True when it was dropped. */
static bool drop_if_mem_faulted(struct vsock_dev *d)
{
	struct gm_fault f;

	if (!gm_fault_take(&d->vu.mem, &f))
		return false;
	log_error("%s: guest memory at gpa 0x%" PRIx64 " (region gpa 0x%" PRIx64
		  " size 0x%" PRIx64 ") raised SIGBUS: the VMM's memory file is shorter than"
		  " the region it announced; dropping the session",
		  d->name, f.gpa, f.region_gpa, f.region_size);
	vu_dev_detach(&d->vu, "guest memory fault");
	return true;
}

/* Batched work runs once per loop turn, after all events were taken in. */
static bool vsock_before_sleep(struct ev_loop *loop, void *opaque)
{
	struct vsock_dev *d = opaque;
	(void)loop;

	/* Once per turn, before and after the batched work: the fast path
	 * of the SIGBUS recovery is this flag test. */
	if (drop_if_mem_faulted(d))
		return false;
	/* Cleared first: txq_process sets it again only when it ran out of
	 * budget, and returns at once on a stopped ring (GET_VRING_BASE).
	 * Left set there, it would keep the loop from ever sleeping while the
	 * VM is paused: a busy spin (Firecracker #6074). The restart kicks
	 * the ring, so nothing is lost. */
	if (d->tx_work) {
		d->tx_work = false;
		txq_process(d);
	}
	if (d->rx_work)
		rxq_process(d);
	if (drop_if_mem_faulted(d))
		return false;
	/* Cheap enough per loop turn, and always current for the siblings. */
	atomic_store_explicit(&d->accepting, vsock_guest_ready(d), memory_order_relaxed);
	return d->tx_work || d->rx_work;
}

/* Polling: the tx ring (the guest's packets) needs no system call to look
 * at; the rx ring matters only while data waits for buffers. */
static bool vsock_poll(void *opaque)
{
	struct vsock_dev *d = opaque;

	/* A fault seen while polling: end the window, the next turn drops
	 * the session (zero pages would show no work, and we would sleep). */
	if (d->vu.mem.faulted)
		return true;
	/* Kicks on and nothing waiting for rx buffers or a deadline: a kick
	 * or a socket event brings any work. Only in the loop's look in a
	 * turn without a window (a window's begin turns kicks off), where
	 * this keeps a worker with many VMs from reading every VM's ring. */
	if (d->vu.vqs[VSOCK_TX_Q].notify_enabled && !d->rx_deferred && !d->ctrl_len &&
	    !d->conns.ready.head)
		return false;
	if (vq_avail_count(&d->vu.vqs[VSOCK_TX_Q])) {
		d->tx_work = true;
		return true;
	}
	if (d->rx_deferred && (vq_driver_waiting(&d->vu.vqs[VSOCK_RX_Q]) ||
			       vdv_now_ns() >= d->rx_defer_end_ns)) {
		d->rx_work = true;
		return true;
	}
	/* Data and replies that wait for rx buffers (not for the guest to
	 * catch up: that is the case above). */
	if (!d->rx_deferred && (d->ctrl_len || d->conns.ready.head) &&
	    vq_avail_count(&d->vu.vqs[VSOCK_RX_Q])) {
		d->rx_work = true;
		return true;
	}
	return false;
}

static void vsock_poll_begin(void *opaque)
{
	struct vsock_dev *d = opaque;
	struct vq *tx = &d->vu.vqs[VSOCK_TX_Q];

	/* The guest's tx kicks would only wake us while we look anyway. */
	if (vq_ready(tx))
		vq_suppress_kicks(tx);
}

static bool vsock_poll_end(void *opaque)
{
	struct vsock_dev *d = opaque;
	struct vq *tx = &d->vu.vqs[VSOCK_TX_Q];
	bool more = false;

	if (vq_ready(tx) && vq_enable_notify(tx)) {
		d->tx_work = true;
		more = true;
	}
	/* Deferred reads never wait through a sleep: one more turn, which
	 * reads or, before the deadline, polls again. */
	if (d->rx_deferred) {
		d->rx_work = true;
		more = true;
	}
	return more;
}

static const struct ev_poll_ops vsock_poll_ops = {
	.poll = vsock_poll,
	.begin = vsock_poll_begin,
	.end = vsock_poll_end,
};

/* What vsock_dev_new() and an idle VM write lies before the connection
 * buckets: with it all in the mapping's first page, 1000 idle VMs cost
 * 9.4 MiB; one field pushed into a second page made it 13.6 MiB. */
_Static_assert(offsetof(struct vsock_dev, conns.buckets) <= 4096,
	       "an idle VM's fields spill into a second page (dev_state.h)");

/* The device is mapped rather than calloc'd: its arrays (connection
 * buckets, rx elements, control queue: most of its 55 KiB) are zero pages
 * that only become resident once a VMM drives them, so an idle VM costs a
 * few pages (calloc would clear, and so touch, all of it). */
static struct vsock_dev *dev_alloc(void)
{
	void *p = mmap(NULL, sizeof(struct vsock_dev), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

struct vsock_dev *vsock_dev_new(const struct vm_config *cfg, struct ev_loop *loop)
{
	struct vsock_dev *d = dev_alloc();

	if (!d)
		return NULL;
	d->cfg = cfg;
	d->loop = loop;
	snprintf(d->name, sizeof(d->name), "vm cid %llu", (unsigned long long)cfg->guest_cid);
	conn_table_init(&d->conns);
	d->txbud.limit = cfg->tx_buffer_budget;
	ev_timer_init(&d->timer, conn_io_timer_fired, d);
	d->client = (struct ev_client){
		.before_sleep = vsock_before_sleep,
		.poll = &vsock_poll_ops,
		.opaque = d,
		.poll_max_ns = cfg->poll_us * 1000u,
	};
	if (vu_dev_init(&d->vu, loop, d->name, &vsock_ops, d) < 0) {
		munmap(d, sizeof(*d));
		return NULL;
	}
	ev_client_add(loop, &d->client);
	d->vu.max_queue_size = cfg->queue_size;
	return d;
}

void vsock_dev_free(struct vsock_dev *d)
{
	if (!d)
		return;
	vu_dev_destroy(&d->vu);
	conn_io_free_all(d);
	conn_table_fini(&d->conns);
	/* The loop lives on (other VMs share it): nothing of ours stays in it. */
	ev_timer_cancel(d->loop, &d->timer);
	ev_client_del(d->loop, &d->client);
	munmap(d, sizeof(*d));
}

int vsock_dev_add_backend(struct vsock_dev *d, struct vsock_backend *b)
{
	if (d->nbackends == VSOCK_MAX_BACKENDS)
		return -ENOSPC;
	b->dev = d;
	d->backends[d->nbackends++] = b;
	return 0;
}

void vsock_tx_budget_total(uint64_t limit)
{
	tx_budget_set_total(limit);
}

unsigned vsock_dev_nconns(const struct vsock_dev *d)
{
	return d->conns.nconns;
}

struct vu_dev *vsock_dev_vu(struct vsock_dev *d)
{
	return &d->vu;
}

/* --- vsock/backend.h --- */

struct ev_loop *vsock_dev_loop(const struct vsock_dev *d)
{
	return d->loop;
}

const struct vm_config *vsock_dev_cfg(const struct vsock_dev *d)
{
	return d->cfg;
}

const char *vsock_dev_name(const struct vsock_dev *d)
{
	return d->name;
}

bool vsock_guest_ready(const struct vsock_dev *d)
{
	/* Memory alone is not enough: with its rings stopped (VM paused,
	 * driver reset) the guest could not answer, and the peer would wait
	 * for a timeout instead of being refused at once. */
	return vu_dev_has_memory(&d->vu) && vq_ready(&d->vu.vqs[VSOCK_RX_Q]) &&
	       vq_ready(&d->vu.vqs[VSOCK_TX_Q]);
}

bool vsock_dev_accepting(const struct vsock_dev *d)
{
	return atomic_load_explicit(&d->accepting, memory_order_relaxed);
}

int vsock_conn_fd(const struct vsock_conn *c)
{
	return c->fd;
}

uint16_t vsock_conn_type(const struct vsock_conn *c)
{
	return c->p.type;
}

uint32_t vsock_conn_guest_port(const struct vsock_conn *c)
{
	return c->p.guest_port;
}

uint64_t vsock_conn_peer_cid(const struct vsock_conn *c)
{
	return c->p.peer_cid;
}

const struct vsock_backend *vsock_conn_backend(const struct vsock_conn *c)
{
	return c->via;
}

uint32_t vsock_conn_peer_port(const struct vsock_conn *c)
{
	return c->p.peer_port;
}

struct vsock_conn *vsock_conn_find(struct vsock_backend *b, uint64_t peer_cid,
				   uint32_t peer_port, uint32_t guest_port)
{
	struct vsock_conn *c = conn_lookup(&b->dev->conns, peer_cid, peer_port, guest_port);

	return c && c->via == b ? c : NULL;
}

void vsock_conn_probe(struct vsock_conn *c)
{
	conn_io_probe(c);
}

/* Makes c, a connection with its host socket, a REQUEST to the guest. */
static int offer(struct vsock_conn *c, uint64_t peer_cid, uint32_t peer_port,
		 uint32_t guest_port)
{
	struct vsock_dev *d = c->dev;

	if (!vsock_guest_ready(d))
		return -ENOTCONN;
	if (!vsock_type_ok(d, c->p.type))
		return -EPROTONOSUPPORT; /* the driver did not take SEQPACKET */
	if (!peer_port)
		peer_port = conn_alloc_host_port(&d->conns, peer_cid, guest_port);
	if (!peer_port)
		return -EADDRINUSE;
	if (conn_lookup(&d->conns, peer_cid, peer_port, guest_port))
		return -EADDRINUSE;
	c->p.peer_cid = peer_cid;
	c->p.peer_port = peer_port;
	c->p.guest_port = guest_port;
	conn_hash_insert(&d->conns, c);
	conn_io_apply(c, conn_offer(&c->p, peer_cid, peer_port, guest_port));
	return 0;
}

int vsock_offer(struct vsock_backend *b, int fd, uint16_t type, uint64_t peer_cid,
		uint32_t peer_port, uint32_t guest_port)
{
	/* From the host's CID: a host socket (forward-listen); else a VM. */
	enum conn_src src = peer_cid == VSOCK_HOST_CID ? CONN_SRC_HOST : CONN_SRC_SIBLING;
	struct vsock_conn *c = conn_io_new(b->dev, b, fd, false, src, peer_cid);
	int r;

	if (!c) {
		close(fd);
		return -EMFILE;
	}
	c->p.type = type;
	r = offer(c, peer_cid, peer_port, guest_port);
	if (r < 0) {
		conn_end_as(&c->p, CONN_END_REFUSED);
		conn_io_apply(c, CONN_FX_CLOSE | CONN_FX_FREE);
	}
	return r;
}

struct vsock_conn *vsock_handshake_start(struct vsock_backend *b, int fd, uint16_t type)
{
	struct vsock_conn *c = conn_io_new(b->dev, b, fd, false, CONN_SRC_HOST, VSOCK_HOST_CID);

	if (!c) {
		close(fd);
		return NULL;
	}
	c->p.type = type;
	conn_io_apply(c, conn_handshake(&c->p));
	return c;
}

void vsock_handshake_done(struct vsock_conn *c, int64_t guest_port, const char *why)
{
	struct vsock_dev *d = c->dev;
	int r;

	if (guest_port < 0) {
		log_info_rl(&d->handshake_rl, "%s: host connection on %s closed: %s", d->name,
			    d->cfg->uds_path ? d->cfg->uds_path : "?", why);
		conn_end_as(&c->p, CONN_END_REFUSED);
		conn_io_apply(c, CONN_FX_CLOSE | CONN_FX_FREE);
		return;
	}
	conn_io_note_hangup(c);
	r = offer(c, VSOCK_HOST_CID, 0, (uint32_t)guest_port);
	if (r < 0) {
		log_info_rl(&d->handshake_rl, "%s: host connection to guest port %u closed: %s",
			    d->name, (uint32_t)guest_port, strerror(-r));
		conn_end_as(&c->p, CONN_END_REFUSED);
		conn_io_apply(c, CONN_FX_CLOSE | CONN_FX_FREE);
	}
}
