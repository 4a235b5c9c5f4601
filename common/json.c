/* json.c: a thin, opaque layer over cJSON (the only file that includes cJSON.h). */
#include "json.h"
#include "buf.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define J(v) ((cJSON *)(v))

static void describe_error(const char *text, size_t len, const char *at, char *err, size_t errlen)
{
	if (!err || !errlen)
		return;
	if (!at || at < text || at > text + len)
		at = text + len;
	int line = 1, col = 1;
	for (const char *p = text; p < at; p++) {
		if (*p == '\n')
			line++, col = 1;
		else
			col++;
	}
	snprintf(err, errlen, "line %d, column %d: %s", line, col,
		 at == text + len ? "unexpected end of input" : "invalid JSON");
}

json *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root) {
		describe_error(text, len, cJSON_GetErrorPtr(), err, errlen);
		return NULL;
	}
	while (end < text + len && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t' || *end == '\0'))
		end++;
	if (end != text + len) {
		describe_error(text, len, end, err, errlen);
		if (err && errlen)
			strncat(err, " (trailing data)", errlen - strlen(err) - 1);
		cJSON_Delete(root);
		return NULL;
	}
	return (json *)root;
}

json *json_parse_prefix(const char *text, size_t len, size_t *consumed)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (root && consumed)
		*consumed = (size_t)(end - text);
	return (json *)root;
}

json *json_find_object(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	const char *fence = memmem(p, len, "```", 3);
	if (fence) {
		const char *nl = memchr(fence, '\n', (size_t)(end - fence));
		if (nl) {
			p = nl + 1;
			const char *close = memmem(p, (size_t)(end - p), "```", 3);
			if (close)
				end = close;
		}
	}
	const char *first = p;
	while (first < end && (*first == ' ' || *first == '\t' || *first == '\n' || *first == '\r'))
		first++;
	/* an answer that is an array is not its first object: the rest would be lost */
	if (first < end && *first == '[')
		return NULL;
	const char *brace = memchr(p, '{', (size_t)(end - p));
	if (!brace)
		return NULL;
	size_t used;
	return json_parse_prefix(brace, (size_t)(end - brace), &used);
}

void json_free(json *root)
{
	cJSON_Delete(J(root));
}

enum json_kind json_kind(const json *v)
{
	if (!v)
		return J_INVALID;
	switch (J(v)->type & 0xff) {
	case cJSON_NULL: return J_NULL;
	case cJSON_False: return J_FALSE;
	case cJSON_True: return J_TRUE;
	case cJSON_Number: return J_NUMBER;
	case cJSON_String: return J_STRING;
	case cJSON_Array: return J_ARRAY;
	case cJSON_Object: return J_OBJECT;
	}
	return J_INVALID;
}

const char *json_kind_name(enum json_kind k)
{
	static const char *names[] = { "invalid", "null", "boolean", "boolean", "number",
				       "string", "array", "object" };
	return names[k];
}

json *json_get(const json *obj, const char *key)
{
	if (json_kind(obj) != J_OBJECT)
		return NULL;
	return (json *)cJSON_GetObjectItemCaseSensitive(J(obj), key);
}

json *json_first(const json *container)
{
	enum json_kind k = json_kind(container);
	if (k != J_ARRAY && k != J_OBJECT)
		return NULL;
	return (json *)J(container)->child;
}

json *json_next(const json *item)
{
	return item ? (json *)J(item)->next : NULL;
}

void json_remove(json *container, json *item)
{
	cJSON_Delete(cJSON_DetachItemViaPointer(J(container), J(item)));
}

const char *json_key(const json *member)
{
	return member ? J(member)->string : NULL;
}

double json_number(const json *v)
{
	return json_kind(v) == J_NUMBER ? J(v)->valuedouble : 0.0;
}

const char *json_string(const json *v)
{
	return json_kind(v) == J_STRING ? J(v)->valuestring : NULL;
}

void json_write(const json *v, buf *b)
{
	char *s = cJSON_PrintUnformatted(J(v));
	if (!s) {
		buf_puts(b, "null");
		return;
	}
	buf_puts(b, s);
	cJSON_free(s);
}
