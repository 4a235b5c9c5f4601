/* vec.c: vector keys, the embedding answer's frame and cosine similarity (vec.h). */
#include "vec.h"
#include "chunk.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Vectors travel and rest as little-endian float32 and are used in place as floats. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "kgsup keeps float32 little-endian");
_Static_assert(sizeof(float) == 4, "float is not float32");

#define VEC_HEAD 12

void vec_key(const char *model, int64_t dims, const char *text, size_t len,
	     unsigned char out[HASH_LEN])
{
	hash_ctx *h = hash_new();
	char head[64];
	int n = snprintf(head, sizeof head, "kgsup vector v1\n%lld\n", (long long)dims);
	hash_update(h, head, (size_t)n);
	hash_update(h, model, strlen(model) + 1);
	hash_update(h, text, len);
	hash_final(h, out);
}

size_t vec_input_len(const char *text, size_t len, int64_t max_tokens)
{
	size_t max = (size_t)max_tokens * BYTES_PER_TOKEN;
	if (len <= max)
		return len;
	while (max && ((unsigned char)text[max] & 0xc0) == 0x80)
		max--;
	return max;
}

static void put_u32(buf *b, uint32_t v)
{
	unsigned char x[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 24) };
	buf_put(b, x, 4);
}

static uint32_t get_u32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

void vec_payload_begin(buf *b, uint32_t n, uint32_t dims)
{
	buf_put(b, "KGV1", 4);
	put_u32(b, n);
	put_u32(b, dims);
}

void vec_payload_add(buf *b, const unsigned char key[HASH_LEN], const void *f32le, uint32_t dims)
{
	buf_put(b, key, HASH_LEN);
	buf_put(b, f32le, (size_t)dims * 4);
}

int vec_payload_read(const char *p, size_t len, uint32_t *n, uint32_t *dims)
{
	if (len < VEC_HEAD || memcmp(p, "KGV1", 4))
		return -1;
	*n = get_u32(p + 4);
	*dims = get_u32(p + 8);
	if (!*dims || *dims > VEC_MAX_DIMS)
		return -1;
	size_t each = HASH_LEN + (size_t)*dims * 4;
	return (len - VEC_HEAD) % each || (len - VEC_HEAD) / each != *n ? -1 : 0;
}

const unsigned char *vec_payload_item(const char *p, uint32_t i, uint32_t dims, const void **f32le)
{
	const char *at = p + VEC_HEAD + (size_t)i * (HASH_LEN + (size_t)dims * 4);
	*f32le = at + HASH_LEN;
	return (const unsigned char *)at;
}

float vec_cosine(const float *a, const float *b, size_t n)
{
	float dot = 0, na = 0, nb = 0;
	for (size_t i = 0; i < n; i++) {
		dot += a[i] * b[i];
		na += a[i] * a[i];
		nb += b[i] * b[i];
	}
	return na > 0 && nb > 0 ? dot / sqrtf(na * nb) : 0;
}
