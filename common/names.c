/* names.c: normal forms of entity names (see names.h). */
#include "names.h"
#include "rowtext.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unictype.h>
#include <unistr.h>

struct alias {
	char *from, *to; /* both in normal form */
};

struct names {
	char **titles;
	size_t ntitles;
	struct alias *aliases; /* sorted by from */
	size_t naliases;
};

/* Apostrophes join ("O'Brien" = "OBrien"); other punctuation, symbols of the dash kind,
 * controls and whitespace separate words. */
static int is_joiner(ucs4_t c)
{
	return c == 0x27 || c == 0x2019 || c == 0x2018 || c == 0x02BC;
}

static int is_separator(ucs4_t c)
{
	return uc_is_general_category(c, UC_CATEGORY_P) || uc_is_general_category(c, UC_CATEGORY_C) ||
	       uc_is_general_category(c, UC_CATEGORY_Z) || uc_is_property_white_space(c);
}

/* Joiners are dropped, other separators make a space. */
static int names_sep(uint32_t c)
{
	return is_separator(c);
}

static int names_drop(uint32_t c)
{
	return is_joiner(c);
}

void names_fold(const char *s, size_t len, buf *out)
{
	text_fold(s, len, 1, names_sep, names_drop, out);
}

static int is_title(const names *n, const char *w, size_t len)
{
	for (size_t i = 0; i < n->ntitles; i++)
		if (strlen(n->titles[i]) == len && !memcmp(n->titles[i], w, len))
			return 1;
	return 0;
}

static int alias_cmp(const void *a, const void *b)
{
	return strcmp(((const struct alias *)a)->from, ((const struct alias *)b)->from);
}

/* The folded name less its leading titles, into out from start. */
static void base_form(const names *n, const char *s, size_t len, buf *out)
{
	size_t start = out->len;
	names_fold(s, len, out);
	while (out->len > start) { /* (nothing written: out->data may still be NULL) */
		char *w = out->data + start;
		char *sp = memchr(w, ' ', out->len - start);
		if (!sp || !is_title(n, w, (size_t)(sp - w)))
			return;
		size_t drop = (size_t)(sp - w) + 1;
		memmove(w, w + drop, out->len - start - drop);
		out->len -= drop;
	}
}

void names_entity(const names *n, const char *s, size_t len, buf *out)
{
	size_t start = out->len;
	base_form(n, s, len, out);
	if (!n->naliases)
		return;
	buf_putc(out, '\0');
	struct alias key = { out->data + start, NULL };
	const struct alias *a = bsearch(&key, n->aliases, n->naliases, sizeof key, alias_cmp);
	out->len = start;
	if (a)
		buf_puts(out, a->to);
	else
		base_form(n, s, len, out);
}

static char *normal_copy(const names *n, const char *s, size_t len)
{
	buf b;
	buf_init(&b);
	base_form(n, s, len, &b);
	char *r = xstrdup(buf_cstr(&b));
	buf_free(&b);
	return r;
}

static void trim(const char **s, size_t *len)
{
	while (*len && (**s == ' ' || **s == '\t'))
		(*s)++, (*len)--;
	while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t' || (*s)[*len - 1] == '\r'))
		(*len)--;
}

static int load_aliases(names *n, const char *path, char *err, size_t errlen)
{
	size_t len;
	char *text = read_file(path, 64 << 20, &len);
	if (!text) {
		snprintf(err, errlen, "%s: cannot read the alias file: %s", path, strerror(errno));
		return -1;
	}
	const char *p = text, *end = text + len;
	for (int line = 1; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *hash = memchr(p, '#', l);
		size_t body = hash ? (size_t)(hash - p) : l;
		const char *eq = memchr(p, '=', body);
		const char *a = p, *b = eq ? eq + 1 : NULL;
		size_t alen = eq ? (size_t)(eq - p) : body, blen = eq ? body - alen - 1 : 0;
		trim(&a, &alen);
		if (b)
			trim(&b, &blen);
		if (alen || eq) {
			if (!eq || !alen || !blen) {
				snprintf(err, errlen, "%s:%d: expected 'alias = canonical name'", path, line);
				free(text);
				return -1;
			}
			n->aliases = xrealloc(n->aliases, (n->naliases + 1) * sizeof *n->aliases);
			n->aliases[n->naliases].from = normal_copy(n, a, alen);
			n->aliases[n->naliases].to = normal_copy(n, b, blen);
			n->naliases++;
		}
		p += l + 1;
	}
	free(text);
	qsort(n->aliases, n->naliases, sizeof *n->aliases, alias_cmp);
	return 0;
}

names *names_new(const char *titles, const char *aliases_file, char *err, size_t errlen)
{
	names *n = xcalloc(1, sizeof *n);
	for (const char *p = titles ? titles : ""; *p;) {
		size_t l = strcspn(p, ",");
		buf b;
		buf_init(&b);
		names_fold(p, l, &b);
		if (b.len) {
			n->titles = xrealloc(n->titles, (n->ntitles + 1) * sizeof *n->titles);
			n->titles[n->ntitles++] = xstrdup(buf_cstr(&b));
		}
		buf_free(&b);
		p += l + (p[l] == ',');
	}
	if (aliases_file && *aliases_file && load_aliases(n, aliases_file, err, errlen)) {
		names_free(n);
		return NULL;
	}
	return n;
}

void names_free(names *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->ntitles; i++)
		free(n->titles[i]);
	for (size_t i = 0; i < n->naliases; i++) {
		free(n->aliases[i].from);
		free(n->aliases[i].to);
	}
	free(n->titles);
	free(n->aliases);
	free(n);
}
