/* config.c: the settings table and the JSON reader that checks a file against it. */
#include "config.h"
#include "config_impl.h"
#include "json.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* C_RAW: any JSON value kept as its compact text (NULL for null), read by its own module;
 * a C_RAW setting of section "" is a top-level key. */
enum ctype { C_STR, C_STR_OR_NULL, C_INT, C_NUM, C_BOOL, C_RAW };

struct setting {
	const char *section;
	const char *key;
	enum ctype type;
	size_t offset;
	double min, max; /* for numbers; for strings min=1 means non-empty */
	double def_num;
	const char *def_str;
};

#define OFF(f) offsetof(struct config, f)

/* The one table: every key kgsup reads, with its bounds and default. README lists the same. */
static const struct setting settings[] = {
	{ "api", "base_url", C_STR, OFF(base_url), 1, 0, 0, "https://api.openai.com/v1" },
	{ "api", "model", C_STR, OFF(model), 1, 0, 0, "gpt-4o-mini" },
	{ "api", "api_key_env", C_STR, OFF(api_key_env), 1, 0, 0, "OPENAI_API_KEY" },
	{ "api", "api_key_file", C_STR_OR_NULL, OFF(api_key_file), 1, 0, 0, NULL },
	{ "api", "ca_file", C_STR_OR_NULL, OFF(ca_file), 1, 0, 0, NULL },
	{ "api", "ca_path", C_STR_OR_NULL, OFF(ca_path), 1, 0, 0, NULL },
	{ "api", "timeout_s", C_NUM, OFF(timeout_s), 1, 3600, 120, NULL },
	{ "api", "connect_timeout_s", C_NUM, OFF(connect_timeout_s), 0.1, 600, 10, NULL },
	{ "api", "temperature", C_NUM, OFF(temperature), 0, 2, 0, NULL },
	{ "api", "max_tokens", C_INT, OFF(max_tokens), 1, 1000000, 2048, NULL },
	{ "api", "json_mode", C_BOOL, OFF(json_mode), 0, 1, 1, NULL },
	{ "api", "structured_outputs", C_BOOL, OFF(structured_outputs), 0, 1, 0, NULL },
	{ "api", "embeddings_base64", C_BOOL, OFF(embeddings_base64), 0, 1, 1, NULL },
	{ "api", "max_input_tokens", C_INT, OFF(max_input_tokens), 16, 1e8, 100000, NULL },
	{ "api", "max_response_bytes", C_INT, OFF(max_response_bytes), 1024, 1 << 30, 16 << 20, NULL },
	{ "limits", "requests_per_minute", C_INT, OFF(requests_per_minute), 1, 100000000, 500, NULL },
	{ "limits", "tokens_per_minute", C_INT, OFF(tokens_per_minute), 1, 1e12, 200000, NULL },
	{ "limits", "max_in_flight", C_INT, OFF(max_in_flight), 0, 100000, 0, NULL },
	{ "limits", "window_s", C_NUM, OFF(window_s), 0, 60, 0, NULL },
	{ "limits", "trust_announced", C_BOOL, OFF(trust_announced), 0, 1, 1, NULL },
	{ "limits", "models", C_RAW, OFF(limits_models), 0, 0, 0, NULL },
	{ "limits", "broker", C_STR_OR_NULL, OFF(broker), 1, 0, 0, NULL },
	{ "limits", "broker_public_key", C_STR_OR_NULL, OFF(broker_public_key), 1, 0, 0, NULL },
	{ "limits", "client_key", C_STR_OR_NULL, OFF(client_key), 1, 0, 0, NULL },
	{ "limits", "batch_queue_tokens", C_INT, OFF(batch_queue_tokens), 0, 1e13, 0, NULL },
	{ "retry", "max_attempts", C_INT, OFF(max_attempts), 1, 100, 6, NULL },
	{ "retry", "backoff_base_ms", C_INT, OFF(backoff_base_ms), 1, 600000, 500, NULL },
	{ "retry", "backoff_cap_ms", C_INT, OFF(backoff_cap_ms), 1, 3600000, 60000, NULL },
	{ "run", "workers", C_INT, OFF(workers), 1, WORKERS_MAX, 16, NULL },
	{ "run", "stop_deadline_s", C_INT, OFF(stop_deadline_s), 0, 3600, 30, NULL },
	{ "run", "mode", C_STR, OFF(run_mode), 1, 0, 0, "live" },
	{ "batch", "max_requests", C_INT, OFF(batch_max_requests), 1, 50000, 50000, NULL },
	{ "batch", "max_file_mb", C_NUM, OFF(batch_max_file_mb), 0.001, 200, 200, NULL },
	{ "batch", "poll_s", C_NUM, OFF(batch_poll_s), 0.05, 3600, 15, NULL },
	{ "batch", "fallback", C_STR, OFF(batch_fallback), 1, 0, 0, "live" },
	{ "batch", "completion_window", C_STR, OFF(batch_window), 1, 0, 0, "24h" },
	{ "batch", "max_wait_h", C_NUM, OFF(batch_max_wait_h), 0, 8760, 24, NULL },
	{ "batch", "expected_h", C_NUM, OFF(batch_expected_h), 0.001, 8760, 24, NULL },
	{ "chunking", "chunk_tokens", C_INT, OFF(chunk_tokens), 16, 1000000, 600, NULL },
	{ "chunking", "overlap_tokens", C_INT, OFF(overlap_tokens), 0, 1000000, 60, NULL },
	{ "chunking", "chunks_per_batch", C_INT, OFF(chunks_per_batch), 1, 1000, 10, NULL },
	{ "prompt", "system", C_STR, OFF(prompt_system), 0, 0, 0, "" },
	{ "prompt", "user", C_STR, OFF(prompt_user), 0, 0, 0, "" },
	{ "prompt", "entity_types", C_STR, OFF(entity_types), 1, 0, 0,
	  "person, organization, place, event, concept, product" },
	{ "pricing", "input_per_mtok", C_NUM, OFF(input_per_mtok), 0, 1e6, 0.15, NULL },
	{ "pricing", "output_per_mtok", C_NUM, OFF(output_per_mtok), 0, 1e6, 0.60, NULL },
	{ "pricing", "models", C_RAW, OFF(pricing_models), 0, 0, 0, NULL },
	{ "pricing", "batch_discount", C_NUM, OFF(batch_discount), 0, 1, 0.5, NULL },
	{ "cache", "path", C_STR_OR_NULL, OFF(cache_path), 1, 0, 0, NULL },
	{ "cache", "ttl_days", C_INT, OFF(cache_ttl_days), 0, 100000, 0, NULL },
	{ "graph", "titles", C_STR, OFF(graph_titles), 0, 0, 0,
	  "dr, mr, mrs, ms, mx, prof, sir, dame" },
	{ "graph", "aliases_file", C_STR_OR_NULL, OFF(graph_aliases_file), 1, 0, 0, NULL },
	{ "graph", "max_descriptions", C_INT, OFF(graph_max_descriptions), 0, 1000, 5, NULL },
	{ "graph", "resolve", C_BOOL, OFF(graph_resolve), 0, 1, 0, NULL },
	{ "graph", "resolve_threshold", C_NUM, OFF(graph_resolve_threshold), 0, 1, 0.92, NULL },
	{ "input", "id_column", C_STR_OR_NULL, OFF(input_id_column), 1, 0, 0, NULL },
	{ "input", "text_column", C_STR_OR_NULL, OFF(input_text_column), 1, 0, 0, NULL },
	{ "input", "keep_columns", C_RAW, OFF(input_keep_columns), 0, 0, 0, NULL },
	{ "input", "sheet", C_STR_OR_NULL, OFF(input_sheet), 1, 0, 0, NULL },
	{ "report", "score_column", C_STR_OR_NULL, OFF(report_score_column), 1, 0, 0, NULL },
	{ "trace", "max_mb", C_NUM, OFF(trace_max_mb), 0, 1e6, 64, NULL },
	{ "", "stages", C_RAW, OFF(stages), 0, 0, 0, NULL },
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

static char **str_at(struct config *c, const struct setting *s)
{
	return (char **)((char *)c + s->offset);
}

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		void *field = (char *)c + s->offset;
		switch (s->type) {
		case C_STR:
		case C_STR_OR_NULL:
		case C_RAW:
			*str_at(c, s) = s->def_str ? xstrdup(s->def_str) : NULL;
			break;
		case C_INT: *(int64_t *)field = (int64_t)s->def_num; break;
		case C_NUM: *(double *)field = s->def_num; break;
		case C_BOOL: *(int *)field = s->def_num != 0; break;
		}
	}
}

