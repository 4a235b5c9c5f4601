/* window.c: when room comes back in the provider's rate-limit window, worked out from what the
 * provider last said remains and from the log of our own grants (the broker's arithmetic, kept
 * apart from its sockets so that tests can drive it with made-up clocks). */
#include "window.h"

#include <stddef.h>

#define PROVIDER_INFO_MS 1000  /* how long "remaining" holds when no reset time came with it */
#define PROVIDER_STALE_MS 2000 /* how long past its reset a figure is still extrapolated */
#define RESET_MARGIN_MS 25     /* lateness of the provider's clock on ours, see figure_wait */

const struct grant_entry *grant_log_get(const struct grant_log *g, uint64_t seq)
{
	if (seq == 0 || seq > g->seq || g->seq - seq >= RECENT_GRANTS)
		return NULL;
	const struct grant_entry *e = &g->recent[seq % RECENT_GRANTS];
	return e->seq == seq ? e : NULL;
}

/* What a grant takes from a budget when granted, and what it gives back when it leaves the
 * provider's window: only what the provider is known to have counted, so a refused request,
 * or one whose fate is unknown, is never given back twice. */
static double grant_charge(const struct grant_entry *e, int tokens)
{
	return tokens ? (double)e->est : 1.0;
}

static double grant_returns(const struct grant_entry *e, int tokens)
{
	if (!e->admitted)
		return 0;
	return tokens ? (double)e->held : 1.0;
}

/* How long after its time a grant is taken to have left the provider's window: RESET_MARGIN_MS,
 * but never more than half the share of the window we pace under the limit. On a short window
 * a large margin holds the rate well under the limit, and one of the whole share leaves no
 * slack: a grant delayed once holds back every grant a window after it, and the delays add up
 * (BENCHMARKS.md has the figures behind this choice). */
static int64_t leave_margin(const struct provider_figure *f)
{
	int64_t half_share = (int64_t)((double)f->window * (1.0 - PACE_MARGIN) / 2.0);
	return half_share < RESET_MARGIN_MS ? half_share : RESET_MARGIN_MS;
}

/* Milliseconds until a budget the provider reported leaves `need` (0: it does now).
 * The figure is as of the admission of one of our requests; our grants after it are charged
 * against it. Providers count over a window (OpenAI says a minute; a mock may say 10 s): a
 * request leaves it the window's length after it came in, the reset the provider gave for its
 * very first one, the longest it ever gives. So the broker replays its own grants: each gives
 * back its share when it leaves, the window's length after it went out (its grant, until the
 * worker reports when it sent it: later by the handshake on a new connection). The provider's
 * clock runs late on ours by the time from our grant to its admission (milliseconds, the first
 * request of a connection the slowest), and a request granted at the instant of a leave arrives
 * as late, give or take the jitter of two processes waking: RESET_MARGIN_MS covers that
 * (BENCHMARKS.md: without it, some requests in the token-bound bench were 429s). A figure
 * long past its reset is forgotten (the pacer alone rules then), and so is one too old to
 * know the grants made since. */
int64_t figure_wait(const struct grant_log *g, const struct provider_figure *f, int tokens,
		    double need, double rate_per_ms, int64_t now)
{
	if (f->remaining < 0 || now >= f->until + PROVIDER_STALE_MS || g->seq - f->seq >= RECENT_GRANTS)
		return 0;
	double credit = f->remaining;
	for (uint64_t k = f->seq + 1; k <= g->seq; k++)
		credit -= grant_charge(&g->recent[k % RECENT_GRANTS], tokens);
	if (credit >= need)
		return 0;
	if (f->window == 0) {
		/* no reset told (Azure sends none): after a while room comes back at our pace */
		if (now < f->until)
			return f->until - now;
		credit += rate_per_ms * (double)(now - f->until);
		return credit >= need ? 0 : (int64_t)((need - credit) / rate_per_ms) + 1;
	}
	/* a grant whose request went out late (a new connection) leaves after later ones */
	int64_t last_out = 0;
	for (uint64_t k = f->first; k <= g->seq; k++) {
		const struct grant_entry *e = grant_log_get(g, k);
		if (!e)
			continue;
		double back = grant_returns(e, tokens);
		credit += back;
		if (back > 0 && e->at > last_out)
			last_out = e->at;
		if (credit >= need) {
			int64_t leaves = last_out + f->window + leave_margin(f);
			return leaves > now ? leaves - now : 0;
		}
	}
	return f->until + PROVIDER_STALE_MS - now;
}

uint64_t grant_log_add(struct grant_log *g, int64_t at, uint32_t est)
{
	g->seq++;
	struct grant_entry e = { g->seq, at, est, est, 1 };
	g->recent[g->seq % RECENT_GRANTS] = e;
	return g->seq;
}

/* A request goes out some time after its grant: at once on a kept-alive connection, after the
 * handshake on a new one. The provider's window holds it from then. */
void grant_log_settle(struct grant_log *g, uint64_t seq, int admitted, uint64_t counted,
		      int64_t sent_at, int64_t now)
{
	if (!grant_log_get(g, seq))
		return;
	struct grant_entry *e = &g->recent[seq % RECENT_GRANTS];
	e->admitted = admitted;
	e->held = counted > 0 && counted < e->est ? (uint32_t)counted : e->est;
	if (sent_at > e->at && sent_at <= now)
		e->at = sent_at;
}

void figure_init(struct provider_figure *f)
{
	*f = (struct provider_figure){ .remaining = -1 };
}

/* The figure is as of the request's admission, a call's latency ago: its reset counts from
 * about when it was granted. Our grants it still holds are those that had not left when it
 * was made (one near the edge counts as gone, so is never given back twice). */
void figure_take(const struct grant_log *g, struct provider_figure *f, int64_t remaining,
		 int64_t reset_ms, uint64_t grant, int64_t now)
{
	if (remaining < 0 || grant < f->seq || grant > g->seq)
		return;
	const struct grant_entry *mine = grant_log_get(g, grant);
	int64_t at = mine ? mine->at : now;
	if (reset_ms > f->window)
		f->window = reset_ms;
	f->remaining = (double)remaining;
	f->seq = grant;
	f->until = at + (reset_ms >= 0 ? reset_ms : PROVIDER_INFO_MS);
	f->first = grant;
	/* Walks back to the oldest grant still in the window. Reported send times may put a grant
	 * a few ms out of order (a handshake); the walk then stops early, and the one it misses is
	 * never given back by this figure: a wait too long until the next report, never a 429. */
	while (f->window > 0) {
		const struct grant_entry *e = grant_log_get(g, f->first - 1);
		if (!e || e->at + f->window <= at + leave_margin(f))
			break;
		f->first--;
	}
}
