/* pace.h: the broker's pacing of requests and tokens, on whatever clock the caller gives (so
 * the tests run it on made-up ones). Two token buckets, requests and tokens, refilled at the
 * limit times a rate factor times PACE_MARGIN, with a burst of only the margin: providers may
 * count over windows as short as a second, where a larger bucket, or one that starts full,
 * would overshoot. The rate factor starts at 0.9 (a slow start: each worker's first call
 * carries a TLS handshake, so the first requests reach the server closer together than they
 * were granted); a 429 sets one "not before" time for everyone and lowers the factor (halves
 * it; by a fifth under a limit the provider announced, where a 429 is jitter or another
 * client, not a wrong limit), and it climbs back additively (AIMD): a limit set too high
 * converges instead of storming. */
#ifndef KGSUP_PACE_H
#define KGSUP_PACE_H

#include <stdint.h>

#define PACE_START_FACTOR 0.9
#define PACE_MIN_FACTOR 0.05
#define PACE_RECOVERY_PER_S 0.05 /* additive increase of the rate factor per second */
#define PACE_DEFAULT_429_MS 1000

struct pace {
	double cfg_rpm, cfg_tpm;     /* configured */
	double rpm, tpm;             /* the limits: configured, capped by the provider's */
	int announced;               /* the provider's per-minute limit caps ours (announce.h) */
	double rate_factor;          /* 1.0 = the limits */
	double req_level, tok_level; /* bucket contents (the token one may be in debt) */
	double req_cap, tok_cap;
	double last_refill;          /* ms, fractional */
	int64_t not_before;          /* nobody is granted before this (ms) */
	uint64_t throttled;          /* 429s seen */
};

/* Starts at now (ms): one request's worth in the request bucket, a full token bucket. */
void pace_init(struct pace *p, double rpm, double tpm, double now);
/* The broker counts the provider's window itself (share.h): the first requests may reach the
 * server closer together than granted and the count still holds, so no slow start. */
void pace_no_slow_start(struct pace *p);
/* Milliseconds until the pause after a 429 (or a quota) is over; 0: now. */
int64_t pace_paused(const struct pace *p, int64_t now);
/* The provider's per-minute limits (<= 0: none, or not per minute): never plan for more than
 * that; none: the configured ones again. */
void pace_limits(struct pace *p, int64_t rpm, int64_t tpm);
/* Refills the buckets and lets the rate factor climb, up to now. */
void pace_refill(struct pace *p, double now);
double pace_req_rate(const struct pace *p); /* per ms, as paced now */
double pace_tok_rate(const struct pace *p);
/* Milliseconds (whole, rounded up) until the buckets hold a request of est tokens and the
 * pause after a 429 is over; 0: now. */
int64_t pace_wait(const struct pace *p, uint32_t est, int64_t now);
/* The same for the tokens and the pause alone (limits.window_s: the share counts the requests,
 * share.h). */
int64_t pace_tok_wait(const struct pace *p, uint32_t est, int64_t now);
/* A request of est tokens is granted. */
void pace_take(struct pace *p, uint32_t est);
/* A 429 at now: retry_after_ms, else reset_requests_ms, else reset_tokens_ms (each -1 when not
 * given), else PACE_DEFAULT_429_MS. Returns the pause. */
int64_t pace_429(struct pace *p, int64_t retry_after_ms, int64_t reset_requests_ms,
		 int64_t reset_tokens_ms, int64_t now);
/* Nobody is granted before t. */
void pace_hold_until(struct pace *p, int64_t t);
/* Tokens come back to the bucket (a charge that was too high), at most to its capacity. */
void pace_refund(struct pace *p, double tokens);
/* A request granted never went out (it could not connect): its request comes back. */
void pace_refund_request(struct pace *p);
/* The provider says only this many tokens remain: the bucket holds no more. */
void pace_cap_tokens(struct pace *p, double remaining);

#endif
