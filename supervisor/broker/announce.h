/* announce.h: what a server's announced limit (x-ratelimit-limit-requests or -tokens) means.
 * The header gives a number without its unit: OpenAI's is a minute, a server that counts per
 * second sends its per-second figure, Groq sends requests per day in the same header. The unit
 * is judged from the resets that come with it: a window never resets later than its length
 * after a request, so the longest reset seen is a lower bound of that length. Up to a second
 * (and a little), the unit is a second, unless what remains is never more than a second's
 * share of the figure taken as per minute: then it is a minute counted over slices of a
 * second; up to a minute (and a little), it is a minute; past that, a day: a quota. Only a
 * per-minute figure caps the rate; the others are honoured through what remains and when it
 * resets. The longest reset and the most that remained only grow, so the judgement settles. */
#ifndef KGSUP_ANNOUNCE_H
#define KGSUP_ANNOUNCE_H

#include <stdint.h>

#define ANNOUNCE_MINUTE_MS 60000

enum limit_unit { UNIT_NONE, UNIT_SECOND, UNIT_MINUTE, UNIT_DAY };

struct announced {
	int64_t limit;   /* the latest figure, -1: none yet */
	int64_t longest; /* the longest reset seen, ms, -1: none yet */
	int64_t most;    /* the most free in the window: remaining + the request it answered */
	enum limit_unit unit;
	int sliced;      /* a minute's figure counted over slices of a second */
};

void announced_init(struct announced *a);
/* Takes one answer's figures (-1: not given). minute_ms is how long a minute is taken to be
 * (ANNOUNCE_MINUTE_MS but in tests). Returns 1 when the figure or its unit changed. */
int announced_take(struct announced *a, int64_t limit, int64_t remaining, int64_t reset_ms,
		   int64_t minute_ms);
/* The cap on a per-minute rate: the figure when its unit is a minute, else -1. */
int64_t announced_cap(const struct announced *a);
/* "second", "minute", "day", or "unknown" when no reset came with the figure. */
const char *limit_unit_name(enum limit_unit u);

#endif
