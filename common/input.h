/* input.h: transcript readers. Each turns one file into documents: a normalised text and
 * its units (lines, sentences or subtitle cues, each with its cue time when the format has
 * one), which the chunker then packs into chunks.
 *   .txt .md  - the text as is (Speaker: labels kept), units at lines and sentences
 *   .vtt .srt - header, cue numbers and timings dropped, <v Speaker> kept as "Speaker: "
 *   .jsonl    - one {"id": "...", "text": "..."} per line, each line a document
 * The formats are the rows of one table (input.c); each one's handlers are in a file of its
 * own (text.c, cue.c, jsonl.c). */
#ifndef KGSUP_INPUT_H
#define KGSUP_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct unit {
	size_t off, len;  /* slice of the document text, separator included */
	int64_t start_ms; /* cue time, -1 when the format has none */
	int64_t end_ms;
};

struct document {
	const char *source; /* path of the file, or "path#id" for a .jsonl line */
	const char *id_source; /* the name chunk ids hash (relative to the input root); NULL: source */
	buf text;
	struct unit *units;
	size_t nunits, capunits;
	/* A long document comes in parts: text and units are what is new in this part plus the
	 * units the callee left unused last time (from keep on). */
	unsigned part;	     /* 0 for the first part */
	int more;	     /* 1 when more parts of this document follow */
	size_t fresh;	     /* text from here on was in no earlier part */
	size_t keep;	     /* set by the callee: the first unit it wants again with the next part */
	uint32_t next_index; /* the index of the next chunk of the document */
};

/* The text a part holds at most, roughly (one line of .vtt or .srt may make it longer). */
#define INPUT_PART_BYTES ((size_t)4 << 20)

enum input_format { FMT_NONE, FMT_TEXT, FMT_VTT, FMT_SRT, FMT_JSONL };

/* By file name ending; FMT_NONE for anything kgsup does not read. */
enum input_format input_format_of(const char *path);
/* The endings kgsup reads, for messages: ".txt .md .vtt .srt .jsonl". */
const char *input_endings(void);
/* 1 when a file of this format is one document (which may come in parts); 0 when it holds
 * many, each handed over whole (a .jsonl line), or for a format kgsup does not read. */
int input_one_document(enum input_format fmt);

/* Called for each document of a file, or for each part of a long one; returns 0 to go on,
 * non-zero to stop. */
typedef int (*document_fn)(struct document *doc, void *arg);

/* Reads one file of a known format, in blocks, handing documents over in parts of about
 * INPUT_PART_BYTES of text. Returns 0, 1 when fn stopped it, or -1 with "FILE[:LINE]: what"
 * in err. Units longer than max_unit bytes are split at white space. */
int input_read_file(const char *path, enum input_format fmt, size_t max_unit, document_fn fn,
		    void *arg, char *err, size_t errlen);
/* The same over bytes in memory, in parts of part_bytes (the tests' way to cut small parts). */
int input_read_mem(const char *name, enum input_format fmt, const char *text, size_t len,
		   size_t max_unit, size_t part_bytes, document_fn fn, void *arg, char *err,
		   size_t errlen);

/* Parsers that fill doc with the whole of a text in memory (for the tests and fuzzers). */
void input_parse_text(struct document *doc, const char *text, size_t len, size_t max_unit);
int input_parse_vtt(struct document *doc, const char *text, size_t len, size_t max_unit);
int input_parse_srt(struct document *doc, const char *text, size_t len, size_t max_unit);

void document_init(struct document *doc, const char *source);
void document_free(struct document *doc);

/* Parses "hh:mm:ss.mmm", "mm:ss.mmm" (and "," for srt) into ms; -1 if it is not a time. */
int64_t input_parse_time(const char *s, size_t len);

#endif
