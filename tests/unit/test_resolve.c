/* test_resolve.c: entity resolution (supervisor/resolve.h) merges near-duplicate entities of one
 * type by their vectors and no others, re-points relations, and gives the same graph whatever
 * order the entities came in, compared pair by pair or through LSH buckets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/buf.h"
#include "../../supervisor/resolve.h"
#include "../../supervisor/vecstore.h"

#include <unistd.h>

#define DIMS 16

/* A graph built by hand, with each entity's vector (NAN in [0]: none). */
struct fixture {
	struct graph g;
	float rows[64][DIMS];
	uint32_t row_of[64];
};

static void form(struct forms *f, const char *text, uint32_t seen)
{
	f->v = realloc(f->v, (f->n + 1) * sizeof *f->v);
	f->v[f->n++] = (struct form){ xstrdup(text), seen, 1 };
}

static uint32_t entity(struct fixture *x, const char *name, uint32_t seen, const char *type,
		       uint32_t chunk, const float *vec)
{
	struct graph *g = &x->g;
	g->entities = realloc(g->entities, (g->nentities + 1) * sizeof *g->entities);
	struct gentity *e = &g->entities[g->nentities];
	memset(e, 0, sizeof *e);
	char key[200];
	snprintf(key, sizeof key, "%s\x1f%s", name, type);
	graph_make_id('e', key, strlen(key), e->id);
	form(&e->names, name, seen);
	form(&e->types, type, seen);
	snprintf(key, sizeof key, "about %s", name);
	form(&e->descriptions, key, 1);
	e->chunks.v = malloc(sizeof *e->chunks.v);
	e->chunks.v[0] = chunk;
	e->chunks.n = e->chunks.cap = 1;
	uint32_t n = (uint32_t)g->nentities++;
	x->row_of[n] = vec ? n : UINT32_MAX;
	if (vec)
		memcpy(x->rows[n], vec, sizeof x->rows[n]);
	return n;
}

static void relation(struct fixture *x, uint32_t src, uint32_t dst, const char *type,
		     uint32_t chunk)
{
	struct graph *g = &x->g;
	g->relations = realloc(g->relations, (g->nrelations + 1) * sizeof *g->relations);
	struct grelation *r = &g->relations[g->nrelations++];
	memset(r, 0, sizeof *r);
	r->source = src;
	r->target = dst;
	char key[100];
	snprintf(key, sizeof key, "%u>%u:%s", src, dst, type);
	graph_make_id('r', key, strlen(key), r->id);
	form(&r->types, type, 1);
	r->chunks.v = malloc(sizeof *r->chunks.v);
	r->chunks.v[0] = chunk;
	r->chunks.n = r->chunks.cap = 1;
}

static struct resolve_stats resolve(struct fixture *x, size_t exact_below)
{
	struct resolve_vectors v = { &x->rows[0][0], DIMS, x->row_of };
	struct resolve_opts o = { 0.92, exact_below, 5, 0, 0, 0 };
	struct resolve_stats st = { 0 };
	resolve_entities(&x->g, &v, &o, &st);
	return st;
}

static const struct gentity *named(const struct graph *g, const char *name)
{
	for (size_t i = 0; i < g->nentities; i++)
		if (!strcmp(g->entities[i].names.v[0].text, name))
			return &g->entities[i];
	return NULL;
}

/* Unit vectors: e0, and at cosine c to e0 in the plane of e0 and e(axis). */
static void at_cosine(float *v, float c, int axis)
{
	memset(v, 0, DIMS * sizeof *v);
	v[0] = c;
	v[axis] = sqrtf(1 - c * c);
}

