/* limits_view.c: DIR/run/limits.json, written by the broker, read by status and the supervisor
 * (limits_view.h). Each budget's fields are one table, for the writer and the reader both. */
#include "limits_view.h"
#include "../../common/json.h"
#include "../../common/paths.h"
#include "../../common/util.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum fkind { F_NUM, F_OPT_INT, F_STR }; /* F_OPT_INT: -1 is null; F_STR: "" is null */

static const struct field {
	const char *name;
	enum fkind kind;
	size_t off;
} fields[] = {
	{ "effective", F_NUM, offsetof(struct limit_view, effective) },
	{ "source", F_STR, offsetof(struct limit_view, source) },
	{ "limit", F_NUM, offsetof(struct limit_view, limit) },
	{ "configured", F_NUM, offsetof(struct limit_view, configured) },
	{ "announced", F_OPT_INT, offsetof(struct limit_view, announced) },
	{ "announced_unit", F_STR, offsetof(struct limit_view, unit) },
	{ "remaining", F_OPT_INT, offsetof(struct limit_view, remaining) },
};
#define NFIELDS (sizeof fields / sizeof fields[0])
#define STR_MAX 16 /* the size of every F_STR field */

static void budget_config(struct limit_view *b, double configured)
{
	*b = (struct limit_view){ .effective = configured, .limit = configured,
				  .configured = configured, .announced = -1, .remaining = -1 };
	snprintf(b->source, sizeof b->source, "config");
}

void limits_view_config(struct limits_view *v, const struct config *cfg)
{
	memset(v, 0, sizeof *v);
	v->trust = cfg->trust_announced;
	budget_config(&v->req, (double)cfg->requests_per_minute);
	budget_config(&v->tok, (double)cfg->tokens_per_minute);
	for (size_t i = 0; i < cfg->nmodel_limits && i < LIMITS_VIEW_MODELS; i++) {
		struct model_limits_view *m = &v->models[v->nmodels++];
		int64_t rpm, tpm;
		config_model_limits(cfg, cfg->model_limits[i].model, &rpm, &tpm);
		snprintf(m->model, sizeof m->model, "%s", cfg->model_limits[i].model);
		budget_config(&m->req, (double)rpm);
		budget_config(&m->tok, (double)tpm);
	}
}

static void budget_json(buf *b, const struct limit_view *lv)
{
	for (size_t i = 0; i < NFIELDS; i++) {
		const char *at = (const char *)lv + fields[i].off;
		buf_printf(b, "%s\"%s\":", i ? "," : "{", fields[i].name);
		if (fields[i].kind == F_NUM)
			buf_printf(b, "%.0f", *(const double *)at);
		else if (fields[i].kind == F_OPT_INT && *(const int64_t *)at >= 0)
			buf_printf(b, "%lld", (long long)*(const int64_t *)at);
		else if (fields[i].kind == F_STR && *at)
			buf_json_str(b, at, strlen(at));
		else
			buf_puts(b, "null");
	}
	buf_putc(b, '}');
}

/* ,"paused_until":...,"pause_reason":... of one model, or of those not listed */
static void pause_json(buf *b, int64_t resume_wall, const char *pause)
{
	if (resume_wall > 0) {
		time_t t = (time_t)(resume_wall / 1000);
		struct tm tm;
		char iso[32];
		gmtime_r(&t, &tm);
		strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
		buf_printf(b, ",\"paused_until\":\"%s\",\"paused_until_ms\":%lld,\"pause_reason\":", iso,
			   (long long)resume_wall);
		buf_json_str(b, pause, strlen(pause));
	} else {
		buf_puts(b, ",\"paused_until\":null,\"paused_until_ms\":null,\"pause_reason\":null");
	}
}

static void lane_json(buf *b, const struct limit_view *req, const struct limit_view *tok,
		      int64_t resume_wall, const char *pause)
{
	buf_puts(b, "\"requests_per_minute\":");
	budget_json(b, req);
	buf_puts(b, ",\"tokens_per_minute\":");
	budget_json(b, tok);
	pause_json(b, resume_wall, pause);
}

