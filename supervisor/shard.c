/* shard.c: which documents are a shard's, where its number comes from, and what it records
 * with its run (shard.h). */
#include "shard.h"
#include "runstate.h"
#include "../common/buf.h"
#include "../common/log.h"
#include "../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A whole number 0..max from text (all of it): 0, or -1. */
static int number(const char *text, long max, uint32_t *out)
{
	char *end;
	if (!text || !*text || *text == '-' || *text == '+')
		return -1;
	long v = strtol(text, &end, 10);
	if (*end || v < 0 || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* The environment a scheduler sets for one task of an array of them, by name. */
static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* --shard auto: Slurm's array job first (its own count), else a Kubernetes Indexed Job (whose
 * pods are not told the count: --shards N). */
static int shard_auto(int shards, struct shard *out, char *err, size_t errlen)
{
	const char *id = env("SLURM_ARRAY_TASK_ID");
	if (id) {
		const char *count = env("SLURM_ARRAY_TASK_COUNT"), *min = env("SLURM_ARRAY_TASK_MIN");
		uint32_t i, n, lo = 0;
		if (number(id, SHARD_MAX, &i) || !count || number(count, SHARD_MAX, &n) || n < 1 ||
		    (min && number(min, SHARD_MAX, &lo)) || lo > i) {
			snprintf(err, errlen, "--shard auto: SLURM_ARRAY_TASK_ID=%s with "
				 "SLURM_ARRAY_TASK_COUNT=%s, SLURM_ARRAY_TASK_MIN=%s is not a task of an "
				 "array (sbatch --array=0-N-1)", id, count ? count : "(unset)",
				 min ? min : "(unset)");
			return -1;
		}
		if (i - lo >= n) {
			snprintf(err, errlen, "--shard auto: SLURM_ARRAY_TASK_ID=%s is not among the %u "
				 "tasks from %u (an array with steps or gaps? use --array=0-%u)", id,
				 n, lo, n - 1);
			return -1;
		}
		if (shards && (uint32_t)shards != n) {
			snprintf(err, errlen, "--shard auto: --shards %d but SLURM_ARRAY_TASK_COUNT=%u",
				 shards, n);
			return -1;
		}
		*out = (struct shard){ i - lo, n };
		return 0;
	}
	const char *k8s = env("JOB_COMPLETION_INDEX");
	if (k8s) {
		uint32_t i;
		if (!shards) {
			snprintf(err, errlen, "--shard auto: JOB_COMPLETION_INDEX=%s is set but not the "
				 "number of shards: give --shards N (the Job's completions)", k8s);
			return -1;
		}
		if (number(k8s, SHARD_MAX, &i) || i >= (uint32_t)shards) {
			snprintf(err, errlen, "--shard auto: JOB_COMPLETION_INDEX=%s is not an index "
				 "from 0 to %d (--shards %d)", k8s, shards - 1, shards);
			return -1;
		}
		*out = (struct shard){ i, (uint32_t)shards };
		return 0;
	}
	snprintf(err, errlen, "--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm array job) nor "
		 "JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set; give --shard I/N");
	return -1;
}

int shard_parse(const char *spec, int shards, struct shard *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (!spec) {
		if (shards)
			snprintf(err, errlen, "--shards N goes with --shard auto");
		return shards ? -1 : 0;
	}
	if (!strcmp(spec, "auto"))
		return shard_auto(shards, out, err, errlen);
	char i[16], n[16];
	const char *slash = strchr(spec, '/');
	uint32_t vi, vn;
	if (!slash || (size_t)(slash - spec) >= sizeof i || strlen(slash + 1) >= sizeof n) {
		snprintf(err, errlen, "--shard takes I/N (0 <= I < N) or auto, not '%s'", spec);
		return -1;
	}
	snprintf(i, sizeof i, "%.*s", (int)(slash - spec), spec);
	snprintf(n, sizeof n, "%s", slash + 1);
	if (number(i, SHARD_MAX, &vi) || number(n, SHARD_MAX, &vn) || vn < 1 || vi >= vn) {
		snprintf(err, errlen, "--shard takes I/N with 0 <= I < N <= %d (I counts from 0), "
			 "not '%s'", SHARD_MAX, spec);
		return -1;
	}
	if (shards) {
		snprintf(err, errlen, "--shards N goes with --shard auto (--shard %s says N)", spec);
		return -1;
	}
	*out = (struct shard){ vi, vn };
	return 0;
}

uint32_t shard_of(const unsigned char h[HASH_LEN], uint32_t count)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | h[i];
	return count ? (uint32_t)(v % count) : 0;
}

