/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The bench guest driver: life cycle and waiting for the device. See
 * bguest.h for what it models and why. */
#include "bguest_priv.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bg_cfg_init(struct bg_cfg *cfg)
{
	cfg->queue_size = 128;
	cfg->rx_buf_size = 4096;
	cfg->tx_max_payload = BG_MAX_PKT;
	cfg->buf_alloc = 256u * 1024u;
	cfg->max_conns = 2048;
	cfg->timeout_ms = 5000;
}

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}




/* ---- tx ---- */












/* ---- rx ---- */





int bg_poll(struct bg *g, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;

	for (;;) {
		struct sim_vq_rings rx, tx;
		struct pollfd pfd[3];
		unsigned npfd = 0;
		int64_t left;
		int n, t, r;

		n = bg_process_rx(g);
		if (n < 0)
			return n;
		t = bg_reclaim_tx(g);
		if (t < 0)
			return t;
		/* Control packets and echoes the callbacks queued. */
		r = bg_kick(g);
		if (r)
			return r;
		if (n + t > 0)
			return n + t;
		left = deadline - sim_now_ms();
		if (timeout_ms <= 0 || left <= 0)
			return 0;
		/* Arm the callbacks (used_event), then re-check: an entry
		 * used meanwhile would raise no signal. */
		if (sim_vq_wait_used(g->sim, SIM_VQ_RX, 0) == 0)
			continue;
		if (g->want_tx && sim_vq_wait_used(g->sim, SIM_VQ_TX, 0) == 0)
			continue;
		sim_vq_rings(g->sim, SIM_VQ_RX, &rx);
		sim_vq_rings(g->sim, SIM_VQ_TX, &tx);
		pfd[npfd++] = (struct pollfd){ .fd = rx.callfd, .events = POLLIN };
		if (g->want_tx)
			pfd[npfd++] = (struct pollfd){ .fd = tx.callfd, .events = POLLIN };
		pfd[npfd++] = (struct pollfd){ .fd = sim_socket_fd(g->sim), .events = 0 };
		g->st.waits++;
		r = poll(pfd, npfd, left > 60000 ? 60000 : (int)left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0) {
			sim_vq_drain_calls(g->sim, SIM_VQ_RX);
			if (g->want_tx)
				sim_vq_drain_calls(g->sim, SIM_VQ_TX);
			if (pfd[npfd - 1].revents & (POLLHUP | POLLERR))
				return -ECONNRESET;
		}
	}
}

/* ---- lifecycle ---- */

