/* chunk.c: packing units into overlapping chunks with stable ids. */
#include "chunk.h"
#include "hash.h"

#include <ctype.h>
#include <string.h>

void chunk_make_id(const char *source, uint32_t index, const char *text, size_t len,
		   char id[CHUNK_ID_LEN + 1])
{
	unsigned char digest[HASH_LEN];
	unsigned char idx[4] = { (unsigned char)index, (unsigned char)(index >> 8),
				 (unsigned char)(index >> 16), (unsigned char)(index >> 24) };
	hash_ctx *h = hash_new();
	hash_update(h, source, strlen(source) + 1);
	hash_update(h, idx, sizeof idx);
	hash_update(h, text, len);
	hash_final(h, digest);
	hash_hex(digest, CHUNK_ID_LEN / 2, id);
}

/* The chunk covering units [first, last), trimmed of surrounding white space. */
static int emit(const struct document *doc, size_t first, size_t last, uint32_t index,
		chunk_fn fn, void *arg)
{
	const struct unit *u = doc->units;
	const char *t = doc->text.data;
	size_t s = u[first].off;
	size_t e = u[last - 1].off + u[last - 1].len;
	while (s < e && isspace((unsigned char)t[s]))
		s++;
	while (e > s && isspace((unsigned char)t[e - 1]))
		e--;
	if (s == e)
		return 0; /* nothing but white space: not worth a chunk */
	struct chunk c;
	c.text = t + s;
	c.len = e - s;
	c.index = index;
	c.start_ms = u[first].start_ms;
	c.end_ms = u[last - 1].end_ms;
	chunk_make_id(doc->id_source ? doc->id_source : doc->source, index, c.text, c.len, c.id);
	return fn(&c, arg);
}

int chunk_document(struct document *doc, size_t chunk_bytes, size_t overlap_bytes, chunk_fn fn,
		   void *arg)
{
	const struct unit *u = doc->units;
	size_t n = doc->nunits;
	size_t first = 0;
	uint32_t index = doc->next_index;
	while (first < n) {
		size_t last = first, size = 0;
		/* always take at least one unit; then as many as fit */
		do {
			size += u[last].len;
			last++;
		} while (last < n && size + u[last].len <= chunk_bytes);
		if (last == n && doc->more)
			break; /* the next part may add to this chunk */
		int rc = emit(doc, first, last, index, fn, arg);
		if (rc)
			return rc;
		index++;
		if (last == n) {
			first = n;
			break;
		}
		/* step back over whole units that fit in the overlap, but always move forward */
		size_t next = last, back = 0;
		while (next - 1 > first && back + u[next - 1].len <= overlap_bytes) {
			back += u[next - 1].len;
			next--;
		}
		first = next;
	}
	doc->keep = first;
	if (doc->more)
		doc->next_index = index;
	return 0;
}
