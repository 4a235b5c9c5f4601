/* graph.c: merging a run's answers into one graph (see graph.h). */
#include "graph.h"
#include "runstate.h"
#include "shard.h"
#include "../common/buf.h"
#include "../common/hash.h"
#include "../common/json.h"
#include "../common/log.h"
#include "../common/names.h"
#include "../common/strmap.h"
#include "../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FORMS GRAPH_MAX_FORMS /* surface forms kept per entity (more are merged, not listed) */
#define MAX_DESCRIPTION_BYTES 500

struct maps {
	struct strmap chunk_ids;  /* chunk id -> chunk number */
	struct strmap entity_key; /* normal name \x1f normal type -> entity */
	struct strmap entity_name; /* normal name -> first entity of that name */
	struct strmap relation_key; /* source:target:normal type -> relation */
	names *names;
	buf a, b, key; /* scratch */
	int64_t max_descriptions;
};

static void u32s_add(struct u32s *s, uint32_t v)
{
	s->v = xgrow(s->v, &s->cap, s->n, sizeof *s->v, 4);
	s->v[s->n++] = v;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void u32s_settle(struct u32s *s)
{
	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof *s->v, u32_cmp);
	size_t w = 1;
	for (size_t i = 1; i < s->n; i++)
		if (s->v[i] != s->v[w - 1])
			s->v[w++] = s->v[i];
	s->n = w;
}

/* Counts seen more sightings of text; a new text is kept while there is room. */
static void forms_count(struct forms *f, const char *text, uint32_t seen, float similarity,
			size_t max)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].text, text)) {
			f->v[i].seen += seen;
			return;
		}
	if (f->n >= max)
		return;
	f->v = xrealloc(f->v, (f->n + 1) * sizeof *f->v);
	f->v[f->n].text = xstrdup(text);
	f->v[f->n].seen = seen;
	f->v[f->n].similarity = similarity;
	f->n++;
}

static void forms_add(struct forms *f, const char *text, size_t max)
{
	forms_count(f, text, 1, 1, max);
}

void graph_forms_merge(struct forms *into, const struct forms *from, size_t max)
{
	for (size_t i = 0; i < from->n; i++)
		forms_count(into, from->v[i].text, from->v[i].seen, from->v[i].similarity, max);
}

/* Most often seen first; among equals, the first seen first. */
void graph_forms_by_seen(struct forms *f)
{
	for (size_t i = 1; i < f->n; i++) {
		struct form x = f->v[i];
		size_t j = i;
		while (j > 0 && f->v[j - 1].seen < x.seen) {
			f->v[j] = f->v[j - 1];
			j--;
		}
		f->v[j] = x;
	}
}

void graph_chunks_merge(struct u32s *into, const struct u32s *from)
{
	for (size_t i = 0; i < from->n; i++)
		u32s_add(into, from->v[i]);
	u32s_settle(into);
}

void graph_forms_free(struct forms *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i].text);
	free(f->v);
}

/* A description, cut to MAX_DESCRIPTION_BYTES on a character boundary; distinct ones kept. */
static void add_description(struct maps *m, struct forms *f, const char *d)
{
	size_t n = strlen(d);
	if (!n || m->max_descriptions <= 0)
		return;
	if (n > MAX_DESCRIPTION_BYTES) {
		n = MAX_DESCRIPTION_BYTES;
		while (n && ((unsigned char)d[n] & 0xC0) == 0x80)
			n--;
	}
	buf_reset(&m->a);
	buf_put(&m->a, d, n);
	forms_add(f, buf_cstr(&m->a), (size_t)m->max_descriptions);
}

void graph_make_id(char prefix, const char *key, size_t n, char id[17])
{
	unsigned char h[HASH_LEN];
	hash_once(key, n, h);
	char hex[2 * HASH_LEN + 1];
	hash_hex(h, HASH_LEN, hex);
	id[0] = prefix;
	memcpy(id + 1, hex, 15);
	id[16] = '\0';
}

