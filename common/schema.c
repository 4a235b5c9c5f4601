/* schema.c: parsing a JSON Schema (refusing what kgsup does not implement) and validating
 * values against it. The parsed schema is kept as its JSON tree: keywords are looked up as
 * they are needed, and everything a lookup relies on was checked once, at parse time. */
#include "schema_impl.h"
#include "buf.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SCHEMA (1 << 20)

/* What a keyword's value must be. */
enum arg { A_ANY, A_SCHEMA, A_SCHEMA_MAP, A_SCHEMA_LIST, A_TYPE, A_STRINGS, A_ARRAY, A_COUNT,
	   A_NUMBER, A_REF };

static const struct keyword {
	const char *name;
	enum arg arg;
} keywords[] = {
	{ "type", A_TYPE },		{ "properties", A_SCHEMA_MAP },
	{ "required", A_STRINGS },	{ "additionalProperties", A_SCHEMA },
	{ "items", A_SCHEMA },		{ "enum", A_ARRAY },
	{ "const", A_ANY },		{ "minItems", A_COUNT },
	{ "maxItems", A_COUNT },	{ "minLength", A_COUNT },
	{ "maxLength", A_COUNT },	{ "minimum", A_NUMBER },
	{ "maximum", A_NUMBER },	{ "exclusiveMinimum", A_NUMBER },
	{ "exclusiveMaximum", A_NUMBER }, { "$defs", A_SCHEMA_MAP },
	{ "definitions", A_SCHEMA_MAP }, { "$ref", A_REF },
	{ "anyOf", A_SCHEMA_LIST },	{ "description", A_ANY },
	{ "title", A_ANY },		{ "default", A_ANY },
	{ "$schema", A_ANY },		{ "$id", A_ANY },
	{ "format", A_ANY },		{ "examples", A_ANY },
};

static const char *const type_names[] = { "null", "boolean", "integer", "number", "string",
					  "array", "object", NULL };

int schema_type_bit(const char *name)
{
	for (int i = 0; type_names[i]; i++)
		if (!strcmp(name, type_names[i]))
			return 1 << i;
	return 0;
}

/* The schema the reference names, or NULL. */
const json *schema_resolve(const json *root, const char *ref)
{
	if (!strcmp(ref, "#"))
		return root;
	if (!strncmp(ref, "#/$defs/", 8))
		return json_get(json_get(root, "$defs"), ref + 8);
	if (!strncmp(ref, "#/definitions/", 14))
		return json_get(json_get(root, "definitions"), ref + 14);
	return NULL;
}

const json *schema_pointer(const json *root, const char *ptr)
{
	const json *v = root;
	char seg[128];
	while (v && *ptr) {
		if (*ptr++ != '/')
			return NULL;
		size_t n = 0;
		for (; *ptr && *ptr != '/'; ptr++) {
			char ch = *ptr;
			if (ch == '~' && (ptr[1] == '0' || ptr[1] == '1'))
				ch = *++ptr == '0' ? '~' : '/';
			if (n + 1 >= sizeof seg)
				return NULL;
			seg[n++] = ch;
		}
		seg[n] = '\0';
		if (json_kind(v) == J_ARRAY) {
			char *end;
			long i = strtol(seg, &end, 10);
			if (!n || *end || i < 0)
				return NULL;
			for (v = json_first(v); v && i--; v = json_next(v))
				;
		} else {
			v = json_get(v, seg);
		}
	}
	return v;
}

/* ---- parsing ---- */

struct check {
	const json *root;
	const char *name;
	buf ptr; /* JSON pointer of the schema being checked */
	int strict;
	char *err;
	size_t errlen;
};

int schema_vfail(char *err, size_t errlen, const char *name, const char *where,
		 const char *fmt, va_list ap)
{
	char what[512];
	vsnprintf(what, sizeof what, fmt, ap);
	if (name)
		snprintf(err, errlen, "%s: %s: %s", name, where, what);
	else
		snprintf(err, errlen, "%s: %s", where, what);
	return -1;
}

