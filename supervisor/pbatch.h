/* pbatch.h: the OpenAI Batch API, another way to carry the same requests (run.mode "batch",
 * start --batch-api). The one owner of parts: a part is one JSONL file of requests, uploaded,
 * submitted as one provider batch, polled, downloaded and committed. Its states, through the
 * verbs below only, checked against this table (tests/unit/test_pbatch.c reads it):
 *
 *   WRITTEN -> UPLOADED
 *   UPLOADED -> SUBMITTED
 *   SUBMITTED -> UPLOADED DOWNLOADED
 *   DOWNLOADED -> COLLECTED
 *   COLLECTED ->
 *
 * WRITTEN: the file DIR/batchapi/part-N.jsonl is on disk (fsynced) and its batches are in
 * flight, held by the part, from the round that wrote it. UPLOADED: the provider has the file
 * (its id recorded). SUBMITTED: a provider batch of it exists (its id recorded; back to
 * UPLOADED when the provider refused it for the enqueued-token limit, to be submitted again
 * once room frees). DOWNLOADED: the batch ended (completed, failed, expired, cancelled) and its
 * output and error files are on disk. COLLECTED: every line's result is committed, exactly as
 * a live answer's (a worker-side role, `kgsup __batchop collect`, checks each line as a live
 * call's answer is checked and sends the results over the results socket); lines the batch
 * did not answer go back, to the next part or to live workers (batch.fallback).
 *
 * Every HTTP call is made by a role process (`kgsup __batchop OP DIR`, worker/batchop.c), one
 * at a time, started from the loop and read without blocking it. Each step is recorded before
 * the next is taken: a crash between creating a provider batch and recording it is repaired
 * by listing the provider's batches and matching their metadata (kgsup_run, part), so a
 * resumed run never submits the same requests twice. */
#ifndef KGSUP_PBATCH_H
#define KGSUP_PBATCH_H

#include <stdint.h>
#include <sys/types.h>

#include "../common/buf.h"
#include "../common/config.h"
#include "../common/job.h"
#include "../common/paths.h"
#include "../common/proto.h"
#include "../common/store.h"
#include "../common/strmap.h"

enum part_state { P_WRITTEN, P_UPLOADED, P_SUBMITTED, P_DOWNLOADED, P_COLLECTED, P_NSTATES };

#define PART_ID_LEN 64
/* DB_PARTS value, fixed layout. Wall-clock times in ms. */
struct part_rec {
	uint32_t version; /* PART_VERSION */
	uint32_t state;
	uint32_t endpoint; /* enum endpoint (job.h): chat or embeddings */
	uint32_t nlines;
	uint64_t bytes, est_tokens;
	int64_t written_ms, submitted_ms, ended_ms;
	uint32_t total, completed, failed; /* the provider's request counts, as last seen */
	uint32_t refusals;                 /* submissions refused for the enqueued-token limit */
	uint32_t collected;                /* lines whose result is committed */
	uint32_t pad;
	uint64_t prompt_tokens, completion_tokens; /* bought through it (answers committed) */
	double cost_usd;                           /* those tokens at the full price */
	char status[24];                           /* the provider's last word */
	char model[64];                            /* its lines' model (enqueued tokens) */
	char file_id[PART_ID_LEN], batch_id[PART_ID_LEN], output_id[PART_ID_LEN],
		error_id[PART_ID_LEN];
	char error[160]; /* the provider's or ours: why it is not moving */
};
#define PART_VERSION 1

struct part {
	struct part_rec r;
	int64_t next_look; /* now_ms() of the next poll or retry */
	int64_t wait_ms;   /* the poll interval, growing to PBATCH_POLL_MAX_MS */
	uint32_t received; /* results of this collect received (committed already or not) */
};

#define PB_FILLS 8 /* parts a round writes at most (models of a job's stages, by endpoint) */

enum pb_op { PB_NONE, PB_UPLOAD, PB_CREATE, PB_GET, PB_LIST, PB_DOWNLOAD, PB_COLLECT, PB_CANCEL };

struct deps;

