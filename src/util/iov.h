/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Small scatter-gather helpers: copy between flat buffers and iovec arrays,
 * and carve a byte range out of an iovec array without copying data. */
#ifndef VDV_UTIL_IOV_H
#define VDV_UTIL_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* Copies up to len bytes starting at byte offset off of iov into buf.
 * Returns the number of bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len);

/* Copies len bytes of buf into iov starting at byte offset off. Returns the
 * number of bytes copied (less than len if iov is too short). */
size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len);

/* Fills out[0..max) with the part of iov covering bytes [off, off+len).
 * Returns the number of entries written; *got receives the bytes covered
 * (less than len if iov is shorter or max entries are not enough). */
unsigned iov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len,
		   struct iovec *out, unsigned max, size_t *got);

size_t iov_size(const struct iovec *iov, unsigned n);

#endif
