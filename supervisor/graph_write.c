/* graph_write.c: a merged graph (graph.h) written in each export format: jsonl, Neo4j's
 * bulk-import csv (two files), Cypher MERGE statements, GraphML and kuzu's COPY FROM (two CSV
 * files and the script that loads them). Each writer takes the whole graph and a scratch
 * buffer; the same graph always gives the same bytes. */
#include "graph_write.h"
#include "../common/json.h"
#include "../common/names.h"

#include <stdio.h>
#include <string.h>

/* ---- shared pieces ---- */

static const char *display(const struct forms *f)
{
	return f->n ? f->v[0].text : "";
}

/* The forms of f from `from` on, each written by put (the format's escaping), sep between. */
static void put_forms(buf *b, const struct forms *f, size_t from, const char *sep,
		      void (*put)(buf *b, const char *s))
{
	for (size_t i = from; i < f->n; i++) {
		if (i > from)
			buf_puts(b, sep);
		put(b, f->v[i].text);
	}
}

/* A quoted field, after a comma unless first, its text written by put (the format's escaping). */
static void quoted(buf *b, const char *s, int comma, void (*put)(buf *b, const char *s))
{
	buf_puts(b, comma ? ",\"" : "\"");
	put(b, s);
	buf_putc(b, '"');
}

/* A quoted list field after a comma: the forms of f from `from` on, sep between. */
static void quoted_forms(buf *b, const struct forms *f, size_t from, const char *sep,
			 void (*put)(buf *b, const char *s))
{
	buf_puts(b, ",\"");
	put_forms(b, f, from, sep, put);
	buf_putc(b, '"');
}

static void ms_time(buf *b, int64_t ms)
{
	buf_printf(b, "%02lld:%02lld:%02lld.%03lld", (long long)(ms / 3600000),
		   (long long)(ms / 60000 % 60), (long long)(ms / 1000 % 60), (long long)(ms % 1000));
}

/* A relation type as a Neo4j relationship type: upper case, words joined by '_'. */
static void rel_type_token(buf *b, const char *type)
{
	size_t start = b->len;
	names_fold(type, strlen(type), b);
	for (size_t i = start; i < b->len; i++) {
		char c = b->data[i];
		b->data[i] = c == ' ' ? '_' : c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
	}
	if (b->len == start)
		buf_puts(b, "RELATED_TO");
}

/* Two quoted list fields: the chunk ids, and the distinct source files (chunks ascend, so a
 * source's chunks are together), elements separated by sep and written by put. */
static void list_chunks(buf *b, const struct graph *g, const struct u32s *chunks, const char *sep,
			void (*put)(buf *b, const char *s))
{
	buf_puts(b, ",\"");
	for (size_t i = 0; i < chunks->n; i++)
		buf_printf(b, "%s%s", i ? sep : "", g->chunks[chunks->v[i]].id);
	buf_puts(b, "\",\"");
	uint32_t last = UINT32_MAX;
	for (size_t i = 0; i < chunks->n; i++) {
		uint32_t src = g->chunks[chunks->v[i]].source;
		if (src == last)
			continue;
		if (last != UINT32_MAX)
			buf_puts(b, sep);
		put(b, graph_source_name(g, src));
		last = src;
	}
	buf_putc(b, '"');
}

/* ---- jsonl: one object per line, entities then relations, in order of first appearance ---- */

static void json_text(buf *b, const char *s)
{
	buf_json_str(b, s, strlen(s));
}

static void json_forms(buf *b, const char *key, const struct forms *f, size_t from)
{
	buf_printf(b, ",\"%s\":[", key);
	put_forms(b, f, from, ",", json_text);
	buf_putc(b, ']');
}

