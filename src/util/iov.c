/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "util/iov.h"

#include <stdbool.h>
#include <string.h>

/* Copies between buf and the bytes of iov from offset off, either way. */
static size_t iov_copy(const struct iovec *iov, unsigned n, size_t off, void *buf,
		       size_t len, bool to_iov)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len, c;
		char *p;
		if (off >= l) {
			off -= l;
			continue;
		}
		p = (char *)iov[i].iov_base + off;
		c = l - off < len - done ? l - off : len - done;
		if (to_iov)
			memcpy(p, (const char *)buf + done, c);
		else
			memcpy((char *)buf + done, p, c);
		done += c;
		off = 0;
	}
	return done;
}

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len)
{
	return iov_copy(iov, n, off, buf, len, false);
}

size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len)
{
	return iov_copy(iov, n, off, (void *)buf, len, true);
}

unsigned iov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len,
		   struct iovec *out, unsigned max, size_t *got)
{
	unsigned k = 0;
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len && k < max; i++) {
		size_t l = iov[i].iov_len, c;
		if (off >= l) {
			off -= l;
			continue;
		}
		c = l - off < len - done ? l - off : len - done;
		out[k].iov_base = (char *)iov[i].iov_base + off;
		out[k].iov_len = c;
		k++;
		done += c;
		off = 0;
	}
	*got = done;
	return k;
}

size_t iov_size(const struct iovec *iov, unsigned n)
{
	size_t s = 0;

	for (unsigned i = 0; i < n; i++)
		s += iov[i].iov_len;
	return s;
}
