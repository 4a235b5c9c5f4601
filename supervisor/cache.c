/* cache.c: the request cache and the per-chunk reuse of its answers (cache.h). */
#include "cache.h"
#include "../common/hash.h"
#include "../common/json.h"
#include "../common/log.h"
#include "../common/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>

void cache_request_key(const char *body, size_t len, unsigned char out[HASH_LEN])
{
	hash_once(body, len, out);
}

/* File systems (statfs's f_type) where LMDB's locks or its shared map are not what they are on
 * a local disk: a lock taken on one machine is not seen on another, or writes through one
 * machine's map reach another's late. LMDB's own documentation warns off remote file systems. */
static const struct {
	unsigned long magic;
	const char *name;
} network_fs[] = {
	{ 0x6969, "NFS" },
	{ 0x517B, "SMB" },
	{ 0xFF534D42, "CIFS" },
	{ 0xFE534D42, "SMB2" },
	{ 0x73757245, "Coda" },
	{ 0x5346414F, "AFS" },
	{ 0x6B414653, "kAFS" },
	{ 0x01021997, "9P" },
	{ 0x00C36400, "CephFS" },
	{ 0x0BD00BD0, "Lustre" },
	{ 0x47504653, "GPFS" },
	{ 0x01161970, "GFS2" },
	{ 0x7461636F, "OCFS2" },
	{ 0x564C, "NCP" },
};

int cache_path_check(const char *path, char *err, size_t errlen)
{
	/* the store may not exist yet: the nearest directory that does is where it will be */
	char at[4096];
	snprintf(at, sizeof at, "%s", path);
	struct statfs fs;
	while (statfs(at, &fs) < 0) {
		char *slash = strrchr(at, '/');
		if (errno != ENOENT || !slash || slash == at) {
			if (errno == ENOENT && (!slash || slash == at) && !statfs(slash ? "/" : ".", &fs))
				break;
			snprintf(err, errlen, "cache.path: %s: %s", path, strerror(errno));
			return -1;
		}
		*slash = '\0';
	}
	for (size_t i = 0; i < sizeof network_fs / sizeof network_fs[0]; i++)
		if ((unsigned long)(unsigned int)fs.f_type == network_fs[i].magic) {
			snprintf(err, errlen, "cache.path: %s is on %s, a network file system: LMDB's "
				 "locks do not hold across machines there and the cache could be "
				 "corrupted; give each machine's runs a cache.path on a local disk (or "
				 "null: the cache in the state directory)", path, network_fs[i].name);
			return -1;
		}
	return 0;
}

/* The per-chunk cache: a chunk's part of an answer is found under a key of the chunk's id and
 * of every setting that shapes an answer except how chunks are grouped (and max_tokens, a
 * bound), so a run with another chunking.chunks_per_batch buys no chunk twice. */
static void chunk_settings(const struct config *cfg, const struct prompts *pr,
			   unsigned char out[HASH_LEN])
{
	hash_ctx *h = hash_new();
	buf s;
	buf_init(&s);
	buf_printf(&s, "kgsup chunk part v1\n%s\n%.17g\n%d\n%s\n", cfg->model, cfg->temperature,
		   cfg->json_mode, cfg->entity_types);
	hash_update(h, s.data, s.len);
	hash_update(h, pr->system, strlen(pr->system) + 1);
	hash_update(h, pr->user, strlen(pr->user) + 1);
	hash_final(h, out);
	buf_free(&s);
}

static void chunk_key(const struct cache *c, const char id[CHUNK_ID_LEN], unsigned char out[HASH_LEN])
{
	unsigned char in[HASH_LEN + CHUNK_ID_LEN];
	memcpy(in, c->chunk_settings, HASH_LEN);
	memcpy(in + HASH_LEN, id, CHUNK_ID_LEN);
	hash_once(in, sizeof in, out);
}

