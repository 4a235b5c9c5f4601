/* rowfields.c: a rows stage's item schema as flat fields (rowfields.h). A property's schema
 * may be a local $ref, or an anyOf/oneOf of it and null (how strict structured outputs spell
 * an optional value): both are looked through. */
#include "rowfields.h"
#include "../common/items.h"
#include "../common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first type a schema names that is not "null", or NULL. */
static const char *type_of(const json *s)
{
	const json *t = json_get(s, "type");
	if (json_string(t))
		return json_string(t);
	for (const json *e = json_first(t); json_kind(t) == J_ARRAY && e; e = json_next(e))
		if (json_string(e) && strcmp(json_string(e), "null"))
			return json_string(e);
	return NULL;
}

/* s resolved, and through an anyOf/oneOf to its first alternative that is not just null. */
static const json *look_through(const json *root, const json *s)
{
	s = items_resolve(root, s);
	const json *alts = json_get(s, "anyOf");
	if (!alts)
		alts = json_get(s, "oneOf");
	if (!s || json_get(s, "type") || json_get(s, "enum") || json_kind(alts) != J_ARRAY)
		return s;
	for (const json *a = json_first(alts); a; a = json_next(a)) {
		const json *r = items_resolve(root, a);
		const char *t = json_string(json_get(r, "type"));
		if (r && !(t && !strcmp(t, "null")))
			return r;
	}
	return s;
}

static int is_object(const json *s)
{
	const char *t = type_of(s);
	return (!t || !strcmp(t, "object")) && json_kind(json_get(s, "properties")) == J_OBJECT;
}

static void add_values(struct rowfield *f, const json *list)
{
	buf b;
	buf_init(&b);
	for (const json *e = json_first(list); e; e = json_next(e)) {
		if (json_kind(e) == J_NULL)
			continue; /* a null value is no value: counted as missing */
		buf_reset(&b);
		rowfield_text(e, &b);
		f->values = xrealloc(f->values, (f->nvalues + 1) * sizeof *f->values);
		f->values[f->nvalues++] = xstrdup(buf_cstr(&b));
	}
	buf_free(&b);
}

/* A field whose schema is s (resolved): its kind, and its values when it has a set of them. */
static void add_leaf(struct rowfields *fs, const json *root, const json *s, const char **path,
		     size_t depth, const char *name)
{
	fs->f = xrealloc(fs->f, (fs->n + 1) * sizeof *fs->f);
	struct rowfield *f = &fs->f[fs->n++];
	memset(f, 0, sizeof *f);
	f->name = xstrdup(name);
	memcpy(f->path, path, depth * sizeof *path);
	f->depth = depth;
	const char *t = type_of(s);
	if (t && !strcmp(t, "array")) {
		f->array = 1;
		s = look_through(root, json_get(s, "items"));
		t = type_of(s);
	}
	const json *list = json_get(s, "enum");
	if (json_kind(list) == J_ARRAY) {
		f->kind = RF_ENUM;
		add_values(f, list);
	} else if (t && !strcmp(t, "boolean")) {
		f->kind = RF_BOOL;
		f->values = xcalloc(2, sizeof *f->values);
		f->values[0] = xstrdup("true");
		f->values[1] = xstrdup("false");
		f->nvalues = 2;
	} else if (t && (!strcmp(t, "integer") || !strcmp(t, "number"))) {
		f->kind = RF_NUMBER;
	}
}

static void walk(struct rowfields *fs, const json *root, const json *obj, const char **path,
		 size_t depth, const char *key, buf *name)
{
	for (const json *p = json_first(json_get(obj, "properties")); p; p = json_next(p)) {
		if (!depth && !strcmp(json_key(p), key))
			continue;
		const json *s = look_through(root, p);
		size_t mark = name->len;
		if (depth)
			buf_putc(name, '.');
		buf_puts(name, json_key(p));
		path[depth] = json_key(p);
		if (s && is_object(s) && depth + 1 < ROWFIELD_DEPTH)
			walk(fs, root, s, path, depth + 1, key, name);
		else
			add_leaf(fs, root, s, path, depth + 1, buf_cstr(name));
		name->len = mark;
	}
}

int rowfields_load(struct rowfields *fs, const struct stage *st, char *err, size_t errlen)
{
	memset(fs, 0, sizeof *fs);
	char why[160] = "";
	const char *key = st->item_key ? st->item_key : "id";
	fs->schema = st->schema ? json_parse(st->schema, strlen(st->schema), why, sizeof why) : NULL;
	const json *items = fs->schema ? items_schema(fs->schema, key, NULL) : NULL;
	if (!items) {
		snprintf(err, errlen, "stage \"%s\": %s", st->name,
			 why[0] ? why : "its schema holds no items with the item_key");
		rowfields_free(fs);
		return -1;
	}
	const char *path[ROWFIELD_DEPTH];
	buf name;
	buf_init(&name);
	walk(fs, fs->schema, items, path, 0, key, &name);
	buf_free(&name);
	return 0;
}

void rowfields_free(struct rowfields *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		for (size_t k = 0; k < fs->f[i].nvalues; k++)
			free(fs->f[i].values[k]);
		free(fs->f[i].values);
		free(fs->f[i].name);
	}
	free(fs->f);
	json_free(fs->schema);
	memset(fs, 0, sizeof *fs);
}

const json *rowfield_get(const struct rowfield *f, const json *item)
{
	const json *v = item;
	for (size_t i = 0; v && i < f->depth; i++)
		v = json_kind(v) == J_OBJECT ? json_get(v, f->path[i]) : NULL;
	return v;
}

/* The shortest text that reads back as d. */
static void put_number(buf *out, double d)
{
	if (d == floor(d) && fabs(d) < 1e15) {
		buf_printf(out, "%.0f", d);
		return;
	}
	char s[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(s, sizeof s, "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	buf_puts(out, s);
}

void rowfield_text(const json *v, buf *out)
{
	switch (json_kind(v)) {
	case J_STRING:
		buf_puts(out, json_string(v));
		break;
	case J_NUMBER:
		put_number(out, json_number(v));
		break;
	case J_TRUE:
		buf_puts(out, "true");
		break;
	case J_FALSE:
		buf_puts(out, "false");
		break;
	case J_ARRAY:
		for (const json *e = json_first(v); e; e = json_next(e)) {
			if (e != json_first(v))
				buf_puts(out, "; ");
			rowfield_text(e, out);
		}
		break;
	case J_OBJECT:
		json_write(v, out);
		break;
	default: /* null, or nothing */
		break;
	}
}

int rowfield_value(const struct rowfield *f, const char *text)
{
	for (size_t i = 0; i < f->nvalues; i++)
		if (!strcmp(f->values[i], text))
			return (int)i;
	return -1;
}
