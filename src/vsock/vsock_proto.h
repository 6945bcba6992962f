/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* The virtio-vsock wire protocol: device constants, the 44-byte packet
 * header in host byte order, and its conversion to and from the
 * little-endian wire layout. */
#ifndef VDV_VSOCK_VSOCK_PROTO_H
#define VDV_VSOCK_VSOCK_PROTO_H

#include <endian.h>
#include <linux/virtio_vsock.h>
#include <stdint.h>
#include <string.h>

#define VSOCK_HDR_SIZE 44u
/* Largest payload one packet may carry (Linux' VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define VSOCK_MAX_PAYLOAD (64u * 1024u)
#define VSOCK_HOST_CID 2u

/* Device feature bits (virtio spec 5.10.3) and queues (0 rx, 1 tx, 2 event). */
#define VSOCK_F_STREAM_BIT 0
#define VSOCK_F_SEQPACKET_BIT 1
#define VSOCK_F_NO_IMPLIED_STREAM_BIT 2
enum { VSOCK_RX_Q = 0, VSOCK_TX_Q = 1, VSOCK_EVENT_Q = 2, VSOCK_QUEUES = 3 };

struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

_Static_assert(sizeof(struct virtio_vsock_hdr) == VSOCK_HDR_SIZE, "wire header size");

static inline void vsock_hdr_decode(const void *wire, struct vsock_hdr *h)
{
	struct virtio_vsock_hdr w;

	memcpy(&w, wire, sizeof(w));
	h->src_cid = le64toh(w.src_cid);
	h->dst_cid = le64toh(w.dst_cid);
	h->src_port = le32toh(w.src_port);
	h->dst_port = le32toh(w.dst_port);
	h->len = le32toh(w.len);
	h->type = le16toh(w.type);
	h->op = le16toh(w.op);
	h->flags = le32toh(w.flags);
	h->buf_alloc = le32toh(w.buf_alloc);
	h->fwd_cnt = le32toh(w.fwd_cnt);
}

static inline void vsock_hdr_encode(const struct vsock_hdr *h, void *wire)
{
	struct virtio_vsock_hdr w = {
		.src_cid = htole64(h->src_cid),
		.dst_cid = htole64(h->dst_cid),
		.src_port = htole32(h->src_port),
		.dst_port = htole32(h->dst_port),
		.len = htole32(h->len),
		.type = htole16(h->type),
		.op = htole16(h->op),
		.flags = htole32(h->flags),
		.buf_alloc = htole32(h->buf_alloc),
		.fwd_cnt = htole32(h->fwd_cnt),
	};

	memcpy(wire, &w, sizeof(w));
}

static inline const char *vsock_op_name(uint16_t op)
{
	static const char *const names[] = { "INVALID", "REQUEST", "RESPONSE", "RST",
					     "SHUTDOWN", "RW", "CREDIT_UPDATE",
					     "CREDIT_REQUEST" };
	return op < sizeof(names) / sizeof(names[0]) ? names[op] : "UNKNOWN";
}

#endif
