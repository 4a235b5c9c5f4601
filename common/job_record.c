/* job_record.c: a job as the run records it (one self-contained JSON document, texts inline,
 * read back by job_parse), and its release. */
#include "job.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

void job_to_json(const struct job *j, buf *b)
{
	buf_puts(b, "[");
	for (size_t i = 0; i < j->n; i++) {
		const struct stage *st = &j->st[i];
		buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
		buf_json_str(b, st->name, strlen(st->name));
		if (st->endpoint == EP_EMBEDDINGS) {
			job_embed_to_json(st, b);
			continue;
		}
		buf_printf(b, ",\"over\":\"%s\",\"graph\":%s,\"model\":", stage_over_names[st->over],
			   st->graph ? "true" : "false");
		buf_json_str(b, st->model, strlen(st->model));
		buf_printf(b, ",\"max_tokens\":%lld,\"temperature\":%.17g,\"per_call\":%lld,"
			   "\"max_input_tokens\":%lld,\"schema\":%s,\"prompt\":{\"system\":",
			   (long long)st->max_tokens, st->temperature, (long long)st->per_call,
			   (long long)st->max_input_tokens, st->schema ? st->schema : "null");
		buf_json_str(b, st->system, strlen(st->system));
		buf_puts(b, ",\"user\":");
		buf_json_str(b, st->user, strlen(st->user));
		buf_puts(b, "}");
		if (st->item_key) {
			buf_puts(b, ",\"item_key\":");
			buf_json_str(b, st->item_key, strlen(st->item_key));
		}
		if (st->needs) {
			buf_puts(b, ",\"needs\":[");
			for (size_t k = 0, n = 0; k < j->n; k++)
				if (st->needs & (1u << k)) {
					buf_puts(b, n++ ? ",\"" : "\"");
					buf_puts(b, j->st[k].name);
					buf_putc(b, '"');
				}
			buf_putc(b, ']');
		}
		if (st->token_budget || st->top_n || st->ninclude) {
			buf_puts(b, ",\"context\":{\"include_keys\":[");
			for (size_t k = 0; k < st->ninclude; k++) {
				if (k)
					buf_putc(b, ',');
				buf_json_str(b, st->include_keys[k], strlen(st->include_keys[k]));
			}
			buf_putc(b, ']');
			if (st->token_budget)
				buf_printf(b, ",\"token_budget\":%lld", (long long)st->token_budget);
			if (st->top_n)
				buf_printf(b, ",\"top_n\":%lld", (long long)st->top_n);
			buf_putc(b, '}');
		}
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
}

void job_free(struct job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		struct stage *st = &j->st[i];
		free(st->name);
		free(st->model);
		free(st->system);
		free(st->user);
		free(st->schema);
		free(st->item_key);
		for (size_t k = 0; k < st->ninclude; k++)
			free(st->include_keys[k]);
		free(st->include_keys);
	}
	free(j->st);
	memset(j, 0, sizeof *j);
}
