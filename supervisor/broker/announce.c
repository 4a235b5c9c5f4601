/* announce.c: the unit of a server's announced limit, judged from its resets and what it says
 * remains (announce.h). */
#include "announce.h"

/* How far past a second or a minute a reset may be and still fit that unit: a server's
 * clock, rounding ("1s") and the time the answer took. */
#define UNIT_SLACK 1.2

void announced_init(struct announced *a)
{
	*a = (struct announced){ .limit = -1, .longest = -1, .most = -1, .unit = UNIT_NONE };
}

/* Resets of a second or less fit a per-second figure, or a per-minute one counted over slices
 * of a second ("quantized", as OpenAI says it may enforce a limit): the second never leaves
 * more than its share of the minute free, where a per-second limit leaves all of it free in
 * an empty window, as for our first request. */
static enum limit_unit unit_of(const struct announced *a, int64_t minute_ms, int *sliced)
{
	*sliced = 0;
	if (a->longest < 0)
		return UNIT_NONE;
	if ((double)a->longest <= (double)minute_ms / 60.0 * UNIT_SLACK) {
		*sliced = a->most > 0 && (double)a->most <= (double)a->limit / 60.0 * UNIT_SLACK;
		return *sliced ? UNIT_MINUTE : UNIT_SECOND;
	}
	if ((double)a->longest <= (double)minute_ms * UNIT_SLACK)
		return UNIT_MINUTE;
	return UNIT_DAY;
}

int announced_take(struct announced *a, int64_t limit, int64_t remaining, int64_t reset_ms,
		   int64_t minute_ms)
{
	struct announced was = *a;
	if (reset_ms > a->longest)
		a->longest = reset_ms;
	if (remaining >= 0 && remaining + 1 > a->most)
		a->most = remaining + 1;
	if (limit <= 0)
		return 0; /* no figure to judge (what came with it still counts for the next one) */
	a->limit = limit;
	a->unit = unit_of(a, minute_ms, &a->sliced);
	return a->limit != was.limit || a->unit != was.unit;
}

int64_t announced_cap(const struct announced *a)
{
	return a->unit == UNIT_MINUTE ? a->limit : -1;
}

const char *limit_unit_name(enum limit_unit u)
{
	static const char *names[] = { "unknown", "second", "minute", "day" };
	return names[u];
}
