/* job.c: stages read from the config or from a run's record, checked once here: names,
 * needs, templates' placeholders and schemas. */
#include "job.h"
#include "items.h"
#include "json.h"
#include "schema.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PH_NAME(e, s) s,
const char *const placeholder_names[PH_COUNT] = { PLACEHOLDERS(PH_NAME) };
const char *const stage_over_names[OVER_COUNT] = { STAGE_OVER(PH_NAME) };
const char *const stage_endpoint_names[EP_COUNT] = { STAGE_ENDPOINTS(PH_NAME) };
/* The placeholder a stage's user template must hold for what it runs over. */
static const char *const stage_over_unit[OVER_COUNT] = { "chunks", "document", "rows",
							 "entities" };

extern const char kgsup_prompt_system[];
extern const char kgsup_prompt_user[];

#define FAIL(...)                                   \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		return -1;                          \
	} while (0)

int placeholder_at(const char *text, size_t *len)
{
	if (text[0] != '{' || text[1] != '{')
		return -1;
	for (int i = 0; i < PH_COUNT; i++) {
		size_t n = strlen(placeholder_names[i]);
		if (!strncmp(text + 2, placeholder_names[i], n) && !strncmp(text + 2 + n, "}}", 2)) {
			*len = n + 4;
			return i;
		}
	}
	return -1;
}

/* What a placeholder needs of its stage, and what to say when the stage lacks it. */
enum { NEED_CHUNKS = 1, NEED_DOCUMENTS = 2, NEED_NEEDS = 4, NEED_SCHEMA = 8, NEED_ROWS = 16 };
static const struct {
	int ph, need;
	const char *why;
} ph_rules[] = {
	{ PH_CHUNKS, NEED_CHUNKS, "is for stages over chunks" },
	{ PH_DOCUMENT, NEED_DOCUMENTS, "is for stages over documents" },
	{ PH_ROWS, NEED_ROWS, "is for stages over rows" },
	{ PH_CONTEXT, NEED_NEEDS, "needs a stage to take it from (\"needs\")" },
	{ PH_SCHEMA, NEED_SCHEMA, "needs a \"schema\"" },
};

/* Whether placeholder ph may appear in stage st's templates ("" if so, else why not). */
static const char *placeholder_unfit(const struct stage *st, int ph)
{
	int has = (st->over == OVER_CHUNKS ? NEED_CHUNKS : 0) |
		  (st->over == OVER_DOCUMENTS ? NEED_DOCUMENTS : 0) | (st->needs ? NEED_NEEDS : 0) |
		  (st->over == OVER_ROWS ? NEED_ROWS : 0) |
		  (st->schema || st->graph ? NEED_SCHEMA : 0);
	for (size_t i = 0; i < sizeof ph_rules / sizeof ph_rules[0]; i++)
		if (ph_rules[i].ph == ph && !(has & ph_rules[i].need))
			return ph_rules[i].why;
	return "";
}

/* A template of a stage: every "{{...}}" a placeholder the stage can fill, and the user
 * template holding what the stage runs over. */
static int check_template(const struct stage *st, const char *text, const char *file, int user,
			  char *err, size_t errlen)
{
	int line = 1, seen = 0;
	for (const char *p = text; *p; p++) {
		if (*p == '\n')
			line++;
		if (p[0] != '{' || p[1] != '{')
			continue;
		size_t len;
		int ph = placeholder_at(p, &len);
		if (ph < 0) {
			size_t n = strcspn(p + 2, "}\n");
			FAIL("%s:%d: unknown placeholder {{%.*s}} (stage %s; known: {{chunks}}, "
			     "{{document}}, {{document_name}}, {{context}}, {{schema}}, {{entity_types}}, "
			     "{{rows}})",
			     file, line, (int)(n > 40 ? 40 : n), p + 2, st->name);
		}
		const char *why = placeholder_unfit(st, ph);
		if (*why)
			FAIL("%s:%d: {{%s}} %s (stage %s)", file, line, placeholder_names[ph], why,
			     st->name);
		seen |= (ph == PH_CHUNKS && st->over == OVER_CHUNKS) ||
			(ph == PH_DOCUMENT && st->over == OVER_DOCUMENTS) ||
			(ph == PH_ROWS && st->over == OVER_ROWS) || ph == PH_CONTEXT;
		p += len - 1;
	}
	if (user && !seen)
		FAIL("%s: the user template of stage %s has no {{%s}}%s", file, st->name,
		     stage_over_unit[st->over], st->needs ? " nor {{context}}" : "");
	return 0;
}

