/* endpoint.c: a shared broker's tcp endpoints (endpoint.h). */
#include "endpoint.h"
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int endpoint_tcp_split(const char *ep, char *host, size_t hn, int *port)
{
	if (strncmp(ep, "tcp://", 6))
		return -1;
	const char *h = ep + 6, *colon = strrchr(h, ':');
	if (!colon || colon == h || (size_t)(colon - h) >= hn)
		return -1;
	/* an IPv6 address keeps its brackets: tcp://[::1]:7700 */
	int bracketed = h[0] == '[' && colon[-1] == ']';
	if ((h[0] == '[' && !bracketed) || (!bracketed && memchr(h, ':', (size_t)(colon - h))))
		return -1;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || p < 1 || p > 65534)
		return -1;
	memcpy(host, h, (size_t)(colon - h));
	host[colon - h] = '\0';
	*port = (int)p;
	return 0;
}

int endpoint_reports(char *out, size_t n, const char *ep)
{
	char host[256];
	int port;
	if (endpoint_tcp_split(ep, host, sizeof host, &port))
		return -1;
	snprintf(out, n, "tcp://%s:%d", host, port + 1);
	return 0;
}

int endpoint_is_loopback(const char *ep)
{
	char host[256];
	int port;
	return !endpoint_tcp_split(ep, host, sizeof host, &port) && config_is_loopback_host(host);
}
