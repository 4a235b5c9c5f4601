/* search_cmd.c: `kgsup search -s DIR [-k N] [--json] "query"`: the chunks and entities whose
 * embedding vectors are nearest the query's. The run's vectors of one stage are read into one
 * contiguous matrix, normalised, and scanned exactly (vecsearch.h). The query is embedded by
 * the model and dimensions of the stage searched, in one call made by `kgsup __embed`
 * (worker/query.c: the supervisor side never loads libcurl), and its vector is kept in
 * DIR/search/, a store of its own: the run's store has one writer, the run's supervisor, and a
 * search must not become a second. The same query again costs no call. */
#include "results.h"
#include "vectors.h"
#include "../cli.h"
#include "../vecsearch.h"
#include "../vecstore.h"
#include "../../common/log.h"
#include "../../common/paths.h"
#include "../../common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define TOP_DEFAULT 10
#define LINE_MAX_BYTES 100

/* One stage's vectors as a matrix, and what each row is. */
struct matrix {
	int stage;
	float *rows;     /* n x dims, normalised */
	size_t n, cap, dims, bytes;
	uint32_t *item;  /* per row: the chunk's or the entity's number */
	uint64_t other;  /* vectors of other dimensions than the first's, left out */
};

static int add_row(const struct vitem *it, const float *vec, size_t dims, void *arg)
{
	struct matrix *m = arg;
	if (!m->rows) {
		m->dims = dims;
		m->bytes = m->cap * dims * sizeof(float);
		m->rows = mmap(NULL, m->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (m->rows == MAP_FAILED) {
			m->rows = NULL;
			return -1;
		}
		madvise(m->rows, m->bytes, MADV_HUGEPAGE); /* fewer TLB misses in the scan */
		m->item = xmalloc(m->cap * sizeof *m->item);
	}
	if (dims != m->dims || m->n >= m->cap) {
		m->other++;
		return 0;
	}
	float *row = m->rows + m->n * dims;
	memcpy(row, vec, dims * sizeof(float));
	vecsearch_normalise(row, dims);
	m->item[m->n++] = it->n;
	return 0;
}

static int load(struct vectors *v, int stage, struct matrix *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	m->stage = stage;
	m->cap = v->job.st[stage].over == OVER_ENTITIES ? v->g.nentities : v->plan.nchunks;
	int64_t t0 = now_ms();
	if (m->cap && vectors_walk(v, stage, add_row, m)) {
		snprintf(err, errlen, "out of memory for the vectors of stage %s", v->job.st[stage].name);
		return -1;
	}
	log_debug("stage %s: %zu vectors of %zu dimensions read in %lld ms", v->job.st[stage].name,
		 m->n, m->dims, (long long)(now_ms() - t0));
	if (m->other)
		log_warn("stage %s: %llu vectors of other dimensions than %zu left out",
			 v->job.st[stage].name, (unsigned long long)m->other, m->dims);
	return 0;
}

static void matrix_free(struct matrix *m)
{
	if (m->rows)
		munmap(m->rows, m->bytes);
	free(m->item);
}

/* `kgsup __embed MODEL DIMS` with the settings and the text on its standard input: its
 * standard output into out, and its exit code. */
static int run_embed(const struct config *cfg, const char *model, int64_t dims, const char *text,
		     size_t len, buf *out)
{
	char self[PATHS_MAX], d[32];
	snprintf(d, sizeof d, "%lld", (long long)dims);
	char *argv[] = { "kgsup", "__embed", (char *)model, d, NULL };
	int in[2] = { -1, -1 }, from[2] = { -1, -1 };
	if (readlink_self(self, sizeof self) < 0 || pipe2(in, O_CLOEXEC) || pipe2(from, O_CLOEXEC)) {
		log_error("cannot start the query's embedding: %s", strerror(errno));
		return EXIT_INTERNAL;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, from[1], 1);
	pid_t pid;
	fflush(NULL);
	int rc = posix_spawn(&pid, self, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(from[1]);
	if (rc) {
		close(in[1]);
		close(from[0]);
		log_error("cannot start the query's embedding: %s", strerror(rc));
		return EXIT_INTERNAL;
	}
	buf req;
	buf_init(&req);
	config_to_json(cfg, &req);
	buf_putc(&req, '\0');
	buf_put(&req, text, len);
	void (*old)(int) = signal(SIGPIPE, SIG_IGN); /* one that died early: its exit code tells */
	for (size_t off = 0; off < req.len;) {
		ssize_t w = write(in[1], req.data + off, req.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	signal(SIGPIPE, old);
	buf_free(&req);
	close(in[1]);
	char chunk[65536];
	ssize_t got;
	while ((got = read(from[0], chunk, sizeof chunk)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			break;
		buf_put(out, chunk, (size_t)got);
	}
	close(from[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return EXIT_INTERNAL;
	return WIFEXITED(st) ? WEXITSTATUS(st) : EXIT_INTERNAL;
}

struct keep {
	const unsigned char *key;
	const float *v;
	size_t dims;
};

static int keep_vector(store_txn *t, void *arg)
{
	struct keep *k = arg;
	return vecstore_put(t, k->key, k->v, k->dims);
}

/* The query's vector for stage st into *q (malloc'd, *dims set): from DIR/search/, or by one
 * call kept there. 0, or an exit code (the reason logged). */
static int query_vector(const struct cli *cli, const struct vectors *v, const struct stage *st,
			float **q, size_t *dims)
{
	size_t len = vec_input_len(cli->text, strlen(cli->text), st->max_input_tokens);
	unsigned char key[HASH_LEN];
	vec_key(st->model, st->dimensions, cli->text, len, key);
	char dir[PATHS_MAX], err[512] = "";
	paths_file(dir, sizeof dir, cli->state_dir, "search");
	store *cache = store_open(dir, 0, err, sizeof err);
	if (!cache)
		log_warn("%s: %s; the query's vector is not kept", dir, err);
	store_txn *t = cache ? store_begin(cache, 0) : NULL;
	float probe;
	if (t && !vecstore_get(t, key, &probe, 0, dims)) {
		*q = xmalloc(*dims * sizeof(float));
		vecstore_get(t, key, *q, *dims, dims);
		store_abort(t);
		store_close(cache);
		log_debug("the query's vector (%s, %zu dimensions) from %s", st->model, *dims, dir);
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
		struct keep k = { key, *q, d };
		if (cache && store_write(cache, keep_vector, &k))
			log_warn("%s: the query's vector could not be kept: %s", dir,
				 store_strerror(cache));
	}
	buf_free(&out);
	store_close(cache);
	return rc;
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
		buf_printf(b, "  %.3f  %s", (double)h->score, doc);
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
		buf_printf(b, "  %.3f  %s", (double)h->score, name);
		if (*type)
			buf_printf(b, " (%s)", type);
		buf_putc(b, '\n');
	}
	fwrite(b->data, 1, b->len, stdout);
}

/* Searches one stage: its matrix, the query's vector, the hits printed. 0, or an exit code. */
static int search_stage(const struct cli *cli, struct vectors *v, int stage, int *printed)
{
	const struct stage *st = &v->job.st[stage];
	struct matrix m;
	char err[512] = "";
	float *q = NULL;
	size_t qdims = 0;
	if (load(v, stage, &m, err, sizeof err)) {
		log_error("%s", err);
		return EXIT_INTERNAL;
	}
	int rc = 0;
	if (!m.n) {
		log_warn("stage %s has no vectors yet: nothing to search", st->name);
		goto out;
	}
	if ((rc = query_vector(cli, v, st, &q, &qdims)))
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
	matrix_free(&m);
	return rc;
}

/* Exit codes: 0 searched; 2 no run, no embedding stage, no vectors, or the server cannot be
 * reached; 3 the server kept failing; 4 it refused the call. */
int search_cmd(const struct cli *cli)
{
	char err[1024] = "";
	store *db = NULL;
	store_txn *t = NULL;
	struct plan_rec plan;
	struct vectors v;
	int rc = EXIT_USAGE;
	memset(&v, 0, sizeof v);
	if (run_open_read(cli->state_dir, &db, &t, &plan, err, sizeof err) ||
	    vectors_open(&v, t, cli->stage, err, sizeof err))
		goto done;
	/* the first stage over chunks and the first over entities (or the one --stage names) */
	int done_over[OVER_COUNT] = { 0 }, printed = 0;
	rc = 0;
	if (cli->json)
		fputs("[", stdout);
	for (size_t i = 0; i < v.norder && !rc; i++) {
		int s = v.order[i];
		if (done_over[v.job.st[s].over]++)
			continue;
		rc = search_stage(cli, &v, s, &printed);
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
	store_abort(t);
	store_close(db);
	return rc;
}
