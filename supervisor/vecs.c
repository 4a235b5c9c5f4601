/* vecs.c: an embedding stage's inputs and answers (vecs.h). */
#include "vecs.h"
#include "graph.h"
#include "vecstore.h"
#include "../common/chunk.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../common/vec.h"

#include <stdlib.h>
#include <string.h>

/* DB_VECASK records: the kind, the input's key (its vector's, worked out once at plan time:
 * hashing a text for each take, render and answer cost more than the rest of the supervisor's
 * work for it), then the chunk's number or the entity's text. Runs planned before 0.6.0 have
 * the kinds without the key ('c', 'e'): their keys are worked out from the text. */
enum { ASK_CHUNK = 'c', ASK_ENTITY = 'e', ASK_CHUNK_KEYED = 'C', ASK_ENTITY_KEYED = 'E' };

void vecs_init(struct vecs *v, const struct job *job, const struct config *cfg)
{
	memset(v, 0, sizeof *v);
	v->job = job;
	v->cfg = cfg;
	buf_init(&v->text);
	buf_init(&v->scratch);
}

void vecs_free(struct vecs *v)
{
	map_free(&v->seen);
	buf_free(&v->text);
	buf_free(&v->scratch);
	free(v->sizes);
}

int vecs_stage(const struct job *job, uint32_t stage)
{
	return stage < job->n && job->st[stage].endpoint == EP_EMBEDDINGS;
}

static void ask_key(unsigned char key[8], uint32_t stage, uint32_t k)
{
	wr_u32be(key, stage);
	wr_u32be(key + 4, k);
}

static int ask_put(store_txn *t, uint32_t stage, uint32_t k, int kind,
		   const unsigned char vkey[HASH_LEN], const void *what, size_t len)
{
	unsigned char key[8];
	ask_key(key, stage, k);
	buf rec;
	buf_init(&rec);
	buf_putc(&rec, (char)kind);
	buf_put(&rec, vkey, HASH_LEN);
	buf_put(&rec, what, len);
	int rc = store_put(t, DB_VECASK, key, 8, rec.data, rec.len);
	buf_free(&rec);
	return rc ? STORE_FULL : 0;
}

/* Input k of stage's ask record: its kind, the key it holds (NULL: a kind without one), and
 * what follows (a chunk's number, an entity's text). 0, or -1 when it is missing or short. */
static int ask_get(store_txn *t, uint32_t stage, uint32_t k, char *kind,
		   const unsigned char **vkey, const char **what, size_t *len)
{
	unsigned char key[8];
	ask_key(key, stage, k);
	const void *r;
	size_t n;
	if (store_get(t, DB_VECASK, key, 8, &r, &n) || n < 1)
		return -1;
	const char *p = r;
	int keyed = p[0] == ASK_CHUNK_KEYED || p[0] == ASK_ENTITY_KEYED;
	size_t head = 1 + (keyed ? HASH_LEN : 0);
	if (n < head)
		return -1;
	*kind = p[0];
	*vkey = keyed ? (const unsigned char *)p + 1 : NULL;
	*what = p + head;
	*len = n - head;
	return 0;
}

/* The text input k of stage asks (cut as it is sent), valid until the transaction ends or
 * the next call, and its vector's key. 0, or -1 when it is missing. */
static int ask_text(const struct job *job, store_txn *t, uint32_t stage, uint32_t k,
		    const char **text, size_t *len, unsigned char vkey[HASH_LEN])
{
	char kind;
	const unsigned char *kept;
	const char *what;
	size_t n;
	if (ask_get(t, stage, k, &kind, &kept, &what, &n))
		return -1;
	if (kind == ASK_ENTITY || kind == ASK_ENTITY_KEYED) {
		*text = what;
		*len = n;
	} else if ((kind == ASK_CHUNK || kind == ASK_CHUNK_KEYED) && n == 4) {
		const void *c;
		size_t cn;
		if (record_get(t, DB_CHUNKS, rd_u32be(what), &c, &cn) ||
		    cn < sizeof(struct chunk_rec))
			return -1;
		*text = (const char *)c + sizeof(struct chunk_rec);
		*len = cn - sizeof(struct chunk_rec);
	} else {
		return -1;
	}
	const struct stage *st = &job->st[stage];
	*len = vec_input_len(*text, *len, st->max_input_tokens);
	if (kept)
		memcpy(vkey, kept, HASH_LEN);
	else
		vec_key(st->model, st->dimensions, *text, *len, vkey);
	return 0;
}