static void prices_free(struct config *c)
{
	for (size_t i = 0; i < c->nprices; i++)
		free(c->prices[i].model);
	free(c->prices);
	c->prices = NULL;
	c->nprices = 0;
}

void config_free(struct config *c)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (settings[i].type == C_STR || settings[i].type == C_STR_OR_NULL ||
		    settings[i].type == C_RAW) {
			free(*str_at(c, &settings[i]));
			*str_at(c, &settings[i]) = NULL;
		}
	prices_free(c);
	config_model_limits_free(c);
	free(c->config_file);
	c->config_file = NULL;
}

static const struct setting *find_setting(const char *section, const char *key)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (!strcmp(settings[i].section, section) && !strcmp(settings[i].key, key))
			return &settings[i];
	return NULL;
}

static int section_known(const char *section)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (*section && !strcmp(settings[i].section, section))
			return 1;
	return 0;
}

#define FAIL(...)                                          \
	do {                                               \
		snprintf(err, errlen, __VA_ARGS__);        \
		return -1;                                 \
	} while (0)

static int set_number(struct config *c, const struct setting *s, const json *v, const char *name,
		      char *err, size_t errlen)
{
	if (json_kind(v) != J_NUMBER)
		FAIL("%s: %s.%s: expected a number, got %s", name, s->section, s->key,
		     json_kind_name(json_kind(v)));
	double d = json_number(v);
	if (s->type == C_INT && d != floor(d))
		FAIL("%s: %s.%s: expected a whole number, got %g", name, s->section, s->key, d);
	if (d < s->min || d > s->max)
		FAIL("%s: %s.%s: %g is out of range (%g to %g)", name, s->section, s->key, d, s->min,
		     s->max);
	void *field = (char *)c + s->offset;
	if (s->type == C_INT)
		*(int64_t *)field = (int64_t)d;
	else
		*(double *)field = d;
	return 0;
}

