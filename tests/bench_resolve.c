/* bench_resolve.c: `make bench-resolve`: entity resolution (supervisor/resolve.h) of synthetic
 * entities, timed, and its recall against exact all-pairs comparison on a sample.
 *
 * The entities: several types, each with a mean direction that all its entities share a part of
 * (so unrelated entities of one type are somewhat alike, as real embeddings are); groups of one
 * to four near-duplicates of a base vector at varied noise, so that some duplicates are just
 * above the threshold and some just below. Recall: of the pairs of a sample (the first
 * entities made: whole groups; same type, cosine at least the threshold, found by comparing
 * every pair of the sample), the share that the resolution of all entities put in one entity.
 * Its merges are all confirmed by their exact cosine, so it never merges what all-pairs
 * comparison would not.
 *
 * usage: bench_resolve [entities [dims [sample [tables bits planes]]]] */
#include "../supervisor/resolve.h"
#include "../common/buf.h"
#include "../common/strmap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TYPES 4
#define THRESHOLD 0.92

static uint64_t rng = 12345;

static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

static float gauss(void)
{
	return (float)(sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform()));
}

static void unit(float *v, size_t d)
{
	double s = 0;
	for (size_t i = 0; i < d; i++)
		s += (double)v[i] * v[i];
	float l = (float)sqrt(s);
	for (size_t i = 0; i < d; i++)
		v[i] /= l;
}

/* CPU seconds of this process: the machine may be shared, and resolution is one thread */
static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void form(struct forms *f, const char *text)
{
	f->v = xmalloc(sizeof *f->v);
	f->v[0] = (struct form){ xstrdup(text), 1, 1 };
	f->n = 1;
}

