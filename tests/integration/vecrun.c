/* vecrun.c: a test helper, `vecrun DIR BASE_URL CHUNK_MODEL CHUNK_DIMS ENTITY_MODEL
 * ENTITY_DIMS`, that writes into DIR the store of a finished run with embedding stages, as
 * the embedding stages would leave it, so export and search can be tested before (and apart
 * from) the stages themselves. Its job: the KG stage "kg", the stage "cv" embedding chunks
 * and (unless ENTITY_MODEL is "-") "ev" embedding entities. Standard input: a JSON line per
 * item, in order:
 *   {"source": PATH, "text": T, "start_ms": N, "end_ms": N, "vector": [..] or null}  a chunk
 *   {"entity": NAME, "type": T, "description": D, "vector": [..] or null}         an entity
 * Chunks are numbered in input order; the entities are the answer of the one KG batch (over
 * chunk 0). A null vector leaves the item without one (a run not finished). The run's config
 * points at BASE_URL with its key in MOCK_API_KEY; VECRUN_FLOAT=1 in the environment records
 * api.embeddings_base64 false. */
#include "../../common/json.h"
#include "../../common/log.h"
#include "../../common/paths.h"
#include "../../common/util.h"
#include "../../supervisor/graph.h"
#include "../../supervisor/runstate.h"
#include "../../supervisor/vecstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 100000

static json *items[MAX_ITEMS];
static size_t nitems;
static struct job job;
static struct config cfg;

static const char *str(const json *o, const char *k)
{
	const char *s = json_string(json_get(o, k));
	return s ? s : "";
}

/* The vector of item o into f (room for VEC_MAX_DIMS): its length, 0 when null. */
static size_t vector_of(const json *o, float *f)
{
	size_t n = 0;
	for (const json *x = json_first(json_get(o, "vector")); x && n < VEC_MAX_DIMS; x = json_next(x))
		f[n++] = (float)json_number(x);
	return n;
}

static int meta_put(store_txn *t, const char *key, const void *v, size_t n)
{
	return store_put(t, DB_META, key, strlen(key), v, n);
}

static int put_run(store_txn *t, void *arg)
{
	(void)arg;
	buf b, ans;
	buf_init(&b);
	buf_init(&ans);
	config_to_json(&cfg, &b);
	int rc = meta_put(t, META_CONFIG, b.data, b.len);
	buf_reset(&b);
	job_to_json(&job, &b);
	rc = rc || meta_put(t, META_JOB, b.data, b.len);
	char *sources[MAX_ITEMS];
	uint32_t nsources = 0, nchunks = 0, index[MAX_ITEMS];
	buf_puts(&ans, "{\"entities\":[");
	for (size_t i = 0; i < nitems && !rc; i++) {
		const json *o = items[i];
		if (json_get(o, "entity")) {
			buf_puts(&ans, ans.data[ans.len - 1] == '[' ? "{\"name\":" : ",{\"name\":");
			buf_json_str(&ans, str(o, "entity"), strlen(str(o, "entity")));
			buf_puts(&ans, ",\"type\":");
			buf_json_str(&ans, str(o, "type"), strlen(str(o, "type")));
			buf_puts(&ans, ",\"description\":");
			buf_json_str(&ans, str(o, "description"), strlen(str(o, "description")));
			buf_putc(&ans, '}');
			continue;
		}
		const char *src = str(o, "source"), *text = str(o, "text");
		uint32_t s = 0;
		while (s < nsources && strcmp(sources[s], src))
			s++;
		unsigned char k[4];
		if (s == nsources) {
			sources[nsources] = (char *)src;
			index[nsources++] = 0;
			wr_u32be(k, s);
			rc = store_put(t, DB_SOURCES, k, 4, src, strlen(src));
		}
		struct chunk_rec c = { .source = s, .index = index[s]++ };
		const json *a = json_get(o, "start_ms"), *z = json_get(o, "end_ms");
		c.start_ms = a ? (int64_t)json_number(a) : -1;
		c.end_ms = z ? (int64_t)json_number(z) : -1;
		char id[CHUNK_ID_LEN + 1];
		chunk_make_id(src, c.index, text, strlen(text), id);
		memcpy(c.id, id, CHUNK_ID_LEN);
		buf_reset(&b);
		buf_put(&b, &c, sizeof c);
		buf_puts(&b, text);
		wr_u32be(k, nchunks++);
		rc = rc || store_put(t, DB_CHUNKS, k, 4, b.data, b.len);
	}
	buf_puts(&ans, "],\"relations\":[]}");
	struct plan_rec p = { .version = RUNSTATE_VERSION, .nsources = nsources, .nchunks = nchunks,
			      .nbatches = 1 };
	struct batch_rec br = { .first_chunk = 0, .nchunks = 1, .state = B_DONE, .attempts = 1 };
	struct batch_ext x = { .stage = 0 };
	unsigned char k0[4];
	wr_u32be(k0, 0);
	rc = rc || meta_put(t, META_PLAN, &p, sizeof p) || batch_write(t, 0, &br, NULL, 0) ||
	     batchx_write(t, 0, &x) || store_put(t, DB_RESULTS, k0, 4, ans.data, ans.len);
	buf_free(&b);
	buf_free(&ans);
	return rc ? STORE_FULL : 0; /* store_write grows the map only if it is what filled */
}

