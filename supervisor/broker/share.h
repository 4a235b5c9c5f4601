/* share.h: the window's share of the limits (limits.window_s): when the user says the provider
 * counts requests and tokens over a sliding window of window_s seconds, the broker may grant up
 * to that window's share of the per-minute requests at once, and never more in any window of
 * that length, counted on its own grant log (window.h); the tokens keep the pace's even bucket
 * besides (broker.c), which carries what the share's count cannot (a request larger than the
 * share, usage past the estimate). Unset (0), the pace's even buckets rule as before (pace.h). The count keeps the number of the oldest grant still in the window and the
 * tokens charged since, so a grant costs no walk of the log. */
#ifndef KGSUP_SHARE_H
#define KGSUP_SHARE_H

#include <stdint.h>

#include "pace.h"
#include "window.h"

/* How much later than its time a grant is taken to leave (besides the margin's share of the
 * window). A window's share goes out together, and the provider counts each request when it
 * gets to it, some later than others (a new connection, a server busy with the others of the
 * burst); the next share goes a window after our grants, not after the provider's count, so
 * this covers how much later the provider counts the old ones than the new (BENCHMARKS.md:
 * at 25 ms, a bench on a loaded machine saw 429s). */
#define SHARE_LEAVE_MS 100

struct window_share {
	int64_t window_ms; /* 0: no window told, the pace's buckets rule */
	int64_t leave_ms;  /* a grant is counted this long after its time */
	uint64_t first;    /* the oldest grant that may still be in the window */
	double tokens;     /* tokens charged to the grants from first on */
};

/* window_s <= 0: off. g's grants so far are not counted. */
void share_init(struct window_share *s, double window_s, const struct grant_log *g);
/* Whether the share rules a lane paced by p: a window is told and holds a whole request. */
int share_on(const struct window_share *s, const struct pace *p);
/* Requests and tokens the window holds at p's limits and rate factor (at least 1 request). */
double share_requests(const struct window_share *s, const struct pace *p);
double share_tokens(const struct window_share *s, const struct pace *p);
/* Forgets the grants that left the window by now. */
void share_advance(struct window_share *s, const struct grant_log *g, int64_t now);
/* Milliseconds until the window has room for a request of est tokens (0: now). */
int64_t share_wait(const struct window_share *s, const struct grant_log *g, const struct pace *p,
		   uint32_t est, int64_t now);
/* What the broker waits for with the share on: the share's room for the request, and the
 * tokens' even pace (pace_tok_wait: its bucket carries a request larger than the share, and
 * usage past the estimate, as debt, which the share's count does not). */
int64_t share_lane_wait(const struct window_share *s, const struct grant_log *g,
			const struct pace *p, uint32_t est, int64_t now);
/* A grant of est tokens is about to be logged (before grant_log_add) and is counted. */
void share_add(struct window_share *s, const struct grant_log *g, uint32_t est);
/* Grant seq's time was moved later (grant_log_settle): counted again if back in the window. */
void share_settled(struct window_share *s, const struct grant_log *g, uint64_t seq, int64_t now);
/* Where a reset of the provider's, reported of grant (its request sent at sent_at: 0, never
 * sent), counts from: now, or with the share on the grant's settled time plus the margin. */
int64_t share_hold_from(const struct window_share *s, const struct grant_log *g,
			const struct pace *p, uint64_t grant, int64_t sent_at, int64_t now);

#endif
