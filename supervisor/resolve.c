/* resolve.c: entity resolution by embedding vectors (resolve.h).
 *
 * Order independence: entities are grouped by type and, within a type, taken in the order of
 * their ids (hashes of their merge keys), so the pairs compared and the hyperplanes drawn
 * (a fixed seed) are the same whatever order the answers came in; the components of "alike
 * enough" do not depend on the order pairs are united in anyway. The kept entity of a component
 * is chosen by content: its most seen name, then its weight, then the smaller name bytewise;
 * the others are merged into it in the order of their ids. Only where the merged entity stands
 * among the others (the place of its first member) follows the graph's order. */
#include "resolve.h"
#include "vecstore.h"
#include "../common/buf.h"
#include "../common/log.h"
#include "../common/names.h"
#include "../common/strmap.h"
#include "../common/vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_ROW UINT32_MAX
#define EXACT_BELOW 2000  /* a type with fewer entities: all pairs */
/* Random-hyperplane LSH (a bit is the side of a hyperplane a vector is on; two vectors at angle
 * t agree on a bit with probability 1 - t/pi): TABLES tables of BITS-bit signatures, each
 * table's bits drawn at random from the same PLANES hyperplanes (each table's own would cost
 * TABLES * BITS projections a vector); a pair is compared when some table puts both in one
 * bucket. BENCHMARKS.md has the recall and time these give. */
#define LSH_TABLES 60
#define LSH_BITS 16
#define LSH_PLANES 256
/* A hyperplane of long vectors spans a window of this many coordinates only (windows spread
 * over the vector), so that signatures cost the same at any dimension. */
#define LSH_WINDOW 256
#define LSH_SEED 0x6b67737570ULL

/* A dot product in a fixed order (eight running sums) that the compiler can vectorise. */
static float dot(const float *a, const float *b, size_t n)
{
	float s[8] = { 0 };
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (size_t k = 0; k < 8; k++)
			s[k] += a[i + k] * b[i + k];
	float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
	for (; i < n; i++)
		t += a[i] * b[i];
	return t;
}

struct state {
	struct graph *g;
	const struct resolve_vectors *vecs;
	float threshold;
	uint32_t *parent; /* union-find over entity numbers; a root is its component's smallest */
	char **type;      /* each entity's normal type */
	struct resolve_stats *stats;
	/* A pair's cosine is at most the dot product of the vectors' first head values plus the
	 * product of the lengths of the rest (Cauchy-Schwarz): most pairs are ruled out by their
	 * heads, never reading the rest. */
	size_t head;
	float *rest; /* per entity: the length of its unit vector past head */
};

static const float *vec_of(const struct state *s, uint32_t e)
{
	return s->vecs->rows + (size_t)s->vecs->row_of[e] * s->vecs->dims;
}

static uint32_t find(uint32_t *p, uint32_t x)
{
	while (p[x] != x) {
		p[x] = p[p[x]];
		x = p[x];
	}
	return x;
}

/* Compares a and b unless already together; unites them when alike enough. */
static void consider(struct state *s, uint32_t a, uint32_t b)
{
	uint32_t ra = find(s->parent, a), rb = find(s->parent, b);
	if (ra == rb)
		return;
	s->stats->pairs++;
	const float *va = vec_of(s, a), *vb = vec_of(s, b);
	float head = dot(va, vb, s->head);
	/* the margin covers the bound's rounding: a pair ruled out is surely below */
	if (head + s->rest[a] * s->rest[b] < s->threshold - 1e-4f)
		return;
	if (head + dot(va + s->head, vb + s->head, s->vecs->dims - s->head) < s->threshold)
		return;
	if (ra < rb)
		s->parent[rb] = ra;
	else
		s->parent[ra] = rb;
}

static const struct state *sort_state; /* qsort's comparators have no context argument */

/* By normal type, then id: the canonical order of the entities with vectors. */
static int by_type_id(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	int c = strcmp(sort_state->type[a], sort_state->type[b]);
	return c ? c : strcmp(sort_state->g->entities[a].id, sort_state->g->entities[b].id);
}

struct sig {
	uint32_t sig, at; /* signature, place in the block */
};

