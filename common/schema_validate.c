/* schema_validate.c: validating a value against a parsed schema (schema.c checked every
 * keyword's value when it parsed the schema, so lookups here need no checks). Recursion is
 * bounded: by MAX_DEPTH levels of the value, and MAX_HOPS $refs between two levels. */
#include "schema_impl.h"
#include "buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- validation ---- */

struct vctx {
	const json *root;
	buf path;      /* JSON path of the value being validated: $, $.key, $[3] */
	size_t at;     /* path length where the last error was found (anyOf prefers the deepest) */
	int fatal;     /* a bound was hit: no alternative is tried, the error stands */
	long steps;    /* schemas applied so far: anyOf over nested values could take 2^depth */
	buf scratch;
	char *err;
	size_t errlen;
};

static int vfail(struct vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int vfail(struct vctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	schema_vfail(c->err, c->errlen, NULL, buf_cstr(&c->path), fmt, ap);
	va_end(ap);
	c->at = c->path.len;
	return -1;
}

/* Appends ".key", or ["key"] when key is not an identifier. */
static void path_key(buf *p, const char *key)
{
	int ident = (*key >= 'a' && *key <= 'z') || (*key >= 'A' && *key <= 'Z') || *key == '_';
	for (const char *k = key; ident && *k; k++)
		ident = (*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || *k == '_' ||
			(*k >= '0' && *k <= '9');
	if (ident) {
		buf_putc(p, '.');
		buf_puts(p, key);
	} else {
		buf_putc(p, '[');
		buf_json_str(p, key, strlen(key));
		buf_putc(p, ']');
	}
}

/* v as compact JSON for a message, cut at 60 bytes; NUL-terminated in b. */
static const char *show(buf *b, const json *v)
{
	buf_reset(b);
	json_write(v, b);
	if (b->len > 60) {
		b->len = 57;
		buf_puts(b, "...");
	}
	return buf_cstr(b);
}

static int json_equal(const json *a, const json *b)
{
	enum json_kind k = json_kind(a);
	if (k != json_kind(b))
		return 0;
	if (k == J_NUMBER)
		return json_number(a) == json_number(b);
	if (k == J_STRING)
		return !strcmp(json_string(a), json_string(b));
	if (k != J_ARRAY && k != J_OBJECT)
		return 1;
	const json *x = json_first(a), *y = json_first(b);
	for (; x && y; x = json_next(x), y = json_next(y))
		if (k == J_ARRAY ? !json_equal(x, y) : !json_equal(x, json_get(b, json_key(x))))
			return 0;
	return !x && !y;
}

static int validate(struct vctx *c, const json *s, const json *v, int depth, int hops);

static int check_value_type(struct vctx *c, const json *s, const json *v)
{
	const json *type = json_get(s, "type");
	if (!type)
		return 0;
	static const int bits[] = { [J_NULL] = 1, [J_FALSE] = 2, [J_TRUE] = 2, [J_NUMBER] = 8,
				    [J_STRING] = 16, [J_ARRAY] = 32, [J_OBJECT] = 64 };
	int have = bits[json_kind(v)];
	double d = json_number(v);
	if (have == 8 && isfinite(d) && d == floor(d))
		have |= 4; /* a whole number is an integer too */
	int want = json_string(type) ? schema_type_bit(json_string(type)) : 0;
	for (const json *t = json_first(type); t; t = json_next(t))
		want |= schema_type_bit(json_string(t));
	if (have & want)
		return 0;
	buf_reset(&c->scratch);
	if (json_string(type))
		buf_puts(&c->scratch, json_string(type));
	for (const json *t = json_first(type); t; t = json_next(t))
		buf_printf(&c->scratch, "%s%s", t == json_first(type) ? "" : " or ", json_string(t));
	return vfail(c, "expected %s, got %s", buf_cstr(&c->scratch), json_kind_name(json_kind(v)));
}

static int check_enum(struct vctx *c, const json *s, const json *v)
{
	const json *cst = json_get(s, "const"), *en = json_get(s, "enum");
	buf shown;
	buf_init(&shown);
	int rc = 0;
	if (cst && !json_equal(v, cst)) {
		rc = vfail(c, "%s is not %s", show(&shown, v), show(&c->scratch, cst));
	} else if (en) {
		const json *e = json_first(en);
		while (e && !json_equal(v, e))
			e = json_next(e);
		if (!e) {
			buf list;
			buf_init(&list);
			for (e = json_first(en); e; e = json_next(e))
				buf_printf(&list, "%s%s", e == json_first(en) ? "" : ", ", show(&shown, e));
			rc = vfail(c, "%s is not one of %s", show(&shown, v), buf_cstr(&list));
			buf_free(&list);
		}
	}
	buf_free(&shown);
	return rc;
}

/* Bounds: minimum.. for numbers, minLength.. (in code points) for strings, minItems.. for
 * arrays. mode: -1 at least, -2 more than, 1 at most, 2 less than. */
static const struct limit {
	const char *kw;
	enum json_kind kind;
	int mode;
	const char *what;
} limits[] = {
	{ "minimum", J_NUMBER, -1, "less than the minimum" },
	{ "exclusiveMinimum", J_NUMBER, -2, "not more than the exclusive minimum" },
	{ "maximum", J_NUMBER, 1, "more than the maximum" },
	{ "exclusiveMaximum", J_NUMBER, 2, "not less than the exclusive maximum" },
	{ "minLength", J_STRING, -1, "fewer than the minimum" },
	{ "maxLength", J_STRING, 1, "more than the maximum" },
	{ "minItems", J_ARRAY, -1, "fewer than the minimum" },
	{ "maxItems", J_ARRAY, 1, "more than the maximum" },
};

static int check_limits(struct vctx *c, const json *s, const json *v)
{
	enum json_kind k = json_kind(v);
	double n = k == J_NUMBER ? json_number(v) : 0;
	if (k == J_STRING)
		for (const char *p = json_string(v); *p; p++)
			n += (*p & 0xc0) != 0x80;
	for (const json *e = k == J_ARRAY ? json_first(v) : NULL; e; e = json_next(e))
		n++;
	for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		const struct limit *l = &limits[i];
		const json *lj = l->kind == k ? json_get(s, l->kw) : NULL;
		double lim = json_number(lj);
		if (!lj || (l->mode == -1 ? n >= lim : l->mode == -2 ? n > lim :
			    l->mode == 1 ? n <= lim : n < lim))
			continue;
		if (k == J_NUMBER)
			return vfail(c, "%.15g is %s %.15g", n, l->what, lim);
		return vfail(c, "has %.0f %s%s, %s %.0f", n, k == J_STRING ? "character" : "item",
			     n == 1 ? "" : "s", l->what, lim);
	}
	return 0;
}

static int validate_items(struct vctx *c, const json *s, const json *v, int depth)
{
	const json *items = json_get(s, "items");
	if (!items || json_kind(v) != J_ARRAY)
		return 0;
	size_t mark = c->path.len;
	int i = 0;
	for (const json *e = json_first(v); e; e = json_next(e), i++) {
		buf_printf(&c->path, "[%d]", i);
		if (validate(c, items, e, depth + 1, 0))
			return -1;
		c->path.len = mark;
	}
	return 0;
}

static int validate_object(struct vctx *c, const json *s, const json *v, int depth)
{
	if (json_kind(v) != J_OBJECT)
		return 0;
	size_t mark = c->path.len;
	for (const json *r = json_first(json_get(s, "required")); r; r = json_next(r)) {
		if (json_get(v, json_string(r)))
			continue;
		path_key(&c->path, json_string(r));
		return vfail(c, "required property is missing");
	}
	const json *props = json_get(s, "properties"), *more = json_get(s, "additionalProperties");
	for (const json *m = json_first(v); m; m = json_next(m)) {
		const json *sub = json_get(props, json_key(m));
		if (!sub)
			sub = more;
		if (!sub)
			continue;
		path_key(&c->path, json_key(m));
		if (sub == more && json_kind(more) == J_FALSE)
			return vfail(c, "property is not allowed (additionalProperties is false)");
		if (validate(c, sub, m, depth + 1, 0))
			return -1;
		c->path.len = mark;
	}
	return 0;
}

/* Passes when one alternative does. Otherwise the error reported is the one found deepest in
 * the value (the alternative the value came closest to), or, when none got below this value,
 * the first alternative's. */
static int validate_any_of(struct vctx *c, const json *s, const json *v, int depth, int hops)
{
	const json *any = json_get(s, "anyOf");
	if (!any)
		return 0;
	size_t mark = c->path.len, best_at = 0;
	char best[512] = "";
	for (const json *alt = json_first(any); alt; alt = json_next(alt)) {
		if (!validate(c, alt, v, depth, hops))
			return 0;
		if (c->fatal)
			return -1;
		if (!best[0] || c->at > best_at) {
			snprintf(best, sizeof best, "%s", c->err);
			best_at = c->at;
		}
		c->path.len = mark;
	}
	if (best_at > mark) {
		snprintf(c->err, c->errlen, "%s", best);
		c->at = best_at;
		return -1;
	}
	const char *first = strlen(best) > mark + 2 ? best + mark + 2 : best;
	return vfail(c, "matches no alternative of anyOf (the first: %s)", first);
}

static int validate(struct vctx *c, const json *s, const json *v, int depth, int hops)
{
	if (json_kind(s) == J_TRUE)
		return 0;
	if (json_kind(s) == J_FALSE)
		return vfail(c, "no value is allowed here");
	if (depth > MAX_DEPTH) {
		c->fatal = 1;
		return vfail(c, "nesting too deep");
	}
	if (++c->steps > MAX_STEPS) {
		c->fatal = 1;
		return vfail(c, "too costly to check (its schema's anyOf alternatives are tried at "
			     "every level; more than %d checks)", MAX_STEPS);
	}
	const json *ref = json_get(s, "$ref");
	if (ref) {
		if (hops >= MAX_HOPS) {
			c->fatal = 1;
			return vfail(c, "too many $refs without descending (a $ref loop?)");
		}
		if (validate(c, schema_resolve(c->root, json_string(ref)), v, depth, hops + 1))
			return -1;
	}
	if (check_value_type(c, s, v) || check_enum(c, s, v) || check_limits(c, s, v) ||
	    validate_items(c, s, v, depth) || validate_object(c, s, v, depth))
		return -1;
	return validate_any_of(c, s, v, depth, hops);
}

int schema_validate_at(const schema *s, const char *ptr, const json *v, const char *at,
		       char *err, size_t errlen)
{
	const json *sub = schema_pointer(s->root, ptr);
	if (!sub) {
		snprintf(err, errlen, "%s: the schema has nothing at %s", at, ptr);
		return -1;
	}
	struct vctx c = { .root = s->root, .err = err, .errlen = errlen };
	buf_init(&c.path);
	buf_init(&c.scratch);
	buf_puts(&c.path, at);
	int rc = validate(&c, sub, v, 0, 0);
	buf_free(&c.path);
	buf_free(&c.scratch);
	return rc;
}

int schema_validate(const schema *s, const json *v, char *err, size_t errlen)
{
	return schema_validate_at(s, "", v, "$", err, errlen);
}

int schema_validate_text(const schema *s, const char *text, size_t len, buf *out, char *err,
			 size_t errlen)
{
	json *v = json_find_object(text, len);
	if (!v) {
		snprintf(err, errlen, "answer content has no JSON object");
		return -1;
	}
	int rc = schema_validate(s, v, err, errlen);
	if (!rc && out)
		json_write(v, out);
	json_free(v);
	return rc;
}

