/* ledger_impl.h: what ledger.c and ledger_stages.c share; nothing else includes it. */
#ifndef KGSUP_LEDGER_IMPL_H
#define KGSUP_LEDGER_IMPL_H

#include "ledger.h"

#define ADDED 0xff /* a round's record of a new batch (a half), not a state */

/* The one place a batch changes state (ledger.c). */
void ledger_set_state(struct ledger *l, struct counters *c, uint32_t n, struct batch_rec *b,
		      enum batch_state to);
int ledger_write_rec(store_txn *t, uint32_t n, const struct batch_rec *b, const char *err,
		     size_t errlen);
/* A batch made in the round (ledger.c): it joins the queue when the round commits. */
void ledger_added(struct ledger *l, uint32_t n);
/* ledger_queue.c: drops the entries taken or gone, at a commit. */
void ledger_queue_compact(struct ledger *l);
/* ledger_stages.c */
void ledger_note(struct ledger *l, uint32_t n, uint32_t parent, unsigned from, unsigned to);
int ledger_ready(struct ledger *l, store_txn *t, uint32_t n, struct batch_rec *b, int park);
int ledger_take_cursor(struct ledger *l, store_txn *t, uint32_t *n, struct batch_rec *b,
		       int unblocking);
int ledger_take_waiting(struct ledger *l, store_txn *t, uint32_t *n, struct batch_rec *b);
int ledger_stage_result(struct ledger *l, store_txn *t, const struct msg_result *m);
void ledger_apply_trans(struct ledger *l);

#endif
