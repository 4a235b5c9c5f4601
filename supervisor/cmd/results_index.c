/* results_index.c: a run's answers by document and stage (results.h). */
#include "results.h"
#include "../shard.h"
#include "../../common/json.h"
#include "../../common/log.h"
#include "../../common/paths.h"
#include "../../common/util.h"

#include <stdlib.h>
#include <string.h>

int run_open_read(const char *state_dir, store **db, store_txn **t, struct plan_rec *plan,
		  char *err, size_t errlen)
{
	char dbdir[PATHS_MAX];
	*db = NULL;
	*t = NULL;
	paths_file(dbdir, sizeof dbdir, state_dir, "db");
	if (store_exists(dbdir) && !(*db = store_open(dbdir, 1, err, errlen)))
		return -1;
	if (*db && !(*t = store_begin(*db, 0))) {
		snprintf(err, errlen, "%s: %s", dbdir, store_strerror(*db));
		return -1;
	}
	if (!*t || plan_read(*t, plan)) {
		snprintf(err, errlen, "%s: no planned run here", state_dir);
		return -1;
	}
	return 0;
}

int run_job_read(store_txn *t, struct config *cfg, struct job *job, char *err, size_t errlen)
{
	memset(job, 0, sizeof *job);
	if (run_settings_read(t, cfg, err, errlen)) {
		if (!err[0])
			snprintf(err, errlen, "the run's recorded settings are missing");
		return -1;
	}
	const void *v;
	size_t n;
	if (!store_get(t, DB_META, META_JOB, strlen(META_JOB), &v, &n))
		return job_parse(job, cfg, v, n, "recorded job", err, errlen) ? -1 : 0;
	/* no stages recorded: the one KG stage (its names and settings only are needed here) */
	char *stages = cfg->stages;
	cfg->stages = NULL;
	int rc = job_from_config(job, cfg, "", "", err, errlen);
	cfg->stages = stages;
	return rc ? -1 : 0;
}

static void u32list_add(struct u32list *l, uint32_t v)
{
	l->v = xgrow(l->v, &l->cap, l->n, sizeof *l->v, 4);
	l->v[l->n++] = v;
}

/* How much of every path to leave out: the directory all of them are in (a run without
 * stages does not record the names below -i; this gives them for a single -i). */
static size_t common_dir_len(char **names, uint32_t n)
{
	const char *first = NULL;
	size_t len = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (!names[i])
			continue;
		if (!first) {
			const char *slash = strrchr(names[i], '/');
			first = names[i];
			len = slash ? (size_t)(slash - first) + 1 : 0;
			continue;
		}
		size_t k = 0;
		while (k < len && names[i][k] == first[k])
			k++;
		while (k && first[k - 1] != '/')
			k--;
		len = k;
	}
	return len;
}

/* Every document's name: as the store keeps it below -i (runs with stages), else its path
 * less the directory all inputs share. */
static void load_names(struct results *r)
{
	r->names = xcalloc(r->ndocs ? r->ndocs : 1, sizeof *r->names);
	for (uint32_t d = 0; d < r->ndocs; d++) {
		const void *v;
		size_t n;
		if (!r->job.legacy && !record_get(r->t, DB_DOCS, d, &v, &n) && n >= 4 &&
		    rd_u32be(v) <= n - 4)
			r->names[d] = xstrndup((const char *)v + 4, rd_u32be(v));
		else if (!record_get(r->t, DB_SOURCES, d, &v, &n))
			r->names[d] = xstrndup(v, n);
	}
	size_t cut = r->job.legacy ? common_dir_len(r->names, r->ndocs) : 0;
	for (uint32_t d = 0; d < r->ndocs; d++) {
		if (!r->names[d])
			r->names[d] = xstrdup("");
		else if (cut)
			memmove(r->names[d], r->names[d] + cut, strlen(r->names[d] + cut) + 1);
	}
}