static int by_sig(const void *x, const void *y)
{
	const struct sig *a = x, *b = y;
	return a->sig != b->sig ? (a->sig < b->sig ? -1 : 1) : (a->at > b->at) - (a->at < b->at);
}

/* splitmix64, and a standard normal from two of its draws (Box-Muller). */
static uint64_t next_u64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static float normal(uint64_t *x)
{
	double u = ((double)(next_u64(x) >> 11) + 0.5) / 9007199254740992.0;
	double v = (double)(next_u64(x) >> 11) / 9007199254740992.0;
	return (float)(sqrt(-2 * log(u)) * cos(2 * M_PI * v));
}

/* Compares the pairs of the block of n entities at e that share a bucket in some table.
 * planes: how many hyperplanes the tables draw their bits from (at least bits; tables * bits:
 * each its own). */
static void lsh_block(struct state *s, const uint32_t *e, size_t n, size_t tables, size_t bits,
		      size_t planes)
{
	size_t dims = s->vecs->dims, w = dims < LSH_WINDOW ? dims : LSH_WINDOW;
	float *h = xmalloc(planes * w * sizeof *h);
	uint64_t seed = LSH_SEED;
	for (size_t i = 0; i < planes * w; i++)
		h[i] = normal(&seed);
	unsigned char *side = xmalloc(n * planes); /* [member][plane] */
	for (size_t i = 0; i < n; i++) {
		const float *v = vec_of(s, e[i]);
		for (size_t p = 0; p < planes; p++)
			side[i * planes + p] = dot(v + p * (dims - w) / planes, h + p * w, w) > 0;
	}
	free(h);
	/* each table's planes: distinct, drawn at random (the first tables * bits in order when
	 * there are that many) */
	uint32_t *pos = xmalloc(tables * bits * sizeof *pos), *deck = xmalloc(planes * sizeof *deck);
	for (size_t tb = 0; tb < tables; tb++) {
		for (size_t p = 0; p < planes; p++)
			deck[p] = (uint32_t)p;
		for (size_t j = 0; j < bits; j++) {
			size_t k = planes == tables * bits ? tb * bits + j
				: j + (size_t)(next_u64(&seed) % (planes - j));
			uint32_t x = deck[j];
			deck[j] = deck[k];
			deck[k] = x;
			pos[tb * bits + j] = deck[j];
		}
	}
	uint32_t *sigs = xcalloc(n * tables, sizeof *sigs); /* [member][table] */
	for (size_t i = 0; i < n; i++)
		for (size_t tb = 0; tb < tables; tb++)
			for (size_t j = 0; j < bits; j++)
				sigs[i * tables + tb] |= (uint32_t)side[i * planes + pos[tb * bits + j]] << j;
	free(side);
	free(pos);
	free(deck);
	struct sig *t = xmalloc(n * sizeof *t);
	for (size_t tb = 0; tb < tables; tb++) {
		for (size_t i = 0; i < n; i++)
			t[i] = (struct sig){ sigs[i * tables + tb], (uint32_t)i };
		qsort(t, n, sizeof *t, by_sig);
		for (size_t i = 0, j; i < n; i = j) {
			for (j = i + 1; j < n && t[j].sig == t[i].sig; j++)
				;
			for (size_t a = i; a < j; a++)
				for (size_t b = a + 1; b < j; b++)
					consider(s, e[t[a].at], e[t[b].at]);
		}
	}
	free(t);
	free(sigs);
}

static void exact_block(struct state *s, const uint32_t *e, size_t n)
{
	for (size_t a = 0; a < n; a++)
		for (size_t b = a + 1; b < n; b++)
			consider(s, e[a], e[b]);
}

/* Whether entity a's name is the better one to keep than b's. */
static int keeps_before(const struct gentity *a, const struct gentity *b)
{
	uint32_t sa = a->names.n ? a->names.v[0].seen : 0, sb = b->names.n ? b->names.v[0].seen : 0;
	if (sa != sb)
		return sa > sb;
	if (a->chunks.n != b->chunks.n)
		return a->chunks.n > b->chunks.n;
	int c = strcmp(a->names.n ? a->names.v[0].text : "", b->names.n ? b->names.v[0].text : "");
	return c ? c < 0 : strcmp(a->id, b->id) < 0;
}

