/* limits.h: the broker's effective limits and where they come from: the configured ones,
 * capped by a per-minute limit the server announces (announce.h judges the unit), the rate
 * lowered after 429s while it climbs back (pace.h), and the run paused while a daily quota is
 * used up. Every change of a limit is a warning naming both figures and the reason; what holds
 * is published in DIR/run/limits.json (limits_view.h) for `kgsup status` and the supervisor.
 * Each model with limits of its own (limits.models) has its limits and its pace; a board
 * holds them all, and what is published is all of them. */
#ifndef KGSUP_LIMITS_H
#define KGSUP_LIMITS_H

#include "announce.h"
#include "pace.h"
#include "limits_view.h"
#include "../../common/ratehdr.h"

/* What the server says of one budget. */
struct budget {
	const char *noun; /* "request", "token" */
	struct announced ann;
	int64_t remaining; /* the latest figure, -1: none */
};

struct limits_board;

struct limits {
	struct budget req, tok;
	struct limits_board *board; /* where it is published, with the other models' */
	const char *model;  /* named in warnings; NULL: the models with no limits of their own */
	const struct pace *pace; /* the model's, as published */
	int lowered;        /* the rate is under the limits after 429s, climbing back */
	double lowest;      /* the rate factor it fell to */
	uint64_t lowered_429s;
	int64_t paused_until; /* CLOCK_MONOTONIC ms an exhausted quota resets; 0: no pause */
	int64_t resume_wall;  /* the same, epoch ms */
	char pause[64];       /* "daily request quota exhausted" */
	int dirty;            /* a remaining figure not yet published */
	int64_t published_at;
};

/* Every model's limits, published together. */
struct limits_board {
	const char *state_dir; /* NULL: a shared broker's, published in memory only (view) */
	struct limits_view view; /* as last published */
	int trust;          /* limits.trust_announced (the broker drops the headers when false) */
	int64_t minute_ms;  /* how long a minute is taken to be (announce.h) */
	struct limits *all[LIMITS_VIEW_MODELS + 1]; /* the first: the models not listed */
	size_t n;
};

void limits_board_init(struct limits_board *B, const char *state_dir, int trust,
		       int64_t minute_ms);
/* Joins a model's limits to the board (model NULL: those of the models not listed, first) and
 * publishes the board with the configured limits of its pace, just made. */
void limits_init(struct limits *L, struct limits_board *B, const char *model,
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
