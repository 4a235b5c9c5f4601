/* answer.c: the chat-completions envelope, and knowledge-graph answers: validated against
 * their schema (schema.c), then normalised. */
#include "answer.h"
#include "json.h"
#include "names.h"
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL_OUT(...)                                 \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		goto out;                           \
	} while (0)

/* A token count from usage; -1 when missing, negative or absurd (it is cast to an integer). */
static int64_t usage_field(const json *usage, const char *key)
{
	const json *v = json_get(usage, key);
	double d = json_number(v);
	return json_kind(v) == J_NUMBER && d >= 0 && d < 1e15 ? (int64_t)d : -1;
}

int answer_parse_envelope(const char *body, size_t len, struct envelope *env, char *err,
			  size_t errlen)
{
	memset(env, 0, sizeof *env);
	env->prompt_tokens = env->completion_tokens = -1;
	char perr[96];
	int rc = -1;
	json *root = json_parse(body, len, perr, sizeof perr);
	if (!root)
		FAIL_OUT("response body is not JSON (%s)", perr);
	const json *choice = json_first(json_get(root, "choices"));
	if (json_kind(choice) != J_OBJECT)
		FAIL_OUT("response has no choices");
	const char *content = json_string(json_get(json_get(choice, "message"), "content"));
	if (!content)
		FAIL_OUT("response has no message content");
	const char *fr = json_string(json_get(choice, "finish_reason"));
	snprintf(env->finish_reason, sizeof env->finish_reason, "%s", fr ? fr : "");
	const json *usage = json_get(root, "usage");
	env->prompt_tokens = usage_field(usage, "prompt_tokens");
	env->completion_tokens = usage_field(usage, "completion_tokens");
	env->content = strdup(content);
	rc = env->content ? 0 : -1;
out:
	json_free(root);
	return rc;
}

void envelope_free(struct envelope *env)
{
	free(env->content);
	env->content = NULL;
}

/* A message kept from an error body is at most this long (bytes); a text body's first
 * ERROR_TEXT_MAX bytes are kept. */
#define ERROR_MSG_MAX 400
#define ERROR_TEXT_MAX 200

/* Appends s[0..n) as one line: runs of white space and control characters become one space
 * (a text body is often an HTML page), none at the ends; cut at max bytes, between UTF-8
 * characters (the message goes into JSON). */
static void put_line(buf *out, const char *s, size_t n, size_t max)
{
	size_t start = out->len;
	int space = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == 0x7f) {
			space = out->len > start;
			continue;
		}
		size_t clen = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (clen > n - i || out->len - start + (size_t)space + clen > max)
			break;
		if (space)
			buf_putc(out, ' ');
		space = 0;
		buf_put(out, s + i, clen);
		i += clen - 1;
	}
}

static void put_str(buf *out, const char *s)
{
	if (out->len && s && *s)
		buf_puts(out, ": ");
	if (s)
		put_line(out, s, strlen(s), ERROR_MSG_MAX);
}

/* FastAPI's "detail": a string, or a list of {"loc":[...],"msg":...} written "loc: msg; ...". */
static void put_detail(buf *out, const json *d)
{
	if (json_kind(d) == J_STRING) {
		put_str(out, json_string(d));
		return;
	}
	buf text;
	buf_init(&text);
	for (const json *it = json_kind(d) == J_ARRAY ? json_first(d) : NULL; it; it = json_next(it)) {
		const char *msg = json_string(json_get(it, "msg"));
		if (text.len)
			buf_puts(&text, "; ");
		int n = 0;
		for (const json *l = json_first(json_get(it, "loc")); msg && l; l = json_next(l)) {
			if (n++)
				buf_putc(&text, '.');
			if (json_kind(l) == J_STRING)
				buf_puts(&text, json_string(l));
			else
				buf_printf(&text, "%g", json_number(l));
		}
		if (n)
			buf_puts(&text, ": ");
		if (msg)
			buf_puts(&text, msg);
		else
			json_write(it, &text);
	}
	if (json_kind(d) != J_ARRAY)
		json_write(d, &text);
	put_line(out, text.data ? text.data : "", text.len, ERROR_MSG_MAX);
	buf_free(&text);
}

/* The message of the shapes servers use: OpenAI's {"error":{"message"}}, {"error":"..",
 * "message":".."}, vLLM's {"object":"error","message"}, Ollama's {"error":".."}, FastAPI's
 * {"detail":..}. Nothing is written when the body has none of them. (A body that is a JSON
 * string, as Express's res.json sends a text, is that text.) */