int vecs_ask_chunk(store_txn *t, uint32_t stage, uint32_t k, uint32_t *chunk)
{
	char kind;
	const unsigned char *kept;
	const char *what;
	size_t n;
	if (ask_get(t, stage, k, &kind, &kept, &what, &n) ||
	    (kind != ASK_CHUNK && kind != ASK_CHUNK_KEYED) || n != 4)
		return -1;
	*chunk = rd_u32be(what);
	return 0;
}

/* Whether the input under key is answered: kept here, or in the shared cache (then copied
 * here). 1, 0 or STORE_FULL. */
static int answered(struct cache *c, store_txn *t, const unsigned char key[HASH_LEN])
{
	if (vecstore_has(t, key))
		return 1;
	const void *f;
	size_t dims;
	if (!c || cache_vec_find(c, key, &f, &dims))
		return 0;
	return vecstore_put(t, key, f, dims) ? STORE_FULL : 1;
}

/* Listed already in this plan, by any stage (or now, for the first time): two stages of one
 * model and dimensions share their vectors, and asked by both a text would be bought twice
 * (their batches are out at once). */
static int listed(struct vecs *v, const unsigned char key[HASH_LEN])
{
	uint32_t n = (uint32_t)v->seen.n;
	return map_put(&v->seen, key, HASH_LEN, n) != n;
}

int vecs_new_batch(const struct stage *st, uint32_t count, uint64_t batch_tokens, uint32_t tokens)
{
	return count == 0 || count >= (uint64_t)st->per_call ||
	       batch_tokens + tokens > (uint64_t)st->max_call_tokens;
}

static uint32_t input_tokens(size_t len)
{
	return (uint32_t)(len / BYTES_PER_TOKEN + 1);
}

int vecs_plan_chunk(struct vecs *v, struct cache *c, store_txn *t, uint32_t stage, uint32_t chunk,
		    uint32_t k, uint32_t *tokens)
{
	const struct stage *st = &v->job->st[stage];
	const void *r;
	size_t n;
	if (record_get(t, DB_CHUNKS, chunk, &r, &n) || n < sizeof(struct chunk_rec))
		return 1; /* nothing to embed */
	const char *text = (const char *)r + sizeof(struct chunk_rec);
	n -= sizeof(struct chunk_rec);
	size_t len = vec_input_len(text, n, st->max_input_tokens);
	v->cut[stage] += len < n;
	unsigned char key[HASH_LEN];
	vec_key(st->model, st->dimensions, text, len, key);
	int got = answered(c, t, key);
	if (got)
		return got;
	if (listed(v, key))
		return 1;
	unsigned char ref[4];
	wr_u32be(ref, chunk);
	*tokens = input_tokens(len);
	return ask_put(t, stage, k, ASK_CHUNK_KEYED, key, ref, 4);
}

/* Calls fn for each input of batch b still without a vector. */
static int each_unanswered(const struct job *job, store_txn *t, uint32_t stage,
			   const struct batch_rec *b,
			   int (*fn)(void *arg, const char *text, size_t len,
				     const unsigned char key[HASH_LEN]),
			   void *arg)
{
	for (uint32_t i = 0; i < b->nchunks; i++) {
		const char *text;
		size_t len;
		unsigned char key[HASH_LEN];
		if (ask_text(job, t, stage, b->first_chunk + i, &text, &len, key))
			return -1;
		if (!vecstore_has(t, key)) {
			int rc = fn(arg, text, len, key);
			if (rc)
				return rc;
		}
	}
	return 0;
}

