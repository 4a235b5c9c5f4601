/* runstate.h: what a run keeps in its store, record by record. Records are host-layout
 * structs (a state directory is not moved between machines of different byte order);
 * keys are big-endian u32 so LMDB iterates them in numeric order. */
#ifndef KGSUP_RUNSTATE_H
#define KGSUP_RUNSTATE_H

#include <stdint.h>

#include "../common/chunk.h"
#include "../common/config.h"
#include "../common/hash.h"
#include "../common/buf.h"
#include "../common/store.h"

#define RUNSTATE_VERSION 1

enum batch_state { B_PENDING = 0, B_INFLIGHT = 1, B_DONE = 2, B_FAILED = 3,
		  B_SPLIT = 4, /* its answer did not fit max_tokens: replaced by two halves */
		  B_BLOCKED = 5 /* a batch it needs (stages) failed */ };

/* DB_BATCHES value; the last error (text) follows the struct. */
struct batch_rec {
	uint32_t first_chunk;
	uint32_t nchunks;
	uint8_t state;
	uint8_t cached;        /* answered from the cache */
	uint8_t possibly_billed; /* was in flight when a run died */
	uint8_t is_child;      /* a half of a split batch (export reaches it through its parent) */
	uint32_t attempts;     /* requests sent for it, over all runs */
	uint32_t last_http;
	uint32_t child;        /* B_SPLIT: the first of its two halves (the second follows) */
	unsigned char key[HASH_LEN]; /* cache key of its request, set when first dispatched */
};

/* DB_BATCHX value, in runs with stages: what a batch is for and what its answer cost. A
 * documents stage's batch has no chunks (nchunks 0): its document is doc. */
struct batch_ext {
	uint32_t stage;
	uint32_t doc;        /* the source number of its document */
	uint32_t flags;      /* BX_CUT: its document was cut at the stage's max_input_tokens;
			      * BX_SEED: see below */
	uint32_t latency_ms; /* of the call that answered it */
	uint32_t ctx_tokens; /* of its {{context}} as sent */
	uint32_t ctx_trimmed; /* tokens left out of it to keep within the budget */
	uint64_t prompt_tokens, completion_tokens;
};
#define BX_CUT 1u
#define BX_SEED 2u /* the seed of an embedding stage over entities (vecs.h) */

/* meta "stages": per stage, counters that follow its batches (runs with stages). */
struct stage_counters {
	uint64_t batches; /* planned, less split ones, plus their halves */
	uint64_t done, cached, failed, blocked;
	uint64_t requests, prompt_tokens, completion_tokens;
	uint64_t cut;     /* documents cut at max_input_tokens */
	uint64_t ctx_tokens, ctx_trimmed;
	uint64_t latency_ms; /* summed over answered batches */
	uint64_t saved_prompt_tokens, saved_completion_tokens; /* what cached answers cost once */
};
#define META_STAGES "stages"

/* DB_CHUNKS value; the text follows the struct. */
struct chunk_rec {
	uint32_t source;
	uint32_t index;
	int64_t start_ms;
	int64_t end_ms;
	char id[CHUNK_ID_LEN];
};

/* DB_CACHE value; the answer JSON follows the struct. */
struct cache_rec {
	int64_t stored_wall_ms;
	uint64_t prompt_tokens;
	uint64_t completion_tokens;
};

/* DB_CACHE value under a chunk's key (cache.c): which cached answer holds the chunk. */
struct chunk_ref {
	unsigned char batch_key[HASH_LEN]; /* the cache key of that batch's answer */
	uint32_t nchunks;                  /* chunks that answer covers: each has its share */
};

/* RUN_ABORTED: the API refused the run (a key, an unknown model, a wrong endpoint); why is
 * the meta record "abort_reason", written in the session's last round. */
enum run_state { RUN_RUNNING = 0, RUN_STOPPED = 1, RUN_DONE = 2, RUN_FAILED = 3, RUN_ABORTED = 4 };
#define META_ABORT_REASON "abort_reason"

/* "stopped", "done", "failed" or "aborted" (a run recorded as running whose supervisor is
 * gone stopped). */
const char *run_state_name(uint32_t state);

