/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Hybrid vsock (Unix socket) backend; see uds.c. */
#ifndef VDV_BACKEND_UDS_H
#define VDV_BACKEND_UDS_H

#include <stddef.h>
#include <stdint.h>

#include "vsock/backend.h"

/* Longest "CONNECT <port>\n" line accepted, newline included. */
#define UDS_CONNECT_LINE_MAX 64

/* Parses one handshake line (without its '\n'): "CONNECT <port>", keyword
 * case-insensitive, decimal port below 2^32 - 1. Returns 0 or -EINVAL /
 * -ERANGE. */
int uds_parse_connect(const char *line, size_t len, uint32_t *port);

#endif
