/* items.c: where the per-row items of a rows stage's answer are. The stage names the field
 * that carries the row id (item_key); the answer's items are the array of objects holding
 * that field, one level down (the usual {"rows": [{"id": ...}, ...]}) or the answer itself
 * when it is such an array. The schema is searched the same way, so a job is refused at
 * start when its schema can never yield items, and export takes its columns from it. */
#include "items.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* Follows a local "$ref" ("#/$defs/X", "#/definitions/X") one step at a time. */
const json *items_resolve(const json *root, const json *s)
{
	for (int hops = 0; s && json_kind(s) == J_OBJECT && hops < 16; hops++) {
		const char *ref = json_string(json_get(s, "$ref"));
		if (!ref)
			return s;
		if (ref[0] != '#')
			return NULL;
		const json *at = root;
		char part[256];
		for (const char *p = ref + 1; at && *p == '/';) {
			size_t n = strcspn(p + 1, "/");
			snprintf(part, sizeof part, "%.*s", (int)n, p + 1);
			at = json_get(at, part);
			p += n + 1;
		}
		s = at;
	}
	return s;
}

static int has_property(const json *root, const json *items, const char *key)
{
	items = items_resolve(root, items);
	return items && json_get(json_get(items, "properties"), key) != NULL;
}

const json *items_schema(const json *root, const char *key, const char **array_name)
{
	const json *top = items_resolve(root, root);
	if (!top)
		return NULL;
	if (array_name)
		*array_name = NULL;
	const json *own = json_get(top, "items");
	if (own && has_property(root, own, key))
		return items_resolve(root, own);
	for (const json *p = json_first(json_get(top, "properties")); p; p = json_next(p)) {
		const json *items = json_get(items_resolve(root, p), "items");
		if (items && has_property(root, items, key)) {
			if (array_name)
				*array_name = json_key(p);
			return items_resolve(root, items);
		}
	}
	return NULL;
}

int schema_items_field(const char *schema_text, const char *key, char *why, size_t whylen)
{
	json *root = json_parse(schema_text, strlen(schema_text), why, whylen);
	if (!root)
		return -1;
	int rc = items_schema(root, key, NULL) ? 0 : -1;
	if (rc)
		snprintf(why, whylen, "no array of objects with a property \"%s\" (item_key) in "
			 "its answer", key);
	json_free(root);
	return rc;
}

static int carries(const json *arr, const char *key)
{
	if (json_kind(arr) != J_ARRAY)
		return 0;
	for (const json *e = json_first(arr); e; e = json_next(e))
		if (json_kind(e) == J_OBJECT && json_get(e, key))
			return 1;
	return !json_first(arr); /* an empty array answers nothing, but is the place */
}

const json *items_in_answer(const json *answer, const char *key)
{
	if (carries(answer, key) && json_first(answer))
		return answer;
	const json *empty = NULL;
	for (const json *p = json_first(answer); json_kind(answer) == J_OBJECT && p;
	     p = json_next(p))
		if (carries(p, key)) {
			if (json_first(p))
				return p;
			empty = empty ? empty : p;
		}
	return empty;
}

const char *item_id(const json *item, const char *key, char *tmp, size_t tmplen)
{
	const json *v = json_get(item, key);
	if (json_kind(v) == J_STRING)
		return json_string(v);
	if (json_kind(v) == J_NUMBER) {
		double d = json_number(v);
		if (d == (double)(long long)d)
			snprintf(tmp, tmplen, "%lld", (long long)d);
		else
			snprintf(tmp, tmplen, "%.17g", d);
		return tmp;
	}
	return NULL;
}