void limits_view_json(buf *b, const struct limits_view *v)
{
	buf_printf(b, "{\"trust_announced\":%s,", v->trust ? "true" : "false");
	lane_json(b, &v->req, &v->tok, v->resume_wall, v->pause);
	/* only with limits.models: without it the file stays as it was before */
	if (v->nmodels) {
		buf_puts(b, ",\"models\":{");
		for (size_t i = 0; i < v->nmodels; i++) {
			const struct model_limits_view *m = &v->models[i];
			buf_puts(b, i ? "," : "");
			buf_json_str(b, m->model, strlen(m->model));
			buf_putc(b, ':');
			buf_putc(b, '{');
			lane_json(b, &m->req, &m->tok, m->resume_wall, m->pause);
			buf_putc(b, '}');
		}
		buf_putc(b, '}');
	}
	buf_putc(b, '}');
}

int limits_view_write(const char *state_dir, const struct limits_view *v)
{
	char path[PATHS_MAX], tmp[PATHS_MAX + 16];
	paths_file(path, sizeof path, state_dir, LIMITS_FILE);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	buf b;
	buf_init(&b);
	limits_view_json(&b, v);
	buf_putc(&b, '\n');
	FILE *f = fopen(tmp, "w");
	int rc = f && fwrite(b.data, 1, b.len, f) == b.len ? 0 : -1;
	if (f && fclose(f))
		rc = -1;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -1;
	if (rc)
		unlink(tmp);
	buf_free(&b);
	return rc;
}

static void budget_read(struct limit_view *lv, const json *o)
{
	for (size_t i = 0; i < NFIELDS; i++) {
		const json *f = json_get(o, fields[i].name);
		char *at = (char *)lv + fields[i].off;
		if (fields[i].kind == F_STR && json_string(f))
			snprintf(at, STR_MAX, "%s", json_string(f));
		else if (json_kind(f) != J_NUMBER)
			continue;
		else if (fields[i].kind == F_NUM)
			*(double *)at = json_number(f);
		else if (fields[i].kind == F_OPT_INT)
			*(int64_t *)at = (int64_t)json_number(f);
	}
}

/* A pause told with its reason, of one model or of those not listed. */
static void pause_read(const json *o, int64_t *resume_wall, char *pause, size_t len)
{
	const json *until = json_get(o, "paused_until_ms");
	const char *why = json_string(json_get(o, "pause_reason"));
	if (json_kind(until) == J_NUMBER && why) {
		*resume_wall = (int64_t)json_number(until);
		snprintf(pause, len, "%s", why);
	}
}

void limits_view_read(struct limits_view *v, const char *state_dir, const struct config *cfg)
{
	limits_view_config(v, cfg);
	char path[PATHS_MAX];
	paths_file(path, sizeof path, state_dir, LIMITS_FILE);
	size_t len;
	char *text = read_file(path, 1 << 18, &len);
	json *root = text ? json_parse(text, len, NULL, 0) : NULL;
	free(text);
	if (json_kind(root) != J_OBJECT) {
		json_free(root);
		return;
	}
	v->trust = json_kind(json_get(root, "trust_announced")) != J_FALSE;
	budget_read(&v->req, json_get(root, "requests_per_minute"));
	budget_read(&v->tok, json_get(root, "tokens_per_minute"));
	pause_read(root, &v->resume_wall, v->pause, sizeof v->pause);
	const json *models = json_get(root, "models");
	if (json_kind(models) == J_OBJECT)
		v->nmodels = 0;
	for (const json *m = json_first(models); m && v->nmodels < LIMITS_VIEW_MODELS;
	     m = json_next(m)) {
		struct model_limits_view *mv = &v->models[v->nmodels++];
		memset(mv, 0, sizeof *mv);
		snprintf(mv->model, sizeof mv->model, "%s", json_key(m));
		budget_config(&mv->req, 0);
		budget_config(&mv->tok, 0);
		budget_read(&mv->req, json_get(m, "requests_per_minute"));
		budget_read(&mv->tok, json_get(m, "tokens_per_minute"));
		pause_read(m, &mv->resume_wall, mv->pause, sizeof mv->pause);
	}
	json_free(root);
}

