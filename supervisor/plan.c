/* plan.c: walking the inputs, chunking them and grouping chunks into batches. */
#include "plan.h"
#include "plan_impl.h"
#include "../common/chunk.h"
#include "../common/hash.h"
#include "../common/input.h"
#include "../common/log.h"
#include "../common/sig.h"
#include "../common/strmap.h"
#include "../common/table.h"
#include "../common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>



/* 1 if a document of this text was planned already (its source's number in *first), else 0
 * after noting it; -1 if the store fails. With a store the set lives there (DB_TEXTS), so the
 * supervisor's memory does not grow with the number of documents. */
static int text_seen_before(struct planner *pl, const unsigned char h[HASH_LEN], uint32_t *first)
{
	if (!pl->db) {
		*first = map_put(&pl->texts, h, HASH_LEN, pl->plan.nsources);
		return *first != pl->plan.nsources;
	}
	if (planner_txn(pl))
		return -1;
	const void *v;
	size_t n;
	if (!store_get(pl->txn, DB_TEXTS, h, HASH_LEN, &v, &n) && n == 4) {
		*first = rd_u32be(v);
		return 1;
	}
	unsigned char k[4];
	wr_u32be(k, pl->plan.nsources);
	return store_put(pl->txn, DB_TEXTS, h, HASH_LEN, k, 4) ? -1 : 0;
}

/* 1 if a document of this name (below its input) was planned already, else 0 after noting it;
 * -1 if the store fails. Names share the set of texts, hashed apart from any text. */
static int name_seen_before(struct planner *pl, const char *name)
{
	hash_ctx *h = hash_new();
	hash_update(h, "document name\n", 14);
	hash_update(h, name, strlen(name));
	unsigned char k[HASH_LEN];
	hash_final(h, k);
	uint32_t first;
	return text_seen_before(pl, k, &first);
}

int planner_txn(struct planner *pl)
{
	if (!pl->db || pl->txn)
		return 0;
	/* a group of chunks is a few MB at most; make sure it fits before starting it */
	if (store_ensure_room(pl->db, 2 * (PLAN_TXN_BYTES + (size_t)pl->cfg->chunks_per_batch *
							     (size_t)pl->cfg->chunk_tokens * 8) +
					      (16u << 20)) ||
	    !(pl->txn = store_begin(pl->db, 1))) {
		snprintf(pl->err, pl->errlen, "store: %s", store_strerror(pl->db));
		return -1;
	}
	return 0;
}

int planner_commit(struct planner *pl)
{
	if (sig_stop_requested()) { /* a plan takes minutes for a huge input: a stop ends it */
		snprintf(pl->err, pl->errlen, "stopped while planning (nothing of this plan is kept; "
			 "kgsup start plans afresh)");
		return -1;
	}
	if (!pl->txn)
		return 0;
	int rc = store_commit(pl->txn);
	pl->txn = NULL;
	pl->txn_chunks = 0;
	pl->txn_bytes = 0;
	if (rc)
		snprintf(pl->err, pl->errlen, "store: %s", store_strerror(pl->db));
	return rc ? -1 : 0;
}

static int put_batch(struct planner *pl)
{
	if (pl->batch_n == 0)
		return 0;
	struct batch_rec b;
	memset(&b, 0, sizeof b);
	b.first_chunk = pl->batch_first;
	b.nchunks = pl->batch_n; /* and B_PENDING, zero */
	pl->batch_n = 0;
	if (!shard_plan_batch(&pl->shard, pl->batch_owned))
		return 0; /* another shard's: counted in the whole run's numbers only */
	uint32_t n = pl->plan.nbatches++;
	if (!pl->txn)
		return 0;
	return batch_write(pl->txn, n, &b, NULL, 0) ? -1 : 0;
}

