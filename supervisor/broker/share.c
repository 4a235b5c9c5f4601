/* share.c: the window's share of the limits, counted on the grant log (share.h). */
#include "share.h"

#include <math.h>
#include <stddef.h>

/* Whether grant e has left the window by now. */
static int left(const struct window_share *s, const struct grant_entry *e, int64_t now)
{
	return e->at + s->window_ms + s->leave_ms <= now;
}

/* A grant is counted the window's length, plus the margin's share of it (so that the rate over
 * time stays PACE_MARGIN under the limit, as the pace's does), plus SHARE_LEAVE_MS. */
void share_init(struct window_share *s, double window_s, const struct grant_log *g)
{
	*s = (struct window_share){ .first = g->seq + 1 };
	if (window_s <= 0)
		return;
	s->window_ms = (int64_t)llround(window_s * 1000.0);
	s->leave_ms = (int64_t)llround((double)s->window_ms * (1.0 - PACE_MARGIN)) + SHARE_LEAVE_MS;
}

/* (never more than the grant log remembers: past it, the oldest still counted would be lost) */
double share_requests(const struct window_share *s, const struct pace *p)
{
	double n = floor(p->rpm * (double)s->window_ms / 60000.0 * p->rate_factor + 1e-9);
	if (n > RECENT_GRANTS - 1)
		n = RECENT_GRANTS - 1;
	return n < 1.0 ? 1.0 : n;
}

double share_tokens(const struct window_share *s, const struct pace *p)
{
	return p->tpm * (double)s->window_ms / 60000.0 * p->rate_factor;
}

/* A window too short to hold one request at the limit (30 a minute counted per second) says
 * nothing the per-minute pace does not: the buckets rule then. */
int share_on(const struct window_share *s, const struct pace *p)
{
	return s->window_ms > 0 && p->rpm * (double)s->window_ms / 60000.0 >= 1.0;
}

void share_advance(struct window_share *s, const struct grant_log *g, int64_t now)
{
	while (s->first <= g->seq) {
		const struct grant_entry *e = grant_log_get(g, s->first);
		if (e && !left(s, e, now))
			break;
		if (e)
			s->tokens -= (double)e->est;
		s->first++;
	}
}

/* From the oldest grant on, until enough have left for one more of est tokens: the window holds
 * fewer requests than its share, and the tokens leave room for est (a request larger than the
 * share, for an empty window). A grant whose time a report moved later may leave after the next
 * ones: the latest leave seen counts. Only the grants that must leave are walked. */
int64_t share_wait(const struct window_share *s, const struct grant_log *g, const struct pace *p,
		   uint32_t est, int64_t now)
{
	double n = share_requests(s, p), cap = share_tokens(s, p);
	double need = (double)est < cap ? (double)est : cap;
	double count = (double)(g->seq + 1 - s->first), tokens = s->tokens;
	int64_t until = now;
	for (uint64_t k = s->first;; k++) {
		if (count + 1.0 <= n && tokens + need <= cap)
			return until - now;
		if (k > g->seq)
			return until - now; /* an empty window: room, whatever the tokens say */
		const struct grant_entry *e = grant_log_get(g, k);
		count -= 1.0;
		if (!e)
			continue;
		tokens -= (double)e->est;
		int64_t leaves = e->at + s->window_ms + s->leave_ms;
		if (leaves > until)
			until = leaves;
	}
}

/* Before grant_log_add: the slot the grant takes may hold the oldest grant still counted (a
 * window of more than RECENT_GRANTS grants), which is then taken to have left. */
void share_add(struct window_share *s, const struct grant_log *g, uint32_t est)
{
	uint64_t next = g->seq + 1;
	if (next > RECENT_GRANTS && s->first <= next - RECENT_GRANTS) {
		const struct grant_entry *e = grant_log_get(g, s->first);
		if (e)
			s->tokens -= (double)e->est;
		s->first++;
	}
	s->tokens += (double)est;
}

/* The grants from seq on are counted again (those that left among them until seq leaves too:
 * a wait too long, never a window overfull). */
void share_settled(struct window_share *s, const struct grant_log *g, uint64_t seq, int64_t now)
{
	const struct grant_entry *e = grant_log_get(g, seq);
	if (!e || seq >= s->first || left(s, e, now))
		return;
	for (uint64_t k = seq; k < s->first; k++) {
		const struct grant_entry *x = grant_log_get(g, k);
		if (x)
			s->tokens += (double)x->est;
	}
	s->first = seq;
}

/* With the share on, its count keeps the window, and its leave margin covers the provider's
 * lateness: a reset counts from when the request went out, plus that margin, not a call's
 * latency later (a call of 2.5 s against a window of 1 s held the third share back a second).
 * The grant's time as settled (never before the grant, never after now: a worker's clock is
 * another machine's with a shared broker), not the report's own. */
int64_t share_hold_from(const struct window_share *s, const struct grant_log *g,
			const struct pace *p, uint64_t grant, int64_t sent_at, int64_t now)
{
	const struct grant_entry *e = grant_log_get(g, grant);
	if (!share_on(s, p) || sent_at <= 0 || !e)
		return now;
	return e->at + s->leave_ms;
}

int64_t share_lane_wait(const struct window_share *s, const struct grant_log *g,
			const struct pace *p, uint32_t est, int64_t now)
{
	int64_t wait = share_wait(s, g, p, est, now), tw = pace_tok_wait(p, est, now);
	return tw > wait ? tw : wait;
}
