/* vec.h: embedding vectors as kgsup keeps and carries them. A vector is dims float32 values,
 * little-endian (as servers send them in base64, and as NumPy reads them), kept under the
 * SHA-256 of what determines it: the model, the dimensions asked for and the exact text sent.
 * The same text is then embedded once, in a run or in any run sharing the cache.
 *
 * A worker's answer to an embedding batch (the RESULT payload) carries each vector with its
 * key, so that the supervisor keeps it under the text it was asked for whatever else changed
 * while the call was out:
 *   "KGV1", u32le n, u32le dims, then n times: HASH_LEN key, dims float32le. */
#ifndef KGSUP_VEC_H
#define KGSUP_VEC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "hash.h"

#define VEC_MAX_DIMS 65536

/* The key of text (its first len bytes) embedded by model at dims (0: the model's own). */
void vec_key(const char *model, int64_t dims, const char *text, size_t len,
	     unsigned char out[HASH_LEN]);
/* How much of text (len bytes) is sent when an input is at most max_tokens: all of it, or a
 * cut at a UTF-8 character's start. */
size_t vec_input_len(const char *text, size_t len, int64_t max_tokens);

void vec_payload_begin(buf *b, uint32_t n, uint32_t dims);
/* One vector: dims float32 as raw little-endian bytes. */
void vec_payload_add(buf *b, const unsigned char key[HASH_LEN], const void *f32le,
		     uint32_t dims);
/* Checks a payload's frame: 0 with *n and *dims set, or -1. */
int vec_payload_read(const char *p, size_t len, uint32_t *n, uint32_t *dims);
/* Vector i of a checked payload: its key, and its bytes in *f32le (not aligned). */
const unsigned char *vec_payload_item(const char *p, uint32_t i, uint32_t dims,
				      const void **f32le);

/* Cosine similarity of two vectors of n floats. */
float vec_cosine(const float *a, const float *b, size_t n);

#endif
