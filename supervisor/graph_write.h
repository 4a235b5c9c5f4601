/* graph_write.h: the export formats' writers of a merged graph (graph_write.c). */
#ifndef KGSUP_GRAPH_WRITE_H
#define KGSUP_GRAPH_WRITE_H

#include <stdio.h>

#include "../common/buf.h"
#include "graph.h"

/* Each writes the whole graph to out, using b as scratch. dir: the absolute path of the
 * directory a directory format's files go to (NULL for a one-file format). */
typedef void graph_writer(const struct graph *g, const char *dir, FILE *out, buf *b);
graph_writer graph_write_jsonl;     /* one object a line, entities then relations */
graph_writer graph_write_csv_nodes; /* Neo4j bulk import: nodes.csv */
graph_writer graph_write_csv_relationships; /* and relationships.csv */
graph_writer graph_write_cypher;    /* MERGE statements, values as escaped literals */
graph_writer graph_write_graphml;   /* networkx read_graphml, Gephi */
graph_writer graph_write_kuzu_nodes;         /* kuzu COPY FROM: GRAPH_KUZU_NODES */
graph_writer graph_write_kuzu_relationships; /* and GRAPH_KUZU_RELATIONSHIPS */
graph_writer graph_write_kuzu_load; /* load.cypher: the tables, and COPY from dir's files */

/* The kuzu export's CSV files, named by its load.cypher. */
#define GRAPH_KUZU_NODES "nodes.csv"
#define GRAPH_KUZU_RELATIONSHIPS "relationships.csv"

#endif
