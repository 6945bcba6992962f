/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The SEQPACKET message queue (src/vsock/msgbuf.c): messages come out whole
 * and in order, an open message is not complete, flags stay with their
 * message, the buffer compacts instead of growing, and both bounds (bytes
 * and message count) refuse with -ENOBUFS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "vsock/msgbuf.h"

#define CAP 1000u

static int append(struct msgbuf *m, const char *s, bool eom, uint32_t flags)
{
	struct iovec v = { (void *)s, strlen(s) };

	return msgbuf_append(m, &v, 1, 0, strlen(s), eom, flags);
}

static void expect_front(struct msgbuf *m, const char *want, uint32_t want_flags)
{
	const uint8_t *p;
	uint32_t len, flags;

	assert_true(msgbuf_front(m, &p, &len, &flags));
	assert_int_equal(len, strlen(want));
	assert_memory_equal(p, want, len);
	assert_int_equal(flags, want_flags);
	msgbuf_pop(m);
}

static void test_whole_in_order(void **state)
{
	struct msgbuf m;
	const uint8_t *p;
	uint32_t len, flags;

	(void)state;
	assert_int_equal(msgbuf_init(&m, CAP), 0);
	assert_true(msgbuf_empty(&m));
	assert_int_equal(append(&m, "one", true, 0), 0);
	assert_int_equal(append(&m, "tw", false, 0), 0);
	assert_int_equal(append(&m, "o", true, 2), 0);
	assert_int_equal(append(&m, "thr", false, 0), 0);
	expect_front(&m, "one", 0);
	expect_front(&m, "two", 2);
	/* The open message is not a message yet. */
	assert_false(msgbuf_front(&m, &p, &len, &flags));
	assert_false(msgbuf_empty(&m));
	assert_int_equal(append(&m, "ee", true, 0), 0);
	expect_front(&m, "three", 0);
	assert_true(msgbuf_empty(&m));
	msgbuf_fini(&m);
}

/* Parts of one iovec list: only the bytes from off, len of them. */
static void test_iov_slice(void **state)
{
	struct msgbuf m;
	struct iovec v[3] = { { (void *)"hea", 3 }, { (void *)"der-pay", 7 },
			      { (void *)"load", 4 } };

	(void)state;
	assert_int_equal(msgbuf_init(&m, CAP), 0);
	assert_int_equal(msgbuf_append(&m, v, 3, 7, 7, true, 0), 0);
	expect_front(&m, "payload", 0);
	msgbuf_fini(&m);
}

/* What is sent makes room again: the live messages move to the front
 * instead of the buffer growing (two 1000-byte messages fit, fifty in a
 * row pass through one at a time). */
static void test_compaction(void **state)
{
	static char msg[1001];
	struct msgbuf m;

	(void)state;
	assert_int_equal(msgbuf_init(&m, CAP), 0);
	memset(msg, 'a', 1000);
	assert_int_equal(append(&m, msg, true, 0), 0);
	for (int r = 0; r < 50; r++) {
		memset(msg, 'b' + r % 20, 1000);
		assert_int_equal(append(&m, msg, true, 0), 0);
		memset(msg, r ? 'b' + (r - 1) % 20 : 'a', 1000);
		expect_front(&m, msg, 0);
	}
	msgbuf_fini(&m);
}

/* Both bounds refuse, and leave what is queued intact. */
static void test_bounds(void **state)
{
	static char big[4096];
	struct msgbuf m;

	(void)state;
	assert_int_equal(msgbuf_init(&m, CAP), 0);
	for (unsigned i = 0; i < MSGBUF_MAX_MSGS; i++)
		assert_int_equal(append(&m, "x", true, 0), 0);
	assert_int_equal(append(&m, "y", true, 0), -ENOBUFS);
	expect_front(&m, "x", 0);
	assert_int_equal(append(&m, "z", true, 0), 0);
	msgbuf_clear(&m);
	assert_true(msgbuf_empty(&m));
	/* Bytes: far beyond the bound, open or not. */
	memset(big, 'q', sizeof(big) - 1);
	assert_int_equal(append(&m, "start", false, 0), 0);
	assert_int_equal(append(&m, big, false, 0), -ENOBUFS);
	assert_int_equal(append(&m, "end", true, 0), 0);
	expect_front(&m, "startend", 0);
	/* Empty: its memory goes, and comes back with the next message. */
	msgbuf_trim(&m);
	assert_null(m.buf);
	assert_int_equal(append(&m, "again", true, 0), 0);
	assert_non_null(m.buf);
	msgbuf_trim(&m); /* not empty: kept */
	assert_non_null(m.buf);
	expect_front(&m, "again", 0);
	msgbuf_fini(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_in_order),
		cmocka_unit_test(test_iov_slice),
		cmocka_unit_test(test_compaction),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests_name("msgbuf", tests, NULL, NULL);
}
