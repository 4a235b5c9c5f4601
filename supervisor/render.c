/* render.c: request bodies from the prompt templates and the stored chunks. */
#include "render.h"
#include "cache.h"
#include "../common/chunk.h"
#include "../common/hash.h"
#include "../common/util.h"

#include <string.h>

void rendered_init(struct rendered *r)
{
	buf_init(&r->body);
	buf_init(&r->chunk_ids);
	buf_init(&r->chunks);
	buf_init(&r->text);
}

void rendered_free(struct rendered *r)
{
	buf_free(&r->body);
	buf_free(&r->chunk_ids);
	buf_free(&r->chunks);
	buf_free(&r->text);
}

/* The chunks of a batch as the user prompt presents them. */
static int chunks_text(store_txn *t, const struct batch_rec *b, buf *out, buf *ids)
{
	for (uint32_t i = 0; i < b->nchunks; i++) {
		const void *v;
		size_t n;
		if (record_get(t, DB_CHUNKS, b->first_chunk + i, &v, &n) || n < sizeof(struct chunk_rec))
			return -1;
		struct chunk_rec c; /* LMDB values are not aligned: copy the record out */
		memcpy(&c, v, sizeof c);
		if (i) {
			buf_puts(out, "\n\n");
			buf_putc(ids, '\n');
		}
		buf_puts(out, "[chunk ");
		buf_put(out, c.id, CHUNK_ID_LEN);
		buf_puts(out, "]\n");
		buf_put(out, (const char *)v + sizeof c, n - sizeof c);
		buf_put(ids, c.id, CHUNK_ID_LEN);
	}
	return 0;
}

/* Expands {{entity_types}} and {{chunks}} in a template. */
static void expand(buf *out, const char *tmpl, const char *entity_types, const buf *chunks)
{
	const char *p = tmpl;
	for (;;) {
		const char *open = strstr(p, "{{");
		if (!open) {
			buf_puts(out, p);
			return;
		}
		buf_put(out, p, (size_t)(open - p));
		if (!strncmp(open, "{{chunks}}", 10) && chunks) {
			buf_put(out, chunks->data, chunks->len);
			p = open + 10;
		} else if (!strncmp(open, "{{entity_types}}", 16)) {
			buf_puts(out, entity_types);
			p = open + 16;
		} else {
			buf_put(out, "{{", 2);
			p = open + 2;
		}
	}
}

int render_batch(store_txn *t, const struct config *cfg, const struct prompts *pr,
		 const struct batch_rec *b, struct rendered *out)
{
	buf *chunks = &out->chunks, *text = &out->text;
	buf_reset(chunks);
	buf_reset(text);
	buf_reset(&out->body);
	buf_reset(&out->chunk_ids);
	int rc = chunks_text(t, b, chunks, &out->chunk_ids);
	if (rc == 0) {
		buf *body = &out->body;
		buf_puts(body, "{\"model\":");
		buf_json_str(body, cfg->model, strlen(cfg->model));
		buf_printf(body, ",\"temperature\":%.17g,\"max_tokens\":%lld", cfg->temperature,
			   (long long)cfg->max_tokens);
		if (cfg->json_mode)
			buf_puts(body, ",\"response_format\":{\"type\":\"json_object\"}");
		buf_puts(body, ",\"messages\":[{\"role\":\"system\",\"content\":");
		expand(text, pr->system, cfg->entity_types, NULL);
		buf_json_str(body, text->data, text->len);
		buf_puts(body, "},{\"role\":\"user\",\"content\":");
		buf_reset(text);
		expand(text, pr->user, cfg->entity_types, chunks);
		buf_json_str(body, text->data, text->len);
		buf_puts(body, "}]}");
		cache_request_key(body->data, body->len, out->key);
		out->est_tokens = (uint32_t)(body->len / BYTES_PER_TOKEN + (size_t)cfg->max_tokens);
	}
	return rc;
}