/* The graph of n entities, entity e of type type[e] named "g<group>-<k>". */
static void make_graph(struct graph *g, size_t n, const uint32_t *group, const uint32_t *type)
{
	memset(g, 0, sizeof *g);
	g->entities = xcalloc(n, sizeof *g->entities);
	g->nentities = g->capentities = n;
	char name[64], key[80];
	for (size_t e = 0; e < n; e++) {
		struct gentity *ge = &g->entities[e];
		snprintf(name, sizeof name, "g%u-%zu", group[e], e);
		snprintf(key, sizeof key, "%s\x1ftype%u", name, type[e]);
		graph_make_id('e', key, strlen(key), ge->id);
		form(&ge->names, name);
		snprintf(name, sizeof name, "type%u", type[e]);
		form(&ge->types, name);
	}
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	size_t dims = argc > 2 ? strtoul(argv[2], NULL, 10) : 256;
	size_t sample = argc > 3 ? strtoul(argv[3], NULL, 10) : 10000;
	if (sample > n)
		sample = n;
	float *vec = xmalloc(n * dims * sizeof *vec), *rows = xmalloc(n * dims * sizeof *rows);
	float *mean = xmalloc(TYPES * dims * sizeof *mean), *base = xmalloc(dims * sizeof *base);
	uint32_t *group = xmalloc(n * sizeof *group), *type = xmalloc(n * sizeof *type);
	uint32_t *row_of = xmalloc(n * sizeof *row_of);
	for (size_t i = 0; i < TYPES * dims; i++)
		mean[i] = gauss();
	for (size_t t = 0; t < TYPES; t++)
		unit(mean + t * dims, dims);
	uint32_t groups = 0;
	for (size_t e = 0; e < n; groups++) {
		uint32_t t = (uint32_t)(uniform() * TYPES), k = 1 + (uint32_t)(uniform() * 4);
		for (size_t i = 0; i < dims; i++)
			base[i] = gauss();
		unit(base, dims);
		for (size_t i = 0; i < dims; i++)
			base[i] += 0.6f * mean[t * dims + i];
		unit(base, dims);
		for (uint32_t j = 0; j < k && e < n; j++, e++) {
			/* noise of length eps: cosine to the base about 1/sqrt(1+eps^2) */
			float eps = j ? (float)(0.1 + 0.4 * uniform()) : 0, *v = vec + e * dims;
			for (size_t i = 0; i < dims; i++)
				v[i] = base[i] + eps * gauss() / sqrtf((float)dims);
			unit(v, dims);
			group[e] = groups;
			type[e] = t;
			row_of[e] = (uint32_t)e;
		}
	}
	printf("%zu entities in %u groups of 1-4 near-duplicates, %d types, %zu dimensions, "
	       "threshold %.2f\n", n, groups, TYPES, dims, THRESHOLD);

	/* the exact pairs of a sample: the first entities, whole groups of near-duplicates (the
	 * groups are drawn independently, so these are a random sample of groups) */
	uint32_t *pick = xmalloc(n * sizeof *pick);
	for (size_t i = 0; i < n; i++)
		pick[i] = (uint32_t)i;
	size_t npairs = 0, cap = 1024;
	uint32_t(*pairs)[2] = xmalloc(cap * sizeof *pairs);
	double t0 = now();
	for (size_t a = 0; a < sample; a++)
		for (size_t b = a + 1; b < sample; b++) {
			uint32_t x = pick[a], y = pick[b];
			if (type[x] != type[y])
				continue;
			float s = 0;
			for (size_t i = 0; i < dims; i++)
				s += vec[x * dims + i] * vec[y * dims + i];
			if (s < THRESHOLD)
				continue;
			if (npairs == cap)
				pairs = xrealloc(pairs, (cap *= 2) * sizeof *pairs);
			pairs[npairs][0] = x;
			pairs[npairs++][1] = y;
		}
	printf("sample: %zu entities, %zu pairs at the threshold or above (all pairs: %.1f s)\n",
	       sample, npairs, now() - t0);

	/* tables, bits, planes (0: the default); the last: every pair, no buckets */
	size_t settings[][3] = { { 0, 0, 0 },	   { 40, 16, 256 }, { 30, 16, 256 }, { 20, 12, 240 },
				 { 20, 12, 64 }, { 1, 1, 1 } };
	size_t nsettings = sizeof settings / sizeof settings[0];
	if (argc > 6) {
		nsettings = 1;
		for (int i = 0; i < 3; i++)
			settings[0][i] = strtoul(argv[4 + i], NULL, 10);
	}
	printf("%-20s %8s %14s %10s %8s\n", "tables x bits/planes", "cpu s", "similarities",
	       "merged", "recall");
	for (size_t s = 0; s < nsettings; s++) {
		struct graph g;
		make_graph(&g, n, group, type);
		memcpy(rows, vec, n * dims * sizeof *rows);
		char (*ids)[17] = xmalloc(n * sizeof *ids);
		for (size_t e = 0; e < n; e++)
			memcpy(ids[e], g.entities[e].id, 17);
		struct resolve_vectors v = { rows, dims, row_of };
		int all = s == nsettings - 1 && nsettings > 1;
		struct resolve_opts o = { THRESHOLD, all ? n + 1 : 0, 5, settings[s][0], settings[s][1],
					  settings[s][2] };
		struct resolve_stats st = { 0 };
		t0 = now();
		resolve_entities(&g, &v, &o, &st);
		double secs = now() - t0;
		/* each entity's id now: its kept entity's, if it was merged */
		struct strmap kept = { 0 };
		for (size_t i = 0; i < g.nmerges; i++)
			map_put(&kept, g.merges[i].merged_id, 16, g.merges[i].kept);
		size_t found = 0;
		for (size_t i = 0; i < npairs; i++) {
			const char *a = ids[pairs[i][0]], *b = ids[pairs[i][1]];
			uint32_t ka = map_get(&kept, a, 16), kb = map_get(&kept, b, 16);
			const char *fa = ka == UINT32_MAX ? a : g.entities[ka].id;
			const char *fb = kb == UINT32_MAX ? b : g.entities[kb].id;
			found += !strcmp(fa, fb);
		}
		char label[32];
		if (all)
			snprintf(label, sizeof label, "all pairs");
		else if (settings[s][0])
			snprintf(label, sizeof label, "%zu x %zu/%zu", settings[s][0], settings[s][1],
				 settings[s][2]);
		else
			snprintf(label, sizeof label, "default");
		printf("%-20s %8.2f %14llu %10llu %7.2f%%\n", label, secs, (unsigned long long)st.pairs,
		       (unsigned long long)st.merged, npairs ? 100.0 * (double)found / (double)npairs : 100);
		map_free(&kept);
		free(ids);
		graph_free(&g);
	}
	free(vec);
	free(rows);
	free(mean);
	free(base);
	free(group);
	free(type);
	free(row_of);
	free(pick);
	free(pairs);
	return 0;
}
