/* vectors_walk.c: a run's embedding vectors, item by item (vectors.h). */
#include "vectors.h"
#include "results.h"
#include "../shard.h"
#include "../vecstore.h"
#include "../../common/log.h"
#include "../../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "a, b" of the job's embedding stages into out. */
static void embedding_names(const struct job *j, buf *out)
{
	for (size_t i = 0; i < j->n; i++)
		if (j->st[i].endpoint == EP_EMBEDDINGS)
			buf_printf(out, "%s%s", out->len ? ", " : "", j->st[i].name);
}

static int choose(struct vectors *v, const char *stage, char *err, size_t errlen)
{
	const struct job *j = &v->job;
	int pick = stage ? job_stage(j, stage) : -1;
	if (stage && (pick < 0 || j->st[pick].endpoint != EP_EMBEDDINGS)) {
		buf names;
		buf_init(&names);
		embedding_names(j, &names);
		snprintf(err, errlen, "--stage %s: not an embedding stage of the run (%s%s)", stage,
			 names.len ? "its embedding stages: " : "it has none", buf_cstr(&names));
		buf_free(&names);
		return -1;
	}
	for (int over = OVER_CHUNKS; over <= OVER_ENTITIES; over += OVER_ENTITIES - OVER_CHUNKS)
		for (size_t i = 0; i < j->n; i++)
			if (j->st[i].endpoint == EP_EMBEDDINGS && (int)j->st[i].over == over &&
			    (pick < 0 || pick == (int)i))
				v->order[v->norder++] = (int)i;
	if (!v->norder) {
		snprintf(err, errlen, "the run has no embedding stage (a stage with \"endpoint\": "
			 "\"embeddings\")");
		return -1;
	}
	return 0;
}

static void load_sources(struct vectors *v)
{
	v->sources = xcalloc(v->plan.nsources ? v->plan.nsources : 1, sizeof *v->sources);
	store_iter *it = store_iter_open(v->t, DB_SOURCES, NULL, 0);
	const void *k, *val;
	size_t kl, vl;
	while (it && store_iter_next(it, &k, &kl, &val, &vl)) {
		uint32_t n = kl == 4 ? rd_u32be(k) : UINT32_MAX;
		if (n < v->plan.nsources && !v->sources[n]) {
			v->sources[n] = xmalloc(vl + 1);
			memcpy(v->sources[n], val, vl);
			v->sources[n][vl] = '\0';
		}
	}
	store_iter_close(it);
}

int vectors_open(struct vectors *v, store_txn *const *ts, size_t nt, const char *stage, char *err,
		 size_t errlen)
{
	memset(v, 0, sizeof *v);
	store_txn *t = v->t = v->at = ts[0];
	v->ts = ts;
	v->nt = nt;
	config_defaults(&v->cfg);
	struct shard_rec sh;
	if (plan_read(t, &v->plan) || run_job_read(t, &v->cfg, &v->job, err, errlen) ||
	    choose(v, stage, err, errlen))
		return -1;
	if (!shard_rec_read(t, &sh) && sh.count)
		v->doc_store = shard_doc_stores(ts, nt, v->plan.nsources);
	load_sources(v);
	for (size_t i = 0; i < v->norder && !v->have_graph; i++)
		if (v->job.st[v->order[i]].over == OVER_ENTITIES) {
			v->have_graph = 1;
			if (graph_build(t, &v->cfg, &v->job, &v->g, err, errlen))
				return -1;
		}
	return 0;
}

void vectors_close(struct vectors *v)
{
	if (v->have_graph)
		graph_free(&v->g);
	for (uint32_t i = 0; v->sources && i < v->plan.nsources; i++)
		free(v->sources[i]);
	free(v->sources);
	free(v->doc_store);
	free(v->vec);
	free(v->keys);
	job_free(&v->job);
	config_free(&v->cfg);
	memset(v, 0, sizeof *v);
}

const char *vectors_source(const struct vectors *v, uint32_t n)
{
	return n < v->plan.nsources && v->sources[n] ? v->sources[n] : "";
}

/* The store holding chunk n's text and vector: t in a whole run; of shards, its document's
 * (found through t, which as every shard holds every chunk's record, the text of its own
 * only), NULL when that is a shard not given. */
static store_txn *chunk_store(const struct vectors *v, uint32_t n)
{
	const void *val;
	size_t vl;
	struct chunk_rec r;
	if (!v->doc_store || record_get(v->t, DB_CHUNKS, n, &val, &vl) || vl < sizeof r)
		return v->t; /* (a chunk missing there is missing everywhere: counted so) */
	memcpy(&r, val, sizeof r);
	uint32_t s = r.source < v->plan.nsources ? v->doc_store[r.source] : SHARD_NO_STORE;
	return s == SHARD_NO_STORE ? NULL : v->ts[s];
}