/* The document and stage of planned batch n; -1 when the store does not say. */
static int batch_cell(struct results *r, uint32_t n, const struct batch_rec *b, uint32_t *doc,
		      uint32_t *stage)
{
	if (r->job.legacy) {
		const void *v;
		size_t len;
		struct chunk_rec c;
		if (record_get(r->t, DB_CHUNKS, b->first_chunk, &v, &len) || len < sizeof c)
			return -1;
		memcpy(&c, v, sizeof c);
		*doc = c.source;
		*stage = 0;
	} else {
		struct batch_ext x;
		if (batchx_read(r->t, n, &x))
			return -1;
		*doc = x.doc;
		*stage = x.stage;
	}
	return *doc < r->ndocs && *stage < r->job.n ? 0 : -1;
}

int results_load(struct results *r, store_txn *t, char *err, size_t errlen)
{
	int rc = results_load_shards(r, &t, 1, err, errlen);
	r->one = t; /* (ts outlives this call) */
	r->ts = &r->one;
	return rc;
}

int results_load_shards(struct results *r, store_txn *const *ts, size_t nt, char *err,
			size_t errlen)
{
	memset(r, 0, sizeof *r);
	r->t = ts[0];
	r->ts = ts;
	r->nt = nt;
	config_defaults(&r->cfg);
	if (plan_read(r->t, &r->plan)) {
		snprintf(err, errlen, "no planned run here");
		return -1;
	}
	if (run_job_read(r->t, &r->cfg, &r->job, err, errlen))
		return -1;
	r->ndocs = r->plan.nsources;
	load_names(r);
	/* a whole run holds all of them; shards those they own */
	r->doc_store = shard_doc_stores(ts, nt, r->ndocs);
	r->cells = xcalloc((size_t)r->ndocs * r->job.n + 1, sizeof *r->cells);
	for (size_t s = 0; s < nt; s++) {
		struct plan_rec p;
		r->t = ts[s];
		if (plan_read(r->t, &p))
			continue;
		for (uint32_t n = 0; n < p.nbatches; n++) {
			struct batch_rec b;
			uint32_t doc, stage;
			if (batch_read(r->t, n, &b) || b.is_child)
				continue;
			if (batch_cell(r, n, &b, &doc, &stage) || r->doc_store[doc] != s) {
				log_warn("batch %u: its document or stage is not recorded; left out", n);
				continue;
			}
			u32list_add(&r->cells[(size_t)doc * r->job.n + stage], n);
		}
	}
	r->t = ts[0];
	return 0;
}

void results_free(struct results *r)
{
	if (r->cells)
		for (size_t i = 0; i < (size_t)r->ndocs * r->job.n; i++)
			free(r->cells[i].v);
	free(r->cells);
	free(r->doc_store);
	for (uint32_t d = 0; r->names && d < r->ndocs; d++)
		free(r->names[d]);
	free(r->names);
	job_free(&r->job);
	config_free(&r->cfg);
	memset(r, 0, sizeof *r);
}

static int walk_batch(struct results *r, uint32_t n, int depth, results_visit *fn, void *arg)
{
	struct batch_rec b;
	if (depth > 64 || batch_read(r->t, n, &b))
		return 0;
	int rc = fn(r, n, &b, arg);
	if (!rc && b.state == B_SPLIT)
		rc = walk_batch(r, b.child, depth + 1, fn, arg);
	if (!rc && b.state == B_SPLIT)
		rc = walk_batch(r, b.child + 1, depth + 1, fn, arg);
	return rc;
}

int results_walk(struct results *r, uint32_t doc, uint32_t s, results_visit *fn, void *arg)
{
	const struct u32list *l = &r->cells[(size_t)doc * r->job.n + s];
	int rc = 0;
	if (!results_has_doc(r, doc))
		return 0;
	r->t = r->ts[r->doc_store[doc]];
	for (size_t i = 0; i < l->n && !rc; i++)
		rc = walk_batch(r, l->v[i], 0, fn, arg);
	return rc;
}

int results_answer(struct results *r, uint32_t n, buf *out)
{
	const void *v;
	size_t len;
	if (record_get(r->t, DB_RESULTS, n, &v, &len)) {
		log_warn("batch %u: done but its answer is missing; left out", n);
		return -1;
	}
	json *a = json_parse(v, len, NULL, 0);
	if (!a) {
		log_warn("batch %u: stored answer unreadable; left out", n);
		return -1;
	}
	json_write(a, out);
	json_free(a);
	return 0;
}
