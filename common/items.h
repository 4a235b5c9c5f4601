/* items.h: the per-row items of a rows stage's answers and schema: the array of objects that
 * carry the stage's item_key (one level down, or the answer itself), and the id an item
 * carries (a string, or a number taken as its text). */
#ifndef KGSUP_ITEMS_H
#define KGSUP_ITEMS_H

#include <stddef.h>

#include "json.h"

/* The schema of one item in a stage's schema (root), its $refs resolved, or NULL; *array_name
 * (when not NULL) is the answer's property holding the items, NULL when the answer is the
 * array itself. */
const json *items_schema(const json *root, const char *key, const char **array_name);
/* s with its local "$ref"s ("#/$defs/X") followed within root; NULL when one leads nowhere. */
const json *items_resolve(const json *root, const json *s);
/* 0 when the schema's answers hold items with the property key, else -1 with why. */
int schema_items_field(const char *schema_text, const char *key, char *why, size_t whylen);
/* The array of items in an answer, or NULL. */
const json *items_in_answer(const json *answer, const char *key);
/* The id item carries under key as text (a number written into tmp), or NULL. */
const char *item_id(const json *item, const char *key, char *tmp, size_t tmplen);

#endif
