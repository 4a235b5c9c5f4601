/* ratehdr.c: Retry-After and x-ratelimit-* header parsing. */
#include "ratehdr.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void ratelimit_clear(struct ratelimit_info *r)
{
#define CLEAR(name) r->name = -1;
	RATELIMIT_FIELDS(CLEAR)
#undef CLEAR
}

int64_t ratelimit_parse_duration(const char *s, size_t len)
{
	double total = 0;
	size_t i = 0;
	int parts = 0;
	while (i < len) {
		char num[32];
		size_t n = 0;
		while (i < len && (isdigit((unsigned char)s[i]) || s[i] == '.') && n < sizeof num - 1)
			num[n++] = s[i++];
		if (n == 0)
			return -1;
		num[n] = '\0';
		char *endp;
		double v = strtod(num, &endp);
		if (*endp)
			return -1;
		double unit;
		if (i + 1 < len && s[i] == 'm' && s[i + 1] == 's') {
			unit = 1, i += 2;
		} else if (i + 1 < len && (s[i] == 'u' || s[i] == 'n') && s[i + 1] == 's') {
			unit = s[i] == 'u' ? 0.001 : 0.000001, i += 2;
		} else if (i < len && s[i] == 'h') {
			unit = 3600000, i++;
		} else if (i < len && s[i] == 'm') {
			unit = 60000, i++;
		} else if (i < len && s[i] == 's') {
			unit = 1000, i++;
		} else if (i == len && parts == 0) {
			unit = 1000; /* a bare number is seconds */
		} else {
			return -1;
		}
		total += v * unit;
		parts++;
		if (total > 1e12)
			return -1;
	}
	return parts ? (int64_t)(total + 0.5) : -1;
}

static int64_t parse_count(const char *s, size_t len)
{
	if (len == 0 || len > 18)
		return -1;
	int64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* A server asking for more than a day is capped at a day (and cannot overflow the ms). */
#define RETRY_AFTER_MAX_S 86400

static int64_t parse_retry_after(const char *v, size_t len, int64_t now_wall_ms)
{
	int64_t secs = parse_count(v, len);
	if (secs >= 0)
		return (secs < RETRY_AFTER_MAX_S ? secs : RETRY_AFTER_MAX_S) * 1000;
	/* HTTP date: "Wed, 21 Oct 2015 07:28:00 GMT" */
	char date[64];
	if (len >= sizeof date)
		return -1;
	memcpy(date, v, len);
	date[len] = '\0';
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *end = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return -1;
	int64_t at = (int64_t)timegm(&tm) * 1000;
	int64_t wait = at > now_wall_ms ? at - now_wall_ms : 0;
	return wait < RETRY_AFTER_MAX_S * 1000LL ? wait : RETRY_AFTER_MAX_S * 1000LL;
}

void ratelimit_header(struct ratelimit_info *r, const char *line, size_t len, int64_t now_wall_ms)
{
	const char *colon = memchr(line, ':', len);
	if (!colon)
		return;
	size_t nlen = (size_t)(colon - line);
	const char *v = colon + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	size_t vlen = (size_t)(end - v);
#define IS(name) (nlen == sizeof(name) - 1 && !strncasecmp(line, name, nlen))
	if (IS("retry-after"))
		r->retry_after_ms = parse_retry_after(v, vlen, now_wall_ms);
	else if (IS("retry-after-ms")) {
		r->retry_after_ms = parse_count(v, vlen);
		if (r->retry_after_ms > RETRY_AFTER_MAX_S * 1000LL)
			r->retry_after_ms = RETRY_AFTER_MAX_S * 1000LL;
	}
	else if (IS("x-ratelimit-remaining-requests"))
		r->remaining_requests = parse_count(v, vlen);
	else if (IS("x-ratelimit-remaining-tokens"))
		r->remaining_tokens = parse_count(v, vlen);
	else if (IS("x-ratelimit-reset-requests"))
		r->reset_requests_ms = ratelimit_parse_duration(v, vlen);
	else if (IS("x-ratelimit-limit-requests"))
		r->limit_requests = parse_count(v, vlen);
	else if (IS("x-ratelimit-limit-tokens"))
		r->limit_tokens = parse_count(v, vlen);
	else if (IS("x-ratelimit-reset-tokens"))
		r->reset_tokens_ms = ratelimit_parse_duration(v, vlen);
#undef IS
}
