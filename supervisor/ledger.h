/* ledger.h: the one owner of batch state. A batch record's state, the counters that follow
 * states (done, cached, failed, split, possibly billed, requests, tokens), the cursor over the
 * plan and the queue of batches handed back all change here, through the verbs below, and only
 * here. Every state change is checked against one transition table (an illegal one is logged
 * and refused; the sanitizer build, KGSUP_ASSERTS, aborts on it); the lines below are that
 * table (tests/unit/test_ledger.c reads them and compares), besides any state to itself (only
 * the attempts or the error change):
 *
 *   PENDING -> INFLIGHT DONE FAILED SPLIT BLOCKED
 *   INFLIGHT -> PENDING DONE FAILED SPLIT
 *   FAILED -> PENDING DONE
 *   DONE ->
 *   SPLIT ->
 *   BLOCKED -> PENDING
 *
 * A pending batch is taken and sent (INFLIGHT), answered from the cache (DONE) or split when
 * some of its chunks are answered already; a result moves an in-flight one to DONE, FAILED,
 * SPLIT (cut off at max_tokens) or back to PENDING (a retry, a batch handed back or never
 * started, a refusal that stopped the run, a crash recovered); resume --retry-failed and a late
 * answer take a failed one. Store writes happen inside the caller's group transaction; what a
 * round decides is tentative until ledger_commit, so a round that fails or is run again leaves
 * nothing behind.
 *
 * A batch is "out" while a live worker holds it. An out batch is never queued or taken: a batch
 * is handed out once at a time, however many ways it comes back (its worker died and its retry
 * result arrived, say).
 *
 * With stages, a batch may need others (the same document's answers of the stages it needs):
 * the take verb hands it out only once they are committed (deps.h keeps the counts), parks it
 * meanwhile, and blocks it (BLOCKED) when one of them failed; resume --retry-failed makes
 * blocked batches pending again with the failed ones. Among batches ready to go, those of
 * stages others need go first. Per-stage counters follow the batches here too. */
#ifndef KGSUP_LEDGER_H
#define KGSUP_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "../common/proto.h"
#include "../common/store.h"
#include "deps.h"
#include "runstate.h"

/* A batch handed back to be sent again: its worker died or could not take it, it is half of
 * a split batch, or its last attempt failed and it waits out its backoff without a worker. */
struct requeued {
	uint32_t batch;
	uint32_t attempt; /* requests already made for it this session */
	int64_t due;      /* now_ms() from which it may go (0: at once) */
	int taken;        /* handed out in the round being built */
	int gone;         /* handed out since, or queued again after (ledger_queue.c): dropped at
			   * the next commit */
};

struct ledger {
	struct counters ctr; /* as last committed: read it anywhere, write it only here */
	uint32_t nbatches;   /* the plan's batches and the halves of splits, as committed */
	uint32_t cursor;     /* batches below it were all handed out at least once */
	struct requeued *queue; /* one entry a batch not gone, never an out one: handed back,
				 * deferred, or left by one taker to the other */
	size_t nqueue, capqueue;
	size_t nqgone;  /* of them, gone */
	uint32_t *qpos; /* per batch: 1 + the index of its entry not gone, 0: none */
	size_t capqpos;
	unsigned char *out; /* bit per batch: a live worker holds it */
	size_t capout;      /* bytes */
	/* the round being built */
	struct counters rctr;
	uint32_t rcursor, rnbatches;
	uint32_t *split; /* batches made in the round: halves of splits, expansions of seeds */
	size_t nsplit, capsplit;
	struct requeued *given; /* retries handed back in the round */
	size_t ngiven, capgiven;
	/* stages (deps NULL: one stage, every batch ready at once) */
	struct deps *deps;
	size_t nstages;
	struct stage_counters sc[JOB_MAX_STAGES], rsc[JOB_MAX_STAGES]; /* the counts states do not make */
	struct { uint32_t n, parent; uint8_t from, to; } *trans; /* the round's state changes */
	size_t ntrans, captrans;
	struct requeued *wait; /* passed by the cursor while their needs were unanswered */
	size_t nwait, nwait_kept, capwait; /* nwait_kept: as committed */
	uint32_t *unsent; /* held by workers that ended on their own: pending again next round */
	size_t nunsent, capunsent;
};