static float vec[VEC_MAX_DIMS];

/* Each chunk's vector under stage cv's key of its text, each entity's under ev's. */
static int put_vectors(store_txn *t, void *arg)
{
	const struct graph *g = arg;
	uint32_t n = 0;
	unsigned char key[HASH_LEN];
	buf scratch;
	buf_init(&scratch);
	int rc = 0;
	for (size_t i = 0; i < nitems && !rc; i++) {
		const json *o = items[i];
		size_t dims = vector_of(o, vec);
		if (!json_get(o, "entity")) {
			if (dims && !vecstore_chunk_key(t, &job.st[1], n, key))
				rc = vecstore_put(t, key, vec, dims);
			n++;
			continue;
		}
		for (size_t e = 0; dims && job.n > 2 && e < g->nentities; e++)
			if (g->entities[e].names.n &&
			    !strcmp(g->entities[e].names.v[0].text, str(o, "entity"))) {
				vecstore_entity_key(&job.st[2], &g->entities[e], &scratch, key);
				rc = vecstore_put(t, key, vec, dims);
			}
	}
	buf_free(&scratch);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: vecrun DIR BASE_URL CHUNK_MODEL CHUNK_DIMS ENTITY_MODEL "
			"ENTITY_DIMS < items.jsonl\n");
		return 2;
	}
	char line[1 << 20], err[512] = "", dbdir[PATHS_MAX];
	while (nitems < MAX_ITEMS && fgets(line, sizeof line, stdin))
		if (!(items[nitems++] = json_parse(line, strlen(line), err, sizeof err))) {
			fprintf(stderr, "vecrun: line %zu: %s\n", nitems, err);
			return 2;
		}
	config_defaults(&cfg);
	free(cfg.base_url);
	cfg.base_url = xstrdup(argv[2]);
	free(cfg.api_key_env);
	cfg.api_key_env = xstrdup("MOCK_API_KEY");
	cfg.max_attempts = 3;
	cfg.embeddings_base64 = !getenv("VECRUN_FLOAT");
	cfg.backoff_base_ms = 50;
	buf st;
	buf_init(&st);
	buf_printf(&st, "[{\"name\":\"kg\",\"over\":\"chunks\",\"graph\":true},{\"name\":\"cv\",\"endpoint\":\"embeddings\","
		   "\"over\":\"chunks\",\"model\":\"%s\",\"dimensions\":%s}", argv[3], argv[4]);
	if (strcmp(argv[5], "-"))
		buf_printf(&st, ",{\"name\":\"ev\",\"endpoint\":\"embeddings\",\"over\":\"entities\","
			   "\"model\":\"%s\",\"dimensions\":%s}", argv[5], argv[6]);
	buf_putc(&st, ']');
	cfg.stages = xstrdup(buf_cstr(&st));
	buf_free(&st);
	if (job_from_config(&job, &cfg, "", "", err, sizeof err)) {
		fprintf(stderr, "vecrun: %s\n", err);
		return 2;
	}
	mkdir_p(argv[1], 0755);
	paths_file(dbdir, sizeof dbdir, argv[1], "db");
	store *db = store_open(dbdir, 0, err, sizeof err);
	if (!db || store_write(db, put_run, NULL)) {
		fprintf(stderr, "vecrun: %s: %s\n", dbdir, db ? store_strerror(db) : err);
		return 1;
	}
	struct graph g;
	memset(&g, 0, sizeof g);
	store_txn *t = store_begin(db, 0);
	if (graph_build(t, &cfg, &job, &g, err, sizeof err)) {
		fprintf(stderr, "vecrun: %s\n", err);
		return 1;
	}
	store_abort(t);
	if (store_write(db, put_vectors, &g)) {
		fprintf(stderr, "vecrun: %s: vectors: %s\n", dbdir, store_strerror(db));
		return 1;
	}
	graph_free(&g);
	store_close(db);
	for (size_t i = 0; i < nitems; i++)
		json_free(items[i]);
	job_free(&job);
	config_free(&cfg);
	return 0;
}