struct prep {
	struct cache *c;
	store_txn *t;
	uint32_t left;
};

static int prep_one(void *arg, const char *text, size_t len, const unsigned char key[HASH_LEN])
{
	(void)text, (void)len;
	struct prep *p = arg;
	int got = answered(p->c, p->t, key);
	if (got == STORE_FULL)
		return STORE_FULL;
	p->left += !got;
	return 0;
}

int vecs_prepare(struct vecs *v, struct cache *c, store_txn *t, uint32_t stage,
		 const struct batch_rec *b, uint32_t *left)
{
	struct prep p = { c, t, 0 };
	int rc = each_unanswered(v->job, t, stage, b, prep_one, &p);
	if (rc == STORE_FULL)
		return STORE_FULL;
	/* an input missing from the store is left for render to fail the batch on */
	*left = rc ? 1 : p.left;
	return 0;
}

struct render {
	buf *body;
	uint32_t n;
};

static int render_one(void *arg, const char *text, size_t len, const unsigned char key[HASH_LEN])
{
	(void)key;
	struct render *r = arg;
	if (r->n++)
		buf_putc(r->body, ',');
	buf_json_str(r->body, text, len);
	return 0;
}

int vecs_render(store_txn *t, const struct job *job, const struct config *cfg, uint32_t stage,
		const struct batch_rec *b, buf *body, uint32_t *est_tokens)
{
	const struct stage *st = &job->st[stage];
	buf_puts(body, "{\"model\":");
	buf_json_str(body, st->model, strlen(st->model));
	buf_puts(body, ",\"input\":[");
	struct render r = { body, 0 };
	if (each_unanswered(job, t, stage, b, render_one, &r) || !r.n)
		return -1;
	buf_printf(body, "],\"encoding_format\":\"%s\"", cfg->embeddings_base64 ? "base64" : "float");
	if (st->dimensions)
		buf_printf(body, ",\"dimensions\":%lld", (long long)st->dimensions);
	buf_putc(body, '}');
	*est_tokens = (uint32_t)(body->len / BYTES_PER_TOKEN);
	return 0;
}

static int count_one(void *arg, const char *text, size_t len, const unsigned char key[HASH_LEN])
{
	(void)text, (void)len, (void)key;
	(*(uint32_t *)arg)++;
	return 0;
}

/* The dimensions of the vector of stage's first input, 0 when it has none yet. */
static size_t first_dims(const struct job *job, store_txn *t, uint32_t stage)
{
	const char *text;
	size_t len, dims;
	unsigned char key[HASH_LEN];
	if (ask_text(job, t, stage, 0, &text, &len, key))
		return 0;
	return vecstore_get(t, key, NULL, 0, &dims) ? 0 : dims;
}

int vecs_answer(struct vecs *v, struct cache *c, store_txn *t, uint32_t stage,
		const struct batch_rec *b, const char *payload, size_t len, uint32_t *missing,
		uint32_t *dims_out)
{
	uint32_t n, dims;
	*missing = *dims_out = 0;
	if (vec_payload_read(payload, len, &n, &dims))
		return -1;
	*dims_out = dims;
	/* without "dimensions" the server picks them: a stage's vectors of two lengths (a
	 * proxy over two models) would not compare, and search and resolution would skip some */
	size_t want = v->job->st[stage].dimensions ? 0 : first_dims(v->job, t, stage);
	if (want && want != dims)
		return VECS_OTHER_DIMS;
	for (uint32_t i = 0; i < n; i++) {
		const void *f;
		const unsigned char *key = vec_payload_item(payload, i, dims, &f);
		if (vecstore_put(t, key, f, dims) || cache_vec_put(c, key, f, dims))
			return STORE_FULL;
	}
	return each_unanswered(v->job, t, stage, b, count_one, missing) ? -1 : 0;
}