/* pricing.models: {"MODEL": {"input_per_mtok": N, "output_per_mtok": N}, ...} */
static int set_prices(struct config *c, const json *v, const char *name, char *err, size_t errlen)
{
	prices_free(c);
	if (json_kind(v) != J_OBJECT)
		FAIL("%s: pricing.models: expected an object keyed by model name", name);
	for (const json *m = json_first(v); m; m = json_next(m)) {
		if (json_kind(m) != J_OBJECT)
			FAIL("%s: pricing.models.%s: expected an object", name, json_key(m));
		c->prices = xrealloc(c->prices, (c->nprices + 1) * sizeof *c->prices);
		struct model_price *p = &c->prices[c->nprices++];
		p->model = xstrdup(json_key(m));
		p->input_per_mtok = p->output_per_mtok = -1; /* not given: the run's rate */
		for (const json *f = json_first(m); f; f = json_next(f)) {
			int in = !strcmp(json_key(f), "input_per_mtok");
			if (!in && strcmp(json_key(f), "output_per_mtok"))
				FAIL("%s: pricing.models.%s.%s: unknown key", name, p->model, json_key(f));
			double d = json_number(f);
			if (json_kind(f) != J_NUMBER || d < 0 || d > 1e6)
				FAIL("%s: pricing.models.%s.%s: expected a number from 0 to 1e6", name,
				     p->model, json_key(f));
			*(in ? &p->input_per_mtok : &p->output_per_mtok) = d;
		}
	}
	return 0;
}

static int set_raw(struct config *c, const struct setting *s, const json *v, const char *name,
		   char *err, size_t errlen)
{
	free(*str_at(c, s));
	*str_at(c, s) = NULL;
	if (json_kind(v) == J_NULL) {
		if (s->offset == OFF(pricing_models))
			prices_free(c);
		if (s->offset == OFF(limits_models))
			config_model_limits_free(c);
		return 0;
	}
	if (s->offset == OFF(stages) && json_kind(v) != J_ARRAY)
		FAIL("%s: stages: expected an array of stages", name);
	if (s->offset == OFF(pricing_models) && set_prices(c, v, name, err, errlen))
		return -1;
	if (s->offset == OFF(limits_models) &&
	    config_set_model_limits(c, v, name, find_setting("limits", "requests_per_minute")->max,
				    find_setting("limits", "tokens_per_minute")->max, err, errlen))
		return -1;
	if (s->offset == OFF(input_keep_columns)) {
		size_t n = 0;
		if (json_kind(v) != J_ARRAY)
			FAIL("%s: input.keep_columns: expected an array of column names", name);
		for (const json *e = json_first(v); e; e = json_next(e), n++)
			if (!json_string(e) || !*json_string(e) || n == 64)
				FAIL("%s: input.keep_columns[%zu]: expected a column name (at most 64)",
				     name, n);
	}
	buf b;
	buf_init(&b);
	json_write(v, &b);
	*str_at(c, s) = xstrndup(b.data, b.len);
	buf_free(&b);
	return 0;
}

