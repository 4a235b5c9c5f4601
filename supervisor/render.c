/* render.c: request bodies from the stages' templates and what the store holds. */
#include "render.h"
#include "cache.h"
#include "rowstore.h"
#include "vecs.h"
#include "../common/chunk.h"
#include "../common/hash.h"
#include "../common/schema.h"
#include "../common/util.h"

#include <string.h>

void rendered_init(struct rendered *r)
{
	memset(r, 0, sizeof *r);
	buf_init(&r->body);
	buf_init(&r->chunk_ids);
	buf_init(&r->chunks);
	buf_init(&r->text);
	buf_init(&r->doc);
	buf_init(&r->context);
}

void rendered_free(struct rendered *r)
{
	buf_free(&r->body);
	buf_free(&r->chunk_ids);
	buf_free(&r->chunks);
	buf_free(&r->text);
	buf_free(&r->doc);
	buf_free(&r->context);
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

/* The texts of a rows batch (a range of its stage's ask list) still unanswered, a line each: "[row <id>] <text>", the text on
 * one line (a run of white space holding a line break becomes one space). */
static int rows_text(store_txn *t, uint32_t stage, const struct batch_rec *b, buf *out, buf *ids)
{
	for (uint32_t i = 0; i < b->nchunks; i++) {
		uint32_t chunk;
		const char *a;
		size_t alen, n;
		if (row_ask_get(t, stage, b->first_chunk + i, &chunk))
			return -1;
		const void *v;
		struct chunk_rec c;
		struct row_view r;
		if (!row_answer_get(t, stage, chunk, &a, &alen))
			continue;
		if (record_get(t, DB_CHUNKS, chunk, &v, &n) || n < sizeof c)
			return -1;
		memcpy(&c, v, sizeof c);
		if (row_read(t, c.index, &r))
			return -1;
		if (ids->len) {
			buf_putc(out, '\n');
			buf_putc(ids, '\n');
		}
		buf_puts(out, "[row ");
		buf_put(out, r.id, r.idlen);
		buf_puts(out, "] ");
		buf_put(ids, r.id, r.idlen);
		const char *p = (const char *)v + sizeof c, *end = (const char *)v + n;
		while (p < end) { /* (LMDB's text is not NUL-terminated: no strspn) */
			const char *q = p;
			int newline = 0;
			while (q < end && (*q == ' ' || (*q >= '\t' && *q <= '\r')))
				newline |= *q == '\n' || *q == '\r', q++;
			if (newline)
				buf_putc(out, ' ');
			else
				buf_put(out, p, (size_t)(q - p));
			for (p = q; q < end && *q != ' ' && !(*q >= '\t' && *q <= '\r');)
				q++;
			buf_put(out, p, (size_t)(q - p));
			p = q;
		}
	}
	return 0;
}

struct value {
	const char *data;
	size_t len;
	int set;
};

/* Fills the placeholders that have a value; any other "{{" is left as it is (a template of a
 * run without stages is not checked, and kept its text then). */
static void expand(buf *out, const char *tmpl, const struct value *val)
{
	const char *p = tmpl;
	for (;;) {
		const char *open = strstr(p, "{{");
		if (!open) {
			buf_puts(out, p);
			return;
		}
		buf_put(out, p, (size_t)(open - p));
		size_t len;
		int ph = placeholder_at(open, &len);
		if (ph >= 0 && val[ph].set) {
			buf_put(out, val[ph].data, val[ph].len);
			p = open + len;
		} else {
			buf_put(out, "{{", 2);
			p = open + 2;
		}
	}
}

static void set_value(struct value *v, const char *data, size_t len)
{
	v->data = data;
	v->len = len;
	v->set = 1;
}

/* A document's name and text (cut at max bytes, not inside a UTF-8 sequence). */
static int document_values(store_txn *t, uint32_t doc, size_t max, struct value *val)
{
	const void *v;
	size_t n;
	if (record_get(t, DB_DOCS, doc, &v, &n) || n < 4 || rd_u32be(v) > n - 4)
		return -1;
	const char *p = v;
	size_t name = rd_u32be(v);
	set_value(&val[PH_DOCUMENT_NAME], p + 4, name);
	size_t len = n - 4 - name;
	if (len > max) {
		len = max;
		while (len && ((unsigned char)p[4 + name + len] & 0xc0) == 0x80)
			len--;
	}
	set_value(&val[PH_DOCUMENT], p + 4 + name, len);
	return 0;
}

static void body_head(buf *body, const struct config *cfg, const struct stage *st)
{
	buf_puts(body, "{\"model\":");
	buf_json_str(body, st->model, strlen(st->model));
	buf_printf(body, ",\"temperature\":%.17g,\"max_tokens\":%lld", st->temperature,
		   (long long)st->max_tokens);
	const char *schema = st->schema;
	int strict = st->strict;
	if (!schema && st->graph && schema_kg()) {
		size_t n;
		schema = schema_text(schema_kg(), &n);
		strict = schema_is_strict(schema_kg());
	}
	if (cfg->structured_outputs && schema) {
		buf_puts(body, ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":");
		buf_json_str(body, st->name, strlen(st->name));
		buf_printf(body, ",\"schema\":%s,\"strict\":%s}}", schema, strict ? "true" : "false");
	} else if (cfg->json_mode) {
		buf_puts(body, ",\"response_format\":{\"type\":\"json_object\"}");
	}
}

/* What the stage's placeholders stand for in batch n. */
static int fill_values(store_txn *t, const struct render_src *src, const struct stage *st,
		       const struct batch_ext *x, const struct batch_rec *b, struct rendered *out,
		       struct value *val)
{
	const struct job *job = src->job;
	set_value(&val[PH_ENTITY_TYPES], src->cfg->entity_types, strlen(src->cfg->entity_types));
	if (st->over == OVER_CHUNKS) {
		if (chunks_text(t, b, &out->chunks, &out->chunk_ids))
			return -1;
		set_value(&val[PH_CHUNKS], out->chunks.data, out->chunks.len);
	}
	if (st->over == OVER_ROWS) {
		if (rows_text(t, x->stage, b, &out->chunks, &out->chunk_ids))
			return -1;
		set_value(&val[PH_ROWS], out->chunks.data, out->chunks.len);
	}
	if (job->legacy)
		return 0;
	if (document_values(t, x->doc, (size_t)st->max_input_tokens * BYTES_PER_TOKEN, val) &&
	    st->over == OVER_DOCUMENTS)
		return -1;
	if (st->needs) {
		if (context_build(t, job, src->deps, x->stage, x->doc, &out->context, &out->ctx))
			return -1;
		set_value(&val[PH_CONTEXT], out->context.data, out->context.len);
	}
	const char *schema = st->schema;
	size_t n = schema ? strlen(schema) : 0;
	if (!schema && st->graph && schema_kg())
		schema = schema_text(schema_kg(), &n);
	if (schema)
		set_value(&val[PH_SCHEMA], schema, n);
	return 0;
}

int render_batch(store_txn *t, const struct render_src *src, uint32_t n,
		 const struct batch_rec *b, struct rendered *out)
{
	buf_reset(&out->chunks);
	buf_reset(&out->text);
	buf_reset(&out->body);
	buf_reset(&out->chunk_ids);
	memset(&out->ctx, 0, sizeof out->ctx);
	struct batch_ext x;
	memset(&x, 0, sizeof x);
	if (!src->job->legacy && (batchx_read(t, n, &x) || x.stage >= src->job->n))
		return -1;
	const struct stage *st = &src->job->st[x.stage];
	out->stage = x.stage;
	if (st->endpoint == EP_EMBEDDINGS) {
		if (vecs_render(t, src->job, src->cfg, x.stage, b, &out->body, &out->est_tokens))
			return -1;
		cache_request_key(out->body.data, out->body.len, out->key);
		return 0;
	}
	struct value val[PH_COUNT];
	memset(val, 0, sizeof val);
	if (fill_values(t, src, st, &x, b, out, val))
		return -1;
	buf *body = &out->body, *text = &out->text;
	body_head(body, src->cfg, st);
	buf_puts(body, ",\"messages\":[{\"role\":\"system\",\"content\":");
	struct value chunks = val[PH_CHUNKS];
	if (src->job->legacy) /* as before stages: the system template had no chunks */
		val[PH_CHUNKS].set = 0;
	expand(text, st->system, val);
	val[PH_CHUNKS] = chunks;
	buf_json_str(body, text->data, text->len);
	buf_puts(body, "},{\"role\":\"user\",\"content\":");
	buf_reset(text);
	expand(text, st->user, val);
	buf_json_str(body, text->data, text->len);
	buf_puts(body, "}]}");
	cache_request_key(body->data, body->len, out->key);
	out->est_tokens = (uint32_t)(body->len / BYTES_PER_TOKEN + (size_t)st->max_tokens);
	return 0;
}
