/* rowcolumns.c: META "row_columns" read back (rowcolumns.h). */
#include "rowcolumns.h"
#include "rowstore.h"
#include "../common/json.h"
#include "../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(const json *root, struct row_columns *c)
{
	const json *id = json_get(root, "id"), *keep = json_get(root, "keep");
	const char *text = json_string(json_get(root, "text"));
	if (!text || (json_kind(id) != J_NULL && !json_string(id)) || json_kind(keep) != J_ARRAY)
		return -1;
	c->id = json_string(id) ? xstrdup(json_string(id)) : NULL;
	c->text = xstrdup(text);
	for (const json *e = json_first(keep); e; e = json_next(e)) {
		if (!json_string(e) || c->nkeep == ROW_MAX_KEEP)
			return -1;
		c->keep = xrealloc(c->keep, (c->nkeep + 1) * sizeof *c->keep);
		c->keep[c->nkeep++] = xstrdup(json_string(e));
	}
	return 0;
}

int row_columns_read(store_txn *t, struct row_columns *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	const void *v;
	size_t len;
	if (store_get(t, DB_META, META_ROW_COLUMNS, strlen(META_ROW_COLUMNS), &v, &len)) {
		snprintf(err, errlen, "the run records no columns of tables (meta %s)",
			 META_ROW_COLUMNS);
		return -1;
	}
	json *root = json_parse(v, len, NULL, 0);
	int rc = root ? parse(root, c) : -1;
	json_free(root);
	if (rc) {
		row_columns_free(c);
		snprintf(err, errlen, "meta %s: not {\"id\", \"text\", \"keep\"} as the planner "
			 "writes it", META_ROW_COLUMNS);
	}
	return rc;
}

void row_columns_free(struct row_columns *c)
{
	for (size_t i = 0; i < c->nkeep; i++)
		free(c->keep[i]);
	free(c->keep);
	free(c->id);
	free(c->text);
	memset(c, 0, sizeof *c);
}

int row_columns_keep_index(const struct row_columns *c, const char *name)
{
	for (size_t i = 0; i < c->nkeep; i++)
		if (!strcmp(c->keep[i], name))
			return (int)i;
	return -1;
}
