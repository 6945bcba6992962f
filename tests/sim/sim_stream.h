/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * One guest stream socket with blocking calls, for integration tests: a
 * thin convenience over the socket layer (sim_sock.h), which keeps the
 * credit, the handshake and the shutdown rules. The stream holds what
 * arrives until sim_stream_recv() takes it (so tests can keep a window
 * full), and remembers the header of the last packet it handled.
 *
 * Each stream has its own socket layer on the sim, quiet (packets for
 * other ports are counted and dropped, never answered): drive one stream
 * per sim at a time, or demultiplex with sim_rx_poll() yourself. The
 * connection's counters (st->c) stay readable after it closed, until
 * sim_stream_fini().
 */
#ifndef VDV_TESTS_SIM_SIM_STREAM_H
#define VDV_TESTS_SIM_SIM_STREAM_H

#include "sim/sim_sock.h"

struct sim_stream {
	struct sim *sim;
	struct sg *g;
	struct sg_conn *c;       /* credit, flags, counters (see sim_sock.h) */
	struct sim_pkt *pkt;     /* header of the last packet handled */
	/* Received bytes not yet handed to the caller: a ring of buf_alloc
	 * bytes (the credit we give bounds what may arrive). */
	uint8_t *rxq;
	size_t rxq_cap, rxq_head, rxq_len;
	bool got, refused;       /* internal: what the last poll saw */
	bool refuse;
};

/* Guest-initiated: REQUEST to (dst_cid, dst_port), wait for RESPONSE.
 * -ECONNREFUSED on RST. buf_alloc 0 is 256 KiB. */
int sim_stream_connect(struct sim *sim, struct sim_stream *st, uint64_t dst_cid,
		       uint32_t dst_port, uint32_t src_port, uint32_t buf_alloc, int timeout_ms);

/* Host-initiated: wait for a REQUEST to local_port and answer RESPONSE (or
 * RST if refuse). */
int sim_stream_accept(struct sim *sim, struct sim_stream *st, uint32_t local_port,
		      uint32_t buf_alloc, bool refuse, int timeout_ms);

/* Sends all of buf as RW packets, waiting for credit. 0, -EPIPE once the
 * peer reset or shut its receiving side, -ETIMEDOUT. */
int sim_stream_send(struct sim_stream *st, const void *buf, size_t len, int timeout_ms);

/* Receives up to cap bytes; returns the count, 0 at end of stream
 * (SHUTDOWN send or RST), or -errno. */
ssize_t sim_stream_recv(struct sim_stream *st, void *buf, size_t cap, int timeout_ms);

/* Handles one incoming packet for the stream, if any within timeout_ms:
 * 1 if one was handled (st->pkt has its header), 0 on timeout. */
int sim_stream_poll(struct sim_stream *st, int timeout_ms);

/* SHUTDOWN with VIRTIO_VSOCK_SHUTDOWN_RCV/SEND flags; RST. */
int sim_stream_shutdown(struct sim_stream *st, uint32_t flags);
int sim_stream_rst(struct sim_stream *st);

/* Packets the stream's socket layer saw for no connection (other ports). */
uint64_t sim_stream_stray(const struct sim_stream *st);

void sim_stream_fini(struct sim_stream *st);

#endif