static char *read_relative(const struct config *cfg, const char *path, size_t max, char **shown,
			   char *err, size_t errlen)
{
	char full[4096];
	const char *slash = cfg->config_file ? strrchr(cfg->config_file, '/') : NULL;
	if (path[0] == '/' || !slash)
		snprintf(full, sizeof full, "%s", path);
	else
		snprintf(full, sizeof full, "%.*s/%s", (int)(slash - cfg->config_file),
			 cfg->config_file, path);
	char *text = read_file(full, max, NULL);
	if (!text)
		snprintf(err, errlen, "%s: cannot read: %s", full, strerror(errno));
	*shown = xstrdup(full);
	return text;
}

/* The schema: a file (from the config) or the JSON itself (a run's record); compact text. */
static int stage_schema(struct stage *st, const struct config *cfg, const json *v, int inline_,
			const char *where, char *err, size_t errlen)
{
	if (!v || json_kind(v) == J_NULL)
		return 0;
	char *text = NULL, *file = NULL;
	schema *s;
	if (inline_) {
		buf b;
		buf_init(&b);
		json_write(v, &b);
		s = schema_parse(b.data, b.len, where, err, errlen);
		buf_free(&b);
	} else {
		if (!json_string(v))
			FAIL("%s.schema: expected a file name", where);
		text = read_relative(cfg, json_string(v), 1 << 20, &file, err, errlen);
		s = text ? schema_parse(text, strlen(text), file, err, errlen) : NULL;
	}
	free(text);
	free(file);
	if (!s)
		return -1;
	size_t n;
	const char *t = schema_text(s, &n);
	st->schema = xstrndup(t, n);
	st->strict = schema_is_strict(s);
	schema_free(s);
	/* an answer is a JSON object: a schema whose top level refuses one refuses every answer */
	json *root = json_parse(st->schema, n, NULL, 0);
	const json *type = json_get(root, "type");
	int object = !type || (json_string(type) && !strcmp(json_string(type), "object"));
	for (const json *e = json_first(type); e && json_kind(type) == J_ARRAY; e = json_next(e))
		object |= json_string(e) && !strcmp(json_string(e), "object");
	json_free(root);
	if (!object)
		FAIL("%s.schema: its top level must allow an object (every answer is a JSON object)",
		     where);
	return 0;
}

/* prompt {system, user}: files (from the config) or texts (a run's record). */
static int stage_prompts(struct stage *st, const struct config *cfg, const json *v, int inline_,
			 const char *where, char *err, size_t errlen)
{
	if (!v && st->graph) {
		st->system = xstrdup(kgsup_prompt_system);
		st->user = xstrdup(kgsup_prompt_user);
		return 0;
	}
	const char *sys = json_string(json_get(v, "system"));
	const char *user = json_string(json_get(v, "user"));
	if (json_kind(v) != J_OBJECT || !sys || !user)
		FAIL("%s.prompt: expected {\"system\": FILE, \"user\": FILE}", where);
	if (inline_) {
		st->system = xstrdup(sys);
		st->user = xstrdup(user);
		return 0;
	}
	char *fs = NULL, *fu = NULL;
	st->system = read_relative(cfg, sys, 1 << 20, &fs, err, errlen);
	st->user = st->system ? read_relative(cfg, user, 1 << 20, &fu, err, errlen) : NULL;
	int rc = st->user && !check_template(st, st->system, fs, 0, err, errlen) &&
			 !check_template(st, st->user, fu, 1, err, errlen) ? 0 : -1;
	free(fs);
	free(fu);
	return rc;
}

