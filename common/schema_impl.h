/* schema_impl.h: what schema.c (parsing) and schema_validate.c share; nothing else includes
 * it. */
#ifndef KGSUP_SCHEMA_IMPL_H
#define KGSUP_SCHEMA_IMPL_H

#include <stdarg.h>

#include "buf.h"
#include "schema.h"

#define MAX_DEPTH 64 /* levels of a value (or a schema) descended into */
#define MAX_HOPS 16  /* $refs followed without descending: more is a $ref loop */
#define MAX_STEPS 200000 /* schemas applied to one answer: bounds anyOf over nested values */

struct schema {
	json *root; /* checked by schema_parse: every keyword known, every $ref resolves */
	buf text;   /* compact JSON */
	int strict;
};

/* The bit of a type name ("null", "boolean", "integer", "number", "string", "array",
 * "object"), 0 for another name. */
int schema_type_bit(const char *name);
/* The schema a $ref names in root ("#", "#/$defs/NAME", "#/definitions/NAME"), or NULL. */
const json *schema_resolve(const json *root, const char *ref);
/* The value at a JSON pointer (RFC 6901: "/a/b", "~1" for '/', "~0" for '~', array
 * elements by index), or NULL. */
const json *schema_pointer(const json *root, const char *ptr);

/* Writes "NAME: WHERE: WHAT" (or "WHERE: WHAT" when name is NULL) into err, WHAT formatted
 * from fmt; returns -1. */
int schema_vfail(char *err, size_t errlen, const char *name, const char *where,
		 const char *fmt, va_list ap);

#endif