static int by_root_id(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	uint32_t ra = find(sort_state->parent, a), rb = find(sort_state->parent, b);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	return strcmp(sort_state->g->entities[a].id, sort_state->g->entities[b].id);
}

static int by_kept_similarity(const void *x, const void *y)
{
	const struct gmerge *a = x, *b = y;
	if (a->kept != b->kept)
		return a->kept < b->kept ? -1 : 1;
	if (a->similarity != b->similarity)
		return a->similarity > b->similarity ? -1 : 1;
	return strcmp(a->merged_id, b->merged_id);
}

/* Merges entity m into k (both of one component), listing it in g->merges. */
static void merge_into(struct state *s, struct gentity *k, uint32_t kn, struct gentity *m,
		       uint32_t mn, uint32_t slot, size_t max_descriptions)
{
	struct graph *g = s->g;
	float sim = dot(vec_of(s, kn), vec_of(s, mn), s->vecs->dims);
	g->merges = xrealloc(g->merges, (g->nmerges + 1) * sizeof *g->merges);
	struct gmerge *gm = &g->merges[g->nmerges++];
	gm->kept = slot;
	memcpy(gm->merged_id, m->id, sizeof m->id);
	gm->merged_name = xstrdup(m->names.n ? m->names.v[0].text : "");
	gm->similarity = sim;
	for (size_t i = 0; i < m->names.n; i++)
		m->names.v[i].similarity = sim;
	graph_forms_merge(&k->names, &m->names, GRAPH_MAX_FORMS);
	graph_forms_merge(&k->types, &m->types, GRAPH_MAX_FORMS);
	graph_forms_merge(&k->descriptions, &m->descriptions, max_descriptions);
	graph_chunks_merge(&k->chunks, &m->chunks);
	graph_forms_free(&m->names);
	graph_forms_free(&m->types);
	graph_forms_free(&m->descriptions);
	free(m->chunks.v);
	s->stats->merged++;
}

/* The entities made one per component; slot_of[e]: where entity e (or what it merged into)
 * now is. */
static void rebuild_entities(struct state *s, uint32_t *slot_of, size_t max_descriptions)
{
	struct graph *g = s->g;
	size_t n = g->nentities;
	uint32_t *grouped = xmalloc((n ? n : 1) * sizeof *grouped), ng = 0;
	uint32_t *size = xcalloc(n ? n : 1, sizeof *size);
	for (uint32_t e = 0; e < n; e++)
		size[find(s->parent, e)]++;
	for (uint32_t e = 0; e < n; e++)
		if (size[find(s->parent, e)] > 1)
			grouped[ng++] = e;
	sort_state = s;
	qsort(grouped, ng, sizeof *grouped, by_root_id);
	uint32_t *first = xmalloc((n ? n : 1) * sizeof *first); /* a root's place in grouped */
	for (uint32_t i = ng; i-- > 0;)
		first[find(s->parent, grouped[i])] = i;
	struct gentity *out = xcalloc(n ? n : 1, sizeof *out);
	uint32_t slots = 0;
	for (uint32_t e = 0; e < n; e++) {
		uint32_t r = find(s->parent, e);
		if (r != e) {
			slot_of[e] = slot_of[r];
			continue;
		}
		slot_of[e] = slots;
		if (size[r] == 1) {
			out[slots++] = g->entities[e];
			continue;
		}
		const uint32_t *mem = grouped + first[r];
		uint32_t kept = mem[0];
		for (uint32_t i = 1; i < size[r]; i++)
			if (keeps_before(&g->entities[mem[i]], &g->entities[kept]))
				kept = mem[i];
		out[slots] = g->entities[kept];
		for (uint32_t i = 0; i < size[r]; i++)
			if (mem[i] != kept)
				merge_into(s, &out[slots], kept, &g->entities[mem[i]], mem[i], slots,
					   max_descriptions);
		graph_forms_by_seen(&out[slots].names);
		graph_forms_by_seen(&out[slots].types);
		slots++;
	}
	free(g->entities);
	g->entities = out;
	g->nentities = slots;
	g->capentities = n ? n : 1;
	if (g->nmerges)
		qsort(g->merges, g->nmerges, sizeof *g->merges, by_kept_similarity);
	free(grouped);
	free(size);
	free(first);
}