struct pbatch {
	int on;            /* the run sends through the Batch API */
	uint32_t stages;   /* bit per stage: its batches go through it (pbatch_route) */
	int live_too;      /* some stages go live (run.mode auto) */
	const struct deps *deps; /* the ledger's: a batch's stage (NULL: one stage) */
	int fallback_live; /* batch.fallback "live" */
	char run_id[40];   /* metadata.kgsup_run of its provider batches */
	char dir[PATHS_MAX]; /* the state directory, absolute: ops get their paths from it */
	struct part *parts;
	size_t nparts, capparts; /* as committed */
	/* the round being built: the parts it writes, one per endpoint and model */
	struct fill {
		int open;
		uint32_t part;
		int fd;
		int idx_fd;
		struct part_rec r;
		buf lines, idx; /* written out by the MB */
	} fill[PB_FILLS];
	size_t nround_parts; /* parts the round adds */
	struct { uint32_t part; uint64_t prompt, completion; double cost; uint32_t n; } *tally;
	size_t ntally, captally; /* the round's results, per part */
	/* the op in hand */
	struct {
		enum pb_op op;
		uint32_t part;
		pid_t pid;
		int from;
		buf out;
		int eof, reaped, status;
		int64_t started;
	} op;
	int lookup; /* parts may have provider batches unrecorded: list them before creating */
	char list_after[PART_ID_LEN];
	int list_pages;
	unsigned char *held;  /* bit per batch: on a line of a part not collected (at the start) */
	size_t capheld;
	unsigned char *tried; /* bit per batch: the API gave it back (fallback) */
	size_t captried;
	unsigned char *got; /* bit per batch: its result came in a collect of the part being
			     * collected; it may be out again since, asked live: neither a line
			     * without a result nor one a collect run again takes back */
	size_t capgot;
	struct strmap keys;  /* request key -> part, of the parts not collected */
	struct strmap rkeys; /* the same, of the parts the round writes */
	uint32_t *written;  /* batches the round put in parts: held once it commits */
	size_t nwritten, capwritten;
	struct rendered *req; /* the request being written (reused) */
	int collect_ok;     /* the collect of the part being collected has ended well */
	int64_t collect_ended;
	uint32_t collect_gen; /* the collect under way's number, in its results' seq: a result of
			       * an earlier collect (of this part or another) is not counted */
	int64_t backoff_ms; /* after an op failed */
	int64_t next_op;    /* now_ms() before which no op starts (backoff) */
};

struct sup;

/* At the start of a session, after the plan: the parts as recorded. 0 or -1 with err. */
int pbatch_open(struct sup *s, char *err, size_t errlen);
void pbatch_free(struct pbatch *pb);
/* ledger_recover's question for batch n: LEDGER_HELD when a part not yet collected holds it. */
int pbatch_holds(const struct pbatch *pb, uint32_t n);
/* Marks the batches of parts not collected as out (held), after ledger_recover. */
int pbatch_adopt(struct sup *s);

/* ---- inside the round ---- */
void pbatch_round_begin(struct pbatch *pb);
/* Writes the batches ready now into new parts. 0 or STORE_FULL (or STORE_ERROR when a file
 * cannot be written: the round fails and nothing is kept). */
int pbatch_fill(store_txn *t, struct sup *s);
/* A result of the Batch API (slot PB_SLOT) is being applied: its tokens count for its part. */
void pbatch_round_result(struct sup *s, const struct msg_result *m);
int pbatch_round_end(store_txn *t, struct sup *s);
void pbatch_commit(struct sup *s);
/* The line's "url" and the batch's "endpoint": base_url's path and the endpoint's. */
void pbatch_url(const struct config *cfg, unsigned endpoint, char *out, size_t len);
/* Whether batch n is for live workers (0) or the Batch API (1): its stage's route, and live
 * once the API gave it back with batch.fallback "live". */
int pbatch_wants(const struct pbatch *pb, uint32_t n);

/* ---- between rounds ---- */
/* A result arrived for slot PB_SLOT: whether it is for a batch a part holds (else it is a
 * line committed already, collected again after a crash: dropped). */
int pbatch_result_in(struct sup *s, const struct msg_result *m);
/* Steps the parts: starts the next op when none is running, takes its outcome when it ends. */
void pbatch_tick(struct sup *s);
/* proc_reap saw a child end: 1 when it was the op's. */
int pbatch_reaped(struct sup *s, pid_t pid, int status);
/* Parts not collected (the run waits for them). */
size_t pbatch_busy(const struct pbatch *pb);
/* The run stops: the op in hand is ended (what it did is found again next session). */
void pbatch_stop(struct sup *s);
/* The loop's poll may sleep at most this long for the parts (ms, at most max). */
long pbatch_sleep_ms(const struct pbatch *pb, long max);

/* pbatch_route.c: bit per stage of the job, set when run.mode sends the stage through the
 * Batch API (wait_h, if not NULL, gets per stage the hours from the start until its answers are
 * expected); and the same said as one line per stage, for the log and plan. */
uint32_t pbatch_route(const struct job *j, const struct config *cfg, double *wait_h);
uint32_t pbatch_route_all(const struct job *j); /* every stage's bit */
void pbatch_route_say(const struct job *j, const struct config *cfg, buf *out);

/* pbatch_state.c: the transition table, for tests and the verbs; a part's record (0, or -1
 * when there is none of this version) */
int part_rec_read(store_txn *t, uint32_t n, struct part_rec *r);
int part_legal(enum part_state from, enum part_state to);
const char *part_state_name(enum part_state s);

#endif