int bg_open(const char *socket_path, const struct bg_cfg *cfg, struct bg **out)
{
	struct sim_opts o;
	struct bg *g;
	size_t tx_bytes, rx_bytes;
	unsigned i;
	int r;

	if (cfg->queue_size < 2 || cfg->queue_size > 32768 ||
	    (cfg->queue_size & (cfg->queue_size - 1)) || !cfg->rx_buf_size ||
	    cfg->rx_buf_size > BG_MAX_PKT || !cfg->tx_max_payload ||
	    cfg->tx_max_payload > BG_MAX_PKT || !cfg->max_conns)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->cfg = *cfg;
	g->qsize = cfg->queue_size;
	g->next_port = 49152;

	/* Slots sized to the largest packet of this run keep small packets
	 * dense in memory, as kmalloc'ed skbs are. */
	g->tx_tbl_off = align_up(SIM_HDR_SIZE + cfg->tx_max_payload, 16);
	g->tx_stride = align_up(g->tx_tbl_off + 2 * sizeof(struct vring_desc), 64);
	g->rx_stride = align_up(SIM_HDR_SIZE + cfg->rx_buf_size, 64);
	tx_bytes = g->tx_stride * g->qsize;
	rx_bytes = g->rx_stride * g->qsize;

	sim_opts_init(&o);
	for (i = 0; i < SIM_NUM_VQS; i++)
		o.queue_size[i] = g->qsize;
	o.mem_size = align_up(tx_bytes + rx_bytes + 16 * g->qsize * 3 * 2, 1u << 20) + (8u << 20);
	o.rx_bufs = 0; /* we post our own */
	o.connect_timeout_ms = cfg->timeout_ms;
	o.io_timeout_ms = cfg->timeout_ms;
	r = sim_connect(socket_path, &o, &g->sim);
	if (r)
		goto err;
	r = sim_start(g->sim);
	if (r)
		goto err;
	g->cid = sim_guest_cid(g->sim);
	g->indirect = sim_info(g->sim)->features_acked & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	g->tx_nslots = g->indirect ? g->qsize : g->qsize / 2;

	g->tx_base = sim_guest_alloc(g->sim, tx_bytes, 4096, &g->tx_gpa);
	g->rx_base = sim_guest_alloc(g->sim, rx_bytes, 4096, &g->rx_gpa);
	g->tx_free = calloc(g->tx_nslots, sizeof(*g->tx_free));
	g->tx_slot_of_head = malloc(g->qsize * sizeof(*g->tx_slot_of_head));
	g->rx_idle = calloc(g->qsize, sizeof(*g->rx_idle));
	g->rx_buf_of_head = malloc(g->qsize * sizeof(*g->rx_buf_of_head));
	g->conns = calloc(cfg->max_conns, sizeof(*g->conns));
	g->conn_free = calloc(cfg->max_conns, sizeof(*g->conn_free));
	if (!g->tx_base || !g->rx_base || !g->tx_free || !g->tx_slot_of_head || !g->rx_idle ||
	    !g->rx_buf_of_head || !g->conns || !g->conn_free) {
		r = -ENOMEM;
		goto err;
	}
	for (i = 0; i < g->qsize; i++) {
		g->tx_slot_of_head[i] = -1;
		g->rx_buf_of_head[i] = -1;
	}
	for (i = 0; i < g->tx_nslots; i++)
		g->tx_free[g->tx_nfree++] = (uint16_t)(g->tx_nslots - 1 - i);
	for (i = 0; i < cfg->max_conns; i++)
		g->conn_free[g->nfree_conns++] = &g->conns[cfg->max_conns - 1 - i];
	/* Fill the rx ring, as the driver's probe does. */
	g->rx_total = g->qsize;
	for (i = 0; i < g->qsize; i++)
		g->rx_idle[g->rx_nidle++] = (uint16_t)(g->qsize - 1 - i);
	r = bg_rx_refill(g, true);
	if (r)
		goto err;
	*out = g;
	return 0;
err:
	bg_close(g);
	return r;
}

void bg_close(struct bg *g)
{
	if (!g)
		return;
	if (g->sim) {
		sim_stop(g->sim);
		sim_close(g->sim);
	}
	free(g->tx_free);
	free(g->tx_slot_of_head);
	free(g->rx_idle);
	free(g->rx_buf_of_head);
	free(g->conns);
	free(g->conn_free);
	free(g);
}

uint64_t bg_guest_cid(const struct bg *g)
{
	return g->cid;
}

bool bg_indirect(const struct bg *g)
{
	return g->indirect;
}

const struct bg_stats *bg_stats(const struct bg *g)
{
	return &g->st;
}

int bg_error(const struct bg *g)
{
	return g->err;
}

void bg_describe(const struct bg *g, char *buf, size_t cap)
{
	struct sim_vq_stats tx, rx;

	sim_vq_stats(g->sim, SIM_VQ_TX, &tx);
	sim_vq_stats(g->sim, SIM_VQ_RX, &rx);
	snprintf(buf, cap,
		 "guest: rx %llu pkts %llu B, tx %llu pkts %llu B, credit updates sent %llu "
		 "rcvd %llu, tx kicks %llu (suppressed %llu), rx kicks %llu, calls rx %llu "
		 "tx %llu, sleeps %llu",
		 (unsigned long long)g->st.rx_pkts, (unsigned long long)g->st.rx_bytes,
		 (unsigned long long)g->st.tx_pkts, (unsigned long long)g->st.tx_bytes,
		 (unsigned long long)g->st.credit_updates_sent,
		 (unsigned long long)g->st.credit_updates_rcvd, (unsigned long long)tx.kicks,
		 (unsigned long long)tx.kicks_suppressed, (unsigned long long)rx.kicks,
		 (unsigned long long)rx.calls, (unsigned long long)tx.calls,
		 (unsigned long long)g->st.waits);
}

uint64_t bg_rx_batch(const struct bg *g)
{
	return g->batch;
}

const char *bg_stall(const struct bg *g)
{
	return g->stall[0] ? g->stall : NULL;
}