void cache_init(struct cache *c, store *db, store *shared, const struct config *cfg,
		const struct prompts *pr, int chunk_reuse)
{
	memset(c, 0, sizeof *c);
	c->chunk_reuse = chunk_reuse;
	c->db = db;
	c->shared = shared;
	c->ttl_days = (long)cfg->cache_ttl_days;
	chunk_settings(cfg, pr, c->chunk_settings);
	buf_init(&c->rec);
	buf_init(&c->part);
	buf_init(&c->rels);
}

void cache_free(struct cache *c)
{
	buf_free(&c->rec);
	buf_free(&c->part);
	buf_free(&c->rels);
}

int cache_round_begin(struct cache *c, size_t need, int use_shared)
{
	c->txn = NULL;
	c->shared_failed = 0;
	if (store_ensure_room(c->db, need))
		return -1;
	if (c->shared == c->db || !use_shared)
		return 0;
	if (store_ensure_room(c->shared, need) || !(c->txn = store_begin(c->shared, 1)))
		log_warn("shared cache unavailable this round: %s", store_strerror(c->shared));
	return 0;
}

void cache_round_end(struct cache *c, int ok)
{
	if (!c->txn)
		return;
	if (!ok)
		store_abort(c->txn);
	else if (store_commit(c->txn))
		log_warn("cannot commit to the shared cache: %s", store_strerror(c->shared));
	c->txn = NULL;
}

/* Reads and writes go to the shared cache's transaction when there is one. */
static store_txn *txn_of(const struct cache *c, store_txn *t)
{
	return c->txn ? c->txn : t;
}

static int put(struct cache *c, store_txn *t, const void *key, size_t klen, const void *v,
	       size_t vlen)
{
	if (!store_put(txn_of(c, t), DB_CACHE, key, klen, v, vlen))
		return 0;
	if (c->txn)
		c->shared_failed = 1;
	return STORE_FULL;
}

/* Points each chunk of a batch at the batch's cached answer, so another grouping of the same
 * chunks buys none of them again. Only a reference per chunk: the answer is stored once and
 * read apart only when a regrouped batch needs it. */
static int put_chunk_refs(struct cache *c, store_txn *t, const struct batch_rec *b)
{
	struct chunk_ref ref;
	memcpy(ref.batch_key, b->key, HASH_LEN);
	ref.nchunks = b->nchunks;
	for (uint32_t i = 0; i < b->nchunks; i++) {
		char id[CHUNK_ID_LEN + 1];
		unsigned char key[HASH_LEN];
		if (chunk_id_read(t, b->first_chunk + i, id))
			continue;
		chunk_key(c, id, key);
		if (put(c, t, key, HASH_LEN, &ref, sizeof ref))
			return STORE_FULL;
	}
	return 0;
}

int cache_store_answer(struct cache *c, store_txn *t, const unsigned char key[HASH_LEN],
		       const struct msg_result *m)
{
	struct cache_rec r = { wall_ms(), m->prompt_tokens, m->completion_tokens };
	buf_reset(&c->rec);
	buf_put(&c->rec, &r, sizeof r);
	buf_put(&c->rec, m->payload, m->payload_len);
	return put(c, t, key, HASH_LEN, c->rec.data, c->rec.len);
}

int cache_store(struct cache *c, store_txn *t, const struct batch_rec *b,
		const struct msg_result *m)
{
	if (cache_store_answer(c, t, b->key, m))
		return STORE_FULL;
	return c->chunk_reuse ? put_chunk_refs(c, t, b) : 0;
}

int cache_put_invalid(struct cache *c, store_txn *t, const unsigned char key[HASH_LEN],
		      const struct msg_invalid *m)
{
	unsigned char k[HASH_LEN + 8];
	memcpy(k, key, HASH_LEN);
	uint64_t when = (uint64_t)wall_ms();
	for (int i = 0; i < 8; i++)
		k[HASH_LEN + i] = (unsigned char)(when >> (56 - 8 * i));
	buf *v = &c->rec;
	buf_reset(v);
	buf_put(v, m->reason, m->reason_len);
	buf_putc(v, '\n');
	buf_put(v, m->content, m->content_len);
	return store_put(t, DB_INVALID, k, sizeof k, v->data, v->len) ? STORE_FULL : 0;
}

