/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The packet level of the simulated guest driver, after Linux's
 * net/vmw_vsock/virtio_transport.c: rx buffers of 4 KiB posted device-
 * writable and refilled when half are consumed (copied out by sim_rx_poll,
 * or seen in place by sim_rx_next), tx packets either as header + payload
 * chains allocated per packet (in several layouts, to exercise the device's
 * chain walk) or from a preallocated slot pool (sim_tx_slot_*, the lean path
 * of the socket layer), and the event queue's small buffers. Connections
 * live one level up, in sim_sock.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <endian.h>

#include "sim/sim_priv.h"

#define SIM_SEG 4096u
/* rx buffers and tx slots start on cache lines, as kmalloc'ed skbs do. */
#define SIM_BUF_ALIGN 64u

struct virtio_vsock_hdr sim_vsock_hdr(uint64_t src_cid, uint64_t dst_cid,
				      uint32_t src_port, uint32_t dst_port,
				      uint16_t op, uint32_t flags, uint32_t len,
				      uint32_t buf_alloc, uint32_t fwd_cnt)
{
	struct virtio_vsock_hdr h = {
		.src_cid = htole64(src_cid),
		.dst_cid = htole64(dst_cid),
		.src_port = htole32(src_port),
		.dst_port = htole32(dst_port),
		.len = htole32(len),
		.type = htole16(VIRTIO_VSOCK_TYPE_STREAM),
		.op = htole16(op),
		.flags = htole32(flags),
		.buf_alloc = htole32(buf_alloc),
		.fwd_cnt = htole32(fwd_cnt),
	};

	return h;
}

const char *sim_op_name(uint16_t op)
{
	static const char *const names[] = {
		"INVALID", "REQUEST", "RESPONSE", "RST", "SHUTDOWN", "RW",
		"CREDIT_UPDATE", "CREDIT_REQUEST",
	};

	return op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}

struct sim_pkt *sim_pkt_new(void)
{
	return calloc(1, sizeof(struct sim_pkt));
}

void sim_release_chain(struct sim *sim, unsigned q, const struct sim_used *u)
{
	const struct sim_chain *c = &u->chain;

	if (c->ind_size)
		sim_mem_free(&sim->mem, c->ind_gpa, c->ind_size);
	switch (c->kind) {
	case SIM_CHAIN_TX:
		sim_mem_free(&sim->mem, c->buf_gpa, c->buf_size);
		break;
	case SIM_CHAIN_RX:
		sim->rx_idle[sim->rx_nidle].gpa = c->buf_gpa;
		sim->rx_idle[sim->rx_nidle].size = c->buf_size;
		sim->rx_nidle++;
		sim->rx_posted--;
		break;
	case SIM_CHAIN_SLOT:
		sim->tx_free[sim->tx_nfree++] = c->slot;
		break;
	case SIM_CHAIN_EVENT:
		/* Linux reposts each event buffer right after handling it. */
		if (q == SIM_VQ_EVENT) {
			struct sim_vq *vq = &sim->vq[SIM_VQ_EVENT];
			uint16_t slot;

			if (!sim_vq_take(vq, 1, &slot)) {
				vq->desc[slot].addr = htole64(c->buf_gpa);
				vq->desc[slot].len = htole32(c->buf_size);
				vq->desc[slot].flags = htole16(VRING_DESC_F_WRITE);
				vq->desc[slot].next = 0;
				sim_vq_publish(vq, slot, c);
			}
		}
		break;
	default:
		break;
	}
}

/* ---- tx ---- */

