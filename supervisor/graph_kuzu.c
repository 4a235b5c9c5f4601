/* graph_kuzu.c: a merged graph (graph.h) written for kuzu's COPY FROM: two CSV files and the
 * script that makes the tables and loads them (graph_write.h). */
#include "graph_write.h"
#include "graph_write_impl.h"
#include "../common/buf.h"

#include <stdio.h>
#include <string.h>

/* ---- kuzu: CSV files for COPY FROM, and load.cypher that makes the tables and fills them ---- */

/* kuzu's own list syntax in CSV ([a,b]) cuts an element at every comma and keeps the quotes
 * around one quoted, so descriptions with commas could not survive it: a list column holds its
 * elements joined by the unit separator, which load.cypher splits (an empty field: no element). */
#define KUZU_SEP "\x1f"

enum kuzu_kind { KUZU_TEXT, KUZU_LIST, KUZU_INT };

struct kuzu_column {
	const char *name;
	enum kuzu_kind kind;
};

/* The columns of each file, in the order the writers below put them; load.cypher's tables and
 * COPY statements are made from these. A relation file's first two are its ends' ids. */
static const struct kuzu_column kuzu_entity_columns[] = {
	{ "id", KUZU_TEXT }, { "name", KUZU_TEXT }, { "type", KUZU_TEXT },
	{ "aliases", KUZU_LIST }, { "descriptions", KUZU_LIST }, { "weight", KUZU_INT },
	{ "chunks", KUZU_LIST }, { "sources", KUZU_LIST }, { NULL, KUZU_TEXT },
};
static const struct kuzu_column kuzu_relation_columns[] = {
	{ "source", KUZU_TEXT }, { "target", KUZU_TEXT }, { "id", KUZU_TEXT },
	{ "type", KUZU_TEXT }, { "descriptions", KUZU_LIST }, { "weight", KUZU_INT },
	{ "chunks", KUZU_LIST }, { "sources", KUZU_LIST }, { NULL, KUZU_TEXT },
};

/* A field's text inside its quotes (RFC 4180: load.cypher sets ESCAPE to the quote). Newlines
 * stay (load.cypher reads serially, which allows them in quotes); a byte that is not UTF-8
 * becomes U+FFFD, as kuzu refuses the whole file for one; in a list element the separator
 * becomes a space. */
static void kuzu_text(buf *b, const char *s, int element)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq_len(p + i, n - i);
		if (!l) {
			buf_puts(b, "\xef\xbf\xbd");
			i++;
			continue;
		}
		if (p[i] == '"')
			buf_putc(b, '"');
		if (element && p[i] == KUZU_SEP[0])
			buf_putc(b, ' ');
		else
			buf_put(b, p + i, l);
		i += l;
	}
}

static void kuzu_value(buf *b, const char *s)
{
	kuzu_text(b, s, 0);
}

static void kuzu_element(buf *b, const char *s)
{
	kuzu_text(b, s, 1);
}

static void kuzu_header(FILE *out, const struct kuzu_column *c)
{
	for (size_t i = 0; c[i].name; i++)
		fprintf(out, "%s%s", i ? "," : "", c[i].name);
	fputc('\n', out);
}

void graph_write_kuzu_nodes(const struct graph *g, const char *dir, FILE *out, buf *b)
{
	(void)dir;
	kuzu_header(out, kuzu_entity_columns);
	for (size_t i = 0; i < g->nentities; i++) {
		const struct gentity *e = &g->entities[i];
		buf_reset(b);
		gw_quoted(b, e->id, 0, kuzu_value);
		gw_quoted(b, gw_display(&e->names), 1, kuzu_value);
		gw_quoted(b, gw_display(&e->types), 1, kuzu_value);
		gw_quoted_forms(b, &e->names, 1, KUZU_SEP, kuzu_element);
		gw_quoted_forms(b, &e->descriptions, 0, KUZU_SEP, kuzu_element);
		buf_printf(b, ",%llu", (unsigned long long)graph_weight(&e->chunks));
		gw_list_chunks(b, g, &e->chunks, KUZU_SEP, kuzu_element);
		buf_putc(b, '\n');
		fwrite(b->data, 1, b->len, out);
	}
}