static void put_json_error(buf *out, const json *root)
{
	const json *e = json_get(root, "error");
	const char *top = json_string(json_get(root, "message"));
	if (json_kind(e) == J_OBJECT)
		put_str(out, json_string(json_get(e, "message")));
	else if (json_kind(e) == J_STRING)
		put_str(out, json_string(e));
	if (top && (json_kind(e) != J_STRING || strcmp(top, json_string(e))))
		put_str(out, top);
	if (!out->len && json_get(root, "detail"))
		put_detail(out, json_get(root, "detail"));
}

char *answer_error_message(const char *body, size_t len)
{
	json *root = json_parse(body, len, NULL, 0);
	buf out;
	buf_init(&out);
	if (json_kind(root) == J_OBJECT)
		put_json_error(&out, root);
	else if (json_kind(root) == J_STRING) /* a text sent as JSON: the text, not its quotes */
		put_str(&out, json_string(root));
	if (!out.len)
		put_line(&out, body, len, ERROR_TEXT_MAX);
	json_free(root);
	char *msg = out.len ? xstrndup(out.data, out.len) : NULL;
	buf_free(&out);
	return msg;
}

static int id_in_batch(const char *id, const char *ids, size_t ids_len)
{
	size_t n = strlen(id);
	const char *p = ids, *end = ids + ids_len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (l == n && !memcmp(p, id, n))
			return 1;
		p += l + 1;
	}
	return 0;
}

/* Writes "chunks":[...]: the ids given that belong to the batch, or all of the batch's. */
static void put_chunks(buf *out, const json *chunks, const char *ids, size_t ids_len)
{
	buf_puts(out, "\"chunks\":[");
	int n = 0;
	for (const json *c = json_first(chunks); c; c = json_next(c)) {
		const char *id = json_string(c);
		if (!id || !id_in_batch(id, ids, ids_len))
			continue;
		if (n++)
			buf_putc(out, ',');
		buf_json_str(out, id, strlen(id));
	}
	if (n == 0) {
		const char *p = ids, *end = ids + ids_len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (l) {
				if (n++)
					buf_putc(out, ',');
				buf_json_str(out, p, l);
			}
			p += l + 1;
		}
	}
	buf_putc(out, ']');
}

/* A string field; "" when missing or null (the schema allows nothing else). */
static const char *field(const json *obj, const char *key)
{
	const char *s = json_string(json_get(obj, key));
	return s ? s : "";
}

static void put_field(buf *out, const char *key, const char *val, int comma)
{
	if (comma)
		buf_putc(out, ',');
	buf_json_str(out, key, strlen(key));
	buf_putc(out, ':');
	buf_json_str(out, val, strlen(val));
}

static const char *const entity_fields[] = { "name", "type", "description", NULL };
static const char *const relation_fields[] = { "source", "target", "type", "description", NULL };

/* The normal forms of the answer's entity names, '\0'-separated, for checking relation ends. */
struct known {
	const names *nm;
	buf forms;
	buf scratch;
};

static void known_add(struct known *k, const char *name)
{
	names_entity(k->nm, name, strlen(name), &k->forms);
	buf_putc(&k->forms, '\0');
}

static int known_has(struct known *k, const char *name)
{
	buf_reset(&k->scratch);
	names_entity(k->nm, name, strlen(name), &k->scratch);
	for (size_t i = 0; i < k->forms.len;) {
		size_t l = strlen(k->forms.data + i);
		if (l == k->scratch.len && !memcmp(k->forms.data + i, k->scratch.data, l))
			return 1;
		i += l + 1;
	}
	return 0;
}

/* Writes one array of items (valid against the KG schema), each with the given string fields
 * and chunks. Entities are recorded in k; relations whose ends k does not know are left out
 * and counted in dropped. */
static void put_items(buf *out, const json *arr, const char *const *fields, const char *ids,
		      size_t ids_len, struct known *k, int *dropped)
{
	int written = 0;
	int is_relation = fields == relation_fields;
	buf_putc(out, '[');
	for (const json *it = json_first(arr); it; it = json_next(it)) {
		const char *v[8];
		for (int f = 0; fields[f]; f++)
			v[f] = field(it, fields[f]);
		if (is_relation && (!known_has(k, v[0]) || !known_has(k, v[1]))) {
			(*dropped)++;
			continue;
		}
		if (!is_relation)
			known_add(k, v[0]);
		if (written++)
			buf_putc(out, ',');
		buf_putc(out, '{');
		for (int f = 0; fields[f]; f++)
			put_field(out, fields[f], v[f], f > 0);
		buf_putc(out, ',');
		put_chunks(out, json_get(it, "chunks"), ids, ids_len);
		buf_putc(out, '}');
	}
	buf_putc(out, ']');
}

