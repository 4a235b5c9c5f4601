/* graph_write.c: a merged graph (graph.h) written in each export format: jsonl, Neo4j's
 * bulk-import csv (two files), Cypher MERGE statements and GraphML (kuzu's COPY FROM files:
 * graph_kuzu.c). Each writer takes the whole graph and a scratch buffer; the same graph always
 * gives the same bytes. */
#include "graph_write.h"
#include "graph_write_impl.h"
#include "../common/json.h"
#include "../common/names.h"

#include <stdio.h>
#include <string.h>

/* ---- shared pieces ---- */

const char *gw_display(const struct forms *f)
{
	return f->n ? f->v[0].text : "";
}

/* The forms of f from `from` on, each written by put (the format's escaping), sep between. */
void gw_put_forms(buf *b, const struct forms *f, size_t from, const char *sep,
		      void (*put)(buf *b, const char *s))
{
	for (size_t i = from; i < f->n; i++) {
		if (i > from)
			buf_puts(b, sep);
		put(b, f->v[i].text);
	}
}

/* A quoted field, after a comma unless first, its text written by put (the format's escaping). */
void gw_quoted(buf *b, const char *s, int comma, void (*put)(buf *b, const char *s))
{
	buf_puts(b, comma ? ",\"" : "\"");
	put(b, s);
	buf_putc(b, '"');
}

/* A quoted list field after a comma: the forms of f from `from` on, sep between. */
void gw_quoted_forms(buf *b, const struct forms *f, size_t from, const char *sep,
			 void (*put)(buf *b, const char *s))
{
	buf_puts(b, ",\"");
	gw_put_forms(b, f, from, sep, put);
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

/* Entity resolution's similarity of each alias (the names from the second on; resolve.h), sep
 * between. Written only for a graph resolved, so that other exports keep their bytes. */
static void alias_similarity(buf *b, const struct forms *names, const char *sep)
{
	for (size_t i = 1; i < names->n; i++)
		buf_printf(b, "%s%.4f", i > 1 ? sep : "", names->v[i].similarity);
}

/* Two quoted list fields: the chunk ids, and the distinct source files (chunks ascend, so a
 * source's chunks are together), elements separated by sep and written by put. */
void gw_list_chunks(buf *b, const struct graph *g, const struct u32s *chunks, const char *sep,
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
	gw_put_forms(b, f, from, ",", json_text);
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
		buf_json_str(b, gw_display(&e->names), strlen(gw_display(&e->names)));
		buf_puts(b, ",\"type\":");
		buf_json_str(b, gw_display(&e->types), strlen(gw_display(&e->types)));
		json_forms(b, "aliases", &e->names, 1);
		if (g->resolved) {
			buf_puts(b, ",\"alias_similarity\":[");
			alias_similarity(b, &e->names, ",");
			buf_putc(b, ']');
		}
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
		buf_json_str(b, gw_display(&s->names), strlen(gw_display(&s->names)));
		buf_puts(b, ",\"target_name\":");
		buf_json_str(b, gw_display(&t->names), strlen(gw_display(&t->names)));
		buf_puts(b, ",\"type\":");
		buf_json_str(b, gw_display(&r->types), strlen(gw_display(&r->types)));
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
	gw_list_chunks(b, g, chunks, ";", csv_element);
}

void graph_write_csv_nodes(const struct graph *g, const char *dir, FILE *out, buf *b)
{
	(void)dir;
	fputs("id:ID,name,type,aliases:string[],descriptions:string[],weight:int,chunks:string[],"
	      "sources:string[],:LABEL\n", out);
	for (size_t i = 0; i < g->nentities; i++) {
		const struct gentity *e = &g->entities[i];
		buf_reset(b);
		gw_quoted(b, e->id, 0, csv_value);
		gw_quoted(b, gw_display(&e->names), 1, csv_value);
		gw_quoted(b, gw_display(&e->types), 1, csv_value);
		gw_quoted_forms(b, &e->names, 1, ";", csv_element);
		gw_quoted_forms(b, &e->descriptions, 0, ";", csv_element);
		buf_printf(b, ",%llu", (unsigned long long)graph_weight(&e->chunks));
		csv_chunks(b, g, &e->chunks);
		buf_puts(b, ",\"Entity;");
		csv_field(b, gw_display(&e->types), 1);
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
		gw_quoted(b, g->entities[r->source].id, 0, csv_value);
		gw_quoted(b, g->entities[r->target].id, 1, csv_value);
		buf_puts(b, ",\"");
		size_t at = b->len;
		rel_type_token(b, gw_display(&r->types));
		for (size_t j = at; j < b->len; j++)
			if (b->data[j] == '"' || b->data[j] == '\n' || b->data[j] == '\r')
				b->data[j] = '_';
		buf_putc(b, '"');
		gw_quoted(b, r->id, 1, csv_value);
		gw_quoted(b, gw_display(&r->types), 1, csv_value);
		gw_quoted_forms(b, &r->descriptions, 0, ";", csv_element);
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
	gw_put_forms(b, f, from, ", ", cy_str);
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
		cy_str(b, gw_display(&e->names));
		buf_puts(b, ", type: ");
		cy_str(b, gw_display(&e->types));
		cy_forms(b, "aliases", &e->names, 1);
		if (g->resolved) {
			buf_puts(b, ", alias_similarity: [");
			alias_similarity(b, &e->names, ", ");
			buf_putc(b, ']');
		}
		cy_forms(b, "descriptions", &e->descriptions, 0);
		cy_chunks(b, g, &e->chunks);
		buf_puts(b, "} SET e:");
		cy_name(b, gw_display(&e->types));
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
		rel_type_token(&tok, gw_display(&r->types));
		cy_name(b, buf_cstr(&tok));
		buf_free(&tok);
		buf_printf(b, " {id: '%s'}]->(b) SET r += {type: ", r->id);
		cy_str(b, gw_display(&r->types));
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
	gw_put_forms(b, f, from, " | ", xml_text);
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
	      "<key id=\"rchunks\" for=\"edge\" attr.name=\"chunks\" attr.type=\"string\"/>\n", out);
	if (g->resolved)
		fputs("<key id=\"asim\" for=\"node\" attr.name=\"alias_similarity\" "
		      "attr.type=\"string\"/>\n", out);
	fputs("<graph id=\"kgsup\" edgedefault=\"directed\">\n", out);
	for (size_t i = 0; i < g->nentities; i++) {
		const struct gentity *e = &g->entities[i];
		buf_reset(b);
		buf_printf(b, "<node id=\"%s\">", e->id);
		xml_data(b, "label", gw_display(&e->names));
		xml_data(b, "type", gw_display(&e->types));
		xml_joined(b, "aliases", &e->names, 1);
		if (g->resolved) {
			buf_puts(b, "<data key=\"asim\">");
			alias_similarity(b, &e->names, " | ");
			buf_puts(b, "</data>");
		}
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
		xml_data(b, "rtype", gw_display(&r->types));
		xml_joined(b, "rdescr", &r->descriptions, 0);
		xml_chunks(b, "rweight", "rchunks", g, &r->chunks);
		buf_puts(b, "</edge>\n");
		fwrite(b->data, 1, b->len, out);
	}
	fputs("</graph>\n</graphml>\n", out);
}