static int check_fail(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int check_fail(struct check *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	schema_vfail(c->err, c->errlen, c->name, c->ptr.len ? buf_cstr(&c->ptr) : "/", fmt, ap);
	va_end(ap);
	return -1;
}

/* Appends "/seg" with '~' and '/' escaped as RFC 6901 says. */
static void ptr_push(buf *p, const char *seg)
{
	buf_putc(p, '/');
	for (; *seg; seg++) {
		if (*seg == '~')
			buf_puts(p, "~0");
		else if (*seg == '/')
			buf_puts(p, "~1");
		else
			buf_putc(p, *seg);
	}
}

static int check_schema(struct check *c, const json *s, int depth);

/* Checks the schema at c->ptr + "/" + seg (+ "/" + seg2). */
static int check_sub(struct check *c, const json *s, const char *seg, const char *seg2,
		     int depth)
{
	size_t mark = c->ptr.len;
	ptr_push(&c->ptr, seg);
	if (seg2)
		ptr_push(&c->ptr, seg2);
	int rc = check_schema(c, s, depth + 1);
	if (!rc)
		c->ptr.len = mark;
	return rc;
}

static int check_type(struct check *c, const json *v)
{
	const char *one = json_string(v);
	if (one)
		return schema_type_bit(one) ? 0 : check_fail(c, "unknown type \"%s\"", one);
	int ok = json_kind(v) == J_ARRAY && json_first(v);
	for (const json *t = json_first(v); ok && t; t = json_next(t)) {
		const char *name = json_string(t);
		if (!name)
			ok = 0;
		else if (!schema_type_bit(name))
			return check_fail(c, "unknown type \"%s\"", name);
	}
	return ok ? 0 : check_fail(c, "\"type\" must be a type name or an array of them");
}

/* Checks one keyword's value; subschemas are checked in turn. */
static int check_arg(struct check *c, const char *kw, enum arg arg, const json *v, int depth)
{
	enum json_kind k = json_kind(v);
	int i = 0;
	switch (arg) {
	case A_ANY:
		return 0;
	case A_SCHEMA:
		return check_sub(c, v, kw, NULL, depth);
	case A_SCHEMA_MAP:
		if (k != J_OBJECT)
			return check_fail(c, "\"%s\" must be an object of schemas", kw);
		for (const json *m = json_first(v); m; m = json_next(m))
			if (check_sub(c, m, kw, json_key(m), depth))
				return -1;
		return 0;
	case A_SCHEMA_LIST:
		if (k != J_ARRAY || !json_first(v))
			return check_fail(c, "\"%s\" must be a non-empty array of schemas", kw);
		for (const json *m = json_first(v); m; m = json_next(m), i++) {
			char idx[16];
			snprintf(idx, sizeof idx, "%d", i);
			if (check_sub(c, m, kw, idx, depth))
				return -1;
		}
		return 0;
	case A_TYPE:
		return check_type(c, v);
	case A_STRINGS:
		for (const json *m = json_first(v); m; m = json_next(m))
			if (json_kind(m) != J_STRING)
				k = J_INVALID;
		return k == J_ARRAY ? 0 : check_fail(c, "\"%s\" must be an array of strings", kw);
	case A_ARRAY:
		return k == J_ARRAY && json_first(v) ? 0 : check_fail(c, "\"%s\" must be a non-empty array", kw);
	case A_COUNT:
		if (k == J_NUMBER && json_number(v) >= 0 && json_number(v) == floor(json_number(v)))
			return 0;
		return check_fail(c, "\"%s\" must be a non-negative integer", kw);
	case A_NUMBER:
		return k == J_NUMBER ? 0 : check_fail(c, "\"%s\" must be a number", kw);
	case A_REF:
		if (k == J_STRING && schema_resolve(c->root, json_string(v))) {
			/* a chain of $refs that comes back on itself never reaches a schema */
			const json *t = schema_resolve(c->root, json_string(v));
			for (int hops = 0; t && json_get(t, "$ref"); hops++) {
				if (hops == MAX_HOPS)
					return check_fail(c, "\"$ref\" leads to a loop of $refs");
				t = schema_resolve(c->root, json_string(json_get(t, "$ref")));
			}
			return 0;
		}
		return check_fail(c, "\"$ref\" must be \"#\", \"#/$defs/NAME\" or \"#/definitions/NAME\" naming a schema of this file");
	}
	return 0;
}

/* Strict structured outputs: an object schema forbids other properties and requires all. */
static int strict_object(const json *s)
{
	const json *type = json_get(s, "type");
	int object = json_get(s, "properties") != NULL;
	if (json_string(type))
		object |= !strcmp(json_string(type), "object");
	for (const json *t = json_first(type); t; t = json_next(t))
		object |= !strcmp(json_string(t), "object");
	if (!object)
		return 1;
	if (json_kind(json_get(s, "additionalProperties")) != J_FALSE)
		return 0;
	const json *req = json_get(s, "required");
	for (const json *p = json_first(json_get(s, "properties")); p; p = json_next(p)) {
		const json *r = json_first(req);
		while (r && strcmp(json_string(r), json_key(p)))
			r = json_next(r);
		if (!r)
			return 0;
	}
	return 1;
}

static int check_schema(struct check *c, const json *s, int depth)
{
	enum json_kind k = json_kind(s);
	if (k == J_TRUE || k == J_FALSE)
		return 0;
	if (k != J_OBJECT)
		return check_fail(c, "a schema must be an object or a boolean");
	if (depth > MAX_DEPTH)
		return check_fail(c, "nesting too deep");
	for (const json *m = json_first(s); m; m = json_next(m)) {
		const char *kw = json_key(m);
		size_t i = 0, n = sizeof keywords / sizeof keywords[0];
		while (i < n && strcmp(keywords[i].name, kw))
			i++;
		if (i == n)
			return check_fail(c, "unsupported keyword \"%s\"", kw);
		if (check_arg(c, kw, keywords[i].arg, m, depth))
			return -1;
	}
	if (!strict_object(s))
		c->strict = 0;
	return 0;
}

schema *schema_parse(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
	char perr[128];
	json *root = json_parse(text, len, perr, sizeof perr);
	if (!root) {
		snprintf(err, errlen, "%s: %s", name, perr);
		return NULL;
	}
	struct check c = { .root = root, .name = name, .strict = 1, .err = err, .errlen = errlen };
	buf_init(&c.ptr);
	int rc = check_schema(&c, root, 0);
	buf_free(&c.ptr);
	if (rc) {
		json_free(root);
		return NULL;
	}
	schema *s = xcalloc(1, sizeof *s);
	s->root = root;
	s->strict = c.strict;
	buf_init(&s->text);
	json_write(root, &s->text);
	buf_cstr(&s->text);
	return s;
}

schema *schema_load(const char *path, char *err, size_t errlen)
{
	size_t len;
	char *text = read_file(path, MAX_SCHEMA, &len);
	if (!text) {
		snprintf(err, errlen, "%s: %s", path,
			 errno == EFBIG ? "larger than 1 MB" : strerror(errno));
		return NULL;
	}
	schema *s = schema_parse(text, len, path, err, errlen);
	free(text);
	return s;
}

const char *schema_text(const schema *s, size_t *len)
{
	if (len)
		*len = s->text.len;
	return s->text.data;
}

int schema_is_strict(const schema *s)
{
	return s->strict;
}

void schema_free(schema *s)
{
	if (!s)
		return;
	json_free(s->root);
	buf_free(&s->text);
	free(s);
}

extern const char kgsup_schema_kg[];
static schema *kg;
static pthread_once_t kg_once = PTHREAD_ONCE_INIT;

static void kg_parse(void)
{
	char err[256];
	kg = schema_parse(kgsup_schema_kg, strlen(kgsup_schema_kg), "etc/jobs/schemas/kg.json", err,
			  sizeof err);
	if (!kg) { /* compiled in and unit-tested: only a broken build gets here */
		fprintf(stderr, "kgsup: built-in schema: %s\n", err);
		abort();
	}
}

const schema *schema_kg(void)
{
	pthread_once(&kg_once, kg_parse);
	return kg;
}