void graph_write_kuzu_relationships(const struct graph *g, const char *dir, FILE *out, buf *b)
{
	(void)dir;
	kuzu_header(out, kuzu_relation_columns);
	for (size_t i = 0; i < g->nrelations; i++) {
		const struct grelation *r = &g->relations[i];
		buf_reset(b);
		gw_quoted(b, g->entities[r->source].id, 0, kuzu_value);
		gw_quoted(b, g->entities[r->target].id, 1, kuzu_value);
		gw_quoted(b, r->id, 1, kuzu_value);
		gw_quoted(b, gw_display(&r->types), 1, kuzu_value);
		gw_quoted_forms(b, &r->descriptions, 0, KUZU_SEP, kuzu_element);
		buf_printf(b, ",%llu", (unsigned long long)graph_weight(&r->chunks));
		gw_list_chunks(b, g, &r->chunks, KUZU_SEP, kuzu_element);
		buf_putc(b, '\n');
		fwrite(b->data, 1, b->len, out);
	}
}

static const char *const kuzu_types[] = {
	[KUZU_TEXT] = "STRING", [KUZU_LIST] = "STRING[]", [KUZU_INT] = "INT64",
};

/* A table's property columns (c from its first property on) with their types. */
static void kuzu_properties(buf *b, const struct kuzu_column *c)
{
	for (size_t i = 0; c[i].name; i++)
		buf_printf(b, ", %s %s", c[i].name, kuzu_types[c[i].kind]);
}

/* COPY table FROM the file dir/file, each column as read (a list's field, STRING, split). */
static void kuzu_copy(buf *b, const char *table, const struct kuzu_column *c, const char *dir,
		      const char *file)
{
	buf_printf(b, "COPY %s FROM (LOAD WITH HEADERS (", table);
	for (size_t i = 0; c[i].name; i++)
		buf_printf(b, "%s%s %s", i ? ", " : "", c[i].name,
			   kuzu_types[c[i].kind == KUZU_INT ? KUZU_INT : KUZU_TEXT]);
	buf_puts(b, ") FROM '");
	for (const char *p = dir; *p; p++) {
		if (*p == '\\' || *p == '\'')
			buf_putc(b, '\\');
		buf_putc(b, *p);
	}
	buf_printf(b, "/%s' (HEADER=true, DELIM=',', QUOTE='\"', ESCAPE='\"', PARALLEL=false) "
		   "RETURN ", file);
	for (size_t i = 0; c[i].name; i++) {
		if (c[i].kind == KUZU_LIST)
			buf_printf(b, "%sCASE WHEN %s IS NULL THEN CAST([] AS STRING[]) ELSE "
				   "regexp_split_to_array(%s, '\\\\x1f') END", i ? ", " : "",
				   c[i].name, c[i].name);
		else
			buf_printf(b, "%s%s", i ? ", " : "", c[i].name);
	}
	buf_puts(b, ");\n");
}

void graph_write_kuzu_load(const struct graph *g, const char *dir, FILE *out, buf *b)
{
	(void)g;
	buf_reset(b);
	buf_puts(b, "// kgsup knowledge graph for kuzu, into a new database: kuzu DBDIR < load.cypher\n"
		 "// (list columns are their elements joined by U+001F in the CSV files)\n");
	buf_puts(b, "CREATE NODE TABLE Entity(id STRING PRIMARY KEY");
	kuzu_properties(b, kuzu_entity_columns + 1);
	buf_puts(b, ");\nCREATE REL TABLE Relation(FROM Entity TO Entity");
	kuzu_properties(b, kuzu_relation_columns + 2);
	buf_puts(b, ");\n");
	kuzu_copy(b, "Entity", kuzu_entity_columns, dir, GRAPH_KUZU_NODES);
	kuzu_copy(b, "Relation", kuzu_relation_columns, dir, GRAPH_KUZU_RELATIONSHIPS);
	fwrite(b->data, 1, b->len, out);
}
