/* ratehdr.h: parsing what providers say about rate limits: Retry-After (seconds or an HTTP
 * date) and the x-ratelimit-* headers (counts, and durations such as "12ms", "1.5s", "6m0s"). */
#ifndef KGSUP_RATEHDR_H
#define KGSUP_RATEHDR_H

#include <stddef.h>
#include <stdint.h>

/* What the provider said, each -1 when not given. Listed once: the struct and proto.c's
 * encoding of it (inside REPORT) come from this list. */
#define RATELIMIT_FIELDS(F)                                                            \
	F(retry_after_ms)                                                              \
	F(remaining_requests)                                                          \
	F(remaining_tokens)                                                            \
	F(reset_requests_ms)                                                           \
	F(reset_tokens_ms)                                                             \
	F(limit_requests) /* in the provider's unit, judged by the broker (announce.h) */ \
	F(limit_tokens)

#define RATELIMIT_MEMBER(name) int64_t name;
struct ratelimit_info {
	RATELIMIT_FIELDS(RATELIMIT_MEMBER)
};

void ratelimit_clear(struct ratelimit_info *r);
/* Feeds one raw header line ("Name: value\r\n"); unknown headers are ignored. now_wall_ms is
 * the current epoch time, for Retry-After given as a date. */
void ratelimit_header(struct ratelimit_info *r, const char *line, size_t len, int64_t now_wall_ms);
/* "1.5s", "6m0s", "12ms", "2h3m", or a bare number of seconds; -1 if malformed. */
int64_t ratelimit_parse_duration(const char *s, size_t len);

#endif
