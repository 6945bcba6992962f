/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Queued SEQPACKET messages; see msgbuf.h. */
#include "vsock/msgbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY_HDR 5u /* u32 length, u8 flags */

int msgbuf_init(struct msgbuf *m, uint32_t payload_max)
{
	memset(m, 0, sizeof(*m));
	m->cap = payload_max + ENTRY_HDR * MSGBUF_MAX_MSGS;
	return 0;
}

void msgbuf_trim(struct msgbuf *m)
{
	if (m->nmsgs == 0) {
		free(m->buf);
		m->buf = NULL;
		m->head = m->tail = 0;
	}
}

void msgbuf_fini(struct msgbuf *m)
{
	free(m->buf);
	memset(m, 0, sizeof(*m));
}

void msgbuf_clear(struct msgbuf *m)
{
	m->head = m->tail = m->nmsgs = 0;
	m->open = false;
}

static uint32_t entry_len(const struct msgbuf *m, uint32_t at)
{
	uint32_t len;

	memcpy(&len, m->buf + at, sizeof(len));
	return len;
}

/* Room for need more bytes at the tail, moving the live entries to the
 * front when that makes it (a linear buffer: simple, and this is the slow
 * path of a host that pushes back). */
static bool make_room(struct msgbuf *m, size_t need)
{
	uint32_t live = m->tail - m->head;

	if (need > m->cap - live)
		return false;
	if (need > m->cap - m->tail) {
		memmove(m->buf, m->buf + m->head, live);
		if (m->open)
			m->open_at -= m->head;
		m->head = 0;
		m->tail = live;
	}
	return true;
}

int msgbuf_append(struct msgbuf *m, const struct iovec *iov, unsigned n, size_t off,
		  size_t len, bool eom, uint32_t flags)
{
	size_t need = len + (m->open ? 0 : ENTRY_HDR);

	if (!m->open && m->nmsgs == MSGBUF_MAX_MSGS)
		return -ENOBUFS;
	/* Memory only while something waits (see msgbuf_trim). */
	if (!m->buf && !(m->buf = malloc(m->cap)))
		return -ENOBUFS;
	if (!make_room(m, need))
		return -ENOBUFS;
	if (!m->open) {
		uint32_t zero = 0;

		m->open_at = m->tail;
		memcpy(m->buf + m->tail, &zero, sizeof(zero));
		m->buf[m->tail + 4] = 0;
		m->tail += ENTRY_HDR;
		m->open = true;
		m->nmsgs++;
	}
	for (unsigned i = 0; i < n && len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len)
			l = len;
		memcpy(m->buf + m->tail, (const uint8_t *)iov[i].iov_base + off, l);
		m->tail += (uint32_t)l;
		len -= l;
		off = 0;
	}
	{
		uint32_t total = m->tail - m->open_at - ENTRY_HDR;

		memcpy(m->buf + m->open_at, &total, sizeof(total));
	}
	if (eom) {
		m->buf[m->open_at + 4] = (uint8_t)flags;
		m->open = false;
	}
	return 0;
}

bool msgbuf_front(const struct msgbuf *m, const uint8_t **p, uint32_t *len, uint32_t *flags)
{
	if (!m->nmsgs || (m->open && m->open_at == m->head))
		return false;
	*len = entry_len(m, m->head);
	*flags = m->buf[m->head + 4];
	*p = m->buf + m->head + ENTRY_HDR;
	return true;
}

void msgbuf_pop(struct msgbuf *m)
{
	m->head += ENTRY_HDR + entry_len(m, m->head);
	m->nmsgs--;
	if (m->head == m->tail)
		m->head = m->tail = 0;
}
