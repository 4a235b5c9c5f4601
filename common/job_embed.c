/* job_embed.c: embedding stages. One asks POST /embeddings for a vector of each of its texts
 * (chunks, or the graph's merged entities once the graph stages are done), per_call texts a
 * call. It has no templates and no schema: its request is the model, the texts and the
 * dimensions, and its answer a list of vectors, so most of a chat stage's keys mean nothing
 * to it and are refused rather than ignored. */
#include "job.h"
#include "json.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...)                                   \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		return -1;                          \
	} while (0)

/* OpenAI's: a call holds at most 2,048 inputs and 300,000 tokens; an input at most 8,192. */
#define EMBED_MODEL_DEFAULT "text-embedding-3-small"
#define EMBED_PER_CALL_DEFAULT 256
#define EMBED_PER_CALL_MAX 2048
#define EMBED_INPUT_TOKENS_DEFAULT 8191
#define EMBED_CALL_TOKENS_DEFAULT 300000

static const struct embed_key {
	const char *key;
	size_t offset; /* an int64_t of struct stage; 0: not a number */
	double min, max;
} embed_keys[] = {
	{ "name", 0, 0, 0 },
	{ "endpoint", 0, 0, 0 },
	{ "over", 0, 0, 0 },
	{ "model", 0, 0, 0 },
	{ "per_call", offsetof(struct stage, per_call), 1, EMBED_PER_CALL_MAX },
	{ "dimensions", offsetof(struct stage, dimensions), 1, 65536 },
	{ "max_input_tokens", offsetof(struct stage, max_input_tokens), 16, 1e7 },
	{ "max_input_tokens_per_call", offsetof(struct stage, max_call_tokens), 16, 1e9 },
};
#define NEMBED_KEYS (sizeof embed_keys / sizeof embed_keys[0])

int job_embed_stage(struct job *j, struct stage *st, const json *v, const char *where,
		    char *err, size_t errlen)
{
	if (st->over != OVER_CHUNKS && st->over != OVER_ENTITIES)
		FAIL("%s.over: an embedding stage goes over \"chunks\" or \"entities\"", where);
	st->per_call = EMBED_PER_CALL_DEFAULT;
	st->max_input_tokens = EMBED_INPUT_TOKENS_DEFAULT;
	st->max_call_tokens = EMBED_CALL_TOKENS_DEFAULT;
	const json *model = json_get(v, "model");
	if (model && (!json_string(model) || !*json_string(model)))
		FAIL("%s.model: expected a non-empty string", where);
	free(st->model);
	st->model = xstrdup(model ? json_string(model) : EMBED_MODEL_DEFAULT);
	st->max_tokens = 0; /* an embedding has no completion */
	st->temperature = 0;
	for (const json *f = json_first(v); f; f = json_next(f)) {
		const struct embed_key *k = NULL;
		for (size_t i = 0; i < NEMBED_KEYS && !k; i++)
			if (!strcmp(embed_keys[i].key, json_key(f)))
				k = &embed_keys[i];
		if (!k)
			FAIL("%s.%s: not a key of an embedding stage (it has no prompt, schema or "
			     "needs)", where, json_key(f));
		if (!k->offset)
			continue;
		double d = json_number(f);
		if (json_kind(f) != J_NUMBER || d < k->min || d > k->max || d != (int64_t)d)
			FAIL("%s.%s: expected a whole number from %g to %g", where, k->key, k->min,
			     k->max);
		*(int64_t *)((char *)st + k->offset) = (int64_t)d;
	}
	if (st->max_call_tokens < st->max_input_tokens)
		FAIL("%s.max_input_tokens_per_call: below max_input_tokens (%lld): an input would "
		     "not fit a call", where, (long long)st->max_input_tokens);
	if (st->over == OVER_ENTITIES) {
		int graph = 0;
		for (size_t i = 0; i + 1 < j->n; i++)
			graph |= j->st[i].graph;
		if (!graph)
			FAIL("%s.over: entities come from graph stages, and none comes before this one",
			     where);
	}
	/* the chat settings it does not have, as a chat stage's reader expects them */
	st->system = xstrdup("");
	st->user = xstrdup("");
	return 0;
}

void job_embed_to_json(const struct stage *st, buf *b)
{
	buf_printf(b, ",\"endpoint\":\"embeddings\",\"over\":\"%s\",\"model\":",
		   stage_over_names[st->over]);
	buf_json_str(b, st->model, strlen(st->model));
	buf_printf(b, ",\"per_call\":%lld,\"max_input_tokens\":%lld,\"max_input_tokens_per_call\":%lld",
		   (long long)st->per_call, (long long)st->max_input_tokens,
		   (long long)st->max_call_tokens);
	if (st->dimensions)
		buf_printf(b, ",\"dimensions\":%lld", (long long)st->dimensions);
	buf_putc(b, '}');
}

const struct stage *job_entity_stage(const struct job *j)
{
	for (size_t i = 0; i < j->n; i++)
		if (stage_embeds_entities(&j->st[i]))
			return &j->st[i];
	return NULL;
}

int job_embeds_entities(const struct job *j)
{
	return job_entity_stage(j) != NULL;
}

int job_embeds(const struct job *j)
{
	for (size_t i = 0; i < j->n; i++)
		if (j->st[i].endpoint == EP_EMBEDDINGS)
			return 1;
	return 0;
}