int vectors_chunk(struct vectors *v, uint32_t n, struct chunk_rec *rec, const char **text,
		  size_t *len)
{
	const void *val;
	size_t vl;
	store_txn *at = chunk_store(v, n);
	if (!at || record_get(at, DB_CHUNKS, n, &val, &vl) || vl < sizeof *rec)
		return -1;
	memcpy(rec, val, sizeof *rec);
	*text = (const char *)val + sizeof *rec;
	*len = vl - sizeof *rec;
	return 0;
}

/* The vector under key into v->vec: its dims, or 0 when there is none. */
static size_t fetch(struct vectors *v, const unsigned char key[HASH_LEN])
{
	size_t dims;
	if (vecstore_get(v->at, key, v->vec, v->cap, &dims))
		return 0;
	if (dims > v->cap) {
		free(v->vec);
		v->cap = dims;
		void *p;
		if (posix_memalign(&p, 64, dims * sizeof(float))) {
			log_error("out of memory for a vector of %zu dimensions", dims);
			exit(EXIT_INTERNAL);
		}
		v->vec = p;
		vecstore_get(v->at, key, v->vec, v->cap, &dims);
	}
	return dims;
}

/* The key of chunk n's vector in stage st: from v->keys when they are known, else from its
 * text (and then kept in v->keys, when it is there to fill). Zero when the chunk is missing. */
static void chunk_key(struct vectors *v, const struct stage *st, uint32_t n,
		      unsigned char key[HASH_LEN])
{
	unsigned char *k = v->keys ? v->keys + (size_t)n * HASH_LEN : NULL;
	if (k && v->keys_known) {
		memcpy(key, k, HASH_LEN);
		return;
	}
	if (vecstore_chunk_key(v->at, st, n, key))
		memset(key, 0, HASH_LEN);
	if (k)
		memcpy(k, key, HASH_LEN);
}

static int walk_chunks(struct vectors *v, int s, vectors_fn *fn, void *arg)
{
	const struct stage *st = &v->job.st[s];
	char id[CHUNK_ID_LEN + 1] = "";
	unsigned char key[HASH_LEN];
	for (uint32_t n = 0; n < v->plan.nchunks; n++) {
		struct chunk_rec r;
		struct vitem it = { .kind = 'c', .n = n, .stage = s, .id = id, .document = "",
				    .text = "", .type = "", .start_ms = -1, .end_ms = -1 };
		if (!(v->at = chunk_store(v, n)))
			continue; /* a shard not given holds it */
		chunk_key(v, st, n, key);
		size_t dims = fetch(v, key);
		if (!dims) {
			v->missing++;
			v->missing_in[s]++;
			continue;
		}
		if (!v->lean) {
			if (vectors_chunk(v, n, &r, &it.text, &it.len))
				continue;
			memcpy(id, r.id, CHUNK_ID_LEN);
			id[CHUNK_ID_LEN] = '\0';
			it.document = vectors_source(v, r.source);
			it.start_ms = r.start_ms;
			it.end_ms = r.end_ms;
		}
		int rc = fn(&it, v->vec, dims, arg);
		if (rc)
			return rc;
	}
	return 0;
}

static int walk_entities(struct vectors *v, int s, vectors_fn *fn, void *arg)
{
	const struct stage *st = &v->job.st[s];
	const struct graph *g = &v->g;
	unsigned char key[HASH_LEN];
	buf scratch;
	buf_init(&scratch);
	int rc = 0;
	v->at = v->t;
	for (size_t n = 0; n < g->nentities && !rc; n++) {
		const struct gentity *e = &g->entities[n];
		vecstore_entity_key(st, e, &scratch, key);
		size_t dims = fetch(v, key);
		if (!dims) {
			v->missing++;
			v->missing_in[s]++;
			continue;
		}
		uint32_t first = e->chunks.n ? e->chunks.v[0] : UINT32_MAX;
		struct vitem it = {
			.kind = 'e', .n = (uint32_t)n, .stage = s, .id = e->id,
			.document = first < g->nchunks ? graph_source_name(g, g->chunks[first].source) : "",
			.text = e->names.n ? e->names.v[0].text : "",
			.type = e->types.n ? e->types.v[0].text : "", .start_ms = -1, .end_ms = -1,
		};
		it.len = strlen(it.text);
		rc = fn(&it, v->vec, dims, arg);
	}
	buf_free(&scratch);
	return rc;
}

int vectors_walk(struct vectors *v, int stage, vectors_fn *fn, void *arg)
{
	return v->job.st[stage].over == OVER_ENTITIES ? walk_entities(v, stage, fn, arg)
						      : walk_chunks(v, stage, fn, arg);
}

static int first_dims(const struct vitem *it, const float *vec, size_t dims, void *arg)
{
	(void)it;
	(void)vec;
	*(size_t *)arg = dims;
	return 1;
}

size_t vectors_dims(struct vectors *v, int stage)
{
	size_t dims = 0;
	uint64_t missing = v->missing, in = v->missing_in[stage];
	vectors_walk(v, stage, first_dims, &dims);
	v->missing = missing;
	v->missing_in[stage] = in;
	return dims;
}