static void json_provenance(buf *b, const struct graph *g, const struct u32s *chunks)
{
	buf_puts(b, ",\"chunks\":[");
	for (size_t i = 0; i < chunks->n; i++)
		buf_printf(b, "%s\"%s\"", i ? "," : "", g->chunks[chunks->v[i]].id);
	buf_puts(b, "],\"provenance\":[");
	for (size_t i = 0; i < chunks->n; i++) {
		const struct gchunk *c = &g->chunks[chunks->v[i]];
		const char *src = graph_source_name(g, c->source);
		buf_printf(b, "%s{\"chunk\":\"%s\",\"source\":", i ? "," : "", c->id);
		buf_json_str(b, src, strlen(src));
		if (c->start_ms >= 0) {
			buf_puts(b, ",\"start\":\"");
			ms_time(b, c->start_ms);
			buf_puts(b, "\",\"end\":\"");
			ms_time(b, c->end_ms >= c->start_ms ? c->end_ms : c->start_ms);
			buf_putc(b, '"');
		}
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
}

void graph_write_jsonl(const struct graph *g, const char *dir, FILE *out, buf *b)
{
	(void)dir;
	for (size_t i = 0; i < g->nentities; i++) {
		const struct gentity *e = &g->entities[i];
		buf_reset(b);
		buf_printf(b, "{\"kind\":\"entity\",\"id\":\"%s\",\"name\":", e->id);
		buf_json_str(b, display(&e->names), strlen(display(&e->names)));
		buf_puts(b, ",\"type\":");
		buf_json_str(b, display(&e->types), strlen(display(&e->types)));
		json_forms(b, "aliases", &e->names, 1);
		json_forms(b, "descriptions", &e->descriptions, 0);
		buf_printf(b, ",\"weight\":%llu", (unsigned long long)graph_weight(&e->chunks));
		json_provenance(b, g, &e->chunks);
		buf_puts(b, "}\n");
		fwrite(b->data, 1, b->len, out);
	}
	for (size_t i = 0; i < g->nrelations; i++) {
		const struct grelation *r = &g->relations[i];
		const struct gentity *s = &g->entities[r->source], *t = &g->entities[r->target];
		buf_reset(b);
		buf_printf(b, "{\"kind\":\"relation\",\"id\":\"%s\",\"source\":\"%s\",\"target\":\"%s\","
			   "\"source_name\":", r->id, s->id, t->id);
		buf_json_str(b, display(&s->names), strlen(display(&s->names)));
		buf_puts(b, ",\"target_name\":");
		buf_json_str(b, display(&t->names), strlen(display(&t->names)));
		buf_puts(b, ",\"type\":");
		buf_json_str(b, display(&r->types), strlen(display(&r->types)));
		json_forms(b, "descriptions", &r->descriptions, 0);
		buf_printf(b, ",\"weight\":%llu", (unsigned long long)graph_weight(&r->chunks));
		json_provenance(b, g, &r->chunks);
		buf_puts(b, "}\n");
		fwrite(b->data, 1, b->len, out);
	}
}

/* ---- csv: Neo4j's bulk-import layout (neo4j-admin database import), two files ---- */

/* A quoted field; newlines become spaces (import needs --multiline-fields otherwise) and, in
 * array elements, ';' (the array delimiter) becomes ','. */
static void csv_field(buf *b, const char *s, int in_array)
{
	for (; *s; s++) {
		char c = *s;
		if (c == '"')
			buf_putc(b, '"');
		else if (c == '\n' || c == '\r')
			c = ' ';
		else if (c == ';' && in_array)
			c = ',';
		buf_putc(b, c);
	}
}

static void csv_value(buf *b, const char *s)
{
	csv_field(b, s, 0);
}

static void csv_element(buf *b, const char *s)
{
	csv_field(b, s, 1);
}

static void csv_chunks(buf *b, const struct graph *g, const struct u32s *chunks)
{
	list_chunks(b, g, chunks, ";", csv_element);
}

void graph_write_csv_nodes(const struct graph *g, const char *dir, FILE *out, buf *b)
{
	(void)dir;
	fputs("id:ID,name,type,aliases:string[],descriptions:string[],weight:int,chunks:string[],"
	      "sources:string[],:LABEL\n", out);
	for (size_t i = 0; i < g->nentities; i++) {
		const struct gentity *e = &g->entities[i];
		buf_reset(b);
		quoted(b, e->id, 0, csv_value);
		quoted(b, display(&e->names), 1, csv_value);
		quoted(b, display(&e->types), 1, csv_value);
		quoted_forms(b, &e->names, 1, ";", csv_element);
		quoted_forms(b, &e->descriptions, 0, ";", csv_element);
		buf_printf(b, ",%llu", (unsigned long long)graph_weight(&e->chunks));
		csv_chunks(b, g, &e->chunks);
		buf_puts(b, ",\"Entity;");
		csv_field(b, display(&e->types), 1);
		buf_puts(b, "\"\n");
		fwrite(b->data, 1, b->len, out);
	}
}

void graph_write_csv_relationships(const struct graph *g, const char *dir, FILE *out, buf *b)
{
	(void)dir;
	fputs(":START_ID,:END_ID,:TYPE,id,type,descriptions:string[],weight:int,chunks:string[],"
	      "sources:string[]\n", out);
	for (size_t i = 0; i < g->nrelations; i++) {
		const struct grelation *r = &g->relations[i];
		buf_reset(b);
		quoted(b, g->entities[r->source].id, 0, csv_value);
		quoted(b, g->entities[r->target].id, 1, csv_value);
		buf_puts(b, ",\"");
		size_t at = b->len;
		rel_type_token(b, display(&r->types));
		for (size_t j = at; j < b->len; j++)
			if (b->data[j] == '"' || b->data[j] == '\n' || b->data[j] == '\r')
				b->data[j] = '_';
		buf_putc(b, '"');
		quoted(b, r->id, 1, csv_value);
		quoted(b, display(&r->types), 1, csv_value);
		quoted_forms(b, &r->descriptions, 0, ";", csv_element);
		buf_printf(b, ",%llu", (unsigned long long)graph_weight(&r->chunks));
		csv_chunks(b, g, &r->chunks);
		buf_putc(b, '\n');
		fwrite(b->data, 1, b->len, out);
	}
}

/* ---- cypher: MERGE statements whose values are escaped string literals ---- */

static void cy_str(buf *b, const char *s)
{
	buf_putc(b, '\'');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '\\': buf_puts(b, "\\\\"); break;
		case '\'': buf_puts(b, "\\'"); break;
		case '"': buf_puts(b, "\\\""); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\r': buf_puts(b, "\\r"); break;
		case '\t': buf_puts(b, "\\t"); break;
		default:
			if (*p < 0x20)
				buf_printf(b, "\\u%04x", *p);
			else
				buf_putc(b, (char)*p);
		}
	}
	buf_putc(b, '\'');
}

