/* announce.c: the unit of a server's announced limit, judged from its resets (announce.h). */
#include "announce.h"

/* How far past a second or a minute a reset may be and still fit that unit: a server's
 * clock, rounding ("1s") and the time the answer took. */
#define UNIT_SLACK 1.2

void announced_init(struct announced *a)
{
	*a = (struct announced){ .limit = -1, .longest = -1, .unit = UNIT_NONE };
}

static enum limit_unit unit_of(int64_t longest, int64_t minute_ms)
{
	if (longest < 0)
		return UNIT_NONE;
	if ((double)longest <= (double)minute_ms / 60.0 * UNIT_SLACK)
		return UNIT_SECOND;
	if ((double)longest <= (double)minute_ms * UNIT_SLACK)
		return UNIT_MINUTE;
	return UNIT_DAY;
}

int announced_take(struct announced *a, int64_t limit, int64_t reset_ms, int64_t minute_ms)
{
	struct announced was = *a;
	if (reset_ms > a->longest)
		a->longest = reset_ms;
	if (limit <= 0)
		return 0; /* no figure to judge (the reset still counts for the next one) */
	a->limit = limit;
	enum limit_unit u = unit_of(a->longest, minute_ms);
	if (u > a->unit)
		a->unit = u;
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
