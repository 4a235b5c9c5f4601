/* json.h: the one wrapper around cJSON. Everything else sees an opaque tree and a handful of
 * accessors, so the JSON library can change without touching callers. Building JSON text is
 * done with buf_json_str (buf.h), which is faster than building a tree. */
#ifndef KGSUP_JSON_H
#define KGSUP_JSON_H

#include <stddef.h>

typedef struct json json; /* a node of a parsed document */

enum json_kind { J_INVALID, J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT };

/* Parses exactly one JSON value (trailing white space allowed). On failure returns NULL and,
 * when err is given, writes "line L, column C: what" into it. */
json *json_parse(const char *text, size_t len, char *err, size_t errlen);
/* Parses the first JSON value in text and reports where it ended (for answers wrapped in
 * prose); NULL on failure. */
json *json_parse_prefix(const char *text, size_t len, size_t *consumed);
/* The one JSON object in a model's answer: inside a ```json fence if there is one, else from
 * the first '{'. The object must parse; text after it is ignored. NULL when there is none, or
 * when the answer is an array (it starts with '['). */
json *json_find_object(const char *text, size_t len);
void json_free(json *root);

enum json_kind json_kind(const json *v);
const char *json_kind_name(enum json_kind k);
/* Object member by key (first match), or NULL. */
json *json_get(const json *obj, const char *key);
/* Iteration over array elements or object members. */
json *json_first(const json *container);
json *json_next(const json *item);
/* Takes item out of the array or object it is in and frees it. */
void json_remove(json *container, json *item);
const char *json_key(const json *member);
double json_number(const json *v);
/* The string value (NUL-terminated, UTF-8 as given), or NULL when not a string. */
const char *json_string(const json *v);
/* Appends the compact serialisation of v to b. */
struct buf;
void json_write(const json *v, struct buf *b);

#endif