/* The KG schema's rules for an item of each array an answer lists. */
static const struct {
	const char *key, *item_schema;
} kg_arrays[] = {
	{ "entities", "/properties/entities/items" },
	{ "relations", "/properties/relations/items" },
};

/* Takes the items of root's arrays that fail their item rules out of root, into inv. Returns
 * how many entities are left. */
static int drop_invalid_items(const schema *kg, json *root, struct answer_invalid *inv)
{
	char at[64], why[512];
	int entities = 0;
	for (size_t a = 0; a < sizeof kg_arrays / sizeof kg_arrays[0]; a++) {
		json *arr = json_get(root, kg_arrays[a].key);
		if (json_kind(arr) != J_ARRAY)
			continue;
		json *it = json_first(arr), *next;
		for (int i = 0; it; it = next, i++) {
			next = json_next(it);
			snprintf(at, sizeof at, "$.%s[%d]", kg_arrays[a].key, i);
			if (!schema_validate_at(kg, kg_arrays[a].item_schema, it, at, why, sizeof why)) {
				entities += a == 0;
				continue;
			}
			buf_puts(&inv->items, inv->n++ ? ",{\"path\":" : "[{\"path\":");
			buf_json_str(&inv->items, at, strlen(at));
			buf_puts(&inv->items, ",\"reason\":");
			buf_json_str(&inv->items, why, strlen(why));
			buf_puts(&inv->items, ",\"item\":");
			json_write(it, &inv->items);
			buf_putc(&inv->items, '}');
			json_remove(arr, it);
		}
	}
	if (inv->n)
		buf_putc(&inv->items, ']');
	return entities;
}

/* Validates root as a KG answer, leaving out the items that fail their rules when that makes
 * it valid with an entity left. 0, or -1 with the first error in err. */
static int kg_validate(json *root, struct answer_invalid *inv, char *err, size_t errlen)
{
	const schema *kg = schema_kg();
	if (!schema_validate(kg, root, err, errlen))
		return 0;
	char whole[512];
	if (drop_invalid_items(kg, root, inv) > 0 && inv->n &&
	    !schema_validate(kg, root, whole, sizeof whole))
		return 0;
	inv->n = 0;
	buf_reset(&inv->items);
	return -1; /* err still holds the answer's first error */
}

int answer_normalize(const schema *sch, const char *content, size_t len, const char *chunk_ids,
		     size_t ids_len, const names *nm, buf *out, int *dropped,
		     struct answer_invalid *inv, char *err, size_t errlen)
{
	*dropped = 0;
	inv->n = 0;
	buf_reset(&inv->items);
	json *root = json_find_object(content, len);
	if (!root) {
		snprintf(err, errlen, "answer content has no JSON object");
		return -1;
	}
	/* a stage's own schema may say more than the KG schema, but its answers make the graph,
	 * so they must be KG answers too */
	if ((sch && sch != schema_kg() && schema_validate(sch, root, err, errlen)) ||
	    kg_validate(root, inv, err, errlen)) {
		json_free(root);
		return -1;
	}
	struct known k = { nm, { 0 }, { 0 } };
	buf_init(&k.forms);
	buf_init(&k.scratch);
	buf_puts(out, "{\"entities\":");
	put_items(out, json_get(root, "entities"), entity_fields, chunk_ids, ids_len, &k, dropped);
	buf_puts(out, ",\"relations\":");
	put_items(out, json_get(root, "relations"), relation_fields, chunk_ids, ids_len, &k,
		  dropped);
	buf_printf(out, ",\"dropped_relations\":%d}", *dropped);
	buf_free(&k.forms);
	buf_free(&k.scratch);
	json_free(root);
	return 0;
}

int answer_check(const schema *sch, const char *content, size_t len, buf *out, char *err,
		 size_t errlen)
{
	if (sch)
		return schema_validate_text(sch, content, len, out, err, errlen);
	json *root = json_find_object(content, len);
	if (!root) {
		snprintf(err, errlen, "answer content has no JSON object");
		return -1;
	}
	json_write(root, out);
	json_free(root);
	return 0;
}