/* Relations re-pointed to the merged entities; those alike now merge, and the loops the merge
 * made are left out. Ids are made again as graph_build makes them, from the ends' ids. */
static void rebuild_relations(struct graph *g, const uint32_t *slot_of, size_t max_descriptions)
{
	struct strmap seen = { 0 };
	buf key, idkey;
	buf_init(&key);
	buf_init(&idkey);
	size_t w = 0;
	for (size_t i = 0; i < g->nrelations; i++) {
		struct grelation r = g->relations[i];
		uint32_t src = slot_of[r.source], dst = slot_of[r.target];
		if (src == dst && r.source != r.target) {
			g->dropped_self_loops++;
			graph_forms_free(&r.types);
			graph_forms_free(&r.descriptions);
			free(r.chunks.v);
			continue;
		}
		const char *type = r.types.n ? r.types.v[0].text : "";
		buf_reset(&key);
		buf_printf(&key, "%u:%u:", src, dst);
		names_fold(type, strlen(type), &key);
		uint32_t at = map_put(&seen, key.data, key.len, (uint32_t)w);
		if (at == w) {
			r.source = src;
			r.target = dst;
			buf_reset(&idkey);
			buf_printf(&idkey, "%s>%s:", g->entities[src].id, g->entities[dst].id);
			names_fold(type, strlen(type), &idkey);
			graph_make_id('r', idkey.data, idkey.len, r.id);
			g->relations[w++] = r;
			continue;
		}
		struct grelation *into = &g->relations[at];
		graph_forms_merge(&into->types, &r.types, GRAPH_MAX_FORMS);
		graph_forms_by_seen(&into->types);
		graph_forms_merge(&into->descriptions, &r.descriptions, max_descriptions);
		graph_chunks_merge(&into->chunks, &r.chunks);
		graph_forms_free(&r.types);
		graph_forms_free(&r.descriptions);
		free(r.chunks.v);
	}
	g->nrelations = w;
	map_free(&seen);
	buf_free(&key);
	buf_free(&idkey);
}

void resolve_entities(struct graph *g, const struct resolve_vectors *vecs,
		      const struct resolve_opts *opts, struct resolve_stats *stats)
{
	struct state s = { g, vecs, (float)opts->threshold, NULL, NULL, stats, vecs->dims / 4, NULL };
	size_t n = g->nentities, exact_below = opts->exact_below ? opts->exact_below : EXACT_BELOW;
	g->resolved = 1;
	s.parent = xmalloc((n ? n : 1) * sizeof *s.parent);
	s.type = xcalloc(n ? n : 1, sizeof *s.type);
	s.rest = xcalloc(n ? n : 1, sizeof *s.rest);
	uint32_t *with = xmalloc((n ? n : 1) * sizeof *with), nwith = 0;
	buf b;
	buf_init(&b);
	for (uint32_t e = 0; e < n; e++) {
		s.parent[e] = e;
		if (vecs->row_of[e] == NO_ROW || !vecs->dims)
			continue;
		float *v = vecs->rows + (size_t)vecs->row_of[e] * vecs->dims;
		float len = sqrtf(dot(v, v, vecs->dims));
		if (!(len > 0))
			continue; /* a zero vector is like nothing */
		for (size_t i = 0; i < vecs->dims; i++)
			v[i] /= len;
		float h = dot(v, v, s.head);
		s.rest[e] = h < 1 ? sqrtf(1 - h) : 0;
		const struct forms *t = &g->entities[e].types;
		buf_reset(&b);
		names_fold(t->n ? t->v[0].text : "", t->n ? strlen(t->v[0].text) : 0, &b);
		s.type[e] = xstrdup(buf_cstr(&b));
		with[nwith++] = e;
	}
	buf_free(&b);
	sort_state = &s;
	qsort(with, nwith, sizeof *with, by_type_id);
	for (uint32_t i = 0, j; i < nwith; i = j) {
		for (j = i + 1; j < nwith && !strcmp(s.type[with[j]], s.type[with[i]]); j++)
			;
		if (j - i < exact_below) {
			stats->exact_blocks++;
			exact_block(&s, with + i, j - i);
		} else {
			stats->lsh_blocks++;
			size_t tables = opts->lsh_tables ? opts->lsh_tables : LSH_TABLES;
			size_t bits = opts->lsh_bits && opts->lsh_bits <= 32 ? opts->lsh_bits : LSH_BITS;
			size_t planes = opts->lsh_planes ? opts->lsh_planes : LSH_PLANES;
			lsh_block(&s, with + i, j - i, tables, bits,
				  planes < bits ? bits : planes > tables * bits ? tables * bits : planes);
		}
	}
	uint32_t *slot_of = xmalloc((n ? n : 1) * sizeof *slot_of);
	size_t maxd = opts->max_descriptions;
	rebuild_entities(&s, slot_of, maxd);
	rebuild_relations(g, slot_of, maxd);
	free(slot_of);
	for (size_t e = 0; e < n; e++)
		free(s.type[e]);
	free(s.type);
	free(s.rest);
	free(s.parent);
	free(with);
}

