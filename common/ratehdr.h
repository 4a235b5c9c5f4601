/* ratehdr.h: parsing what providers say about rate limits: Retry-After (seconds or an HTTP
 * date) and the x-ratelimit-* headers (counts, and durations such as "12ms", "1.5s", "6m0s"). */
#ifndef KGSUP_RATEHDR_H
#define KGSUP_RATEHDR_H

#include <stddef.h>
#include <stdint.h>

struct ratelimit_info {
	int64_t retry_after_ms; /* -1 when not given */
	int64_t remaining_requests;
	int64_t remaining_tokens;
	int64_t reset_requests_ms;
	int64_t reset_tokens_ms;
	int64_t limit_requests; /* per minute, as the provider announces it */
	int64_t limit_tokens;
};

void ratelimit_clear(struct ratelimit_info *r);
/* Feeds one raw header line ("Name: value\r\n"); unknown headers are ignored. now_wall_ms is
 * the current epoch time, for Retry-After given as a date. */
void ratelimit_header(struct ratelimit_info *r, const char *line, size_t len, int64_t now_wall_ms);
/* "1.5s", "6m0s", "12ms", "2h3m", or a bare number of seconds; -1 if malformed. */
int64_t ratelimit_parse_duration(const char *s, size_t len);

#endif
