/* reader.h: private to the transcript readers (input.c and the format files text.c, cue.c,
 * jsonl.c): the state of one file being read, the reader's helpers the formats share, and
 * each format's handlers, which input.c's format table names. Not for use outside them. */
#ifndef KGSUP_READER_H
#define KGSUP_READER_H

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "input.h"

/* A line of the input, without its line ending. */
struct line {
	const char *p;
	size_t len;
};

/* The state of one file being read. */
struct reader {
	struct document *doc;
	const struct format *form; /* its row of the format table */
	const char *name;	   /* for messages */
	size_t max_unit;
	size_t part_bytes;
	document_fn fn; /* NULL: everything stays in doc (the in-memory parsers) */
	void *arg;
	char *err;
	size_t errlen;
	int stopped; /* fn returned non-zero, or an error */
	size_t open; /* doc text from here on is not cut into units yet */
	/* plain text: where the unit being scanned began (for the sentence rule; may lie before
	 * the text kept), the next byte to look at, and a '\r' that may start a "\r\n" */
	int64_t ustart;
	size_t scan;
	int held_cr;
	/* line formats: the line cut by the end of a block, and the number of the last line */
	buf line;
	unsigned lineno;
	/* .vtt and .srt: where in the file we are, and the cue being read */
	struct {
		enum { CUE_SEEK, CUE_FIRST, CUE_HEADER, CUE_SKIP, CUE_TEXT } state;
		int64_t start, end;
		size_t bytes, lines;
		int speaker_done;
	} cue;
	buf source; /* .jsonl: "path#id" */
};

static inline int line_blank(const struct line *l)
{
	for (size_t i = 0; i < l->len; i++)
		if (!isspace((unsigned char)l->p[i]))
			return 0;
	return 1;
}

/* The reader's helpers (input.c). */
/* Cuts the open text [rd->open, upto) into units of cue time start..end (-1: none); with
 * whole = 0 the unit is still growing and only what is certain is cut. */
void reader_cut_units(struct reader *rd, size_t upto, int64_t start, int64_t end, int whole);
/* Starts a new document named source (which must outlive it) in rd->doc. */
void reader_begin_document(struct reader *rd, const char *source);
/* Hands the document, or with more its part so far, to fn; non-zero when reading stops. */
int reader_deliver(struct reader *rd, int more);

/* The formats' handlers, as the format table in input.c describes them. */
void text_feed(struct reader *rd, const char *p, size_t n); /* appends, "\r\n" as "\n" */
void text_blocks(struct reader *rd, const char *p, size_t n);
int text_finish(struct reader *rd);
void vtt_init(struct reader *rd);
int cue_line(struct reader *rd, const struct line *l);
int cue_finish(struct reader *rd);
int jsonl_line(struct reader *rd, const struct line *l);

#endif