int graph_resolve(store_txn *t, const struct config *cfg, const struct job *job, struct graph *g,
		  struct resolve_stats *stats, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	memset(stats, 0, sizeof *stats);
	if (!cfg->graph_resolve)
		return 0;
	const struct stage *st = job_entity_stage(job);
	if (!st) {
		log_warn("graph.resolve: the job has no embedding stage over entities; no entity "
			 "resolved");
		return 0;
	}
	size_t dims = 0, nrows = 0, cap = 0, missing = 0;
	float *rows = NULL;
	uint32_t *row_of = xmalloc((g->nentities ? g->nentities : 1) * sizeof *row_of);
	unsigned char key[HASH_LEN];
	buf scratch;
	buf_init(&scratch);
	for (size_t e = 0; e < g->nentities; e++) {
		size_t d;
		row_of[e] = NO_ROW;
		vecstore_entity_key(st, &g->entities[e], &scratch, key);
		if (vecstore_get(t, key, NULL, 0, &d) || (dims && d != dims)) {
			missing++;
			continue;
		}
		dims = d;
		/* cap stays a multiple of dims: room for a whole row whenever it grows */
		rows = xgrow(rows, &cap, nrows * dims, sizeof *rows, 4096 * dims);
		vecstore_get(t, key, rows + nrows * dims, dims, &d);
		row_of[e] = (uint32_t)nrows++;
	}
	buf_free(&scratch);
	struct resolve_vectors v = { rows, dims, row_of };
	struct resolve_opts o = { cfg->graph_resolve_threshold, 0, (size_t)cfg->graph_max_descriptions,
				  0, 0, 0 };
	resolve_entities(g, &v, &o, stats);
	stats->unvectored = missing;
	free(rows);
	free(row_of);
	return 0;
}

/* A TSV field: tabs, newlines and carriage returns become spaces. */
static void tsv_field(buf *b, const char *s)
{
	for (; *s; s++)
		buf_putc(b, *s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s);
}

void resolve_write_merges(const struct graph *g, const char *dir, FILE *out, buf *b)
{
	(void)dir;
	fputs("kept_id\tkept_name\tmerged_id\tmerged_name\ttype\tsimilarity\n", out);
	for (size_t i = 0; i < g->nmerges; i++) {
		const struct gmerge *m = &g->merges[i];
		const struct gentity *k = &g->entities[m->kept];
		buf_reset(b);
		buf_printf(b, "%s\t", k->id);
		tsv_field(b, k->names.n ? k->names.v[0].text : "");
		buf_printf(b, "\t%s\t", m->merged_id);
		tsv_field(b, m->merged_name);
		buf_putc(b, '\t');
		tsv_field(b, k->types.n ? k->types.v[0].text : "");
		buf_printf(b, "\t%.4f\n", m->similarity);
		fwrite(b->data, 1, b->len, out);
	}
}