/* A cache record still within cache.ttl_days (copied out: LMDB values are not aligned). */
static int fresh(const struct cache *c, const void *v, size_t len, struct cache_rec *r)
{
	if (len < sizeof *r)
		return 0;
	memcpy(r, v, sizeof *r);
	return c->ttl_days <= 0 || r->stored_wall_ms + c->ttl_days * 86400000LL >= wall_ms();
}

static int whole(struct cache *c, store_txn *t, const unsigned char *key, struct cache_answer *a)
{
	const void *v;
	size_t len;
	struct cache_rec r;
	if (store_get(txn_of(c, t), DB_CACHE, key, HASH_LEN, &v, &len) || !fresh(c, v, len, &r))
		return 0;
	a->data = (const char *)v + sizeof r;
	a->len = len - sizeof r;
	a->prompt_tokens = r.prompt_tokens;
	a->completion_tokens = r.completion_tokens;
	return 1;
}

/* Chunk i of batch b: its id, and the cached answer that holds it (with that answer's record
 * and reference). Returns the answer JSON, or NULL when the chunk is not answered (or too old). */
static const char *chunk_answer(struct cache *c, store_txn *t, const struct batch_rec *b,
				uint32_t i, char id[CHUNK_ID_LEN + 1], struct chunk_ref *ref,
				struct cache_rec *r, size_t *len)
{
	unsigned char key[HASH_LEN];
	const void *v;
	size_t n;
	if (chunk_id_read(t, b->first_chunk + i, id))
		return NULL;
	chunk_key(c, id, key);
	if (store_get(txn_of(c, t), DB_CACHE, key, HASH_LEN, &v, &n) || n != sizeof *ref)
		return NULL;
	memcpy(ref, v, sizeof *ref);
	if (store_get(txn_of(c, t), DB_CACHE, ref->batch_key, HASH_LEN, &v, &n) || !fresh(c, v, n, r))
		return NULL;
	*len = n - sizeof *r;
	return (const char *)v + sizeof *r;
}

static int has_id(const json *ids, const char *id)
{
	for (const json *c = json_first(ids); c; c = json_next(c)) {
		const char *s = json_string(c);
		if (s && !strcmp(s, id))
			return 1;
	}
	return 0;
}

/* Appends the items of arr seen in chunk id to out (n items there so far), each with
 * "chunks":[id]. */
static void part_items(buf *out, int *n, const json *arr, const char *id)
{
	for (const json *it = json_first(arr); it; it = json_next(it)) {
		if (!has_id(json_get(it, "chunks"), id))
			continue;
		buf_puts(out, (*n)++ ? ",{" : "{");
		for (const json *f = json_first(it); f; f = json_next(f)) {
			if (!strcmp(json_key(f), "chunks"))
				continue;
			buf_json_str(out, json_key(f), strlen(json_key(f)));
			buf_putc(out, ':');
			json_write(f, out);
			buf_putc(out, ',');
		}
		buf_printf(out, "\"chunks\":[\"%s\"]}", id);
	}
}

/* Every chunk of b is answered in other groupings: its answer is put together from the items
 * the earlier answers gave each chunk, with each chunk's share of their tokens. */
