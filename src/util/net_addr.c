/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
#include "util/net_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad(char *err, size_t errlen, const char *s, const char *why)
{
	snprintf(err, errlen, "'%s' is not a listening address: %s", s, why);
	return -EINVAL;
}

/* "1".."65535", digits only. */
static int parse_port(const char *p, uint16_t *port)
{
	unsigned long v;
	char *end;

	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	v = strtoul(p, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int net_addr_parse(const char *s, struct net_addr *a, char *err, size_t errlen)
{
	char host[64];
	const char *colon, *h, *port_s;
	size_t hlen;
	uint16_t port;

	memset(a, 0, sizeof(*a));
	if (!strncmp(s, "unix:", 5)) {
		struct sockaddr_un *su = (struct sockaddr_un *)&a->ss;
		const char *path = s + 5;

		if (!*path)
			return bad(err, errlen, s, "the path after 'unix:' is empty");
		if (strlen(path) >= sizeof(su->sun_path))
			return bad(err, errlen, s, "the path is too long for a Unix socket");
		su->sun_family = AF_UNIX;
		strcpy(su->sun_path, path);
		a->len = sizeof(*su);
		a->family = AF_UNIX;
		return 0;
	}
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return bad(err, errlen, s, "expected [IPV6]:PORT");
		h = s + 1;
		hlen = (size_t)(close - h);
		port_s = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return bad(err, errlen, s, "expected unix:PATH, HOST:PORT or [IPV6]:PORT");
		h = s;
		hlen = (size_t)(colon - s);
		port_s = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return bad(err, errlen, s, "the host part is empty or too long");
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (parse_port(port_s, &port) < 0)
		return bad(err, errlen, s, "the port must be a number from 1 to 65535");
	if (s[0] != '[') {
		struct sockaddr_in *si = (struct sockaddr_in *)&a->ss;

		if (!strcmp(host, "localhost"))
			strcpy(host, "127.0.0.1");
		if (inet_pton(AF_INET, host, &si->sin_addr) != 1)
			return bad(err, errlen, s,
				   "the host must be an IPv4 address, localhost or [IPV6]");
		si->sin_family = AF_INET;
		si->sin_port = htons(port);
		a->len = sizeof(*si);
		a->family = AF_INET;
		return 0;
	}
	{
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return bad(err, errlen, s, "the part in brackets is not an IPv6 address");
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		a->len = sizeof(*s6);
		a->family = AF_INET6;
	}
	return 0;
}
