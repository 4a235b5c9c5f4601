/* xml.h: a streaming XML parser (expat; expat.h is only in xml.c) that hands over elements
 * by their local names: "x:row" and "row" are both "row", an attribute "r:id" is "id". */
#ifndef KGSUP_XML_H
#define KGSUP_XML_H

#include <stddef.h>

struct xml_handlers {
	/* attrs: name, value, name, value, ..., NULL */
	void (*start)(void *arg, const char *name, const char **attrs);
	void (*end)(void *arg, const char *name);
	void (*text)(void *arg, const char *s, size_t n); /* may come in pieces */
};

struct xml;

struct xml *xml_new(const struct xml_handlers *h, void *arg);
void xml_free(struct xml *x);
/* Parses the next n bytes (final: the last of the document). Returns 0, 1 when a handler
 * called xml_stop, or -1 with "line N: what" in err. */
int xml_feed(struct xml *x, const char *p, size_t n, int final, char *err, size_t errlen);
/* From a handler: stops the parsing (xml_feed returns 1). */
void xml_stop(struct xml *x);
/* The value of attribute name in attrs, or NULL. */
const char *xml_attr(const char **attrs, const char *name);

#endif
