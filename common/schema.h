/* schema.h: JSON Schema validation of answers, for every stage (the KG stage included).
 * The subset structured outputs use: type (a name or an array of names; "integer" is a whole
 * number), properties, required, additionalProperties (a boolean or a schema), items, enum,
 * const, minItems/maxItems, minimum/maximum, exclusiveMinimum/exclusiveMaximum,
 * minLength/maxLength (in code points), $defs/definitions with $ref ("#", "#/$defs/NAME",
 * "#/definitions/NAME") and anyOf. description, title, default, $schema, $id, format and
 * examples are accepted and ignored; any other keyword is refused when the schema is parsed,
 * so a schema never means less than its author thinks. Boolean schemas (true, false) are
 * accepted anywhere a schema is. Errors name the JSON path of the first failure: $, $.key,
 * $.arr[3].key, $["odd key"]. */
#ifndef KGSUP_SCHEMA_H
#define KGSUP_SCHEMA_H

#include <stddef.h>

#include "json.h"

struct buf;
typedef struct schema schema;

/* Parses a JSON Schema from text; name (a file path) is used in messages. NULL with err
 * "NAME: line L, column C: ..." for bad JSON, "NAME: /properties/x: unsupported keyword
 * \"patternProperties\"" for a schema kgsup cannot honour (the JSON pointer of the schema
 * object, "/" for the root). */
schema *schema_parse(const char *text, size_t len, const char *name, char *err, size_t errlen);
/* Reads the file (at most 1 MB) and parses it. */
schema *schema_load(const char *path, char *err, size_t errlen);
/* 0 when v satisfies s; else -1 with err = the JSON path of the first error and what is
 * wrong, e.g. "$.risks[2].severity: \"extreme\" is not one of \"low\", \"medium\", \"high\"".
 * Values nested deeper than 64 levels where the schema descends are refused ("nesting too
 * deep"), so a hostile answer cannot exhaust the stack. */
int schema_validate(const schema *s, const json *v, char *err, size_t errlen);
/* The same against the sub-schema of s at the JSON pointer ptr ("/properties/entities/items";
 * a $ref in it resolves against s as a whole), for one part of a larger value: error paths
 * start with at ("$.entities[3]"). -1 with err when ptr names no schema in s. */
int schema_validate_at(const schema *s, const char *ptr, const json *v, const char *at,
		       char *err, size_t errlen);
/* The same, from an answer's content: the one JSON object in it (json_find_object: a ```json
 * fence or prose around it is tolerated). On success appends the object's compact
 * serialisation to out when out is not NULL. */
int schema_validate_text(const schema *s, const char *text, size_t len, struct buf *out,
			 char *err, size_t errlen);
/* The schema's compact JSON text (for {{schema}} and response_format); NUL-terminated. */
const char *schema_text(const schema *s, size_t *len);
/* Non-zero when OpenAI's strict structured outputs accept it: every object schema (one whose
 * type includes "object", or that has properties) has additionalProperties false and lists
 * all its properties in required. */
int schema_is_strict(const schema *s);
void schema_free(schema *s);
/* The built-in KG answer schema (etc/jobs/schemas/kg.json, compiled in), parsed on first use,
 * never freed. */
const schema *schema_kg(void);

#endif
