/* limits.c: the broker's effective limits, their warnings and their publication (limits.h). */
#include "limits.h"
#include "limits_view.h"
#include "../../common/log.h"
#include "../../common/util.h"

#include <stdio.h>
#include <string.h>

#define PUBLISH_EVERY_MS 1000 /* remaining figures: a snapshot for status, not a log */
#define PAUSE_MOVED_MS 60000  /* a quota's reset that moves this much is told again */

static void fill(struct limit_view *v, const struct budget *b, double configured, double limit,
		 const struct limits *L, double factor)
{
	v->configured = configured;
	v->limit = limit;
	v->effective = L->lowered ? limit * factor : limit;
	snprintf(v->source, sizeof v->source, "%s",
		 L->lowered ? "after_429" : limit < configured ? "announced" : "config");
	v->announced = b->ann.limit;
	snprintf(v->unit, sizeof v->unit, "%s", b->ann.limit > 0 ? limit_unit_name(b->ann.unit) : "");
	v->remaining = b->remaining;
}

static void fill_lane(struct limits_view *v, struct model_limits_view *m, const struct limits *L)
{
	const struct pace *p = L->pace;
	fill(m ? &m->req : &v->req, &L->req, p->cfg_rpm, p->rpm, L, p->rate_factor);
	fill(m ? &m->tok : &v->tok, &L->tok, p->cfg_tpm, p->tpm, L, p->rate_factor);
	int64_t *resume = m ? &m->resume_wall : &v->resume_wall;
	char *pause = m ? m->pause : v->pause;
	*resume = L->paused_until ? L->resume_wall : 0;
	snprintf(pause, sizeof v->pause, "%s", L->pause);
	if (m)
		snprintf(m->model, sizeof m->model, "%s", L->model);
}

/* The whole board: a change of one model's limits rewrites the file with them all. */
static void publish(struct limits *L, int64_t now)
{
	struct limits_board *B = L->board;
	struct limits_view *v = &B->view;
	memset(v, 0, sizeof *v);
	v->trust = B->trust;
	for (size_t i = 0; i < B->n; i++) {
		int listed = B->all[i]->model != NULL;
		fill_lane(v, listed ? &v->models[v->nmodels++] : NULL, B->all[i]);
		B->all[i]->dirty = 0;
		B->all[i]->published_at = now;
	}
	/* a shared broker has no state directory: its view stays in memory, for status --broker */
	if (B->state_dir && limits_view_write(B->state_dir, v))
		log_debug("cannot write %s/%s", B->state_dir, LIMITS_FILE);
}

void limits_board_init(struct limits_board *B, const char *state_dir, int trust,
		       int64_t minute_ms)
{
	*B = (struct limits_board){ .state_dir = state_dir, .trust = trust, .minute_ms = minute_ms };
}

void limits_init(struct limits *L, struct limits_board *B, const char *model,
		 const struct pace *p)
{
	*L = (struct limits){ .board = B, .model = model, .pace = p };
	L->req = (struct budget){ .noun = "request", .remaining = -1 };
	L->tok = (struct budget){ .noun = "token", .remaining = -1 };
	announced_init(&L->req.ann);
	announced_init(&L->tok.ann);
	if (B->n < sizeof B->all / sizeof B->all[0])
		B->all[B->n++] = L;
	publish(L, now_ms());
}