static void near_duplicates_merge_and_others_do_not(void **state)
{
	(void)state;
	struct fixture *x = calloc(1, sizeof *x);
	float ada[DIMS], ada2[DIMS], babbage[DIMS];
	at_cosine(ada, 1, 1);
	at_cosine(ada2, 0.99f, 1);
	at_cosine(babbage, 0.3f, 2);
	uint32_t a2 = entity(x, "Ada Lovelace.", 1, "person", 1, ada2);
	uint32_t b = entity(x, "Charles Babbage", 2, "person", 2, babbage);
	uint32_t a = entity(x, "Ada Lovelace", 3, "person", 3, ada);
	relation(x, b, a2, "worked with", 4);
	relation(x, b, a, "worked with", 5);
	relation(x, a2, a, "same as", 6); /* becomes a loop */
	relation(x, a, a, "admires", 7);  /* a loop from the start */
	struct resolve_stats st = resolve(x, 0);
	struct graph *g = &x->g;

	assert_int_equal(g->nentities, 2);
	assert_int_equal(st.merged, 1);
	const struct gentity *ada_e = named(g, "Ada Lovelace");
	assert_non_null(ada_e);
	assert_non_null(named(g, "Charles Babbage"));
	assert_int_equal(ada_e->names.n, 2);
	assert_string_equal(ada_e->names.v[1].text, "Ada Lovelace.");
	assert_float_equal(ada_e->names.v[1].similarity, 0.99, 1e-4);
	assert_float_equal(ada_e->names.v[0].similarity, 1, 1e-6);
	assert_int_equal(ada_e->chunks.n, 2);
	assert_int_equal(ada_e->descriptions.n, 2);
	assert_int_equal(g->nmerges, 1);
	assert_string_equal(g->merges[0].merged_name, "Ada Lovelace.");
	assert_string_equal(g->entities[g->merges[0].kept].id, ada_e->id);

	/* both "worked with" relations now join Babbage and Ada: one relation of both chunks */
	assert_int_equal(g->nrelations, 2);
	assert_int_equal(g->dropped_self_loops, 1);
	const struct grelation *r = &g->relations[0];
	assert_string_equal(g->entities[r->source].names.v[0].text, "Charles Babbage");
	assert_ptr_equal(&g->entities[r->target], ada_e);
	assert_int_equal(r->chunks.n, 2);
	assert_int_equal(r->types.v[0].seen, 2);
	assert_ptr_equal(&g->entities[g->relations[1].source], ada_e); /* the old loop stays */

	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	buf scratch;
	buf_init(&scratch);
	resolve_write_merges(g, NULL, out, &scratch);
	fclose(out);
	char want[300];
	snprintf(want, sizeof want, "kept_id\tkept_name\tmerged_id\tmerged_name\ttype\tsimilarity\n"
		 "%s\tAda Lovelace\t%s\tAda Lovelace.\tperson\t0.9900\n", ada_e->id,
		 g->merges[0].merged_id);
	assert_string_equal(text, want);
	free(text);
	buf_free(&scratch);
	graph_free(g);
	free(x);
}

static void types_apart_and_entities_without_vectors_stay(void **state)
{
	(void)state;
	struct fixture *x = calloc(1, sizeof *x);
	float v[DIMS];
	at_cosine(v, 1, 1);
	entity(x, "Paris", 1, "place", 1, v);
	entity(x, "Paris", 1, "person", 2, v);
	entity(x, "Paris (city)", 1, "Place", 3, NULL);
	struct resolve_stats st = resolve(x, 0);
	assert_int_equal(x->g.nentities, 3);
	assert_int_equal(st.merged, 0);
	assert_int_equal(x->g.nmerges, 0);
	graph_free(&x->g);
	free(x);
}

/* graph_resolve finds each entity's vector where the embedding stage over entities kept it
 * (vecstore_entity_key), and does nothing without graph.resolve or without such a stage. */
