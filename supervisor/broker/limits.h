/* limits.h: the broker's effective limits and where they come from: the configured ones,
 * capped by a per-minute limit the server announces (announce.h judges the unit), the rate
 * lowered after 429s while it climbs back (pace.h), and the run paused while a daily quota is
 * used up. Every change of a limit is a warning naming both figures and the reason; what holds
 * is published in DIR/run/limits.json (limits_view.h) for `kgsup status` and the supervisor. */
#ifndef KGSUP_LIMITS_H
#define KGSUP_LIMITS_H

#include "announce.h"
#include "pace.h"
#include "../../common/ratehdr.h"

/* What the server says of one budget. */
struct budget {
	const char *noun; /* "request", "token" */
	struct announced ann;
	int64_t remaining; /* the latest figure, -1: none */
};

struct limits {
	struct budget req, tok;
	const char *state_dir;
	int trust;          /* limits.trust_announced (the broker drops the headers when false) */
	int64_t minute_ms;  /* how long a minute is taken to be (announce.h) */
	int lowered;        /* the rate is under the limits after 429s, climbing back */
	double lowest;      /* the rate factor it fell to */
	uint64_t lowered_429s;
	int64_t paused_until; /* CLOCK_MONOTONIC ms an exhausted quota resets; 0: no pause */
	int64_t resume_wall;  /* the same, epoch ms */
	char pause[64];       /* "daily request quota exhausted" */
	int dirty;            /* a remaining figure not yet published */
	int64_t published_at;
};

/* Publishes the configured limits of a pace just made. */
void limits_init(struct limits *L, const char *state_dir, int trust, int64_t minute_ms,
		 const struct pace *p);
/* One answer's x-ratelimit-* headers: units judged, the pace capped by a per-minute figure, a
 * daily quota used up paused for. Returns 1 when the answer says a daily quota is used up (a
 * 429 with it is the quota, not our rate). */
int limits_report(struct limits *L, struct pace *p, const struct ratelimit_info *l, int64_t now);
/* A 429 took the pace's rate factor down from `before`. */
void limits_lowered(struct limits *L, const struct pace *p, double before);
/* Every turn: the rate back at its limits, a pause over, remaining figures published (at
 * most once a second). */
void limits_tick(struct limits *L, const struct pace *p, int64_t now);

#endif
