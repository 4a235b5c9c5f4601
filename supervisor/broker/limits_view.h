/* limits_view.h: the effective limits as the broker publishes them in DIR/run/limits.json,
 * the broker's only file: written by the broker (limits.c) whenever they change, read by
 * `kgsup status` (text and --json, where the same object is printed as "limits") and by the
 * supervisor (a batch held through a quota's pause is not a stuck worker). */
#ifndef KGSUP_LIMITS_VIEW_H
#define KGSUP_LIMITS_VIEW_H

#include <stdint.h>
#include <stdio.h>

#include "../../common/buf.h"
#include "../../common/config.h"

#define LIMITS_FILE "run/limits.json"

/* One budget, requests or tokens, per minute. */
struct limit_view {
	double effective;  /* what the broker paces to now */
	char source[16];   /* of effective: "config", "announced" (by the server), "after_429" */
	double limit;      /* before any 429: the configured one or the server's per-minute one */
	double configured;
	int64_t announced; /* the server's figure, in its unit; -1: none */
	char unit[16];     /* that unit (announce.h), "" with no figure */
	int64_t remaining; /* what the server last said remains; -1: nothing said */
};

#define LIMITS_VIEW_MODELS CONFIG_MAX_MODEL_LIMITS

/* The limits of one model listed in limits.models. */
struct model_limits_view {
	char model[128];
	struct limit_view req, tok;
	int64_t resume_wall;
	char pause[64];
};

/* At the top, the limits of the models not listed in limits.models (of all models when there
 * is no such list: the file is then as it was before models had limits of their own). */
struct limits_view {
	int trust; /* limits.trust_announced */
	struct limit_view req, tok;
	int64_t resume_wall; /* epoch ms the pause for an exhausted quota ends; 0: none */
	char pause[64];      /* why: "daily request quota exhausted" */
	size_t nmodels;      /* listed in limits.models, in its order */
	struct model_limits_view models[LIMITS_VIEW_MODELS];
};

/* The view of the configured limits alone (before a session's broker has published any). */
void limits_view_config(struct limits_view *v, const struct config *cfg);
void limits_view_json(buf *b, const struct limits_view *v);
/* Replaces the file (no fsync: a snapshot for status, rewritten by the next change); 0 or -1. */
int limits_view_write(const char *state_dir, const struct limits_view *v);
/* The published view; the configured limits when there is none. */
void limits_view_read(struct limits_view *v, const char *state_dir, const struct config *cfg);
/* status's lines; the pause only while the run is live and the pause not over. */
void limits_view_text(FILE *f, const struct limits_view *v, int live);
/* The latest end of a pause for an exhausted quota, of any model; 0: none. */
int64_t limits_view_resume(const struct limits_view *v);
/* "14:00 UTC" (a pause of 10 minutes or more, rounded up), "13:52:07 UTC", with the date
 * in front when it is not today's. */
void limits_clock(char *out, size_t len, int64_t at_ms, int64_t now_wall_ms);

#endif