static void the_run_step_reads_the_stored_vectors(void **state)
{
	(void)state;
	char dir[] = "/tmp/kgsup-resolve-XXXXXX", err[256] = "";
	assert_non_null(mkdtemp(dir));
	store *db = store_open(dir, 0, err, sizeof err);
	assert_non_null(db);
	store_txn *t = store_begin(db, 1);
	struct stage stages[2] = { { .name = "kg", .endpoint = EP_CHAT, .graph = 1 },
				   { .name = "vectors", .endpoint = EP_EMBEDDINGS, .over = OVER_ENTITIES,
				     .model = "m", .dimensions = DIMS, .max_input_tokens = 8192 } };
	struct job job = { .n = 2, .st = stages };
	struct config cfg;
	config_defaults(&cfg);
	buf scratch;
	buf_init(&scratch);
	for (int run = 0; run < 3; run++) {
		struct fixture *x = calloc(1, sizeof *x);
		float ada[DIMS], ada2[DIMS];
		at_cosine(ada, 1, 1);
		at_cosine(ada2, 0.99f, 1);
		entity(x, "Ada Lovelace", 2, "person", 1, NULL);
		entity(x, "Ada Lovelace.", 1, "person", 2, NULL);
		entity(x, "Charles Babbage", 1, "person", 3, NULL); /* not embedded yet */
		unsigned char key[HASH_LEN];
		for (int e = 0; e < 2; e++) {
			vecstore_entity_key(&stages[1], &x->g.entities[e], &scratch, key);
			assert_int_equal(vecstore_put(t, key, e ? ada2 : ada, DIMS), 0);
		}
		cfg.graph_resolve = run > 0;
		job.n = run == 1 ? 1 : 2;
		struct resolve_stats st;
		assert_int_equal(graph_resolve(t, &cfg, &job, &x->g, &st, err, sizeof err), 0);
		assert_int_equal(x->g.resolved, run == 2);
		assert_int_equal(x->g.nentities, run == 2 ? 2 : 3);
		assert_int_equal(st.unvectored, run == 2);
		graph_free(&x->g);
		free(x);
	}
	buf_free(&scratch);
	config_free(&cfg);
	store_abort(t);
	store_close(db);
	char cmd[100];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- order independence ---- */

static uint64_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

/* Fills x with 48 entities in 12 clusters of 4 near-duplicates (three of type a, one of b) and
 * 24 relations, the entities and the relations in the orders perm and rperm give. */
static void clusters(struct fixture *x, const uint32_t *perm, const uint32_t *rperm)
{
	static float vec[48][DIMS];
	static char names[48][32];
	uint64_t s = 7;
	for (int c = 0; c < 12; c++) {
		float base[DIMS];
		for (int d = 0; d < DIMS; d++)
			base[d] = (float)rnd(&s) / (1u << 31) - 0.5f;
		for (int k = 0; k < 4; k++) {
			int i = c * 4 + k;
			for (int d = 0; d < DIMS; d++)
				vec[i][d] = base[d] + (k ? 0.02f * ((float)rnd(&s) / (1u << 31) - 0.5f) : 0);
			snprintf(names[i], sizeof names[i], "name %d%.*s", c, k, "...");
		}
	}
	uint32_t at[48];
	for (uint32_t i = 0; i < 48; i++)
		at[perm[i]] = entity(x, names[perm[i]], 1 + perm[i] % 3, perm[i] % 4 < 3 ? "a" : "b",
				     perm[i], vec[perm[i]]);
	for (uint32_t i = 0; i < 24; i++) {
		uint32_t j = rperm[i];
		relation(x, at[j], at[(j * 7 + 5) % 48], j % 2 ? "knows" : "likes", 100 + j);
	}
}

static int by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The graph as text, entities and relations sorted by id, so that order does not show. */
static char *canonical(const struct graph *g)
{
	buf b;
	buf_init(&b);
	char **lines = calloc(g->nentities + g->nrelations + g->nmerges, sizeof *lines);
	size_t n = 0;
	buf line;
	buf_init(&line);
	for (size_t i = 0; i < g->nentities; i++) {
		const struct gentity *e = &g->entities[i];
		buf_reset(&line);
		buf_printf(&line, "%s", e->id);
		for (size_t k = 0; k < e->names.n; k++)
			buf_printf(&line, " %s/%u/%.4f", e->names.v[k].text, e->names.v[k].seen,
				   e->names.v[k].similarity);
		for (size_t k = 0; k < e->descriptions.n; k++)
			buf_printf(&line, " [%s]", e->descriptions.v[k].text);
		for (size_t k = 0; k < e->chunks.n; k++)
			buf_printf(&line, " %u", e->chunks.v[k]);
		lines[n++] = xstrdup(buf_cstr(&line));
	}
	for (size_t i = 0; i < g->nrelations; i++) {
		const struct grelation *r = &g->relations[i];
		buf_reset(&line);
		buf_printf(&line, "%s %s>%s %s/%u", r->id, g->entities[r->source].id,
			   g->entities[r->target].id, r->types.v[0].text, r->types.v[0].seen);
		for (size_t k = 0; k < r->chunks.n; k++)
			buf_printf(&line, " %u", r->chunks.v[k]);
		lines[n++] = xstrdup(buf_cstr(&line));
	}
	for (size_t i = 0; i < g->nmerges; i++) {
		buf_reset(&line);
		buf_printf(&line, "merge %s<%s %.4f", g->entities[g->merges[i].kept].id,
			   g->merges[i].merged_id, g->merges[i].similarity);
		lines[n++] = xstrdup(buf_cstr(&line));
	}
	qsort(lines, n, sizeof *lines, by_text);
	for (size_t i = 0; i < n; i++) {
		buf_printf(&b, "%s\n", lines[i]);
		free(lines[i]);
	}
	free(lines);
	buf_free(&line);
	char *text = xstrdup(buf_cstr(&b));
	buf_free(&b);
	return text;
}

/* p: 0..n-1 shuffled by seed (0: in order). */
static void shuffle(uint32_t *p, uint32_t n, uint64_t seed)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = i;
	for (uint32_t i = n - 1; seed && i > 0; i--) {
		uint32_t j = (uint32_t)(rnd(&seed) % (i + 1)), t = p[i];
		p[i] = p[j];
		p[j] = t;
	}
}

/* The graph resolved from the clusters in the orders of seed (0: as made), pair by pair or
 * through LSH buckets. */
static char *resolved(uint64_t seed, size_t exact_below, struct resolve_stats *st)
{
	uint32_t perm[48], rperm[24];
	shuffle(perm, 48, seed);
	shuffle(rperm, 24, seed ? seed + 1000 : 0);
	struct fixture *x = calloc(1, sizeof *x);
	clusters(x, perm, rperm);
	*st = resolve(x, exact_below);
	char *text = canonical(&x->g);
	graph_free(&x->g);
	free(x);
	return text;
}

static void order_of_arrival_does_not_matter(void **state)
{
	(void)state;
	struct resolve_stats st0, st;
	char *want = resolved(0, 0, &st0);
	/* 12 clusters of 4 (three a, one b): the three of type a of each cluster merge */
	assert_int_equal(st0.merged, 24);
	for (uint64_t seed = 1; seed <= 20; seed++) {
		char *got = resolved(seed, 0, &st);
		assert_string_equal(got, want);
		free(got);
		got = resolved(seed, 2, &st); /* every type through LSH buckets */
		assert_int_equal(st.lsh_blocks, 2);
		assert_string_equal(got, want);
		free(got);
	}
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(near_duplicates_merge_and_others_do_not),
		cmocka_unit_test(types_apart_and_entities_without_vectors_stay),
		cmocka_unit_test(the_run_step_reads_the_stored_vectors),
		cmocka_unit_test(order_of_arrival_does_not_matter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