/* Stage s's ask list so far: each input's key listed, and its length into *k0. 0 or -1. */
static int list_asks(struct vecs *v, store_txn *t, uint32_t s, uint32_t *k0)
{
	unsigned char start[8];
	ask_key(start, s, 0);
	store_iter *it = store_iter_open(t, DB_VECASK, start, sizeof start);
	const void *k, *r;
	size_t kl, rl;
	*k0 = 0;
	while (it && store_iter_next(it, &k, &kl, &r, &rl) && kl == 8 && rd_u32be(k) == s) {
		const char *text;
		size_t len;
		unsigned char key[HASH_LEN];
		if (ask_text(v->job, t, s, rd_u32be((const char *)k + 4), &text, &len, key))
			break;
		listed(v, key);
		*k0 = rd_u32be((const char *)k + 4) + 1;
	}
	int bad = !it;
	store_iter_close(it);
	return bad ? -1 : 0;
}

/* What the stages over entities of stage's model and dimensions listed before (its own earlier
 * seed's, before resume --retry-failed gave the graph more entities; another such stage's,
 * which shares its vectors): a text a batch of theirs holds (pending, in flight, failed and
 * retried) is not listed again. *k0: the length of stage's own list. 0 or -1. */
static int listed_before(struct vecs *v, store_txn *t, uint32_t stage, uint32_t *k0)
{
	const struct stage *a = &v->job->st[stage];
	uint32_t n;
	if (list_asks(v, t, stage, k0))
		return -1;
	for (uint32_t s = 0; s < v->job->n; s++) {
		const struct stage *b = &v->job->st[s];
		if (s != stage && stage_embeds_entities(b) &&
		    !strcmp(a->model, b->model) && a->dimensions == b->dimensions &&
		    list_asks(v, t, s, &n))
			return -1;
	}
	return 0;
}

int vecs_expand(struct vecs *v, struct cache *c, store_txn *t, uint32_t stage, uint32_t *first,
		const uint32_t **sizes, uint32_t *nbatches, char *err, size_t errlen)
{
	const struct stage *st = &v->job->st[stage];
	struct graph g;
	if (graph_build(t, v->cfg, v->job, &g, err, errlen))
		return -1;
	uint32_t k = 0, count = 0, nb = 0, cut = 0;
	uint64_t tokens = 0;
	int rc = 0;
	map_free(&v->seen);
	memset(&v->seen, 0, sizeof v->seen);
	if (listed_before(v, t, stage, first)) {
		graph_free(&g);
		return STORE_FULL;
	}
	for (size_t i = 0; i < g.nentities && !rc; i++) {
		vecstore_entity_text(&g.entities[i], &v->text);
		const char *text = v->text.data ? v->text.data : "";
		size_t len = vec_input_len(text, v->text.len, st->max_input_tokens);
		cut += len < v->text.len;
		unsigned char key[HASH_LEN];
		vec_key(st->model, st->dimensions, text, len, key);
		int got = answered(c, t, key);
		if (got == STORE_FULL)
			rc = STORE_FULL;
		if (got || listed(v, key))
			continue;
		uint32_t tk = input_tokens(len);
		if (vecs_new_batch(st, count, tokens, tk)) {
			if (count) {
				v->sizes = xgrow(v->sizes, &v->capsizes, nb, sizeof *v->sizes, 64);
				v->sizes[nb++] = count;
			}
			count = 0;
			tokens = 0;
		}
		count++;
		tokens += tk;
		rc = ask_put(t, stage, *first + k++, ASK_ENTITY_KEYED, key, text, len);
	}
	if (count && !rc) {
		v->sizes = xgrow(v->sizes, &v->capsizes, nb, sizeof *v->sizes, 64);
		v->sizes[nb++] = count;
	}
	if (!rc)
		log_info("stage %s: %u of the graph's %zu entities to embed", st->name, k,
			 g.nentities);
	if (!rc && cut)
		log_warn("stage %s: %u entities' texts cut at max_input_tokens (%lld tokens)", st->name,
			 cut, (long long)st->max_input_tokens);
	graph_free(&g);
	map_free(&v->seen);
	memset(&v->seen, 0, sizeof v->seen);
	*sizes = v->sizes;
	*nbatches = nb;
	return rc;
}