/* A label or relationship type in backticks (a backtick inside is doubled). */
static void cy_name(buf *b, const char *s)
{
	buf_putc(b, '`');
	for (; *s; s++) {
		if (*s == '`')
			buf_putc(b, '`');
		buf_putc(b, *s);
	}
	buf_putc(b, '`');
}

static void cy_forms(buf *b, const char *key, const struct forms *f, size_t from)
{
	buf_printf(b, ", %s: [", key);
	put_forms(b, f, from, ", ", cy_str);
	buf_putc(b, ']');
}

static void cy_chunks(buf *b, const struct graph *g, const struct u32s *chunks)
{
	buf_printf(b, ", weight: %llu, chunks: [", (unsigned long long)graph_weight(chunks));
	for (size_t i = 0; i < chunks->n; i++)
		buf_printf(b, "%s'%s'", i ? ", " : "", g->chunks[chunks->v[i]].id);
	buf_putc(b, ']');
}

void graph_write_cypher(const struct graph *g, const char *dir, FILE *out, buf *b)
{
	(void)dir;
	fputs("// kgsup knowledge graph: run with cypher-shell -f FILE\n"
	      "CREATE CONSTRAINT kgsup_entity_id IF NOT EXISTS FOR (e:Entity) REQUIRE e.id IS UNIQUE;\n",
	      out);
	for (size_t i = 0; i < g->nentities; i++) {
		const struct gentity *e = &g->entities[i];
		buf_reset(b);
		buf_printf(b, "MERGE (e:Entity {id: '%s'}) SET e += {name: ", e->id);
		cy_str(b, display(&e->names));
		buf_puts(b, ", type: ");
		cy_str(b, display(&e->types));
		cy_forms(b, "aliases", &e->names, 1);
		cy_forms(b, "descriptions", &e->descriptions, 0);
		cy_chunks(b, g, &e->chunks);
		buf_puts(b, "} SET e:");
		cy_name(b, display(&e->types));
		buf_puts(b, ";\n");
		fwrite(b->data, 1, b->len, out);
	}
	for (size_t i = 0; i < g->nrelations; i++) {
		const struct grelation *r = &g->relations[i];
		buf_reset(b);
		buf_printf(b, "MATCH (a:Entity {id: '%s'}), (b:Entity {id: '%s'}) MERGE (a)-[r:",
			   g->entities[r->source].id, g->entities[r->target].id);
		buf tok;
		buf_init(&tok);
		rel_type_token(&tok, display(&r->types));
		cy_name(b, buf_cstr(&tok));
		buf_free(&tok);
		buf_printf(b, " {id: '%s'}]->(b) SET r += {type: ", r->id);
		cy_str(b, display(&r->types));
		cy_forms(b, "descriptions", &r->descriptions, 0);
		cy_chunks(b, g, &r->chunks);
		buf_puts(b, "};\n");
		fwrite(b->data, 1, b->len, out);
	}
}

/* ---- graphml: loads in networkx (read_graphml) and Gephi ---- */

/* XML text: markup characters escaped; characters XML 1.0 forbids (controls but tab, newline
 * and carriage return; U+FFFE, U+FFFF) left out. */
static void xml_text(buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '&')
			buf_puts(b, "&amp;");
		else if (*p == '<')
			buf_puts(b, "&lt;");
		else if (*p == '>')
			buf_puts(b, "&gt;");
		else if (*p == '"')
			buf_puts(b, "&quot;");
		else if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
			continue;
		else if (*p == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF))
			p += 2;
		else
			buf_putc(b, (char)*p);
	}
}