static int stage_needs(struct job *j, struct stage *st, const json *v, const char *where,
		       char *err, size_t errlen)
{
	if (!v)
		return 0;
	if (json_kind(v) != J_ARRAY)
		FAIL("%s.needs: expected an array of stage names", where);
	for (const json *e = json_first(v); e; e = json_next(e)) {
		int k = json_string(e) ? job_stage(j, json_string(e)) : -1;
		if (k < 0 || (size_t)k >= j->n - 1)
			FAIL("%s.needs: \"%s\" is not an earlier stage", where,
			     json_string(e) ? json_string(e) : "?");
		st->needs |= 1u << k;
		j->st[k].dependents++;
		if (j->st[k].level + 1 > st->level)
			st->level = j->st[k].level + 1;
	}
	return 0;
}

static int stage_context(struct stage *st, const json *v, const char *where, char *err,
			 size_t errlen)
{
	if (!v)
		return 0;
	if (json_kind(v) != J_OBJECT)
		FAIL("%s.context: expected an object", where);
	for (const json *f = json_first(v); f; f = json_next(f)) {
		const char *k = json_key(f);
		double d = json_number(f);
		if (!strcmp(k, "include_keys")) {
			if (json_kind(f) != J_ARRAY)
				FAIL("%s.context.include_keys: expected an array of names", where);
			for (const json *e = json_first(f); e; e = json_next(e)) {
				if (!json_string(e))
					FAIL("%s.context.include_keys: expected strings", where);
				st->include_keys = xrealloc(st->include_keys,
							    (st->ninclude + 1) * sizeof(char *));
				st->include_keys[st->ninclude++] = xstrdup(json_string(e));
			}
		} else if (strcmp(k, "token_budget") && strcmp(k, "top_n")) {
			FAIL("%s.context.%s: unknown key (token_budget, top_n, include_keys)", where, k);
		} else if (json_kind(f) != J_NUMBER || d < 1 || d > 1e8 || d != (int64_t)d) {
			FAIL("%s.context.%s: expected a whole number from 1 to 1e8", where, k);
		} else {
			*(strcmp(k, "top_n") ? &st->token_budget : &st->top_n) = (int64_t)d;
		}
	}
	return 0;
}

enum skind { SK_INT, SK_NUM, SK_STR, SK_BOOL };
/* A stage's plain settings: unset ones take the run's (api.*, chunking.chunks_per_batch). */
static const struct stage_key {
	const char *key;
	enum skind kind;
	size_t offset;
	double min, max;
} stage_keys[] = {
	{ "model", SK_STR, offsetof(struct stage, model), 0, 0 },
	{ "max_tokens", SK_INT, offsetof(struct stage, max_tokens), 1, 1000000 },
	{ "temperature", SK_NUM, offsetof(struct stage, temperature), 0, 2 },
	{ "per_call", SK_INT, offsetof(struct stage, per_call), 1, 1000 },
	{ "max_input_tokens", SK_INT, offsetof(struct stage, max_input_tokens), 16, 1e8 },
	{ "graph", SK_BOOL, offsetof(struct stage, graph), 0, 1 },
};
#define NSTAGE_KEYS (sizeof stage_keys / sizeof stage_keys[0])
static const char *const other_keys[] = { "name", "over", "schema", "prompt", "needs", "context",
					  "item_key", "endpoint", NULL };

static int set_stage_key(struct stage *st, const struct stage_key *k, const json *v,
			 const char *where, char *err, size_t errlen)
{
	void *field = (char *)st + k->offset;
	enum json_kind kind = json_kind(v);
	double d = json_number(v);
	switch (k->kind) {
	case SK_STR:
		if (!json_string(v) || !*json_string(v))
			FAIL("%s.%s: expected a non-empty string", where, k->key);
		free(*(char **)field);
		*(char **)field = xstrdup(json_string(v));
		return 0;
	case SK_BOOL:
		if (kind != J_TRUE && kind != J_FALSE)
			FAIL("%s.%s: expected true or false", where, k->key);
		*(int *)field = kind == J_TRUE;
		return 0;
	case SK_INT:
	case SK_NUM:
		if (kind != J_NUMBER || d < k->min || d > k->max ||
		    (k->kind == SK_INT && d != (int64_t)d))
			FAIL("%s.%s: expected a %snumber from %g to %g", where, k->key,
			     k->kind == SK_INT ? "whole " : "", k->min, k->max);
		if (k->kind == SK_INT)
			*(int64_t *)field = (int64_t)d;
		else
			*(double *)field = d;
		return 0;
	}
	return 0;
}

