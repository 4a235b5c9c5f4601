/* xml.c: streaming XML through expat, with namespace prefixes dropped (see xml.h). The only
 * file that includes expat.h. Office files are written by many programs, some with prefixes
 * on every element ("x:row"), so the readers match local names only. */
#include "xml.h"
#include "buf.h"

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xml {
	XML_Parser p;
	const struct xml_handlers *h;
	void *arg;
	const char **attrs; /* the local names of the element being started */
	size_t cap;
	int stopped;
};

static const char *local(const char *name)
{
	const char *colon = strchr(name, ':');
	return colon ? colon + 1 : name;
}

static void on_start(void *data, const XML_Char *name, const XML_Char **atts)
{
	struct xml *x = data;
	size_t n = 0;
	while (atts[n])
		n++;
	x->attrs = xgrow(x->attrs, &x->cap, n, sizeof *x->attrs, 16);
	for (size_t i = 0; i < n; i += 2) {
		x->attrs[i] = local(atts[i]);
		x->attrs[i + 1] = atts[i + 1];
	}
	x->attrs[n] = NULL;
	if (x->h->start)
		x->h->start(x->arg, local(name), x->attrs);
}

static void on_end(void *data, const XML_Char *name)
{
	struct xml *x = data;
	if (x->h->end)
		x->h->end(x->arg, local(name));
}

static void on_text(void *data, const XML_Char *s, int len)
{
	struct xml *x = data;
	if (x->h->text)
		x->h->text(x->arg, s, (size_t)len);
}

struct xml *xml_new(const struct xml_handlers *h, void *arg)
{
	struct xml *x = xcalloc(1, sizeof *x);
	x->p = XML_ParserCreate("UTF-8");
	if (!x->p) {
		fprintf(stderr, "out of memory\n");
		abort();
	}
	x->h = h;
	x->arg = arg;
	XML_SetUserData(x->p, x);
	XML_SetElementHandler(x->p, on_start, on_end);
	XML_SetCharacterDataHandler(x->p, on_text);
	return x;
}

void xml_free(struct xml *x)
{
	if (!x)
		return;
	XML_ParserFree(x->p);
	free(x->attrs);
	free(x);
}

int xml_feed(struct xml *x, const char *p, size_t n, int final, char *err, size_t errlen)
{
	for (;;) { /* XML_Parse takes an int length */
		int part = n > (1u << 30) ? 1 << 30 : (int)n;
		int last = final && (size_t)part == n;
		if (XML_Parse(x->p, p, part, last) == XML_STATUS_ERROR) {
			if (x->stopped)
				return 1;
			snprintf(err, errlen, "line %lu: %s",
				 (unsigned long)XML_GetCurrentLineNumber(x->p),
				 XML_ErrorString(XML_GetErrorCode(x->p)));
			return -1;
		}
		p += part;
		n -= (size_t)part;
		if (!n)
			return 0;
	}
}

void xml_stop(struct xml *x)
{
	x->stopped = 1;
	XML_StopParser(x->p, XML_FALSE);
}

const char *xml_attr(const char **attrs, const char *name)
{
	for (size_t i = 0; attrs[i]; i += 2)
		if (!strcmp(attrs[i], name))
			return attrs[i + 1];
	return NULL;
}