/* meta "counters": totals over every session of the run. */
struct counters {
	uint64_t requests_sent, requests_ok, retried, http_429, errors;
	uint64_t prompt_tokens, completion_tokens;
	uint64_t batches_done, batches_cached, batches_failed, possibly_billed;
	uint64_t saved_prompt_tokens, saved_completion_tokens;
	uint64_t elapsed_ms;       /* over finished sessions */
	uint64_t reserved1; /* unused: kept so records of earlier versions read the same */
	uint32_t workers_live;
	uint32_t state;
	uint32_t reserved2; /* unused, likewise */
	uint32_t pad;
	uint64_t batches_split; /* replaced by halves; not counted in the total */
	uint64_t err_server, err_transport, err_invalid; /* of errors, by cause (429s apart) */
	uint64_t batches_blocked; /* a batch they need failed (stages; 0.3.0: 0 in older records) */
	/* 0 in records written before they were counted: */
	uint64_t items_dropped;    /* invalid entities, relations left out of answers kept */
	uint64_t tokens_estimated; /* requests answered without usage: their tokens are guessed */
};

/* meta "plan": what the planner made. */
struct plan_rec {
	uint32_t version;
	uint32_t nsources;
	uint32_t nchunks;
	uint32_t nbatches;
	unsigned char fingerprint[HASH_LEN]; /* inputs + settings that shape the requests */
};

/* meta "delivered": for the live or last session, the seq of the last result committed from
 * each worker slot. A result committed but not yet acknowledged when the supervisor died is
 * spooled by its orphaned worker all the same; this tells the next session it is in already. */
struct delivered {
	uint64_t session;
	uint32_t nslots;
	uint32_t *acked; /* nslots of them (malloc'd by delivered_read) */
};

#define META_COUNTERS "counters"
#define META_DELIVERED "delivered"
#define META_PLAN "plan"
#define META_SKIPPED "skipped" /* u64: inputs left out of the plan, unreadable (0.3.0) */
#define META_CONFIG "config"
#define META_JOB "job" /* the stages, self-contained (job_to_json); none: the one KG stage */

/* Batches that need an answer: the plan's, less those replaced by their halves. */
uint64_t batches_total(const struct plan_rec *p, const struct counters *c);
int counters_read(store_txn *t, struct counters *c);
/* d zeroed when there is no record; 0 or a STORE_ code. */
int delivered_read(store_txn *t, struct delivered *d);
/* Writes d, putting the record together in scratch (reused, so a round allocates nothing). */
int delivered_write(store_txn *t, const struct delivered *d, buf *scratch);
/* Non-zero when (slot, seq) of session is a result d says was committed. */
int delivered_already(const struct delivered *d, uint64_t session, uint32_t slot, uint32_t seq);
int counters_write(store_txn *t, const struct counters *c);
int plan_read(store_txn *t, struct plan_rec *p);
/* The settings the run was started with, over cfg's; STORE_NOTFOUND, -1 (err set) or 0. */
int run_settings_read(store_txn *t, struct config *cfg, char *err, size_t errlen);
/* The value numbered n in db (every numbered record's key is its big-endian u32): 0 or a
 * STORE_ code. The value is not aligned: copy structs out. */
int record_get(store_txn *t, enum store_db db, uint32_t n, const void **v, size_t *len);
/* A batch record (copied out: LMDB values are not aligned); 0 or a STORE_ code. */
int batch_read(store_txn *t, uint32_t n, struct batch_rec *b);
/* The id of chunk n (NUL-terminated); 0, or -1 if it is missing. */
int chunk_id_read(store_txn *t, uint32_t n, char id[CHUNK_ID_LEN + 1]);
/* The batch's stage record; zeroed and STORE_NOTFOUND when it has none (no stages). */
int batchx_read(store_txn *t, uint32_t n, struct batch_ext *x);
int batchx_write(store_txn *t, uint32_t n, const struct batch_ext *x);
/* The meta record key into out (size bytes): a shorter record (of an earlier version) leaves the
 * rest zero, a longer one is cut; zeroed and STORE_NOTFOUND when there is none. */
int meta_read_fixed(store_txn *t, const char *key, void *out, size_t size);
/* The per-stage counters (n of them; zeroed where none are recorded). */
int stage_counters_read(store_txn *t, struct stage_counters *v, size_t n);
int stage_counters_write(store_txn *t, const struct stage_counters *v, size_t n);
/* Writes a batch record with its last error (errlen 0: none). */
int batch_write(store_txn *t, uint32_t n, const struct batch_rec *b, const char *err, size_t errlen);

#endif