static void assemble(struct cache *c, store_txn *t, const struct batch_rec *b,
		     struct cache_answer *a)
{
	char id[CHUNK_ID_LEN + 1];
	struct chunk_ref ref;
	struct cache_rec r;
	size_t len;
	buf *ents = &c->part, *rels = &c->rels;
	buf_reset(ents);
	buf_reset(rels);
	buf_puts(ents, "{\"entities\":[");
	int ne = 0, nr = 0;
	json *answer = NULL;
	unsigned char parsed[HASH_LEN] = { 0 };
	a->prompt_tokens = a->completion_tokens = 0;
	for (uint32_t i = 0; i < b->nchunks; i++) {
		const char *v = chunk_answer(c, t, b, i, id, &ref, &r, &len);
		if (!v)
			continue; /* (known a moment ago, in this same transaction) */
		/* chunks of one earlier batch share its answer: parse it once for them */
		if (!answer || memcmp(parsed, ref.batch_key, HASH_LEN)) {
			json_free(answer);
			answer = json_parse(v, len, NULL, 0);
			memcpy(parsed, ref.batch_key, HASH_LEN);
		}
		part_items(ents, &ne, json_get(answer, "entities"), id);
		part_items(rels, &nr, json_get(answer, "relations"), id);
		a->prompt_tokens += r.prompt_tokens / (ref.nchunks ? ref.nchunks : 1);
		a->completion_tokens += r.completion_tokens / (ref.nchunks ? ref.nchunks : 1);
	}
	json_free(answer);
	buf_puts(ents, "],\"relations\":[");
	buf_put(ents, rels->data, rels->len);
	buf_puts(ents, "],\"dropped_relations\":0}");
	a->data = ents->data;
	a->len = ents->len;
}

void cache_plan_begin(struct cache *c)
{
	c->txn = c->shared != c->db ? store_begin(c->shared, 0) : NULL;
}

void cache_plan_end(struct cache *c)
{
	store_abort(c->txn);
	c->txn = NULL;
}

int cache_vec_find(struct cache *c, const unsigned char key[HASH_LEN], const void **f32le,
		   size_t *dims)
{
	size_t n;
	if (!c->txn || store_get(c->txn, DB_VECTORS, key, HASH_LEN, f32le, &n) || !n || n % 4)
		return STORE_NOTFOUND;
	*dims = n / 4;
	return 0;
}

int cache_vec_put(struct cache *c, const unsigned char key[HASH_LEN], const void *f32le,
		  size_t dims)
{
	if (!c->txn || !store_put(c->txn, DB_VECTORS, key, HASH_LEN, f32le, dims * 4))
		return 0;
	c->shared_failed = 1;
	return STORE_FULL;
}

int cache_row_find(struct cache *c, store_txn *t, const unsigned char key[HASH_LEN],
		   const char **data, size_t *len)
{
	const void *v;
	size_t n;
	struct cache_rec r;
	if (store_get(txn_of(c, t), DB_ROWCACHE, key, HASH_LEN, &v, &n) || !fresh(c, v, n, &r))
		return STORE_NOTFOUND;
	*data = (const char *)v + sizeof r;
	*len = n - sizeof r;
	return 0;
}

int cache_row_put(struct cache *c, store_txn *t, const unsigned char key[HASH_LEN],
		  const char *data, size_t len)
{
	struct cache_rec r = { wall_ms(), 0, 0 };
	buf_reset(&c->rec);
	buf_put(&c->rec, &r, sizeof r);
	buf_put(&c->rec, data, len);
	if (!store_put(txn_of(c, t), DB_ROWCACHE, key, HASH_LEN, c->rec.data, c->rec.len))
		return 0;
	if (c->txn)
		c->shared_failed = 1;
	return STORE_FULL;
}

int cache_find(struct cache *c, store_txn *t, const struct batch_rec *b, struct cache_answer *a)
{
	memset(a, 0, sizeof *a);
	if (whole(c, t, b->key, a))
		return CACHE_HIT;
	if (!c->chunk_reuse)
		return CACHE_MISS;
	char id[CHUNK_ID_LEN + 1];
	struct chunk_ref ref;
	struct cache_rec r;
	size_t len;
	for (uint32_t i = 0; i < b->nchunks; i++)
		a->known += chunk_answer(c, t, b, i, id, &ref, &r, &len) != NULL;
	if (a->known == 0)
		return CACHE_MISS;
	if (a->known < b->nchunks)
		return CACHE_PARTIAL;
	assemble(c, t, b, a);
	return CACHE_HIT;
}
