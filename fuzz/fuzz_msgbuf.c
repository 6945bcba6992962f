/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The SEQPACKET message queue (src/vsock/msgbuf.c) against a reference
 * model: a plain list of messages. Every operation the input asks for is
 * applied to both, and they must agree on what fits (-ENOBUFS exactly when
 * the model says the bytes or the message count would not fit), on the
 * front message's bytes and flags, and on emptiness. Messages are split
 * over several appends and several iovecs with an offset, as the rx path
 * hands them over.
 *
 * Input: [0..1] payload_max (u16, 1..65535 after +1),
 * then operations, one byte each plus operands:
 *   0 append: [len u16 % 4097] [off u8 % 8] [iov split u8] [eom u8 bit 0,
 *     flags in bits 1..7]; the payload bytes are taken from the input.
 *   1 front+pop   2 clear   3 trim   4 front only
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "fuzz_common.h"
#include "vsock/msgbuf.h"

#define HDR 5u /* the entry header msgbuf keeps per message */
#define MAX_LEN 4096u
#define PATTERN_SKEW 4096u

static uint8_t pattern[PATTERN_SKEW + 8 + MAX_LEN];

struct model_msg {
	uint8_t *data;
	uint32_t len;
	uint8_t flags;
	bool done;
};

struct model {
	struct model_msg msgs[MSGBUF_MAX_MSGS];
	unsigned n;
	size_t live; /* bytes msgbuf needs for them: HDR + payload each */
	size_t cap;
};

static void model_pop(struct model *md)
{
	md->live -= HDR + md->msgs[0].len;
	free(md->msgs[0].data);
	memmove(md->msgs, md->msgs + 1, (md->n - 1) * sizeof(md->msgs[0]));
	md->n--;
}

static void model_clear(struct model *md)
{
	while (md->n)
		model_pop(md);
	md->live = 0;
}

/* The model's copy of the front message, if complete, must be msgbuf's. */
static void check_front(const struct msgbuf *m, const struct model *md)
{
	const uint8_t *p;
	uint32_t len, flags;
	bool has = msgbuf_front(m, &p, &len, &flags);

	FUZZ_ASSERT(msgbuf_empty(m) == (md->n == 0));
	FUZZ_ASSERT(has == (md->n > 0 && md->msgs[0].done));
	if (!has)
		return;
	FUZZ_ASSERT(len == md->msgs[0].len);
	FUZZ_ASSERT(flags == md->msgs[0].flags);
	FUZZ_ASSERT(len == 0 || !memcmp(p, md->msgs[0].data, len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model md;
	struct msgbuf m;
	size_t i = 2;

	if (!pattern[0]) {
		uint32_t x = 0x9e3779b9u;

		for (size_t k = 0; k < sizeof(pattern); k++) {
			x = x * 1664525u + 1013904223u;
			pattern[k] = (uint8_t)(x >> 24) | 1;
		}
	}
	if (size < 2)
		return 0;
	msgbuf_init(&m, (uint32_t)fuzz_u16(data) + 1);
	memset(&md, 0, sizeof(md));
	md.cap = m.cap;

	while (i < size) {
		uint8_t op = data[i++] % 5;

		if (op == 0) {
			uint32_t len, off, split;
			bool eom, open;
			uint8_t flags;
			struct iovec iov[3];
			const uint8_t *src;
			size_t need;
			int rc;

			if (size - i < 5)
				break;
			len = fuzz_u16(data + i) % (MAX_LEN + 1);
			off = data[i + 2] % 8;
			split = data[i + 3];
			eom = data[i + 4] & 1;
			flags = data[i + 4] >> 1;
			i += 5;
			/* The payload: a window of a fixed pseudo-random pattern, so
			 * that misplaced bytes show. */
			src = pattern + (data[i - 1] * 31u + md.n) % PATTERN_SKEW;
			/* Three iovecs over src: the splits come from the input. */
			{
				size_t total = off + len, a = total ? split % (total + 1) : 0,
				       b = total ? (size_t)(split * 7u) % (total + 1) : 0;
				if (a > b) {
					size_t t = a;
					a = b;
					b = t;
				}
				iov[0] = (struct iovec){ (void *)(uintptr_t)src, a };
				iov[1] = (struct iovec){ (void *)(uintptr_t)(src + a), b - a };
				iov[2] = (struct iovec){ (void *)(uintptr_t)(src + b), total - b };
			}
			open = md.n > 0 && !md.msgs[md.n - 1].done;
			need = len + (open ? 0 : HDR);
			rc = msgbuf_append(&m, iov, 3, off, len, eom, flags);
			if ((!open && md.n == MSGBUF_MAX_MSGS) || need > md.cap - md.live) {
				FUZZ_ASSERT(rc == -ENOBUFS);
			} else {
				struct model_msg *mm;

				FUZZ_ASSERT(rc == 0);
				if (!open) {
					md.msgs[md.n++] = (struct model_msg){ 0 };
					md.live += HDR;
				}
				mm = &md.msgs[md.n - 1];
				mm->data = realloc(mm->data, mm->len + len + 1);
				FUZZ_ASSERT(mm->data);
				memcpy(mm->data + mm->len, src + off, len);
				mm->len += len;
				md.live += len;
				if (eom) {
					mm->done = true;
					mm->flags = flags;
				}
			}
		} else if (op == 1 || op == 4) {
			check_front(&m, &md);
			if (op == 1 && md.n && md.msgs[0].done) {
				msgbuf_pop(&m);
				model_pop(&md);
			}
		} else if (op == 2) {
			msgbuf_clear(&m);
			model_clear(&md);
		} else {
			msgbuf_trim(&m);
			FUZZ_ASSERT(md.n || m.buf == NULL);
		}
		check_front(&m, &md);
		FUZZ_ASSERT(m.nmsgs == md.n && m.nmsgs <= MSGBUF_MAX_MSGS);
		FUZZ_ASSERT(m.tail - m.head == md.live && m.tail <= m.cap);
	}
	/* Drain: every complete message comes out in order. */
	while (md.n && md.msgs[0].done) {
		check_front(&m, &md);
		msgbuf_pop(&m);
		model_pop(&md);
	}
	model_clear(&md);
	msgbuf_fini(&m);
	return 0;
}