static int on_chunk(const struct chunk *c, void *arg)
{
	struct planner *pl = arg;
	hash_update(pl->fp, c->id, CHUNK_ID_LEN);
	if (pl->batch_n == 0) {
		pl->batch_first = pl->plan.nchunks;
		pl->batch_owned = pl->doc_owned;
	}
	/* another shard's chunk keeps its number and id (the whole run's), not its text */
	int keep = pl->job->legacy ? pl->batch_owned : pl->doc_owned;
	pl->shard.chunks += keep;
	if (pl->db) {
		if (planner_txn(pl))
			return -1;
		struct chunk_rec r;
		memset(&r, 0, sizeof r);
		r.source = pl->plan.nsources - 1;
		r.index = c->index;
		r.start_ms = c->start_ms;
		r.end_ms = c->end_ms;
		memcpy(r.id, c->id, CHUNK_ID_LEN);
		buf_reset(&pl->rec);
		buf_put(&pl->rec, &r, sizeof r);
		if (keep)
			buf_put(&pl->rec, c->text, c->len);
		unsigned char k[4];
		wr_u32be(k, pl->plan.nchunks);
		if (store_put(pl->txn, DB_CHUNKS, k, 4, pl->rec.data, pl->rec.len)) {
			snprintf(pl->err, pl->errlen, "store: %s", store_strerror(pl->db));
			return -1;
		}
	}
	pl->plan.nchunks++;
	if (!pl->job->legacy)
		pl->spans.v[pl->spans.n - 1].nchunks++;
	else if (++pl->batch_n == (uint32_t)pl->cfg->chunks_per_batch && put_batch(pl))
		return -1;
	pl->txn_bytes += c->len;
	if ((++pl->txn_chunks >= PLAN_TXN_CHUNKS || pl->txn_bytes >= PLAN_TXN_BYTES) &&
	    pl->batch_n == 0 && planner_commit(pl))
		return -1;
	return 0;
}

/* A document's first part: 1 if it is to be skipped as a copy, 0 if it is a new source (now
 * noted), -1 if the store fails. */
static int begin_source(struct planner *pl, struct document *doc)
{
	uint32_t first;
	int seen = 0;
	unsigned char h[HASH_LEN];
	if (pl->have_text_hash)
		memcpy(h, pl->text_hash, HASH_LEN);
	else
		hash_once(doc->text.len ? doc->text.data : "", doc->text.len, h);
	if (pl->have_text_hash || doc->text.len)
		seen = text_seen_before(pl, h, &first);
	if (seen < 0)
		return -1;
	if (seen) {
		const void *name = NULL;
		size_t n = 0;
		if (pl->txn && record_get(pl->txn, DB_SOURCES, first, &name, &n))
			name = NULL;
		if (name)
			log_warn("%s: skipped (the same text as %.*s)", doc->source, (int)n,
				 (const char *)name);
		else
			log_warn("%s: skipped (the same text as an earlier input)", doc->source);
		return 1;
	}
	/* the source's number is its position; one source per document */
	if (pl->db) {
		if (planner_txn(pl))
			return -1;
		unsigned char k[4];
		wr_u32be(k, pl->plan.nsources);
		if (store_put(pl->txn, DB_SOURCES, k, 4, doc->source, strlen(doc->source))) {
			snprintf(pl->err, pl->errlen, "store: %s", store_strerror(pl->db));
			return -1;
		}
	}
	pl->plan.nsources++;
	/* a shard's documents are those of its text's hash: a copy goes where its first went */
	pl->doc_owned = shard_plan_source(&pl->shard, h);
	/* ids and the fingerprint hash the name below the input given, not where it lies */
	doc->id_source = strlen(doc->source) >= pl->root_len ? doc->source + pl->root_len : doc->source;
	if (!pl->job->legacy) {
		const char *name = doc->id_source;
		int seen = name_seen_before(pl, name);
		if (seen < 0)
			return -1;
		if (seen) { /* two inputs hold the same name: this one goes by its path as given */
			name = doc->source + strspn(doc->source, "/");
			log_warn("%s: named %s in exports (an earlier input has a document named %s)",
				 doc->source, name, doc->id_source);
		}
		doc_spans_add(&pl->spans, pl->plan.nchunks);
		pl->spans.v[pl->spans.n - 1].owned = pl->doc_owned;
		unsigned char len[4];
		wr_u32be(len, (uint32_t)strlen(name));
		buf_reset(&pl->doc);
		pl->doc_full = 0;
		buf_put(&pl->doc, len, 4);
		buf_puts(&pl->doc, name);
		pl->doc_head = pl->doc.len;
	}
	hash_update(pl->fp, doc->id_source, strlen(doc->id_source) + 1);
	return 0;
}

/* Stages over documents read the document's text (up to what the most generous of them takes):
 * kept in DB_DOCS once its last part is in, after its name below the input given (a u32 length
 * and the name: what exports and {{document_name}} call it). */