void ledger_init(struct ledger *l, const struct counters *c, uint32_t nbatches);
/* A run with stages: the batches' stages and needs (owned by the ledger from now on), and the
 * per-stage counters as recorded. */
void ledger_set_stages(struct ledger *l, struct deps *d, const struct stage_counters *sc,
		       size_t nstages);
/* What a batch's {{context}} came to (sent with it): kept with the batch and its stage. */
int ledger_context(struct ledger *l, store_txn *t, uint32_t n, uint32_t ctx_tokens,
		   uint32_t trimmed);
/* fn for each state change of the round so far, in order (new batches left out); fn's
 * non-zero value stops and is returned. */
int ledger_round_moves(const struct ledger *l,
		       int (*fn)(uint32_t n, unsigned from, unsigned to, void *arg), void *arg);
/* The per-stage counters as the round leaves them (n = l->nstages). */
void ledger_stage_counters(const struct ledger *l, struct stage_counters *out);
void ledger_free(struct ledger *l);

/* ---- inside a group transaction ---- */
void ledger_round_begin(struct ledger *l);
/* The next batch that needs a request: those handed back first (once due), then onward from
 * the cursor; never one that is out. Returns 1 with *n, *b and *attempt set, or 0. */
int ledger_take(struct ledger *l, store_txn *t, int64_t now, uint32_t *n, struct batch_rec *b,
		uint32_t *attempt);
/* Two takers share the work (live workers and the Batch API, pbatch.h): ok says whether batch
 * n is this taker's. One it declines stays queued for the other, or, never handed out yet, is
 * queued for it when the round commits; with queue_only, batches never handed out yet are not
 * this taker's at all. */
struct take_filter {
	int (*ok)(void *arg, uint32_t n);
	void *arg;
	int queue_only;
};
int ledger_take_where(struct ledger *l, store_txn *t, int64_t now, uint32_t *n,
		      struct batch_rec *b, uint32_t *attempt, const struct take_filter *f);
/* Batch n, taken, is not sent in this round after all: it is queued again (due: now_ms()
 * from which it may go) when the round commits. */
void ledger_defer(struct ledger *l, uint32_t n, uint32_t attempt, int64_t due);
/* Batch n (taken) goes to a worker: in flight from this commit on. 0 or STORE_FULL. */
int ledger_send(struct ledger *l, store_txn *t, uint32_t n, struct batch_rec *b);
/* Batch n is answered without a request (the cache). 0 or STORE_FULL. */
int ledger_cache_hit(struct ledger *l, store_txn *t, uint32_t n, struct batch_rec *b,
		     const char *answer, size_t len, uint64_t prompt, uint64_t completion);
/* Replaces batch n by two halves numbered after every batch so far. 0 or STORE_FULL. */
int ledger_split(struct ledger *l, store_txn *t, const struct plan_rec *plan, uint32_t n,
		 struct batch_rec *b, const char *why);
/* A new seed of the stage over entities whose first seed is batch seed, numbered after every
 * batch so far: resume --retry-failed gives the graph more entities after the stage embedded
 * it. 0 or STORE_FULL. */
int ledger_reseed(struct ledger *l, store_txn *t, uint32_t seed);
/* Replaces seed batch n by nsizes batches numbered after every batch so far, of the same
 * stage and document, over consecutive ranges of sizes[i] items from item first (vecs.h). 0
 * or STORE_FULL. */
int ledger_expand(struct ledger *l, store_txn *t, const struct plan_rec *plan, uint32_t n,
		  struct batch_rec *b, uint32_t first, const uint32_t *sizes, uint32_t nsizes);