static int set_value(struct config *c, const struct setting *s, const json *v, const char *name,
		     char *err, size_t errlen)
{
	enum json_kind k = json_kind(v);
	switch (s->type) {
	case C_INT:
	case C_NUM:
		return set_number(c, s, v, name, err, errlen);
	case C_BOOL:
		if (k != J_TRUE && k != J_FALSE)
			FAIL("%s: %s.%s: expected true or false, got %s", name, s->section, s->key,
			     json_kind_name(k));
		*(int *)((char *)c + s->offset) = k == J_TRUE;
		return 0;
	case C_RAW:
		return set_raw(c, s, v, name, err, errlen);
	case C_STR_OR_NULL:
		if (k == J_NULL) {
			free(*str_at(c, s));
			*str_at(c, s) = NULL;
			return 0;
		}
		/* fall through */
	case C_STR:
		if (k != J_STRING)
			FAIL("%s: %s.%s: expected a string, got %s", name, s->section, s->key,
			     json_kind_name(k));
		if (s->min >= 1 && !*json_string(v))
			FAIL("%s: %s.%s: must not be empty", name, s->section, s->key);
		free(*str_at(c, s));
		*str_at(c, s) = xstrdup(json_string(v));
		return 0;
	}
	return 0;
}

/* A server on this machine has no provider's limits: with a loopback base_url and no limit in
 * the config, the defaults (a provider's first tier) do not apply. */
static void local_limits(struct config *c, const char *text, size_t len)
{
	char url[4096];
	if (!strncmp(c->base_url, "https://", 8))
		snprintf(url, sizeof url, "http://%s", c->base_url + 8);
	else
		snprintf(url, sizeof url, "%s", c->base_url);
	json *root = json_parse(text, len, NULL, 0);
	const json *limits = json_get(root, "limits");
	int given = json_get(limits, "requests_per_minute") || json_get(limits, "tokens_per_minute");
	json_free(root);
	if (given || !config_is_loopback_http(url))
		return;
	c->requests_per_minute = (int64_t)find_setting("limits", "requests_per_minute")->max;
	c->tokens_per_minute = (int64_t)find_setting("limits", "tokens_per_minute")->max;
}

int config_parse(struct config *c, const char *text, size_t len, const char *name, char *err,
		 size_t errlen)
{
	char perr[128];
	json *root = json_parse(text, len, perr, sizeof perr);
	if (!root)
		FAIL("%s: %s", name, perr);
	int rc = 0;
	if (json_kind(root) != J_OBJECT) {
		snprintf(err, errlen, "%s: the top level must be an object", name);
		rc = -1;
	}
	for (json *sec = json_first(root); sec && !rc; sec = json_next(sec)) {
		const char *sname = json_key(sec);
		const struct setting *top = find_setting("", sname);
		if (top) {
			rc = set_value(c, top, sec, name, err, errlen);
			continue;
		}
		if (!section_known(sname)) {
			snprintf(err, errlen, "%s: %s: unknown key", name, sname);
			rc = -1;
			break;
		}
		if (json_kind(sec) != J_OBJECT) {
			snprintf(err, errlen, "%s: %s: expected an object", name, sname);
			rc = -1;
			break;
		}
		for (json *kv = json_first(sec); kv && !rc; kv = json_next(kv)) {
			const struct setting *s = find_setting(sname, json_key(kv));
			if (!s) {
				snprintf(err, errlen, "%s: %s.%s: unknown key", name, sname, json_key(kv));
				rc = -1;
			} else {
				rc = set_value(c, s, kv, name, err, errlen);
			}
		}
	}
	json_free(root);
	if (!rc)
		local_limits(c, text, len);
	return rc ? rc : config_check(c, name, err, errlen);
}