static int keep_document(struct planner *pl, const struct document *doc)
{
	struct doc_span *sp = &pl->spans.v[pl->spans.n - 1];
	size_t fresh = doc->text.len - doc->fresh;
	sp->bytes += fresh;
	if (!pl->doc_full && pl->doc.len - pl->doc_head < pl->doc_max) {
		size_t take = pl->doc_max - (pl->doc.len - pl->doc_head);
		const char *from = doc->text.data + doc->fresh;
		if (fresh <= take)
			take = fresh;
		else /* cut between characters, never inside one */
			while (take && ((unsigned char)from[take] & 0xc0) == 0x80)
				take--;
		buf_put(&pl->doc, from, take);
		pl->doc_full = take < fresh; /* later parts add nothing */
	}
	if (doc->more || !pl->db)
		return 0;
	unsigned char k[4];
	wr_u32be(k, pl->plan.nsources - 1);
	/* another shard's document: its name (exports list it), not its text */
	if (planner_txn(pl) || store_put(pl->txn, DB_DOCS, k, 4, pl->doc.data,
					 pl->doc_owned ? pl->doc.len : pl->doc_head)) {
		snprintf(pl->err, pl->errlen, "store: %s", store_strerror(pl->db));
		return -1;
	}
	return 0;
}

static int on_document(struct document *doc, void *arg)
{
	struct planner *pl = arg;
	pl->file_docs++;
	if (doc->part == 0) {
		if (doc->more && !pl->have_text_hash) {
			snprintf(pl->err, pl->errlen, "%s: grew while it was read", doc->source);
			return -1;
		}
		int skip = begin_source(pl, doc);
		if (skip < 0)
			return -1;
		pl->skipping = skip;
	}
	if (pl->skipping)
		return 0;
	if (!pl->job->legacy && keep_document(pl, doc))
		return -1;
	return chunk_document(doc, (size_t)pl->cfg->chunk_tokens * BYTES_PER_TOKEN,
			      (size_t)pl->cfg->overlap_tokens * BYTES_PER_TOKEN, on_chunk, pl);
}

struct hashing {
	hash_ctx *h;
	struct planner *pl;
};

static int hash_part(struct document *doc, void *arg)
{
	struct hashing *hs = arg;
	hs->pl->file_docs++;
	hash_update(hs->h, doc->text.data + doc->fresh, doc->text.len - doc->fresh);
	return 0;
}

int skip_input(struct planner *pl, const char *why)
{
	if (pl->strict)
		return -1;
	log_warn("%s; skipped (--strict refuses the run instead)", why);
	pl->skipped++;
	pl->err[0] = '\0';
	return 0;
}

int plan_file(struct planner *pl, const char *path)
{
	if (pl->job->rows) {
		if (table_format_of(path) < 0) {
			log_warn("%s: skipped (not a table: %s)", path, table_endings());
			return 0;
		}
		return plan_table(pl, path);
	}
	enum input_format fmt = input_format_of(path);
	if (fmt == FMT_NONE) {
		log_warn("%s: skipped (not one of %s)", path, input_endings());
		return 0;
	}
	size_t max_unit = (size_t)pl->cfg->chunk_tokens * BYTES_PER_TOKEN;
	pl->have_text_hash = 0;
	struct stat st;
	/* a file that is one text which may come in parts (never more than twice the file's
	 * bytes) is hashed in a first reading, to know whether it is a copy before planning any
	 * of it */
	int rc = 0;
	pl->file_docs = 0;
	if (input_one_document(fmt) && !stat(path, &st) && (size_t)st.st_size > INPUT_PART_BYTES / 2) {
		struct hashing hs = { hash_new(), pl };
		rc = input_read_file(path, fmt, max_unit, hash_part, &hs, pl->err, pl->errlen);
		hash_final(hs.h, pl->text_hash);
		pl->have_text_hash = !rc;
		if (rc < 0 && pl->file_docs == 0) /* (nothing of it planned yet) */
			return skip_input(pl, pl->err);
		pl->file_docs = 0;
	}
	if (!rc)
		rc = input_read_file(path, fmt, max_unit, on_document, pl, pl->err, pl->errlen);
	pl->have_text_hash = 0;
	if (rc < 0 && pl->file_docs == 0 && pl->err[0])
		return skip_input(pl, pl->err);
	if (rc > 0 && !pl->err[0])
		snprintf(pl->err, pl->errlen, "%s: cannot plan", path);
	return rc ? -1 : 0;
}

/* How much of the paths found under an input to leave out of ids: the directory itself (so
 * "a/b/x.txt" under "-i a/b" is "x.txt"), or a file's directory (its name is what counts). */
static size_t input_root_len(const char *input)
{
	struct stat st;
	size_t n = strlen(input);
	if (stat(input, &st) == 0 && S_ISDIR(st.st_mode))
		return n && input[n - 1] == '/' ? n : n + 1;
	const char *slash = strrchr(input, '/');
	return slash ? (size_t)(slash - input) + 1 : 0;
}

