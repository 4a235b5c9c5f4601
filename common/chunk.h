/* chunk.h: packs a document's units into chunks of about chunk_tokens tokens (4 bytes a
 * token), cut only between units, with about overlap_tokens of the previous chunk repeated at
 * the start of the next. Chunk ids are a hash of the source's name (relative to the input
 * given, so moving the input directory changes nothing), the chunk's position and its text:
 * the same input and settings give the same ids in every run. */
#ifndef KGSUP_CHUNK_H
#define KGSUP_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "input.h"

#define BYTES_PER_TOKEN 4
#define CHUNK_ID_LEN 16 /* hex characters */

struct chunk {
	char id[CHUNK_ID_LEN + 1];
	const char *text; /* points into the document; not NUL-terminated */
	size_t len;
	uint32_t index; /* position within its document */
	int64_t start_ms, end_ms; /* cue times of the first and last unit, -1 when none */
};

typedef int (*chunk_fn)(const struct chunk *c, void *arg);

/* Calls fn for each chunk of doc in order; stops and returns fn's value if it is non-zero.
 * For a part with more to come, the last chunk waits for the next part: doc->keep says from
 * which unit on, and doc->next_index moves on by the chunks made. */
int chunk_document(struct document *doc, size_t chunk_bytes, size_t overlap_bytes, chunk_fn fn,
		   void *arg);

void chunk_make_id(const char *source, uint32_t index, const char *text, size_t len,
		   char id[CHUNK_ID_LEN + 1]);

#endif