static void add_chunks(struct graph *g, struct maps *m, struct u32s *to, const json *ids)
{
	for (const json *c = json_first(ids); c; c = json_next(c)) {
		const char *id = json_string(c);
		uint32_t n = id ? map_get(&m->chunk_ids, id, strlen(id)) : UINT32_MAX;
		if (n < g->nchunks)
			u32s_add(to, n);
	}
}

static const char *str_field(const json *o, const char *k)
{
	const char *s = json_string(json_get(o, k));
	return s ? s : "";
}

/* The entity an answer's entity item merges into (created if new); UINT32_MAX if its name is
 * only punctuation. */
static uint32_t entity_of(struct graph *g, struct maps *m, const char *name, const char *type)
{
	buf_reset(&m->key);
	names_entity(m->names, name, strlen(name), &m->key);
	if (!m->key.len)
		return UINT32_MAX;
	size_t name_len = m->key.len;
	buf_putc(&m->key, '\x1f');
	names_fold(type, strlen(type), &m->key);
	uint32_t e = map_put(&m->entity_key, m->key.data, m->key.len, (uint32_t)g->nentities);
	if (e == g->nentities) {
		g->entities = xgrow(g->entities, &g->capentities, g->nentities, sizeof *g->entities, 256);
		struct gentity *ge = &g->entities[g->nentities++];
		memset(ge, 0, sizeof *ge);
		graph_make_id('e', m->key.data, m->key.len, ge->id);
		map_put(&m->entity_name, m->key.data, name_len, e);
	}
	return e;
}

/* A relation's end: the entity of that name in the same answer, else the first of that name
 * anywhere (answers re-assembled from per-chunk parts may hold a relation without its ends). */
static uint32_t end_of(struct maps *m, struct strmap *local, const char *name)
{
	buf_reset(&m->key);
	names_entity(m->names, name, strlen(name), &m->key);
	uint32_t e = map_get(local, m->key.data, m->key.len);
	return e != UINT32_MAX ? e : map_get(&m->entity_name, m->key.data, m->key.len);
}

static uint32_t relation_of(struct graph *g, struct maps *m, uint32_t src, uint32_t dst,
			    const char *type)
{
	buf_reset(&m->key);
	buf_printf(&m->key, "%u:%u:", src, dst);
	names_fold(type, strlen(type), &m->key);
	uint32_t r = map_put(&m->relation_key, m->key.data, m->key.len, (uint32_t)g->nrelations);
	if (r == g->nrelations) {
		g->relations = xgrow(g->relations, &g->caprelations, g->nrelations, sizeof *g->relations, 256);
		struct grelation *gr = &g->relations[g->nrelations++];
		memset(gr, 0, sizeof *gr);
		buf_reset(&m->b);
		buf_printf(&m->b, "%s>%s:", g->entities[src].id, g->entities[dst].id);
		names_fold(type, strlen(type), &m->b);
		graph_make_id('r', m->b.data, m->b.len, gr->id);
		gr->source = src;
		gr->target = dst;
	}
	return r;
}

static void add_answer(struct graph *g, struct maps *m, const json *answer)
{
	struct strmap local = { 0 };
	g->answers++;
	double dropped = json_number(json_get(answer, "dropped_relations"));
	if (dropped > 0 && dropped < 1e9)
		g->dropped_by_answer += (uint64_t)dropped;
	for (const json *it = json_first(json_get(answer, "entities")); it; it = json_next(it)) {
		const char *name = str_field(it, "name"), *type = str_field(it, "type");
		uint32_t e = entity_of(g, m, name, type);
		g->entity_records++;
		if (e == UINT32_MAX)
			continue;
		struct gentity *ge = &g->entities[e];
		forms_add(&ge->names, name, MAX_FORMS);
		forms_add(&ge->types, type, MAX_FORMS);
		add_description(m, &ge->descriptions, str_field(it, "description"));
		add_chunks(g, m, &ge->chunks, json_get(it, "chunks"));
		buf_reset(&m->key);
		names_entity(m->names, name, strlen(name), &m->key);
		map_put(&local, m->key.data, m->key.len, e);
	}
	for (const json *it = json_first(json_get(answer, "relations")); it; it = json_next(it)) {
		g->relation_records++;
		uint32_t src = end_of(m, &local, str_field(it, "source"));
		uint32_t dst = end_of(m, &local, str_field(it, "target"));
		if (src == UINT32_MAX || dst == UINT32_MAX) {
			g->dropped_unresolved++;
			continue;
		}
		const char *type = str_field(it, "type");
		uint32_t r = relation_of(g, m, src, dst, type); /* may move g->relations */
		struct grelation *gr = &g->relations[r];
		forms_add(&gr->types, type, MAX_FORMS);
		add_description(m, &gr->descriptions, str_field(it, "description"));
		add_chunks(g, m, &gr->chunks, json_get(it, "chunks"));
	}
	map_free(&local);
}