/* A job over rows: what the tables came to, and each stage's texts to answer. */
static int put_rows_meta(struct planner *pl, struct row_counters *rc)
{
	for (size_t i = 0; i < pl->job->n; i++)
		rc[i].texts = pl->plan.nchunks;
	if (!pl->rows.tables)
		log_warn("no table among the inputs (a job over rows reads %s)", table_endings());
	return store_put(pl->txn, DB_META, META_ROWS, strlen(META_ROWS), &pl->rows,
			 sizeof pl->rows) ||
	       row_counters_write(pl->txn, rc, pl->job->n) ? -1 : 0;
}

int plan_inputs(const struct config *cfg, const struct prompts *pr, const struct job *job,
		char *const *inputs, int ninputs, int strict, const struct shard *shard, store *db,
		struct cache *cache, struct plan_rec *out, uint64_t *skipped, char *err,
		size_t errlen)
{
	if (shard && shard->count && shard_job_check(job, cfg, err, errlen))
		return -1;
	struct row_counters rc_rows[JOB_MAX_STAGES];
	memset(rc_rows, 0, sizeof rc_rows);
	struct planner pl;
	memset(&pl, 0, sizeof pl);
	pl.cfg = cfg;
	pl.strict = strict;
	pl.job = job;
	buf_init(&pl.doc);
	for (size_t i = 0; i < job->n; i++)
		if (job->st[i].over == OVER_DOCUMENTS &&
		    (size_t)job->st[i].max_input_tokens * BYTES_PER_TOKEN > pl.doc_max)
			pl.doc_max = (size_t)job->st[i].max_input_tokens * BYTES_PER_TOKEN;
	pl.db = db;
	if (shard)
		pl.shard.shard = *shard;
	pl.doc_owned = pl.batch_owned = 1;
	pl.err = err;
	pl.errlen = errlen;
	pl.fp = hash_new();
	pl.plan.version = RUNSTATE_VERSION;
	buf_init(&pl.rec);
	err[0] = '\0';
	plan_fingerprint_settings(pl.fp, cfg, pr, job);
	int rc = 0;
	for (int i = 0; i < ninputs && !rc; i++) {
		pl.root_len = input_root_len(inputs[i]);
		rc = plan_path(&pl, inputs[i], 1);
	}
	if (!rc)
		rc = put_batch(&pl);
	if (!rc && !job->legacy) {
		rc = planner_commit(&pl);
		if (!rc)
			rc = plan_stage_batches(job, &pl.spans, db, cache, &pl.plan, rc_rows,
						&pl.shard, err, errlen);
	}
	hash_final(pl.fp, pl.plan.fingerprint);
	if (!rc && db) {
		rc = planner_txn(&pl);
		if (!rc)
			rc = store_put(pl.txn, DB_META, META_PLAN, strlen(META_PLAN), &pl.plan,
				       sizeof pl.plan) ||
			     store_put(pl.txn, DB_META, META_SKIPPED, strlen(META_SKIPPED),
				       &pl.skipped, sizeof pl.skipped) ||
			     shard_plan_write(pl.txn, &pl.shard) ? -1 : 0;
		if (!rc && job->rows)
			rc = put_rows_meta(&pl, rc_rows);
		if (!rc)
			rc = planner_commit(&pl);
	}
	if (!rc && db && pl.shard.shard.count) {
		log_info("shard %u/%u: %u of the %u documents are its own, %u of the %u batches",
			 pl.shard.shard.index, pl.shard.shard.count, pl.shard.sources,
			 pl.plan.nsources, pl.plan.nbatches - pl.shard.unplaced,
			 pl.shard.global_batches);
		if (pl.shard.unplaced)
			log_info("shard %u/%u: and %u batches of embedding stages over its own "
				 "documents' chunks", pl.shard.shard.index, pl.shard.shard.count,
				 pl.shard.unplaced);
	}
	store_abort(pl.txn);
	if (rc && !err[0])
		snprintf(err, errlen, "store: %s", db ? store_strerror(db) : "error");
	buf_free(&pl.rec);
	buf_free(&pl.doc);
	free(pl.spans.v);
	free(pl.seen);
	map_free(&pl.texts);
	shard_plan_free(&pl.shard);
	for (size_t i = 0; i < pl.nfirst_keep; i++)
		free(pl.first_keep[i]);
	free(pl.first_keep);
	*out = pl.plan;
	if (skipped)
		*skipped = pl.skipped;
	return rc ? -1 : 0;
}