static void xml_data(buf *b, const char *key, const char *text)
{
	buf_printf(b, "<data key=\"%s\">", key);
	xml_text(b, text);
	buf_puts(b, "</data>");
}

static void xml_joined(buf *b, const char *key, const struct forms *f, size_t from)
{
	buf_printf(b, "<data key=\"%s\">", key);
	put_forms(b, f, from, " | ", xml_text);
	buf_puts(b, "</data>");
}

static void xml_chunks(buf *b, const char *wkey, const char *ckey, const struct graph *g,
		       const struct u32s *chunks)
{
	buf_printf(b, "<data key=\"%s\">%llu</data><data key=\"%s\">", wkey,
		   (unsigned long long)graph_weight(chunks), ckey);
	for (size_t i = 0; i < chunks->n; i++)
		buf_printf(b, "%s%s", i ? " " : "", g->chunks[chunks->v[i]].id);
	buf_puts(b, "</data>");
}

void graph_write_graphml(const struct graph *g, const char *dir, FILE *out, buf *b)
{
	(void)dir;
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	      "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n"
	      "<key id=\"label\" for=\"node\" attr.name=\"label\" attr.type=\"string\"/>\n"
	      "<key id=\"type\" for=\"node\" attr.name=\"type\" attr.type=\"string\"/>\n"
	      "<key id=\"aliases\" for=\"node\" attr.name=\"aliases\" attr.type=\"string\"/>\n"
	      "<key id=\"descr\" for=\"node\" attr.name=\"descriptions\" attr.type=\"string\"/>\n"
	      "<key id=\"weight\" for=\"node\" attr.name=\"weight\" attr.type=\"int\"/>\n"
	      "<key id=\"chunks\" for=\"node\" attr.name=\"chunks\" attr.type=\"string\"/>\n"
	      "<key id=\"rtype\" for=\"edge\" attr.name=\"type\" attr.type=\"string\"/>\n"
	      "<key id=\"rdescr\" for=\"edge\" attr.name=\"descriptions\" attr.type=\"string\"/>\n"
	      "<key id=\"rweight\" for=\"edge\" attr.name=\"weight\" attr.type=\"int\"/>\n"
	      "<key id=\"rchunks\" for=\"edge\" attr.name=\"chunks\" attr.type=\"string\"/>\n"
	      "<graph id=\"kgsup\" edgedefault=\"directed\">\n", out);
	for (size_t i = 0; i < g->nentities; i++) {
		const struct gentity *e = &g->entities[i];
		buf_reset(b);
		buf_printf(b, "<node id=\"%s\">", e->id);
		xml_data(b, "label", display(&e->names));
		xml_data(b, "type", display(&e->types));
		xml_joined(b, "aliases", &e->names, 1);
		xml_joined(b, "descr", &e->descriptions, 0);
		xml_chunks(b, "weight", "chunks", g, &e->chunks);
		buf_puts(b, "</node>\n");
		fwrite(b->data, 1, b->len, out);
	}
	for (size_t i = 0; i < g->nrelations; i++) {
		const struct grelation *r = &g->relations[i];
		buf_reset(b);
		buf_printf(b, "<edge id=\"%s\" source=\"%s\" target=\"%s\">", r->id,
			   g->entities[r->source].id, g->entities[r->target].id);
		xml_data(b, "rtype", display(&r->types));
		xml_joined(b, "rdescr", &r->descriptions, 0);
		xml_chunks(b, "rweight", "rchunks", g, &r->chunks);
		buf_puts(b, "</edge>\n");
		fwrite(b->data, 1, b->len, out);
	}
	fputs("</graph>\n</graphml>\n", out);
}

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
		quoted(b, e->id, 0, kuzu_value);
		quoted(b, display(&e->names), 1, kuzu_value);
		quoted(b, display(&e->types), 1, kuzu_value);
		quoted_forms(b, &e->names, 1, KUZU_SEP, kuzu_element);
		quoted_forms(b, &e->descriptions, 0, KUZU_SEP, kuzu_element);
		buf_printf(b, ",%llu", (unsigned long long)graph_weight(&e->chunks));
		list_chunks(b, g, &e->chunks, KUZU_SEP, kuzu_element);
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
		quoted(b, g->entities[r->source].id, 0, kuzu_value);
		quoted(b, g->entities[r->target].id, 1, kuzu_value);
		quoted(b, r->id, 1, kuzu_value);
		quoted(b, display(&r->types), 1, kuzu_value);
		quoted_forms(b, &r->descriptions, 0, KUZU_SEP, kuzu_element);
		buf_printf(b, ",%llu", (unsigned long long)graph_weight(&r->chunks));
		list_chunks(b, g, &r->chunks, KUZU_SEP, kuzu_element);
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