int config_check(const struct config *c, const char *name, char *err, size_t errlen)
{
	if (c->overlap_tokens * 2 > c->chunk_tokens)
		FAIL("%s: chunking.overlap_tokens: %lld must be at most half of chunking.chunk_tokens",
		     name, (long long)c->overlap_tokens);
	if (c->backoff_base_ms > c->backoff_cap_ms)
		FAIL("%s: retry.backoff_base_ms: must not exceed retry.backoff_cap_ms", name);
	if (strncmp(c->base_url, "https://", 8) && !config_is_loopback_http(c->base_url))
		FAIL("%s: api.base_url: must start with https:// (plain http:// only to 127.x, "
		     "localhost or [::1])", name);
	if (strcmp(c->run_mode, "live") && strcmp(c->run_mode, "batch") &&
	    strcmp(c->run_mode, "auto"))
		FAIL("%s: run.mode: \"%.40s\" is not \"live\", \"batch\" or \"auto\"", name,
		     c->run_mode);
	if (strcmp(c->batch_fallback, "live") && strcmp(c->batch_fallback, "batch"))
		FAIL("%s: batch.fallback: \"%.40s\" is not \"live\" or \"batch\"", name,
		     c->batch_fallback);
	return config_check_broker(c, name, err, errlen);
}

int config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	size_t len;
	char *text = read_file(path, 1 << 20, &len);
	if (!text)
		FAIL("%s: cannot read: %s", path, strerror(errno));
	int rc = config_parse(c, text, len, path, err, errlen);
	free(text);
	free(c->config_file);
	c->config_file = xstrdup(path);
	/* the keys' paths are the config file's: made absolute, since the run's copy of the
	 * settings (DIR/run/config.json) is read from elsewhere */
	if (!rc)
		config_absolute_path(&c->broker_public_key, path);
	if (!rc)
		config_absolute_path(&c->client_key, path);
	return rc;
}

void config_to_json(const struct config *c, buf *b)
{
	const char *section = NULL;
	buf_putc(b, '{');
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		if (!*s->section)
			continue; /* top-level keys follow the sections */
		if (!section || strcmp(section, s->section)) {
			if (section)
				buf_puts(b, "},");
			buf_json_str(b, s->section, strlen(s->section));
			buf_puts(b, ":{");
			section = s->section;
		} else {
			buf_putc(b, ',');
		}
		buf_json_str(b, s->key, strlen(s->key));
		buf_putc(b, ':');
		const void *field = (const char *)c + s->offset;
		switch (s->type) {
		case C_STR:
		case C_STR_OR_NULL: {
			const char *v = *(char *const *)field;
			if (v)
				buf_json_str(b, v, strlen(v));
			else
				buf_puts(b, "null");
			break;
		}
		case C_RAW: {
			const char *v = *(char *const *)field;
			buf_puts(b, v ? v : "null");
			break;
		}
		case C_INT: buf_printf(b, "%lld", (long long)*(const int64_t *)field); break;
		case C_NUM: buf_printf(b, "%.17g", *(const double *)field); break;
		case C_BOOL: buf_puts(b, *(const int *)field ? "true" : "false"); break;
		}
	}
	buf_puts(b, "}");
	for (size_t i = 0; i < NSETTINGS; i++) {
		if (*settings[i].section || settings[i].type != C_RAW)
			continue;
		const char *v = *(char *const *)((const char *)c + settings[i].offset);
		if (v) {
			buf_putc(b, ',');
			buf_json_str(b, settings[i].key, strlen(settings[i].key));
			buf_putc(b, ':');
			buf_puts(b, v);
		}
	}
	buf_putc(b, '}');
}

double config_cost_model(const struct config *c, const char *model, uint64_t prompt_tokens,
			 uint64_t completion_tokens)
{
	for (size_t i = 0; model && i < c->nprices; i++)
		if (!strcmp(c->prices[i].model, model)) {
			const struct model_price *p = &c->prices[i];
			double in = p->input_per_mtok >= 0 ? p->input_per_mtok : c->input_per_mtok;
			double out = p->output_per_mtok >= 0 ? p->output_per_mtok : c->output_per_mtok;
			return ((double)prompt_tokens * in + (double)completion_tokens * out) / 1e6;
		}
	return config_cost_usd(c, prompt_tokens, completion_tokens);
}

double config_cost_usd(const struct config *c, uint64_t prompt_tokens, uint64_t completion_tokens)
{
	return ((double)prompt_tokens * c->input_per_mtok +
		(double)completion_tokens * c->output_per_mtok) / 1e6;
}

