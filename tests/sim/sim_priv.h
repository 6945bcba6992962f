/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Internals shared by the simulator's files: guest memory (sim_mem.c), the
 * driver-side split virtqueue (sim_ring.c), the vhost-user frontend
 * (sim_vhost.c) and the vsock driver (sim_vsock.c). Not for tests.
 */
#ifndef VDV_TESTS_SIM_SIM_PRIV_H
#define VDV_TESTS_SIM_SIM_PRIV_H

#include "sim/sim.h"

/* ---- guest memory ---- */

struct sim_extent {
	uint64_t off;  /* from the region's start */
	uint64_t len;
};

struct sim_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset;  /* in the memfd */
	uint8_t *hva;     /* our mapping of gpa */
	struct sim_extent *free; /* sorted, coalesced */
	unsigned nfree, capfree;
};

struct sim_mem {
	int fd;
	uint8_t *base;
	size_t size;
	unsigned nregions;
	unsigned next_region; /* where the next allocation starts looking */
	struct sim_region r[SIM_MAX_REGIONS];
};

int sim_mem_init(struct sim_mem *mem, size_t size, unsigned nregions, uint64_t gap);
void sim_mem_fini(struct sim_mem *mem);
void *sim_mem_alloc(struct sim_mem *mem, size_t size, size_t align, uint64_t *gpa);
void sim_mem_free(struct sim_mem *mem, uint64_t gpa, size_t size);
/* Frees every allocation at once (the guest rebooted); the RAM and its
 * contents stay, and allocations start over where they first did. */
void sim_mem_forget_all(struct sim_mem *mem);
void *sim_mem_ptr(struct sim_mem *mem, uint64_t gpa, size_t len);

/* ---- driver-side virtqueue ---- */

enum sim_chain_kind {
	SIM_CHAIN_FREE = 0,
	SIM_CHAIN_RAW,   /* test-built: nothing to release */
	SIM_CHAIN_TX,    /* buf freed on use */
	SIM_CHAIN_RX,    /* buf recycled into the rx pool */
	SIM_CHAIN_EVENT, /* buf reposted */
	SIM_CHAIN_SLOT,  /* tx slot back to the pool */
};

/* Bookkeeping of one chain in flight, indexed by its head slot. */
struct sim_chain {
	uint8_t kind;
	uint16_t ndesc;     /* slots taken in the descriptor table */
	uint16_t slot;      /* SIM_CHAIN_SLOT: the tx slot */
	uint64_t buf_gpa;   /* data buffer */
	uint32_t buf_size;
	uint64_t ind_gpa;   /* indirect table, freed on use */
	uint32_t ind_size;
};

struct sim_vq {
	unsigned idx, num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* Free descriptors are linked through a shadow array rather than
	 * desc[].next, so that a device scribbling on the table (it must not)
	 * cannot corrupt our free list. */
	uint16_t *shadow_next;
	struct sim_chain *chains;
	uint16_t free_head, num_free;
	uint16_t avail_idx;  /* shadow of avail->idx */
	uint16_t last_used;
	uint16_t num_added;  /* since the last kick decision */
	bool event_idx;
	bool cb_enabled;
	int kickfd, callfd;
	struct sim_vq_stats st;
};

struct sim_used {
	uint32_t id, len;
	struct sim_chain chain; /* copy of what was in flight */
};

int sim_vq_init(struct sim_vq *vq, struct sim_mem *mem, unsigned idx, unsigned num);
void sim_vq_fini(struct sim_vq *vq, struct sim_mem *mem);
int sim_vq_take(struct sim_vq *vq, unsigned n, uint16_t *slots);
void sim_vq_publish(struct sim_vq *vq, uint16_t head, const struct sim_chain *c);
/* Takes n slots, copies descs into them (each next but the last's aimed at
 * the following slot), and publishes the chain as c. Head slot or -errno. */
int sim_vq_add_descs(struct sim_vq *vq, const struct vring_desc *descs, unsigned n,
		     struct sim_chain *c);
bool sim_vq_kick_prepare(struct sim_vq *vq);
int sim_vq_do_kick(struct sim_vq *vq);
int sim_vq_pop(struct sim_vq *vq, struct sim_used *out);
bool sim_vq_pending(const struct sim_vq *vq);
bool sim_vq_enable_cb(struct sim_vq *vq);
void sim_vq_disable_cb(struct sim_vq *vq);
int sim_vq_read_calls(struct sim_vq *vq);
int sim_vq_wait(struct sim_vq *vq, int sockfd, int timeout_ms);

/* ---- the simulator ---- */

struct sim_rxbuf {
	uint64_t gpa;
	uint32_t size; /* whole buffer: header + payload room */
};

struct sim_txslot {
	uint8_t *buf;
	uint64_t gpa;
};

struct sim {
	int sock;
	struct sim_opts opts;
	struct sim_info info;
	struct sim_mem mem;
	struct sim_vq vq[SIM_NUM_VQS];
	bool negotiated, started;
	uint64_t last_ack;
	uint64_t guest_cid;

	/* rx buffers not on the ring, reposted when half are gone (Linux). */
	struct sim_rxbuf *rx_idle;
	unsigned rx_nidle, rx_total;
	unsigned rx_posted;
	uint64_t ev_gpa; /* event buffers, 4 bytes each */
	unsigned ev_n;

	/* tx slots: [hdr | payload room | indirect table of 2], made on the
	 * first sim_tx_slot_take(). */
	struct sim_txslot *tx_slot;
	size_t tx_tbl_off;
	unsigned tx_nslots;
	uint16_t *tx_free;      /* stack of free slot indices */
	unsigned tx_nfree;
	bool tx_indirect;
};

void sim_release_chain(struct sim *sim, unsigned q, const struct sim_used *u);
int sim_remaining_ms(int64_t deadline);

#endif