/* What cannot run as shards: each finder names the stage or key of the job that cannot (NULL:
 * none), and why says why, around that name. */
struct unsharded {
	const char *(*finds)(const struct job *job, const struct config *cfg);
	const char *why;
};

static const char *rows_job(const struct job *job, const struct config *cfg)
{
	(void)cfg;
	return job->rows ? "rows" : NULL;
}

static const char *entity_stage(const struct job *job, const struct config *cfg)
{
	(void)cfg;
	const struct stage *st = job_entity_stage(job);
	return st ? st->name : NULL;
}

/* graph.resolve merges entities by the vectors of a stage over entities: without one it does
 * nothing, in one machine's run as in a shard's (with one, entity_stage refuses the job) */
static const char *resolving(const struct job *job, const struct config *cfg)
{
	return cfg->graph_resolve && !entity_stage(job, cfg) ? "graph.resolve" : NULL;
}

static const struct unsharded unsharded[] = {
	{ rows_job, "--shard: a job over %s is not sharded (its batches are not a document's own); "
		    "run it on one machine" },
	{ entity_stage, "--shard: stage %s is not sharded: it embeds the merged entities of the "
			"whole graph, which no shard has (run the job on one machine, or shard it "
			"without that stage)" },
};

/* What a shard runs without effect, as one machine's run would: named with a warning (0.5.0's
 * shard configs set it, and ran) */
static const struct unsharded idle[] = {
	{ resolving, "--shard: %s does nothing in this job: it merges entities by the vectors of "
		     "a stage over entities, which the job has not (nor can a shard have one)" },
};

int shard_job_check(const struct job *job, const struct config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof unsharded / sizeof unsharded[0]; i++) {
		const char *name = unsharded[i].finds(job, cfg);
		if (name) {
			snprintf(err, errlen, unsharded[i].why, name);
			return -1;
		}
	}
	return 0;
}

void shard_job_warn(const struct job *job, const struct config *cfg)
{
	for (size_t i = 0; i < sizeof idle / sizeof idle[0]; i++) {
		const char *name = idle[i].finds(job, cfg);
		if (name)
			log_warn(idle[i].why, name);
	}
}

int shard_plan_source(struct shard_plan *p, const unsigned char h[HASH_LEN])
{
	if (!p->shard.count)
		return 1;
	uint32_t owner = shard_of(h, p->shard.count);
	p->owners = xgrow(p->owners, &p->capowners, p->nowners, sizeof *p->owners, 1024);
	p->owners[p->nowners++] = owner;
	p->sources += owner == p->shard.index;
	return owner == p->shard.index;
}

int shard_plan_batch(struct shard_plan *p, int owned)
{
	uint32_t global = p->global_batches++;
	if (!p->shard.count || !owned)
		return p->shard.count ? 0 : 1;
	p->batches = xgrow(p->batches, &p->capbatches, p->nbatches, sizeof *p->batches, 1024);
	p->batches[p->nbatches++] = global;
	return 1;
}

void shard_plan_unplaced(struct shard_plan *p)
{
	if (!p->shard.count)
		return;
	p->batches = xgrow(p->batches, &p->capbatches, p->nbatches, sizeof *p->batches, 1024);
	p->batches[p->nbatches++] = SHARD_UNPLACED;
	p->unplaced++;
}

/* A u32 array as big-endian values under key. */
static int put_u32s(store_txn *t, const char *key, const uint32_t *v, size_t n)
{
	unsigned char *b = xmalloc(n ? 4 * n : 1);
	for (size_t i = 0; i < n; i++)
		wr_u32be(b + 4 * i, v[i]);
	int rc = store_put(t, DB_META, key, strlen(key), b, 4 * n);
	free(b);
	return rc;
}

