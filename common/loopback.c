/* loopback.c: whether a host or an http:// URL names this machine, the only place plain http
 * may go (config.h: api.base_url, a shared broker's endpoint). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

int config_is_loopback_host(const char *host)
{
	if (!strcasecmp(host, "localhost"))
		return 1;
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	size_t n = strlen(host);
	char inner[INET6_ADDRSTRLEN];
	if (n < 2 || n - 2 >= sizeof inner || host[0] != '[' || host[n - 1] != ']')
		return 0;
	memcpy(inner, host + 1, n - 2);
	inner[n - 2] = '\0';
	return inet_pton(AF_INET6, inner, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* The authority of an http:// URL read as RFC 3986 has it (what libcurl connects to): it ends
 * at the first '/', '?' or '#'; userinfo ends at its last '@'; a port is digits only. */
int config_is_loopback_http(const char *url)
{
	if (strncmp(url, "http://", 7))
		return 0;
	const char *auth = url + 7;
	size_t alen = strcspn(auth, "/?#");
	const char *at = memrchr(auth, '@', alen);
	const char *host = at ? at + 1 : auth;
	size_t hlen = alen - (size_t)(host - auth);
	const char *end = host + hlen, *colon;
	if (hlen && host[0] == '[') { /* [v6]: the port, if any, follows the bracket */
		const char *close = memchr(host, ']', hlen);
		colon = close ? close + 1 : end;
	} else {
		colon = memchr(host, ':', hlen);
		colon = colon ? colon : end;
	}
	if (colon < end && (*colon != ':' || strspn(colon + 1, "0123456789") !=
						     (size_t)(end - colon - 1)))
		return 0;
	char name[256];
	size_t nlen = (size_t)(colon - host);
	if (nlen == 0 || nlen >= sizeof name)
		return 0;
	memcpy(name, host, nlen);
	name[nlen] = '\0';
	return config_is_loopback_host(name);
}