static int known_key(const char *key)
{
	for (size_t i = 0; i < NSTAGE_KEYS; i++)
		if (!strcmp(stage_keys[i].key, key))
			return 1;
	for (int i = 0; other_keys[i]; i++)
		if (!strcmp(other_keys[i], key))
			return 1;
	return 0;
}

static int stage_name_over(struct job *j, struct stage *st, const json *v, const char *where,
			   char *err, size_t errlen)
{
	const char *name = json_string(json_get(v, "name"));
	if (!name || !*name || strlen(name) > 40 ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(name))
		FAIL("%s.name: expected a name of a-z, 0-9, _ and - (at most 40)", where);
	if (job_stage(j, name) >= 0)
		FAIL("%s.name: \"%s\" names two stages", where, name);
	st->name = xstrdup(name);
	const char *over = json_string(json_get(v, "over"));
	for (int i = 0; over && i < OVER_COUNT; i++)
		if (!strcmp(over, stage_over_names[i])) {
			st->over = (enum stage_over)i;
			int rows = st->over == OVER_ROWS;
			if (j->n > 1 && rows != j->rows)
				FAIL("%s.over: a job's stages go over rows all or none (tables or texts "
				     "in)", where);
			j->rows = rows;
			return 0;
		}
	FAIL("%s.over: expected \"chunks\", \"documents\", \"rows\" or (embedding stages) \"entities\"",
	     where);
}

/* The stage's endpoint, and for embeddings its whole reading (job_embed.c): 1 when done. */
static int stage_endpoint(struct job *j, struct stage *st, const json *v, const char *where,
			  char *err, size_t errlen)
{
	const json *ep = json_get(v, "endpoint");
	if (!ep)
		return 0;
	const char *name = json_string(ep);
	for (int i = 0; name && i < EP_COUNT; i++)
		if (!strcmp(name, stage_endpoint_names[i])) {
			st->endpoint = (enum stage_endpoint)i;
			if (st->endpoint == EP_CHAT)
				return 0;
			return stage_name_over(j, st, v, where, err, errlen) ||
					       job_embed_stage(j, st, v, where, err, errlen)
				       ? -1
				       : 1;
		}
	FAIL("%s.endpoint: expected \"chat\" or \"embeddings\"", where);
}

/* A stage over rows: its item_key (default "id") names a field of the items of an array its
 * schema's answer holds, and it needs no other stage. (A job's stages go over rows all or none,
 * the inputs being tables or texts: stage_name_over says so.) */
static int stage_rows(struct stage *st, const json *key, const char *where, char *err,
		      size_t errlen)
{
	int rows = st->over == OVER_ROWS;
	if (key && !rows)
		FAIL("%s.item_key: only a stage over rows has items", where);
	if (!rows)
		return 0;
	if (key && (!json_string(key) || !*json_string(key)))
		FAIL("%s.item_key: expected a non-empty string", where);
	st->item_key = xstrdup(key ? json_string(key) : "id");
	if (st->needs)
		FAIL("%s.needs: a stage over rows needs no other stage", where);
	if (!st->schema)
		FAIL("%s.schema: a stage over rows needs a schema (its answer's items carry the row id)",
		     where);
	char why[160];
	if (schema_items_field(st->schema, st->item_key, why, sizeof why))
		FAIL("%s.schema: %s", where, why);
	return 0;
}

