/* graph_write_impl.h: the pieces the export writers share (graph_write.c defines them,
 * graph_kuzu.c uses them too). put is a format's escaping of a text. */
#ifndef KGSUP_GRAPH_WRITE_IMPL_H
#define KGSUP_GRAPH_WRITE_IMPL_H

#include "../common/buf.h"
#include "graph.h"

/* The form shown: the most often seen ("" when none). */
const char *gw_display(const struct forms *f);
/* The forms of f from `from` on, each written by put, sep between. */
void gw_put_forms(buf *b, const struct forms *f, size_t from, const char *sep,
		  void (*put)(buf *b, const char *s));
/* A quoted field, after a comma unless first. */
void gw_quoted(buf *b, const char *s, int comma, void (*put)(buf *b, const char *s));
/* A quoted list field after a comma: the forms of f from `from` on, sep between. */
void gw_quoted_forms(buf *b, const struct forms *f, size_t from, const char *sep,
		     void (*put)(buf *b, const char *s));
/* Two quoted list fields after a comma: the chunk ids, and the distinct source files. */
void gw_list_chunks(buf *b, const struct graph *g, const struct u32s *chunks, const char *sep,
		    void (*put)(buf *b, const char *s));

#endif
