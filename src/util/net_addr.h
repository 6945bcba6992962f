/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* A listening address given on the command line: "unix:PATH",
 * "IPV4:PORT" or "[IPV6]:PORT" ("localhost" means 127.0.0.1). Numeric
 * only: no name lookup, so start-up never waits on DNS. */
#ifndef VDV_UTIL_NET_ADDR_H
#define VDV_UTIL_NET_ADDR_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int family;            /* AF_UNIX, AF_INET or AF_INET6 */
};

/* AF_UNIX: the socket's path. */
static inline const char *net_addr_path(const struct net_addr *a)
{
	return ((const struct sockaddr_un *)&a->ss)->sun_path;
}

/* 0, or -EINVAL with a message naming s in err. */
int net_addr_parse(const char *s, struct net_addr *a, char *err, size_t errlen);

#endif
