/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * A stream checksum that does not depend on how the stream was cut into
 * writes, reads or packets: every 8-byte word at an aligned stream offset
 * is mixed with its index, so lost, duplicated or reordered data changes the
 * sum. It runs at memory speed (one multiply per 8 bytes) and both sides of
 * every measurement, baseline and daemon alike, pay it, so it verifies the
 * data without tilting the comparison. Not cryptographic.
 */
#ifndef VDV_BENCH_CSUM_H
#define VDV_BENCH_CSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct csum {
	uint64_t off;     /* stream bytes seen */
	uint64_t partial; /* bytes of the current, incomplete word */
	uint64_t acc;
};

#define CSUM_MIX 0x9e3779b97f4a7c15ull

static inline void csum_fold(struct csum *c, uint64_t word, uint64_t index)
{
	c->acc += (word ^ index) * CSUM_MIX;
}

static inline void csum_update(struct csum *c, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	/* Head: finish the word a previous chunk left open. */
	while (n && (c->off & 7)) {
		c->partial |= (uint64_t)*p++ << (8 * (c->off & 7));
		n--;
		if ((++c->off & 7) == 0) {
			csum_fold(c, c->partial, (c->off >> 3) - 1);
			c->partial = 0;
		}
	}
	for (; n >= 8; n -= 8, p += 8, c->off += 8) {
		uint64_t w;

		memcpy(&w, p, 8); /* little-endian hosts only; fine for a bench */
		csum_fold(c, w, c->off >> 3);
	}
	while (n--) {
		c->partial |= (uint64_t)*p++ << (8 * (c->off & 7));
		c->off++;
	}
}

/* The final value; the state stays usable. */
static inline uint64_t csum_value(const struct csum *c)
{
	uint64_t acc = c->acc;

	if (c->off & 7)
		acc += (c->partial ^ (c->off >> 3)) * CSUM_MIX;
	return acc ^ c->off;
}

#endif
