/* runstate.c: reading and writing the small fixed records of a run. */
#include "runstate.h"
#include "../common/buf.h"
#include "../common/util.h"

#include <string.h>

const char *run_state_name(uint32_t state)
{
	switch (state) {
	case RUN_DONE: return "done";
	case RUN_FAILED: return "failed";
	case RUN_ABORTED: return "aborted";
	default: return "stopped";
	}
}

uint64_t batches_total(const struct plan_rec *p, const struct counters *c)
{
	return p->nbatches - c->batches_split;
}

int counters_read(store_txn *t, struct counters *c)
{
	const void *v;
	size_t n;
	memset(c, 0, sizeof *c);
	int rc = store_get(t, DB_META, META_COUNTERS, strlen(META_COUNTERS), &v, &n);
	if (rc)
		return rc;
	memcpy(c, v, n < sizeof *c ? n : sizeof *c);
	return 0;
}

int counters_write(store_txn *t, const struct counters *c)
{
	return store_put(t, DB_META, META_COUNTERS, strlen(META_COUNTERS), c, sizeof *c);
}

int plan_read(store_txn *t, struct plan_rec *p)
{
	const void *v;
	size_t n;
	memset(p, 0, sizeof *p);
	int rc = store_get(t, DB_META, META_PLAN, strlen(META_PLAN), &v, &n);
	if (rc)
		return rc;
	if (n != sizeof *p)
		return STORE_ERROR;
	memcpy(p, v, sizeof *p);
	return p->version == RUNSTATE_VERSION ? 0 : STORE_ERROR;
}

int record_get(store_txn *t, enum store_db db, uint32_t n, const void **v, size_t *len)
{
	unsigned char k[4];
	wr_u32be(k, n);
	return store_get(t, db, k, 4, v, len);
}

int batch_read(store_txn *t, uint32_t n, struct batch_rec *b)
{
	const void *v;
	size_t len;
	int rc = record_get(t, DB_BATCHES, n, &v, &len);
	if (rc)
		return rc;
	if (len < sizeof *b)
		return STORE_ERROR;
	memcpy(b, v, sizeof *b);
	return 0;
}

int batch_write(store_txn *t, uint32_t n, const struct batch_rec *b, const char *err, size_t errlen)
{
	unsigned char k[4];
	wr_u32be(k, n);
	if (!errlen)
		return store_put(t, DB_BATCHES, k, 4, b, sizeof *b);
	buf v;
	buf_init(&v);
	buf_put(&v, b, sizeof *b);
	buf_put(&v, err, errlen);
	int rc = store_put(t, DB_BATCHES, k, 4, v.data, v.len);
	buf_free(&v);
	return rc;
}

int run_settings_read(store_txn *t, struct config *cfg, char *err, size_t errlen)
{
	const void *v;
	size_t n;
	int rc = store_get(t, DB_META, META_CONFIG, strlen(META_CONFIG), &v, &n);
	if (rc)
		return rc;
	return config_parse(cfg, v, n, "recorded settings", err, errlen);
}

int chunk_id_read(store_txn *t, uint32_t n, char id[CHUNK_ID_LEN + 1])
{
	const void *v;
	size_t len;
	struct chunk_rec c;
	if (record_get(t, DB_CHUNKS, n, &v, &len) || len < sizeof c)
		return -1;
	memcpy(&c, v, sizeof c);
	memcpy(id, c.id, CHUNK_ID_LEN);
	id[CHUNK_ID_LEN] = '\0';
	return 0;
}

int delivered_read(store_txn *t, struct delivered *d)
{
	const void *v;
	size_t n;
	memset(d, 0, sizeof *d);
	int rc = store_get(t, DB_META, META_DELIVERED, strlen(META_DELIVERED), &v, &n);
	if (rc)
		return rc == STORE_NOTFOUND ? 0 : rc;
	if (n < 12)
		return 0;
	uint32_t k;
	memcpy(&d->session, v, 8);
	memcpy(&k, (const char *)v + 8, 4);
	if ((size_t)k > (n - 12) / 4)
		return 0;
	d->nslots = k;
	d->acked = xcalloc(k ? k : 1, sizeof *d->acked);
	memcpy(d->acked, (const char *)v + 12, (size_t)k * 4);
	return 0;
}

int delivered_write(store_txn *t, const struct delivered *d, buf *scratch)
{
	buf_reset(scratch);
	buf_put(scratch, &d->session, 8);
	buf_put(scratch, &d->nslots, 4);
	buf_put(scratch, d->acked, (size_t)d->nslots * 4);
	return store_put(t, DB_META, META_DELIVERED, strlen(META_DELIVERED), scratch->data,
			 scratch->len);
}

int delivered_already(const struct delivered *d, uint64_t session, uint32_t slot, uint32_t seq)
{
	return d->acked && session == d->session && slot < d->nslots && d->acked[slot] &&
	       (int32_t)(seq - d->acked[slot]) <= 0;
}

int batchx_read(store_txn *t, uint32_t n, struct batch_ext *x)
{
	memset(x, 0, sizeof *x);
	const void *v;
	size_t len;
	int rc = record_get(t, DB_BATCHX, n, &v, &len);
	if (!rc)
		memcpy(x, v, len < sizeof *x ? len : sizeof *x);
	return rc;
}

int batchx_write(store_txn *t, uint32_t n, const struct batch_ext *x)
{
	unsigned char k[4];
	wr_u32be(k, n);
	return store_put(t, DB_BATCHX, k, 4, x, sizeof *x);
}

int meta_read_fixed(store_txn *t, const char *key, void *out, size_t size)
{
	memset(out, 0, size);
	const void *p;
	size_t len;
	int rc = store_get(t, DB_META, key, strlen(key), &p, &len);
	if (!rc)
		memcpy(out, p, len < size ? len : size);
	return rc;
}

int stage_counters_read(store_txn *t, struct stage_counters *v, size_t n)
{
	return meta_read_fixed(t, META_STAGES, v, n * sizeof *v);
}

int stage_counters_write(store_txn *t, const struct stage_counters *v, size_t n)
{
	return store_put(t, DB_META, META_STAGES, strlen(META_STAGES), v, n * sizeof *v);
}