int64_t limits_view_resume(const struct limits_view *v)
{
	int64_t at = v->resume_wall;
	for (size_t i = 0; i < v->nmodels; i++)
		if (v->models[i].resume_wall > at)
			at = v->models[i].resume_wall;
	return at;
}

_Static_assert(sizeof(((struct limit_view *)0)->source) == STR_MAX &&
		       sizeof(((struct limit_view *)0)->unit) == STR_MAX,
	       "every F_STR field holds STR_MAX bytes");

void limits_clock(char *out, size_t len, int64_t at_ms, int64_t now_wall_ms)
{
	int coarse = at_ms - now_wall_ms >= 10 * 60000;
	int64_t step = coarse ? 60000 : 1000; /* rounded up: never earlier than it is */
	time_t t = (time_t)((at_ms + step - 1) / step * step / 1000);
	time_t now = (time_t)(now_wall_ms / 1000);
	struct tm tm, today;
	gmtime_r(&t, &tm);
	gmtime_r(&now, &today);
	int other_day = tm.tm_yday != today.tm_yday || tm.tm_year != today.tm_year;
	char fmt[32];
	snprintf(fmt, sizeof fmt, "%s%s UTC", other_day ? "%Y-%m-%d " : "",
		 coarse ? "%H:%M" : "%H:%M:%S");
	strftime(out, len, fmt, &tm);
}

/* "requests 120 a minute: announced by the server (configured 1200); ..." */
static void budget_text(FILE *f, const char *lead, const char *noun, const struct limit_view *b)
{
	fprintf(f, "%s%s %.0f a minute: ", lead, noun, b->effective);
	if (!strcmp(b->source, "announced"))
		fprintf(f, "announced by the server (configured %.0f)", b->configured);
	else if (!strcmp(b->source, "after_429"))
		fprintf(f, "lowered after 429s, climbing back to %.0f (%s)", b->limit,
			b->limit < b->configured ? "announced by the server" : "configured");
	else
		fprintf(f, "configured");
	if (b->announced >= 0 && !strcmp(b->unit, "unknown"))
		fprintf(f, "; the server announces %lld without a reset, no unit to go by",
			(long long)b->announced);
	else if (b->announced >= 0 && strcmp(b->unit, "minute"))
		fprintf(f, "; the server announces %lld a %s, not a per-minute limit",
			(long long)b->announced, b->unit);
	if (b->remaining >= 0)
		fprintf(f, " (%lld left)", (long long)b->remaining);
	fputc('\n', f);
}

/* The pause of a quota used up, while the run is live and the pause not over. */
static void pause_text(FILE *f, const char *who, int64_t resume_wall, const char *pause, int live)
{
	int64_t now = wall_ms();
	if (live && resume_wall > now) {
		char at[48];
		limits_clock(at, sizeof at, resume_wall, now);
		fprintf(f, "paused     %s%s; resumes at %s\n", who, pause, at);
	}
}

void limits_view_text(FILE *f, const struct limits_view *v, int live)
{
	/* with limits.models, the top limits are those of the models not listed */
	const char *others = v->nmodels ? "other models: " : "";
	char lead[200];
	snprintf(lead, sizeof lead, "limits     %s", others);
	budget_text(f, lead, "requests", &v->req);
	snprintf(lead, sizeof lead, "           %s", others);
	budget_text(f, lead, "tokens", &v->tok);
	for (size_t i = 0; i < v->nmodels; i++) {
		const struct model_limits_view *m = &v->models[i];
		snprintf(lead, sizeof lead, "           %s: ", m->model);
		budget_text(f, lead, "requests", &m->req);
		budget_text(f, lead, "tokens", &m->tok);
	}
	if (!v->trust)
		fprintf(f, "           (the server's x-ratelimit-* headers are ignored: "
			   "limits.trust_announced is false)\n");
	pause_text(f, "", v->resume_wall, v->pause, live);
	for (size_t i = 0; i < v->nmodels; i++) {
		char who[140];
		snprintf(who, sizeof who, "%s: ", v->models[i].model);
		pause_text(f, who, v->models[i].resume_wall, v->models[i].pause, live);
	}
}