/* The answer of batch n, or of its halves when it was split, in input order. */
static void add_batch(store_txn *t, struct graph *g, struct maps *m, uint32_t n, int depth)
{
	struct batch_rec b;
	if (depth > 64 || batch_read(t, n, &b))
		return;
	if (b.state == B_SPLIT) {
		add_batch(t, g, m, b.child, depth + 1);
		add_batch(t, g, m, b.child + 1, depth + 1);
		return;
	}
	const void *v;
	size_t vl;
	if (b.state != B_DONE || record_get(t, DB_RESULTS, n, &v, &vl))
		return;
	json *answer = json_parse(v, vl, NULL, 0);
	if (!answer) {
		log_warn("batch %u: stored answer unreadable; skipped", n);
		return;
	}
	add_answer(g, m, answer);
	json_free(answer);
}

static int load_chunks(store_txn *t, const struct plan_rec *plan, struct graph *g, struct maps *m)
{
	g->chunks = xcalloc(plan->nchunks ? plan->nchunks : 1, sizeof *g->chunks);
	store_iter *it = store_iter_open(t, DB_CHUNKS, NULL, 0);
	const void *k, *v;
	size_t kl, vl;
	while (it && store_iter_next(it, &k, &kl, &v, &vl)) {
		struct chunk_rec r;
		if (kl != 4 || vl < sizeof r)
			continue;
		uint32_t n = rd_u32be(k);
		if (n >= plan->nchunks)
			continue;
		memcpy(&r, v, sizeof r);
		struct gchunk *c = &g->chunks[n];
		memcpy(c->id, r.id, CHUNK_ID_LEN);
		c->id[CHUNK_ID_LEN] = '\0';
		c->source = r.source;
		c->start_ms = r.start_ms;
		c->end_ms = r.end_ms;
		map_put(&m->chunk_ids, c->id, CHUNK_ID_LEN, n);
	}
	store_iter_close(it);
	g->nchunks = plan->nchunks;
	g->sources = xcalloc(plan->nsources ? plan->nsources : 1, sizeof *g->sources);
	g->nsources = plan->nsources;
	it = store_iter_open(t, DB_SOURCES, NULL, 0);
	while (it && store_iter_next(it, &k, &kl, &v, &vl)) {
		uint32_t n = kl == 4 ? rd_u32be(k) : UINT32_MAX;
		if (n < g->nsources && !g->sources[n]) {
			g->sources[n] = xmalloc(vl + 1);
			memcpy(g->sources[n], v, vl);
			g->sources[n][vl] = '\0';
		}
	}
	store_iter_close(it);
	return 0;
}

const char *graph_source_name(const struct graph *g, uint32_t source)
{
	return source < g->nsources && g->sources[source] ? g->sources[source] : "";
}

/* Whether planned batch n is of a stage that makes the graph (its halves are of its stage). */
static int graph_batch(store_txn *t, const struct job *job, uint32_t n)
{
	if (job->legacy)
		return 1;
	struct batch_ext x;
	return !batchx_read(t, n, &x) && x.stage < job->n && job->st[x.stage].graph;
}

/* A planned batch of one of the stores, by its number in the whole run. */
struct placed {
	uint32_t global, store, local;
};

static int by_global(const void *a, const void *b)
{
	const struct placed *x = a, *y = b;
	return x->global < y->global ? -1 : x->global > y->global;
}