static int parse_stage(struct job *j, const struct config *cfg, const json *v, int inline_,
		       const char *where, char *err, size_t errlen)
{
	struct stage *st = &j->st[j->n - 1];
	st->model = xstrdup(cfg->model);
	st->max_tokens = cfg->max_tokens;
	st->temperature = cfg->temperature;
	st->per_call = cfg->chunks_per_batch;
	st->max_input_tokens = cfg->max_input_tokens;
	if (json_kind(v) != J_OBJECT)
		FAIL("%s: expected an object", where);
	int ep = stage_endpoint(j, st, v, where, err, errlen);
	if (ep)
		return ep < 0 ? -1 : 0;
	for (const json *f = json_first(v); f; f = json_next(f)) {
		if (!known_key(json_key(f)))
			FAIL("%s.%s: unknown key", where, json_key(f));
		for (size_t i = 0; i < NSTAGE_KEYS; i++)
			if (!strcmp(stage_keys[i].key, json_key(f)) &&
			    set_stage_key(st, &stage_keys[i], f, where, err, errlen))
				return -1;
	}
	if (stage_name_over(j, st, v, where, err, errlen) ||
	    stage_needs(j, st, json_get(v, "needs"), where, err, errlen) ||
	    stage_context(st, json_get(v, "context"), where, err, errlen) ||
	    stage_schema(st, cfg, json_get(v, "schema"), inline_, where, err, errlen) ||
	    stage_prompts(st, cfg, json_get(v, "prompt"), inline_, where, err, errlen))
		return -1;
	if (st->graph && st->over != OVER_CHUNKS)
		FAIL("%s.graph: a graph stage runs over chunks", where);
	if (st->over == OVER_ENTITIES)
		FAIL("%s.over: only an embedding stage (\"endpoint\": \"embeddings\") goes over "
		     "entities", where);
	if (stage_rows(st, json_get(v, "item_key"), where, err, errlen))
		return -1;
	if ((st->token_budget || st->top_n || st->ninclude) && !st->needs)
		FAIL("%s.context: the stage needs no other stage", where);
	return 0;
}

static int parse_stages(struct job *j, const struct config *cfg, const char *text, size_t len,
			const char *name, int inline_, char *err, size_t errlen)
{
	char perr[128];
	json *root = json_parse(text, len, perr, sizeof perr);
	if (!root)
		FAIL("%s: stages: %s", name, perr);
	int rc = 0;
	if (json_kind(root) != J_ARRAY || !json_first(root)) {
		snprintf(err, errlen, "%s: stages: expected a non-empty array", name);
		rc = -1;
	}
	char where[256];
	for (const json *v = json_first(root); v && !rc; v = json_next(v)) {
		snprintf(where, sizeof where, "%s: stages[%zu]", name, j->n);
		if (j->n == JOB_MAX_STAGES) {
			snprintf(err, errlen, "%s: at most %d stages", where, JOB_MAX_STAGES);
			rc = -1;
			break;
		}
		j->st = xrealloc(j->st, (j->n + 1) * sizeof *j->st);
		memset(&j->st[j->n++], 0, sizeof *j->st);
		rc = parse_stage(j, cfg, v, inline_, where, err, errlen);
	}
	json_free(root);
	return rc;
}

int job_from_config(struct job *j, const struct config *cfg, const char *system,
		    const char *user, char *err, size_t errlen)
{
	memset(j, 0, sizeof *j);
	if (cfg->stages)
		return parse_stages(j, cfg, cfg->stages, strlen(cfg->stages),
				    cfg->config_file ? cfg->config_file : "recorded settings", 0, err, errlen);
	j->legacy = 1;
	j->n = 1;
	j->st = xcalloc(1, sizeof *j->st);
	struct stage *st = j->st;
	st->name = xstrdup("kg");
	st->over = OVER_CHUNKS;
	st->graph = 1;
	st->model = xstrdup(cfg->model);
	st->max_tokens = cfg->max_tokens;
	st->temperature = cfg->temperature;
	st->per_call = cfg->chunks_per_batch;
	st->max_input_tokens = cfg->max_input_tokens;
	st->system = xstrdup(system);
	st->user = xstrdup(user);
	return 0;
}

int job_parse(struct job *j, const struct config *cfg, const char *text, size_t len,
	      const char *name, char *err, size_t errlen)
{
	memset(j, 0, sizeof *j);
	return parse_stages(j, cfg, text, len, name, 1, err, errlen);
}

int job_stage(const struct job *j, const char *name)
{
	for (size_t i = 0; i < j->n; i++)
		if (j->st[i].name && !strcmp(j->st[i].name, name))
			return (int)i;
	return -1;
}

int job_has_needs(const struct job *j)
{
	for (size_t i = 0; i < j->n; i++)
		if (j->st[i].needs)
			return 1;
	return 0;
}
