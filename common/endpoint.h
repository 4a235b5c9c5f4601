/* endpoint.h: a shared broker's tcp endpoints. `kgsup broker --listen tcp://HOST:PORT` takes
 * asks on PORT and reports on PORT+1: the same two sockets (ROUTER, PULL) as the broker a
 * supervisor starts for itself over ipc://, so a worker's report stays a fire-and-forget PUSH
 * and the broker's code is the same either way. */
#ifndef KGSUP_ENDPOINT_H
#define KGSUP_ENDPOINT_H

#include <stddef.h>

/* tcp://HOST:PORT into host and port (1-65534: PORT+1 must exist); 0, or -1. */
int endpoint_tcp_split(const char *ep, char *host, size_t hn, int *port);
/* The reports endpoint of an asks endpoint: tcp://HOST:PORT+1; 0, or -1 when ep is not one. */
int endpoint_reports(char *out, size_t n, const char *ep);
/* Non-zero when ep's host is localhost, 127.0.0.0/8 or [::1]. */
int endpoint_is_loopback(const char *ep);

#endif
