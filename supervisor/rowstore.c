/* rowstore.c: the records of rowstore.h. A row record is a fixed head (source, chunk, line,
 * the id's length and the number of cells), the id, then each kept cell as a u32 length and
 * its bytes; lengths are host-order like every record of a run. An answer is one byte saying
 * where it came from, then the item's JSON. */
#include "rowstore.h"
#include "runstate.h"
#include "../common/util.h"

#include <stdlib.h>
#include <string.h>

struct row_head {
	uint32_t source, chunk;
	uint64_t line;
	uint32_t idlen, ncells;
};

int row_write(store_txn *t, const struct row_view *r, buf *scratch)
{
	struct row_head h = { r->source, r->chunk, r->line, (uint32_t)r->idlen,
			      (uint32_t)r->ncells };
	buf_reset(scratch);
	buf_put(scratch, &h, sizeof h);
	buf_put(scratch, r->id, r->idlen);
	for (size_t i = 0; i < r->ncells; i++) {
		uint32_t len = (uint32_t)r->cell_len[i];
		buf_put(scratch, &len, sizeof len);
		buf_put(scratch, r->cell[i], len);
	}
	unsigned char k[4];
	wr_u32be(k, r->n);
	return store_put(t, DB_ROWS, k, 4, scratch->data, scratch->len);
}

static int row_parse(const unsigned char *p, size_t len, struct row_view *r)
{
	struct row_head h;
	if (len < sizeof h)
		return STORE_ERROR;
	memcpy(&h, p, sizeof h);
	size_t at = sizeof h;
	if (h.idlen > len - at || h.ncells > ROW_MAX_KEEP)
		return STORE_ERROR;
	r->source = h.source;
	r->chunk = h.chunk;
	r->line = h.line;
	r->id = (const char *)p + at;
	r->idlen = h.idlen;
	at += h.idlen;
	r->ncells = h.ncells;
	for (size_t i = 0; i < h.ncells; i++) {
		uint32_t cl;
		if (len - at < sizeof cl)
			return STORE_ERROR;
		memcpy(&cl, p + at, sizeof cl);
		at += sizeof cl;
		if (cl > len - at)
			return STORE_ERROR;
		r->cell[i] = (const char *)p + at;
		r->cell_len[i] = cl;
		at += cl;
	}
	return 0;
}

int row_read(store_txn *t, uint32_t n, struct row_view *r)
{
	unsigned char k[4];
	wr_u32be(k, n);
	const void *v;
	size_t len;
	int rc = store_get(t, DB_ROWS, k, 4, &v, &len);
	if (rc)
		return rc;
	r->n = n;
	return row_parse(v, len, r);
}

int rows_each(store_txn *t, int (*fn)(const struct row_view *r, void *arg), void *arg)
{
	store_iter *it = store_iter_open(t, DB_ROWS, NULL, 0);
	if (!it)
		return STORE_ERROR;
	const void *k, *v;
	size_t klen, vlen;
	int rc = 0;
	struct row_view r;
	while (!rc && store_iter_next(it, &k, &klen, &v, &vlen)) {
		if (klen != 4 || row_parse(v, vlen, &r)) {
			rc = STORE_ERROR;
			break;
		}
		r.n = rd_u32be(k);
		rc = fn(&r, arg);
	}
	store_iter_close(it);
	return rc;
}

static void answer_key(unsigned char k[8], uint32_t stage, uint32_t chunk)
{
	wr_u32be(k, stage);
	wr_u32be(k + 4, chunk);
}

int row_answer_from(store_txn *t, uint32_t stage, uint32_t chunk, const char **json, size_t *len,
		    int *from)
{
	unsigned char k[8];
	answer_key(k, stage, chunk);
	const void *v;
	size_t n;
	int rc = store_get(t, DB_ROWANS, k, 8, &v, &n);
	if (rc)
		return rc;
	if (n < 1)
		return STORE_ERROR;
	*from = *(const char *)v;
	*json = (const char *)v + 1;
	*len = n - 1;
	return 0;
}

int row_answer_get(store_txn *t, uint32_t stage, uint32_t chunk, const char **json, size_t *len)
{
	int from;
	return row_answer_from(t, stage, chunk, json, len, &from);
}

int row_answer_put(store_txn *t, uint32_t stage, uint32_t chunk, int from, const char *json,
		   size_t len)
{
	unsigned char k[8];
	answer_key(k, stage, chunk);
	/* the origin goes first: LMDB's MDB_RESERVE is not reachable here, so copy once */
	char *v = xmalloc(len + 1);
	v[0] = (char)from;
	memcpy(v + 1, json, len);
	int rc = store_put(t, DB_ROWANS, k, 8, v, len + 1);
	free(v);
	return rc;
}

int row_ask_put(store_txn *t, uint32_t stage, uint32_t k, uint32_t chunk)
{
	unsigned char key[8], v[4];
	answer_key(key, stage, k);
	wr_u32be(v, chunk);
	return store_put(t, DB_ROWASK, key, 8, v, 4);
}

int row_ask_get(store_txn *t, uint32_t stage, uint32_t k, uint32_t *chunk)
{
	unsigned char key[8];
	answer_key(key, stage, k);
	const void *v;
	size_t n;
	int rc = store_get(t, DB_ROWASK, key, 8, &v, &n);
	if (!rc && n != 4)
		rc = STORE_ERROR;
	if (!rc)
		*chunk = rd_u32be(v);
	return rc;
}

int rows_plan_read(store_txn *t, struct rows_plan *p)
{
	return meta_read_fixed(t, META_ROWS, p, sizeof *p);
}

int row_counters_read(store_txn *t, struct row_counters *v, size_t n)
{
	return meta_read_fixed(t, META_ROW_COUNTERS, v, n * sizeof *v);
}

int row_counters_write(store_txn *t, const struct row_counters *v, size_t n)
{
	return store_put(t, DB_META, META_ROW_COUNTERS, strlen(META_ROW_COUNTERS), v, n * sizeof *v);
}