int shard_plan_write(store_txn *t, const struct shard_plan *p)
{
	if (!p->shard.count)
		return 0;
	struct shard_rec r = { p->shard.index, p->shard.count, p->sources, p->chunks,
			       p->global_batches, 0 };
	int rc = store_put(t, DB_META, META_SHARD, strlen(META_SHARD), &r, sizeof r);
	if (!rc)
		rc = put_u32s(t, META_SHARD_BATCHES, p->batches, p->nbatches);
	if (!rc)
		rc = put_u32s(t, META_SHARD_OWNERS, p->owners, p->nowners);
	return rc;
}

void shard_plan_free(struct shard_plan *p)
{
	free(p->owners);
	free(p->batches);
	p->owners = p->batches = NULL;
	p->nowners = p->nbatches = p->capowners = p->capbatches = 0;
}

int shard_rec_read(store_txn *t, struct shard_rec *r)
{
	int rc = meta_read_fixed(t, META_SHARD, r, sizeof *r);
	return rc == STORE_NOTFOUND ? 0 : rc;
}

/* n u32be values under key into a new array; missing ones are fill. */
static uint32_t *get_u32s(store_txn *t, const char *key, uint32_t n, int *found)
{
	uint32_t *v = xmalloc(n ? (size_t)n * 4 : 4);
	const void *d;
	size_t len = 0;
	*found = !store_get(t, DB_META, key, strlen(key), &d, &len);
	for (uint32_t i = 0; i < n; i++)
		v[i] = *found && 4 * (size_t)i + 4 <= len ? rd_u32be((const char *)d + 4 * i) : i;
	return v;
}

uint32_t *shard_batch_numbers(store_txn *t, uint32_t nbatches)
{
	int found;
	return get_u32s(t, META_SHARD_BATCHES, nbatches, &found);
}

uint32_t *shard_owners(store_txn *t, uint32_t nsources)
{
	int found;
	uint32_t *v = get_u32s(t, META_SHARD_OWNERS, nsources, &found);
	if (!found) {
		free(v);
		return NULL;
	}
	return v;
}

uint32_t *shard_doc_stores(store_txn *const *ts, size_t nt, uint32_t nsources)
{
	uint32_t *at = xmalloc(((size_t)nsources + 1) * sizeof *at);
	for (uint32_t d = 0; d < nsources; d++)
		at[d] = SHARD_NO_STORE;
	for (size_t s = 0; s < nt; s++) {
		struct shard_rec sh;
		uint32_t *owners = shard_rec_read(ts[s], &sh) ? NULL : shard_owners(ts[s], nsources);
		for (uint32_t d = 0; d < nsources; d++)
			if (at[d] == SHARD_NO_STORE && (!owners || owners[d] == sh.index))
				at[d] = (uint32_t)s;
		free(owners);
	}
	return at;
}

void shard_describe(char *out, size_t n, uint32_t index, uint32_t count)
{
	if (count)
		snprintf(out, n, "shard %u/%u", index, count);
	else
		snprintf(out, n, "the whole corpus");
}

int shard_check(store_txn *t, const struct shard *want, const char *state_dir, char *err,
		size_t errlen)
{
	struct shard_rec r;
	if (shard_rec_read(t, &r)) {
		snprintf(err, errlen, "%s: its shard record cannot be read", state_dir);
		return -1;
	}
	if (r.count == want->count && r.index == want->index)
		return 0;
	char has[48], given[48];
	shard_describe(has, sizeof has, r.index, r.count);
	shard_describe(given, sizeof given, want->index, want->count);
	snprintf(err, errlen, "%s holds %s of its run, not %s as given (%s); each shard keeps a "
		 "state directory of its own (another -s; start --fresh plans this one afresh)",
		 state_dir, has, given, want->count ? "--shard" : "no --shard");
	return -1;
}

int shard_check_db(store *db, const struct shard *want, const char *state_dir, char *err,
		   size_t errlen)
{
	store_txn *t = store_begin(db, 0);
	int rc = t ? shard_check(t, want, state_dir, err, errlen) : -1;
	if (!t)
		snprintf(err, errlen, "store: %s", store_strerror(db));
	store_abort(t);
	return rc;
}
