/* vecstore.c: a run's embedding vectors (vecstore.h). */
#include "vecstore.h"
#include "runstate.h"

#include <string.h>

int vecstore_get(store_txn *t, const unsigned char key[HASH_LEN], float *out, size_t cap,
		 size_t *dims)
{
	const void *v;
	size_t n;
	int rc = store_get(t, DB_VECTORS, key, HASH_LEN, &v, &n);
	if (rc)
		return rc;
	if (!n || n % 4)
		return STORE_ERROR;
	*dims = n / 4;
	if (out && cap >= *dims)
		memcpy(out, v, n); /* LMDB's values are not aligned for floats */
	return 0;
}

int vecstore_put(store_txn *t, const unsigned char key[HASH_LEN], const void *f32le, size_t dims)
{
	return store_put(t, DB_VECTORS, key, HASH_LEN, f32le, dims * 4);
}

int vecstore_has(store_txn *t, const unsigned char key[HASH_LEN])
{
	const void *v;
	size_t n;
	return store_get(t, DB_VECTORS, key, HASH_LEN, &v, &n) == 0;
}

void vecstore_entity_text(const struct gentity *e, buf *out)
{
	buf_reset(out);
	if (e->names.n)
		buf_puts(out, e->names.v[0].text);
	if (e->types.n) {
		buf_puts(out, " (");
		buf_puts(out, e->types.v[0].text);
		buf_putc(out, ')');
	}
	for (size_t i = 0; i < e->descriptions.n; i++) {
		buf_puts(out, i ? "; " : ": ");
		buf_puts(out, e->descriptions.v[i].text);
	}
}

int vecstore_chunk_key(store_txn *t, const struct stage *st, uint32_t n,
		       unsigned char key[HASH_LEN])
{
	const void *v;
	size_t len;
	if (record_get(t, DB_CHUNKS, n, &v, &len) || len < sizeof(struct chunk_rec))
		return -1;
	const char *text = (const char *)v + sizeof(struct chunk_rec);
	len -= sizeof(struct chunk_rec);
	vec_key(st->model, st->dimensions, text, vec_input_len(text, len, st->max_input_tokens), key);
	return 0;
}

void vecstore_entity_key(const struct stage *st, const struct gentity *e, buf *scratch,
			 unsigned char key[HASH_LEN])
{
	vecstore_entity_text(e, scratch);
	const char *text = scratch->data ? scratch->data : "";
	vec_key(st->model, st->dimensions, text, vec_input_len(text, scratch->len, st->max_input_tokens),
		key);
}
