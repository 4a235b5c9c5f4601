/* window.h: the provider's rate-limit window as the broker sees it: the log of our own grants,
 * and what the provider last said remains of a budget. From the two the broker works out when
 * room comes back (see window.c). */
#ifndef KGSUP_WINDOW_H
#define KGSUP_WINDOW_H

#include <stdint.h>

#define PACE_MARGIN 0.995  /* the broker paces this far under the limit */
/* Grants remembered to mirror the provider's window: a whole minute's at up to 65,536 requests
 * a minute (32 bytes each, 2 MB a lane, touched as grants come). Past it the oldest are
 * forgotten, and a full window's first leave is not seen: the broker then waits for the
 * figure to go stale. */
#define RECENT_GRANTS 65536

/* A grant as the provider's window sees it. */
struct grant_entry {
	uint64_t seq;
	int64_t at;    /* when it went out, ms: granted, then as the worker reports */
	uint32_t est;  /* tokens charged */
	uint32_t held; /* tokens the provider counted (the estimate until reported) */
	int admitted;  /* not known to have been refused */
};

struct grant_log {
	uint64_t seq; /* number of the last grant, 0: none yet */
	struct grant_entry recent[RECENT_GRANTS];
};

/* What the provider said remains of one budget, as of the grant its request went out under. */
struct provider_figure {
	double remaining; /* -1: no figure */
	uint64_t seq;     /* the grant it came with */
	uint64_t first;   /* our oldest grant still in it */
	int64_t until;    /* its reset: when its oldest entry leaves */
	int64_t window;   /* the longest reset seen: how long the provider remembers a request */
};

/* Grant seq as logged, or NULL: none such, or forgotten. */
const struct grant_entry *grant_log_get(const struct grant_log *g, uint64_t seq);
/* Logs a grant of est tokens at `at`; returns its number. */
uint64_t grant_log_add(struct grant_log *g, int64_t at, uint32_t est);
/* What the provider did with a grant: admitted or not, the tokens it counted (0: unknown, the
 * estimate stands; never more than the estimate), and when the request went out (0: unknown,
 * the grant's time stands; never before it, never after now). */
void grant_log_settle(struct grant_log *g, uint64_t seq, int admitted, uint64_t counted,
		      int64_t sent_at, int64_t now);
/* No figure yet. */
void figure_init(struct provider_figure *f);
/* Takes a budget's figure from the report of grant `grant` if it is newer than the one held. */
void figure_take(const struct grant_log *g, struct provider_figure *f, int64_t remaining,
		 int64_t reset_ms, uint64_t grant, int64_t now);
/* Milliseconds until the budget leaves `need` (requests: 1; tokens: tokens != 0), 0 if it does
 * now; rate_per_ms is our pace, for providers that give no reset. */
int64_t figure_wait(const struct grant_log *g, const struct provider_figure *f, int tokens,
		    double need, double rate_per_ms, int64_t now);

#endif