/* Every store's planned batches, in the order of the whole run's (*n of them, malloc'd). */
static struct placed *place_batches(store_txn *const *t, size_t nt, size_t *n)
{
	struct placed *v = NULL;
	size_t cap = 0;
	*n = 0;
	for (size_t s = 0; s < nt; s++) {
		struct plan_rec p;
		if (plan_read(t[s], &p))
			continue;
		uint32_t *global = shard_batch_numbers(t[s], p.nbatches);
		for (uint32_t i = 0; i < p.nbatches; i++) {
			if (global[i] == SHARD_UNPLACED) /* an embedding batch: no part of the graph */
				continue;
			v = xgrow(v, &cap, *n, sizeof *v, 1024);
			v[(*n)++] = (struct placed){ global[i], (uint32_t)s, i };
		}
		free(global);
	}
	if (*n)
		qsort(v, *n, sizeof *v, by_global);
	return v;
}

int graph_build(store_txn *t, const struct config *cfg, const struct job *job, struct graph *g,
		char *err, size_t errlen)
{
	return graph_build_shards(&t, 1, cfg, job, g, err, errlen);
}

int graph_build_shards(store_txn *const *ts, size_t nt, const struct config *cfg,
		       const struct job *job, struct graph *g, char *err, size_t errlen)
{
	memset(g, 0, sizeof *g);
	struct plan_rec plan;
	if (!nt || plan_read(ts[0], &plan)) {
		snprintf(err, errlen, "no planned run here");
		return -1;
	}
	struct maps *m = xcalloc(1, sizeof *m);
	g->maps = m;
	m->names = names_new(cfg->graph_titles, cfg->graph_aliases_file, err, errlen);
	if (!m->names)
		return -1;
	m->max_descriptions = cfg->graph_max_descriptions;
	buf_init(&m->a);
	buf_init(&m->b);
	buf_init(&m->key);
	load_chunks(ts[0], &plan, g, m);
	size_t nplaced;
	struct placed *order = place_batches(ts, nt, &nplaced);
	for (size_t k = 1; k < nplaced; k++)
		if (order[k].global == order[k - 1].global) { /* shards that are not of one split */
			snprintf(err, errlen, "batch %u of the run is in two of the stores given",
				 order[k].global);
			free(order);
			return -1;
		}
	for (size_t k = 0; k < nplaced; k++) {
		store_txn *t = ts[order[k].store];
		uint32_t i = order[k].local;
		struct batch_rec b;
		if (!batch_read(t, i, &b) && !b.is_child && graph_batch(t, job, i))
			add_batch(t, g, m, i, 0);
	}
	free(order);
	for (size_t i = 0; i < g->nentities; i++) {
		graph_forms_by_seen(&g->entities[i].names);
		graph_forms_by_seen(&g->entities[i].types);
		u32s_settle(&g->entities[i].chunks);
	}
	for (size_t i = 0; i < g->nrelations; i++) {
		graph_forms_by_seen(&g->relations[i].types);
		u32s_settle(&g->relations[i].chunks);
	}
	return 0;
}

void graph_free(struct graph *g)
{
	struct maps *m = g->maps;
	if (m) {
		map_free(&m->chunk_ids);
		map_free(&m->entity_key);
		map_free(&m->entity_name);
		map_free(&m->relation_key);
		names_free(m->names);
		buf_free(&m->a);
		buf_free(&m->b);
		buf_free(&m->key);
		free(m);
	}
	for (size_t i = 0; i < g->nentities; i++) {
		graph_forms_free(&g->entities[i].names);
		graph_forms_free(&g->entities[i].types);
		graph_forms_free(&g->entities[i].descriptions);
		free(g->entities[i].chunks.v);
	}
	for (size_t i = 0; i < g->nrelations; i++) {
		graph_forms_free(&g->relations[i].types);
		graph_forms_free(&g->relations[i].descriptions);
		free(g->relations[i].chunks.v);
	}
	for (size_t i = 0; i < g->nmerges; i++)
		free(g->merges[i].merged_name);
	free(g->merges);
	for (size_t i = 0; i < g->nsources; i++)
		free(g->sources[i]);
	free(g->sources);
	free(g->chunks);
	free(g->entities);
	free(g->relations);
	memset(g, 0, sizeof *g);
}
