/* search_cmd.c: `kgsup search -s DIR [-s DIR...] [-k N] [--json] "query"`: the chunks and
 * entities whose embedding vectors are nearest the query's (of a run, or of the shards of one,
 * read as the run: vectors.h). The run's vectors of one stage are read into one
 * contiguous matrix, normalised, and scanned exactly (vecsearch.h). The query is embedded by
 * the model and dimensions of the stage searched, in one call made by `kgsup __embed`
 * (worker/query.c: the supervisor side never loads libcurl), and its vector is kept in
 * DIR/search/, a store of its own: the run's store has one writer, the run's supervisor, and a
 * search must not become a second. The same query again costs no call. */
#include "results.h"
#include "shard_set.h"
#include "vectors.h"
#include "../cli.h"
#include "../rolespawn.h"
#include "../vecsearch.h"
#include "../vecstore.h"
#include "../../common/log.h"
#include "../../common/paths.h"
#include "../../common/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOP_DEFAULT 10
#define LINE_MAX_BYTES 100

/* `kgsup __embed MODEL DIMS` with the settings and the text on its standard input: its
 * standard output into out, and its exit code. */
static int run_embed(const struct config *cfg, const char *model, int64_t dims, const char *text,
		     size_t len, buf *out)
{
	char d[32];
	snprintf(d, sizeof d, "%lld", (long long)dims);
	char *argv[] = { "kgsup", "__embed", (char *)model, d, NULL };
	int to, from;
	pid_t pid = role_spawn(argv, &to, &from);
	if (pid < 0) {
		log_error("cannot start the query's embedding: %s", strerror(errno));
		return EXIT_INTERNAL;
	}
	buf req;
	buf_init(&req);
	config_to_json(cfg, &req);
	buf_putc(&req, '\0');
	buf_put(&req, text, len);
	void (*old)(int) = signal(SIGPIPE, SIG_IGN); /* one that died early: its exit code tells */
	for (size_t off = 0; off < req.len;) {
		ssize_t w = write(to, req.data + off, req.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	signal(SIGPIPE, old);
	buf_free(&req);
	close(to);
	char chunk[65536];
	ssize_t got;
	while ((got = read(from, chunk, sizeof chunk)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			break;
		buf_put(out, chunk, (size_t)got);
	}
	close(from);
	int code = role_wait(pid);
	return code < 0 ? EXIT_INTERNAL : code;
}

/* What a search keeps in DIR/search/ (NULL: nothing, it could not be opened). */
struct cache {
	store *db;
	char dir[PATHS_MAX];
};

struct keep {
	enum store_db db;
	const void *key, *val;
	size_t klen, vlen;
};

static int keep_record(store_txn *t, void *arg)
{
	const struct keep *k = arg;
	return store_put(t, k->db, k->key, k->klen, k->val, k->vlen);
}

static void cache_put(struct cache *c, const struct keep *k, const char *what)
{
	if (c->db && store_write(c->db, keep_record, (void *)k))
		log_warn("%s: %s could not be kept: %s", c->dir, what, store_strerror(c->db));
}

/* The query's vector for stage st into *q (malloc'd, *dims set): from DIR/search/, or by one
 * call kept there. 0, or an exit code (the reason logged). */
static int query_vector(const struct cli *cli, struct cache *c, const struct vectors *v,
			const struct stage *st, float **q, size_t *dims)
{
	size_t len = vec_input_len(cli->text, strlen(cli->text), st->max_input_tokens);
	unsigned char key[HASH_LEN];
	vec_key(st->model, st->dimensions, cli->text, len, key);
	store_txn *t = c->db ? store_begin(c->db, 0) : NULL;
	float probe;
	if (t && !vecstore_get(t, key, &probe, 0, dims)) {
		*q = xmalloc(*dims * sizeof(float));
		vecstore_get(t, key, *q, *dims, dims);
		store_abort(t);
		log_debug("the query's vector (%s, %zu dimensions) from %s", st->model, *dims, c->dir);
		return 0;
	}
	store_abort(t);
	buf out;
	buf_init(&out);
	int rc = run_embed(&v->cfg, st->model, st->dimensions, cli->text, len, &out);
	uint32_t n, d;
	const void *f32;
	if (!rc && (vec_payload_read(out.data ? out.data : "", out.len, &n, &d) || n != 1 ||
		    memcmp(vec_payload_item(out.data, 0, d, &f32), key, HASH_LEN))) {
		log_error("the query's embedding answered no vector for it");
		rc = EXIT_INTERNAL;
	}
	if (!rc) {
		*dims = d;
		*q = xmalloc(d * sizeof(float));
		memcpy(*q, f32, d * sizeof(float));
		cache_put(c, &(struct keep){ DB_VECTORS, key, *q, HASH_LEN, d * sizeof(float) },
			  "the query's vector");
	}
	buf_free(&out);
	return rc;
}

static int by_index(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The meta key of a stage's chunk keys in DIR/search/: "chunk-keys" and a hash of what they
 * follow from, the run's plan (its inputs and chunking) and what the stage embeds them with;
 * of shards, which were given too (the chunks of the others are not read, so have no key). */
static void keys_name(const struct vectors *v, const struct shard_set *set,
		      const struct stage *st, unsigned char out[10 + HASH_LEN])
{
	char what[128];
	int n = snprintf(what, sizeof what, "%lld\n", (long long)st->max_input_tokens);
	buf b;
	buf_init(&b);
	buf_put(&b, v->plan.fingerprint, HASH_LEN);
	buf_put(&b, what, (size_t)n);
	if (set->shard[0].count) {
		uint32_t *given = xmalloc(set->n * sizeof *given);
		for (size_t i = 0; i < set->n; i++)
			given[i] = set->shard[i].index;
		qsort(given, set->n, sizeof *given, by_index);
		for (size_t i = 0; i < set->n; i++)
			buf_printf(&b, "shard %u/%u\n", given[i], set->shard[i].count);
		free(given);
	}
	memcpy(out, "chunk-keys", 10);
	vec_key(st->model, st->dimensions, b.data, b.len, out + 10);
	buf_free(&b);
}

/* Before a stage over chunks is read: its chunk keys from DIR/search/ if kept, else room to
 * make them in. */
static void keys_load(struct cache *c, struct vectors *v, const struct shard_set *set,
		      const struct stage *st)
{
	size_t bytes = (size_t)v->plan.nchunks * HASH_LEN;
	unsigned char name[10 + HASH_LEN];
	if (!c->db || st->over != OVER_CHUNKS || !bytes)
		return;
	keys_name(v, set, st, name);
	v->keys = xcalloc(1, bytes); /* (those of a shard not given stay zero: never read) */
	store_txn *t = store_begin(c->db, 0);
	const void *val;
	size_t len;
	v->keys_known = t && !store_get(t, DB_META, name, sizeof name, &val, &len) && len == bytes;
	if (v->keys_known)
		memcpy(v->keys, val, bytes);
	store_abort(t);
}

/* After: the keys made, kept for the next search. */
static void keys_keep(struct cache *c, struct vectors *v, const struct shard_set *set,
		      const struct stage *st)
{
	unsigned char name[10 + HASH_LEN];
	if (v->keys && !v->keys_known) {
		keys_name(v, set, st, name);
		cache_put(c, &(struct keep){ DB_META, name, v->keys, sizeof name,
					     (size_t)v->plan.nchunks * HASH_LEN }, "the chunks' keys");
	}
	free(v->keys);
	v->keys = NULL;
	v->keys_known = 0;
}

/* "hh:mm:ss" of ms. */
static void clock_of(int64_t ms, char out[16])
{
	int64_t s = ms / 1000;
	snprintf(out, 16, "%02lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60),
		 (long long)(s % 60));
}

/* The text's first line that is not blank, cut to about LINE_MAX_BYTES at a character's start. */
static void first_line(const char *text, size_t len, buf *out)
{
	size_t i = 0;
	while (i < len && (text[i] == '\n' || text[i] == '\r' || text[i] == ' ' || text[i] == '\t'))
		i++;
	size_t end = i;
	while (end < len && text[end] != '\n' && text[end] != '\r')
		end++;
	size_t cut = end - i > LINE_MAX_BYTES ? i + LINE_MAX_BYTES : end;
	while (cut > i && cut < end && ((unsigned char)text[cut] & 0xc0) == 0x80)
		cut--;
	buf_put(out, text + i, cut - i);
	if (cut < end)
		buf_puts(out, "...");
}

static void print_chunk(struct vectors *v, const struct vechit *h, uint32_t n, int json,
			int first, buf *b)
{
	struct chunk_rec r;
	const char *text;
	size_t len;
	if (vectors_chunk(v, n, &r, &text, &len))
		return;
	char id[CHUNK_ID_LEN + 1];
	memcpy(id, r.id, CHUNK_ID_LEN);
	id[CHUNK_ID_LEN] = '\0';
	const char *doc = vectors_source(v, r.source);
	buf_reset(b);
	if (json) {
		buf_printf(b, "%s{\"kind\":\"chunk\",\"score\":%.6f,\"id\":\"%s\",\"document\":",
			   first ? "" : ",\n", (double)h->score, id);
		buf_json_str(b, doc, strlen(doc));
		if (r.start_ms >= 0)
			buf_printf(b, ",\"start_ms\":%lld,\"end_ms\":%lld", (long long)r.start_ms,
				   (long long)r.end_ms);
		buf_puts(b, ",\"text\":");
		buf_json_str(b, text, len);
		buf_putc(b, '}');
	} else {
		char a[16], z[16];
		buf_printf(b, " %6.3f  %s", (double)h->score, doc);
		if (r.start_ms >= 0) {
			clock_of(r.start_ms, a);
			clock_of(r.end_ms, z);
			buf_printf(b, "  %s-%s", a, z);
		}
		buf_puts(b, "\n         ");
		first_line(text, len, b);
		buf_putc(b, '\n');
	}
	fwrite(b->data, 1, b->len, stdout);
}

static void print_entity(struct vectors *v, const struct vechit *h, uint32_t n, int json,
			 int first, buf *b)
{
	const struct gentity *e = &v->g.entities[n];
	const char *name = e->names.n ? e->names.v[0].text : "";
	const char *type = e->types.n ? e->types.v[0].text : "";
	buf_reset(b);
	if (json) {
		buf_printf(b, "%s{\"kind\":\"entity\",\"score\":%.6f,\"id\":\"%s\",\"name\":",
			   first ? "" : ",\n", (double)h->score, e->id);
		buf_json_str(b, name, strlen(name));
		buf_puts(b, ",\"type\":");
		buf_json_str(b, type, strlen(type));
		buf_putc(b, '}');
	} else {
		buf_printf(b, " %6.3f  %s", (double)h->score, name);
		if (*type)
			buf_printf(b, " (%s)", type);
		buf_putc(b, '\n');
	}
	fwrite(b->data, 1, b->len, stdout);
}

/* Searches one stage: its matrix, the query's vector, the hits printed. 0, or an exit code. */
static int search_stage(const struct cli *cli, struct cache *c, struct vectors *v,
			const struct shard_set *set, int stage, int *printed)
{
	const struct stage *st = &v->job.st[stage];
	struct vmatrix m;
	char err[512] = "";
	float *q = NULL;
	size_t qdims = 0;
	keys_load(c, v, set, st);
	int loaded = vmatrix_load(v, stage, &m, err, sizeof err);
	keys_keep(c, v, set, st);
	if (loaded) {
		log_error("%s", err);
		return EXIT_INTERNAL;
	}
	int rc = 0;
	if (!m.n) {
		log_warn("stage %s has no vectors yet: nothing to search", st->name);
		goto out;
	}
	if ((rc = query_vector(cli, c, v, st, &q, &qdims)))
		goto out;
	if (qdims != m.dims) {
		log_error("stage %s: the query's vector has %zu dimensions, the run's %zu", st->name,
			  qdims, m.dims);
		rc = EXIT_USAGE;
		goto out;
	}
	vecsearch_normalise(q, qdims);
	size_t k = cli->top_k ? (size_t)cli->top_k : TOP_DEFAULT;
	struct vechit *hits = xmalloc(k * sizeof *hits);
	int64_t t0 = now_ms();
	size_t nh = vecsearch_topk(m.rows, m.n, m.dims, q, k, hits);
	log_debug("stage %s: %zu vectors searched in %lld ms", st->name, m.n,
		 (long long)(now_ms() - t0));
	buf b;
	buf_init(&b);
	if (!cli->json)
		printf("%s%s (stage %s, %s):\n", *printed ? "\n" : "",
		       st->over == OVER_ENTITIES ? "entities" : "chunks", st->name, st->model);
	for (size_t i = 0; i < nh; i++, (*printed)++)
		(st->over == OVER_ENTITIES ? print_entity : print_chunk)(
			v, &hits[i], m.item[hits[i].row], cli->json, !*printed, &b);
	buf_free(&b);
	free(hits);
out:
	free(q);
	vmatrix_free(&m);
	return rc;
}

/* Exit codes: 0 searched; 2 no run, no embedding stage, no vectors (shards that own no
 * documents among them), or the server cannot be reached; 3 the server kept failing; 4 it
 * refused the call. */
int search_cmd(const struct cli *cli)
{
	char err[1024] = "";
	struct shard_set set = { 0 };
	struct vectors v;
	struct cache cache = { NULL, "" };
	int rc = EXIT_USAGE;
	int ndirs;
	char *const *dirs = cli_states(cli, &ndirs);
	memset(&v, 0, sizeof v);
	if (shard_set_open(&set, dirs, ndirs, err, sizeof err) ||
	    vectors_open(&v, set.t, set.n, cli->stage, err, sizeof err))
		goto done;
	/* such shards have no vectors, nor will they: not "yet" (and no call for the query) */
	char none[512];
	if (shard_set_owns_none(&set, none, sizeof none)) {
		snprintf(err, sizeof err, "%s (a document goes to the shard its text's hash falls "
			 "to): nothing to search; search the run's other shards, or all of them as "
			 "one (search -s DIR0 -s DIR1 ...)", none);
		goto done;
	}
	v.lean = 1;
	paths_file(cache.dir, sizeof cache.dir, cli->state_dir, "search");
	if (!(cache.db = store_open(cache.dir, 0, err, sizeof err))) {
		log_warn("%s: %s; nothing is kept for the next search", cache.dir, err);
		err[0] = '\0';
	}
	/* the first stage over chunks and the first over entities (or the one --stage names) */
	int done_over[OVER_COUNT] = { 0 }, printed = 0;
	rc = 0;
	if (cli->json)
		fputs("[", stdout);
	for (size_t i = 0; i < v.norder && !rc; i++) {
		int s = v.order[i];
		if (done_over[v.job.st[s].over]++)
			continue;
		rc = search_stage(cli, &cache, &v, &set, s, &printed);
	}
	if (cli->json)
		fputs("]\n", stdout);
	if (!rc && !printed) {
		snprintf(err, sizeof err, "%s: the run has no vectors yet", cli->state_dir);
		rc = EXIT_USAGE;
	}
done:
	if (err[0])
		die_msg("%s", err);
	vectors_close(&v);
	store_close(cache.db);
	shard_set_close(&set);
	return rc;
}
