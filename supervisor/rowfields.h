/* rowfields.h: the fields a rows stage's answers give, taken from the schema of its items
 * (items.h): every property of an item in the schema's order but the item_key (the row id),
 * nested objects flattened to "a.b", and what each holds: an enum and its values, a boolean,
 * a number or text, or an array of one of them. Export writes them as cells (arrays joined
 * with "; "); the report counts the enums and booleans and sums the numbers. */
#ifndef KGSUP_ROWFIELDS_H
#define KGSUP_ROWFIELDS_H

#include <stddef.h>

#include "../common/buf.h"
#include "../common/job.h"
#include "../common/json.h"

#define ROWFIELD_DEPTH 8 /* deeper objects stay one field, their cells compact JSON */

enum rowfield_kind { RF_TEXT, RF_ENUM, RF_BOOL, RF_NUMBER };

struct rowfield {
	char *name;                       /* "a.b" */
	const char *path[ROWFIELD_DEPTH]; /* the property names, into the schema's tree */
	size_t depth;
	enum rowfield_kind kind;
	int array;                        /* an array of such values */
	char **values;                    /* RF_ENUM, RF_BOOL: each value as cell text, in order */
	size_t nvalues;
};

struct rowfields {
	json *schema;
	struct rowfield *f;
	size_t n;
};

/* The fields of a stage over rows. 0, or -1 with err naming the stage. */
int rowfields_load(struct rowfields *fs, const struct stage *st, char *err, size_t errlen);
void rowfields_free(struct rowfields *fs);
/* The value of field f in an item, or NULL when the item has none. */
const json *rowfield_get(const struct rowfield *f, const json *item);
/* Appends v as a cell's text: a string as it is, a number in its shortest form, true or
 * false, nothing for null, an array's elements joined with "; ", an object as compact JSON. */
void rowfield_text(const json *v, buf *out);
/* The index of text among f's values, or -1. */
int rowfield_value(const struct rowfield *f, const char *text);

#endif