/* Batch n cannot be asked for at all (why says so). 0 or STORE_FULL. */
int ledger_fail(struct ledger *l, store_txn *t, uint32_t n, struct batch_rec *b, const char *why);
/* A worker's result: counts it, and moves its batch as the outcome says. A result is applied
 * only to the batch whose request it answers (the same key: a spooled answer of an earlier
 * plan, after --fresh, is not this plan's batch of the same number). Returns LEDGER_DONE when
 * the batch became done with this answer (*b holds its record, for the cache), LEDGER_FOREIGN
 * when the result answers no batch of this plan, 0, or STORE_FULL. */
enum { LEDGER_DONE = 1, LEDGER_FOREIGN = 3 };
int ledger_result(struct ledger *l, store_txn *t, const struct plan_rec *plan,
		  const struct msg_result *m, int64_t now, struct batch_rec *b);
/* Batches of workers lost LOST_UNSENT that are still in flight go back to pending; before
 * anything is handed out in the round. 0 or STORE_FULL. */
int ledger_unsent(struct ledger *l, store_txn *t);
/* The counters that describe the session rather than batches, then the counters record. */
int ledger_round_end(struct ledger *l, store_txn *t, uint32_t workers_live, uint32_t run_state,
		     uint64_t elapsed_ms);
/* The round committed: its decisions become the ledger's; the halves of batches split in it
 * and the retries it handed back join the queue (the halves first in line). */
void ledger_commit(struct ledger *l);

/* Whether a result settles what became of its batch's request, so that it cannot have been
 * billed without its answer in hand: answered (the answer, or a 4xx refusal: a provider bills
 * no refused request), or never sent. A timeout, a broken connection or a 5xx settles nothing. */
int ledger_settled(const struct msg_result *m);

/* After a crash: batches that were in flight go back to pending (possibly billed unless
 * recovered(arg, n, key) says a spooled result settles that request, ledger_settled), and with
 * retry_failed the failed ones too. recovered returns LEDGER_HELD for a batch whose request is
 * in a provider's batch (pbatch.h): it stays in flight, its answer still to come. One write
 * transaction of its own. */
enum { LEDGER_HELD = 2 };
typedef int (*ledger_recovered_fn)(void *arg, uint32_t n, const unsigned char key[HASH_LEN]);
int ledger_recover(struct ledger *l, store *db, int retry_failed, ledger_recovered_fn recovered,
		   void *arg);

/* ---- between transactions ---- */
/* Batch n went to a worker / is no longer held by one (a result, a death, a refused send). */
void ledger_out(struct ledger *l, uint32_t n);
void ledger_back(struct ledger *l, uint32_t n);
int ledger_is_out(const struct ledger *l, uint32_t n);
/* Puts a batch back at the front of the queue of work, once; a no-op for an out batch. */
void ledger_give_back(struct ledger *l, uint32_t n, uint32_t attempt, int64_t due);
/* A worker died holding batches: they come back. How it ended says what became of them:
 *   LOST_UNSENT   it ended on its own, and a worker sends the result of every batch it starts
 *                 before it ends: it started none of them (a result may still be on its way);
 *                 the next round writes them pending, so no session counts them possibly billed
 *   LOST_KILLED   the request of the one it was on may have reached the provider: counted
 *   LOST_STOPPING killed as the run stops: left in flight, for the next session to count */
enum lost_how { LOST_UNSENT, LOST_KILLED, LOST_STOPPING };
void ledger_worker_lost(struct ledger *l, const uint32_t *batches, int n, enum lost_how how);

int ledger_work_left(const struct ledger *l);
/* Batches that need an answer: the plan's, less those replaced by their halves (committed). */
uint64_t ledger_total(const struct ledger *l);
/* Batches never handed out yet. */
uint32_t ledger_unstarted(const struct ledger *l);
/* Batches a worker may yet be given: never handed out, queued again, or waiting on others. */
uint64_t ledger_to_give(const struct ledger *l);
struct take_filter;
/* Milliseconds until the first queued batch a taker with filter f (NULL: any) may take is due,
 * at most max (0: one is due now, or a parked one may go or be blocked now). */
long ledger_next_due_ms(const struct ledger *l, int64_t now, long max, const struct take_filter *f);

/* The transition table, for tests: non-zero when from -> to is legal. */
int ledger_legal(enum batch_state from, enum batch_state to);

#endif
