/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * Guest SEQPACKET messages the host socket has not taken yet, in order,
 * each whole: a host socket takes a message in one send or not at all, so
 * the message boundaries must survive the wait. The last message may still
 * be open (its EOM packet has not come). Pure data structure: no fd.
 *
 * Memory is bounded: payload bytes never exceed the credit we gave (the
 * caller's buf_alloc), and the number of messages is capped; a guest that
 * queues more (only possible with many tiny messages while the host does
 * not read) is refused with -ENOBUFS, as is an append when memory is short.
 */
#ifndef VDV_VSOCK_MSGBUF_H
#define VDV_VSOCK_MSGBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Messages queued at most. */
#define MSGBUF_MAX_MSGS 256u

struct msgbuf {
	uint8_t *buf;          /* entries: u32 len, u8 flags, payload */
	uint32_t cap;          /* bytes of buf */
	uint32_t head, tail;   /* the live entries are buf[head, tail) */
	uint32_t nmsgs;        /* entries, the open one included */
	uint32_t open_at;      /* offset of the open entry, if open */
	bool open;             /* the last entry still waits for its EOM */
};

/* An empty queue for at most payload_max payload bytes; its memory is
 * allocated by the first append. Returns 0. */
int msgbuf_init(struct msgbuf *m, uint32_t payload_max);
void msgbuf_fini(struct msgbuf *m);
/* Frees the memory of an empty queue (a host that pushed back and caught
 * up should not keep buf_alloc bytes per connection). */
void msgbuf_trim(struct msgbuf *m);

/* Appends len bytes of iov (from byte off) to the open message, or starts
 * one; eom closes it, with flags (VIRTIO_VSOCK_SEQ_EOR) kept beside it.
 * 0, or -ENOBUFS when the bytes or the message count would not fit. */
int msgbuf_append(struct msgbuf *m, const struct iovec *iov, unsigned n, size_t off,
		  size_t len, bool eom, uint32_t flags);

/* The first message if it is complete: its payload and flags. */
bool msgbuf_front(const struct msgbuf *m, const uint8_t **p, uint32_t *len, uint32_t *flags);
/* Drops the first message (complete, as msgbuf_front returned it). */
void msgbuf_pop(struct msgbuf *m);
/* Drops everything, the open message too. */
void msgbuf_clear(struct msgbuf *m);

static inline bool msgbuf_empty(const struct msgbuf *m)
{
	return m->nmsgs == 0;
}

#endif