static void set_desc(struct vring_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

int sim_tx_reclaim(struct sim *sim)
{
	struct sim_vq *vq = &sim->vq[SIM_VQ_TX];
	struct sim_used u;
	int n = 0, r;

	sim_vq_read_calls(vq);
	while ((r = sim_vq_pop(vq, &u)) > 0) {
		sim_release_chain(sim, SIM_VQ_TX, &u);
		n++;
	}
	return r < 0 ? r : n;
}

int sim_tx_flush(struct sim *sim, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	struct sim_vq *vq = &sim->vq[SIM_VQ_TX];
	int r;

	for (;;) {
		r = sim_tx_reclaim(sim);
		if (r < 0)
			return r;
		if (vq->num_free == vq->num)
			return 0;
		r = sim_vq_wait(vq, sim->sock, sim_remaining_ms(deadline));
		if (r)
			return r;
	}
}

int sim_tx_send(struct sim *sim, const struct virtio_vsock_hdr *hdr,
		const void *payload, size_t len, unsigned flags)
{
	struct sim_vq *vq = &sim->vq[SIM_VQ_TX];
	struct sim_chain c = { .kind = SIM_CHAIN_TX };
	bool indirect = flags & SIM_TX_INDIRECT;
	unsigned nseg, ndesc, ring_desc, i;
	struct vring_desc *d = NULL;
	int64_t deadline;
	uint8_t *buf;
	int r;

	if (len > UINT32_MAX - SIM_HDR_SIZE)
		return -EINVAL;
	if ((flags & SIM_TX_LINEAR) || !len)
		nseg = 0;
	else if (flags & SIM_TX_PAGES)
		nseg = (unsigned)((len + SIM_SEG - 1) / SIM_SEG);
	else
		nseg = 1;
	ndesc = 1 + nseg;
	ring_desc = indirect ? 1 : ndesc;
	if (ring_desc > vq->num || ndesc > 65535)
		return -EINVAL;

	deadline = sim_now_ms() + sim->opts.io_timeout_ms;
	for (;;) {
		r = sim_tx_reclaim(sim);
		if (r < 0)
			return r;
		if (vq->num_free >= ring_desc)
			break;
		r = sim_vq_wait(vq, sim->sock, sim_remaining_ms(deadline));
		if (r)
			return r;
	}

	c.buf_size = (uint32_t)(SIM_HDR_SIZE + len);
	buf = sim_mem_alloc(&sim->mem, c.buf_size, 8, &c.buf_gpa);
	d = calloc(ndesc, sizeof(*d));
	if (!buf || !d) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(buf, hdr, SIM_HDR_SIZE);
	if (len && payload)
		memcpy(buf + SIM_HDR_SIZE, payload, len);
	else if (len)
		memset(buf + SIM_HDR_SIZE, 0, len);

	/* The chain with table-relative next indices; header first, as the
	 * device must be able to take the header alone. */
	if (!nseg) {
		set_desc(&d[0], c.buf_gpa, c.buf_size, 0, 0);
	} else {
		set_desc(&d[0], c.buf_gpa, SIM_HDR_SIZE, VRING_DESC_F_NEXT, 1);
		for (i = 0; i < nseg; i++) {
			size_t off = (size_t)i * SIM_SEG;
			size_t seg = nseg == 1 ? len : (len - off < SIM_SEG ? len - off : SIM_SEG);
			bool last = i + 1 == nseg;

			set_desc(&d[1 + i], c.buf_gpa + SIM_HDR_SIZE + off, (uint32_t)seg,
				 last ? 0 : VRING_DESC_F_NEXT, (uint16_t)(last ? 0 : 2 + i));
		}
	}

	if (indirect) {
		struct vring_desc *tbl, ind;

		c.ind_size = ndesc * (uint32_t)sizeof(*d);
		tbl = sim_mem_alloc(&sim->mem, c.ind_size, 16, &c.ind_gpa);
		if (!tbl) {
			c.ind_size = 0;
			r = -ENOMEM;
			goto out;
		}
		memcpy(tbl, d, c.ind_size);
		set_desc(&ind, c.ind_gpa, c.ind_size, VRING_DESC_F_INDIRECT, 0);
		r = sim_vq_add_descs(vq, &ind, 1, &c);
	} else {
		r = sim_vq_add_descs(vq, d, ndesc, &c);
	}
	if (r < 0)
		goto out;
	free(d);
	if (flags & SIM_TX_NO_KICK)
		return 0;
	return sim_vq_notify(sim, SIM_VQ_TX);
out:
	if (c.ind_size)
		sim_mem_free(&sim->mem, c.ind_gpa, c.ind_size);
	if (buf)
		sim_mem_free(&sim->mem, c.buf_gpa, c.buf_size);
	free(d);
	return r;
}

/* ---- tx slots ---- */

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static int slots_init(struct sim *sim)
{
	unsigned num = sim->vq[SIM_VQ_TX].num, i;
	size_t size;

	if (!sim->started)
		return -ENOTCONN;
	if (!sim->opts.tx_slot_size || sim->opts.tx_slot_size > UINT32_MAX - SIM_HDR_SIZE)
		return -EINVAL;
	sim->tx_indirect = sim->info.features_acked & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	/* Without indirect tables a data packet takes two ring entries. */
	sim->tx_nslots = sim->tx_indirect ? num : num / 2;
	/* Slots sized to the largest packet keep small packets dense in
	 * memory, as kmalloc'ed skbs are. */
	sim->tx_tbl_off = align_up(SIM_HDR_SIZE + sim->opts.tx_slot_size, 16);
	size = align_up(sim->tx_tbl_off + 2 * sizeof(struct vring_desc), SIM_BUF_ALIGN);
	sim->tx_slot = calloc(sim->tx_nslots, sizeof(*sim->tx_slot));
	sim->tx_free = calloc(sim->tx_nslots, sizeof(*sim->tx_free));
	if (!sim->tx_slot || !sim->tx_free)
		return -ENOMEM;
	/* One allocation per slot: with several regions they spread over
	 * all of them, as the rx buffers do. */
	for (i = 0; i < sim->tx_nslots; i++) {
		sim->tx_slot[i].buf = sim_mem_alloc(&sim->mem, size, SIM_BUF_ALIGN,
						    &sim->tx_slot[i].gpa);
		if (!sim->tx_slot[i].buf) {
			while (i--)
				sim_mem_free(&sim->mem, sim->tx_slot[i].gpa, size);
			return -ENOMEM;
		}
	}
	for (i = 0; i < sim->tx_nslots; i++)
		sim->tx_free[sim->tx_nfree++] = (uint16_t)(sim->tx_nslots - 1 - i);
	return 0;
}

int sim_tx_slot_take(struct sim *sim, uint8_t **buf)
{
	int slot, r;

	if (!sim->tx_slot) {
		r = slots_init(sim);
		if (r) {
			/* Nothing half made stays: the next call tries again. */
			free(sim->tx_slot);
			sim->tx_slot = NULL;
			sim->tx_nslots = 0;
			return r;
		}
	}
	if (!sim->tx_nfree)
		return -ENOSPC;
	slot = sim->tx_free[--sim->tx_nfree];
	*buf = sim->tx_slot[slot].buf;
	return slot;
}

int sim_tx_slot_send(struct sim *sim, int slot, uint32_t len)
{
	struct sim_vq *vq = &sim->vq[SIM_VQ_TX];
	struct sim_chain c = { .kind = SIM_CHAIN_SLOT, .slot = (uint16_t)slot };
	uint64_t gpa;
	uint16_t s[2];

	if (slot < 0 || (unsigned)slot >= sim->tx_nslots || len > sim->opts.tx_slot_size)
		return -EINVAL;
	gpa = sim->tx_slot[slot].gpa;
	c.ndesc = len && !sim->tx_indirect ? 2 : 1;
	if (sim_vq_take(vq, c.ndesc, s)) {
		sim->tx_free[sim->tx_nfree++] = (uint16_t)slot;
		return -ENOSPC;
	}
	if (!len) {
		set_desc(&vq->desc[s[0]], gpa, SIM_HDR_SIZE, 0, 0);
	} else if (sim->tx_indirect) {
		struct vring_desc *tbl = (void *)(sim->tx_slot[slot].buf + sim->tx_tbl_off);

		set_desc(&tbl[0], gpa, SIM_HDR_SIZE, VRING_DESC_F_NEXT, 1);
		set_desc(&tbl[1], gpa + SIM_HDR_SIZE, len, 0, 0);
		set_desc(&vq->desc[s[0]], gpa + sim->tx_tbl_off, 2 * sizeof(*tbl),
			 VRING_DESC_F_INDIRECT, 0);
	} else {
		set_desc(&vq->desc[s[0]], gpa, SIM_HDR_SIZE, VRING_DESC_F_NEXT, s[1]);
		set_desc(&vq->desc[s[1]], gpa + SIM_HDR_SIZE, len, 0, 0);
	}
	sim_vq_publish(vq, s[0], &c);
	return 0;
}

unsigned sim_tx_slots_free(const struct sim *sim, unsigned *total)
{
	if (total)
		*total = sim->tx_nslots;
	/* Before the pool exists every slot it will have is free. */
	return sim->tx_slot ? sim->tx_nfree : UINT32_MAX;
}

/* ---- rx ---- */

static int rx_add(struct sim *sim, uint64_t gpa, uint32_t size)
{
	struct sim_vq *vq = &sim->vq[SIM_VQ_RX];
	struct sim_chain c = { .kind = SIM_CHAIN_RX, .buf_gpa = gpa, .buf_size = size };
	uint16_t s[2];
	int r;

	if (sim->opts.rx_split_hdr) {
		/* Pre-6.2 Linux: header and data in two descriptors. */
		r = sim_vq_take(vq, 2, s);
		if (r)
			return r;
		set_desc(&vq->desc[s[0]], gpa, SIM_HDR_SIZE,
			 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, s[1]);
		set_desc(&vq->desc[s[1]], gpa + SIM_HDR_SIZE, size - SIM_HDR_SIZE,
			 VRING_DESC_F_WRITE, 0);
		c.ndesc = 2;
	} else {
		r = sim_vq_take(vq, 1, s);
		if (r)
			return r;
		set_desc(&vq->desc[s[0]], gpa, size, VRING_DESC_F_WRITE, 0);
		c.ndesc = 1;
	}
	sim_vq_publish(vq, s[0], &c);
	sim->rx_posted++;
	return 0;
}

int sim_rx_refill(struct sim *sim)
{
	int r = 0;

	if (sim->rx_posted >= (sim->rx_total + 1) / 2)
		return 0;
	while (sim->rx_nidle) {
		struct sim_rxbuf *b = &sim->rx_idle[sim->rx_nidle - 1];

		r = rx_add(sim, b->gpa, b->size);
		if (r)
			break;
		sim->rx_nidle--;
	}
	sim_vq_notify(sim, SIM_VQ_RX);
	return r == -ENOSPC ? 0 : r;
}

int sim_rx_post(struct sim *sim, unsigned nbufs, size_t buf_size)
{
	struct sim_rxbuf *idle;
	unsigned i;
	int r = 0;

	if (!buf_size)
		buf_size = sim->opts.rx_buf_size;
	if (!buf_size || buf_size > UINT32_MAX - SIM_HDR_SIZE)
		return -EINVAL;
	/* The idle pool must be able to hold every buffer at once. */
	idle = realloc(sim->rx_idle, (sim->rx_total + nbufs) * sizeof(*idle));
	if (!idle)
		return -ENOMEM;
	sim->rx_idle = idle;
	for (i = 0; i < nbufs; i++) {
		uint32_t size = (uint32_t)(SIM_HDR_SIZE + buf_size);
		uint64_t gpa;

		if (!sim_mem_alloc(&sim->mem, size, SIM_BUF_ALIGN, &gpa)) {
			r = -ENOMEM;
			break;
		}
		r = rx_add(sim, gpa, size);
		if (r) {
			sim_mem_free(&sim->mem, gpa, size);
			break;
		}
		sim->rx_total++;
	}
	sim_vq_notify(sim, SIM_VQ_RX);
	return r;
}

void sim_pkt_decode(struct sim_pkt *out, const struct virtio_vsock_hdr *h)
{
	out->raw = *h;
	out->src_cid = le64toh(h->src_cid);
	out->dst_cid = le64toh(h->dst_cid);
	out->src_port = le32toh(h->src_port);
	out->dst_port = le32toh(h->dst_port);
	out->len = le32toh(h->len);
	out->type = le16toh(h->type);
	out->op = le16toh(h->op);
	out->flags = le32toh(h->flags);
	out->buf_alloc = le32toh(h->buf_alloc);
	out->fwd_cnt = le32toh(h->fwd_cnt);
}

static void fill_pkt(const struct sim_rx_buf *b, struct sim_pkt *out)
{
	struct virtio_vsock_hdr h;
	uint32_t data;

	memset(&h, 0, sizeof(h));
	out->used_len = b->used_len;
	out->payload_len = 0;
	if (b->data)
		memcpy(&h, b->data, SIM_HDR_SIZE);
	sim_pkt_decode(out, &h);
	if (!b->data || b->used_len <= SIM_HDR_SIZE)
		return;
	data = b->used_len - SIM_HDR_SIZE;
	if (data > b->size - SIM_HDR_SIZE)
		data = b->size - SIM_HDR_SIZE;
	if (data > SIM_PKT_MAX)
		data = SIM_PKT_MAX;
	memcpy(out->payload, b->data + SIM_HDR_SIZE, data);
	out->payload_len = data;
}

int sim_rx_next(struct sim *sim, struct sim_rx_buf *b)
{
	struct sim_vq *vq = &sim->vq[SIM_VQ_RX];
	struct sim_used u;
	int r;

	for (;;) {
		r = sim_vq_pop(vq, &u);
		if (r <= 0)
			return r;
		/* A raw chain a test put there: nothing to parse. */
		sim_release_chain(sim, SIM_VQ_RX, &u);
		if (u.chain.kind == SIM_CHAIN_RX)
			break;
	}
	b->data = sim_mem_ptr(&sim->mem, u.chain.buf_gpa, u.chain.buf_size);
	b->used_len = u.len;
	b->size = u.chain.buf_size;
	return 1;
}

int sim_rx_check(const struct sim_rx_buf *b)
{
	const struct virtio_vsock_hdr *h = (const void *)b->data;

	if (!b->data || b->used_len < SIM_HDR_SIZE || b->used_len > b->size ||
	    le32toh(h->len) != b->used_len - SIM_HDR_SIZE)
		return -EBADMSG;
	return 0;
}

int sim_rx_poll(struct sim *sim, struct sim_pkt *out, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	struct sim_rx_buf b;
	int r, bad;

	for (;;) {
		r = sim_rx_next(sim, &b);
		if (r < 0)
			return r;
		if (r > 0)
			break;
		r = sim_vq_wait(&sim->vq[SIM_VQ_RX], sim->sock, sim_remaining_ms(deadline));
		if (r)
			return r;
	}
	fill_pkt(&b, out);
	bad = sim_rx_check(&b);
	/* Copied out and checked: the buffer may go back on the ring now
	 * (and the device may fill it at once). */
	r = sim_rx_refill(sim);
	return r ? r : bad;
}

/* ---- event queue ---- */

int sim_event_post(struct sim *sim, unsigned nbufs)
{
	struct sim_vq *vq = &sim->vq[SIM_VQ_EVENT];
	struct sim_chain c = { .kind = SIM_CHAIN_EVENT, .ndesc = 1, .buf_size = 4 };
	uint64_t gpa;
	unsigned i;
	uint16_t slot;
	int r;

	if (!nbufs)
		return 0;
	if (!sim_mem_alloc(&sim->mem, nbufs * 4, 8, &gpa))
		return -ENOMEM;
	for (i = 0; i < nbufs; i++) {
		r = sim_vq_take(vq, 1, &slot);
		if (r)
			return r;
		c.buf_gpa = gpa + 4 * i;
		set_desc(&vq->desc[slot], c.buf_gpa, 4, VRING_DESC_F_WRITE, 0);
		sim_vq_publish(vq, slot, &c);
	}
	sim->ev_n += nbufs;
	return sim_vq_notify(sim, SIM_VQ_EVENT);
}

int sim_event_poll(struct sim *sim, uint32_t *id, int timeout_ms)
{
	int64_t deadline = sim_now_ms() + timeout_ms;
	struct sim_vq *vq = &sim->vq[SIM_VQ_EVENT];
	struct sim_used u;
	uint32_t *p;
	int r;

	for (;;) {
		r = sim_vq_pop(vq, &u);
		if (r < 0)
			return r;
		if (r > 0)
			break;
		r = sim_vq_wait(vq, sim->sock, sim_remaining_ms(deadline));
		if (r)
			return r;
	}
	p = sim_mem_ptr(&sim->mem, u.chain.buf_gpa, 4);
	if (id)
		*id = p ? le32toh(*p) : 0;
	sim_release_chain(sim, SIM_VQ_EVENT, &u);
	sim_vq_notify(sim, SIM_VQ_EVENT);
	return u.len == 4 ? 0 : -EBADMSG;
}