/* "59.9 s", "12m05s", "2h00m" */
static void duration(char *out, size_t len, int64_t ms)
{
	long long s = (long long)(ms / 1000);
	if (ms < 100000)
		snprintf(out, len, "%.1f s", (double)ms / 1000.0);
	else if (ms < 3600000)
		snprintf(out, len, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(out, len, "%lldh%02lldm", s / 3600, s / 60 % 60);
}

/* Why the server's figure does or does not cap the rate. */
static void reason(char *out, size_t len, const struct budget *b)
{
	char d[32];
	duration(d, sizeof d, b->ann.longest);
	long long n = (long long)b->ann.limit;
	switch (b->ann.unit) {
	case UNIT_MINUTE:
		snprintf(out, len, "the server announces %lld %ss a minute (resets up to %s%s)", n,
			 b->noun, d, b->ann.sliced ? ", no more than a second's share left: counted "
			 "per second" : "");
		break;
	case UNIT_SECOND:
		snprintf(out, len, "the server announces %lld %ss with resets within a second: per "
			 "second, not a per-minute limit", n, b->noun);
		break;
	case UNIT_DAY:
		snprintf(out, len, "the server announces %lld %ss with resets up to %s: a daily quota, "
			 "not a per-minute limit", n, b->noun, d);
		break;
	default:
		snprintf(out, len, "the server announces %lld %ss without a reset: no unit to go by, "
			 "not a per-minute limit", n, b->noun);
	}
}

/* Who a message is about: "gpt-4o-mini: " for a model listed in limits.models, else nothing
 * (as before models had limits of their own). */
#define WHO(L) (L)->model ? (L)->model : "", (L)->model ? ": " : ""

/* A budget's figure or its unit changed: a warning when the limit did, else a note. */
static void tell(const struct limits *L, const struct budget *b, double before, double after)
{
	char why[256];
	reason(why, sizeof why, b);
	if (before != after)
		log_warn("%s%s%ss limit %.0f -> %.0f a minute: %s", WHO(L), b->noun, before, after,
			 why);
	else
		log_info("%s%s%ss limit stays %.0f a minute: %s", WHO(L), b->noun, after, why);
}

/* Takes a budget's figures; 1 when its announced figure or unit changed. */
static int take(struct limits *L, struct budget *b, int64_t limit, int64_t reset_ms,
		int64_t remaining)
{
	if (remaining >= 0 && remaining != b->remaining) {
		b->remaining = remaining;
		L->dirty = 1;
	}
	return announced_take(&b->ann, limit, remaining, reset_ms, L->board->minute_ms);
}

/* Nothing left of a daily quota: the run waits for its reset (the pace holds everyone until
 * then), told once, and again if the reset moves. */
static int quota(struct limits *L, struct pace *p, const struct budget *b, int64_t remaining,
		 int64_t reset_ms, int64_t now)
{
	if (b->ann.unit != UNIT_DAY || remaining != 0 || reset_ms <= 0)
		return 0;
	int64_t until = now + reset_ms;
	pace_hold_until(p, until);
	int moved = L->paused_until && (until - L->paused_until > PAUSE_MOVED_MS ||
					L->paused_until - until > PAUSE_MOVED_MS);
	if (L->paused_until && !moved)
		return 1;
	L->paused_until = until;
	L->resume_wall = wall_ms() + reset_ms;
	snprintf(L->pause, sizeof L->pause, "daily %s quota exhausted", b->noun);
	char at[48];
	limits_clock(at, sizeof at, L->resume_wall, wall_ms());
	log_warn("%s%s%s; resumes at %s", WHO(L), L->pause, at);
	publish(L, now);
	return 1;
}

int limits_report(struct limits *L, struct pace *p, const struct ratelimit_info *l, int64_t now)
{
	int req = take(L, &L->req, l->limit_requests, l->reset_requests_ms, l->remaining_requests);
	int tok = take(L, &L->tok, l->limit_tokens, l->reset_tokens_ms, l->remaining_tokens);
	if (req || tok) {
		double r0 = p->rpm, t0 = p->tpm;
		pace_limits(p, announced_cap(&L->req.ann), announced_cap(&L->tok.ann));
		if (req)
			tell(L, &L->req, r0, p->rpm);
		if (tok)
			tell(L, &L->tok, t0, p->tpm);
		publish(L, now);
	}
	int q = quota(L, p, &L->req, l->remaining_requests, l->reset_requests_ms, now);
	return quota(L, p, &L->tok, l->remaining_tokens, l->reset_tokens_ms, now) || q;
}

void limits_lowered(struct limits *L, const struct pace *p, double before)
{
	double after = p->rate_factor;
	if (after >= before)
		return; /* at the floor already */
	if (!L->lowered)
		L->lowered_429s = 0;
	L->lowered = 1;
	L->lowered_429s++;
	L->lowest = after;
	log_warn("%s%srate lowered after an HTTP 429: %.0f -> %.0f requests and %.0f -> %.0f tokens a "
		 "minute (climbing back %.0f%% a second)", WHO(L), p->rpm * before, p->rpm * after,
		 p->tpm * before, p->tpm * after, PACE_RECOVERY_PER_S * 100);
	publish(L, now_ms());
}

void limits_tick(struct limits *L, const struct pace *p, int64_t now)
{
	if (L->lowered && p->rate_factor >= 1.0) {
		L->lowered = 0;
		log_warn("%s%srate back to %.0f requests and %.0f tokens a minute (lowered to %.0f "
			 "requests after %llu HTTP 429s)", WHO(L), p->rpm, p->tpm, p->rpm * L->lowest,
			 (unsigned long long)L->lowered_429s);
		publish(L, now);
	}
	if (L->paused_until && now >= L->paused_until) {
		log_warn("%s%s%s until now: renewed, the run goes on", WHO(L), L->pause);
		L->paused_until = 0;
		L->pause[0] = '\0';
		publish(L, now);
	}
	if (L->dirty && now - L->published_at >= PUBLISH_EVERY_MS)
		publish(L, now);
}
