/* bwait.h: a shared broker (limits.broker) that does not answer. No request leaves without a
 * grant, so the workers wait for it; each tells the supervisor when its asks go unanswered and
 * when they are answered again (MSG_BWAIT). The run waits while any worker does, since the
 * earliest of them; `kgsup status` says so ("waiting for broker tcp://... since HH:MM:SS"),
 * from the meta record "broker_wait" that the supervisor's rounds keep (empty: not waiting).
 * This file owns that state and that record. */
#ifndef KGSUP_BWAIT_H
#define KGSUP_BWAIT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/config.h"
#include "../common/proto.h"
#include "../common/store.h"

#define META_BROKER_WAIT "broker_wait"
#define BWAIT_SLOTS WORKERS_MAX /* run.workers' bound */

struct bwait {
	int64_t since[BWAIT_SLOTS]; /* per slot: wall ms its asks went unanswered from; 0: not */
	int64_t recorded;           /* the wait the record says (its since), 0: none */
	int dirty;                  /* the record may not say it (yet) */
};

/* Nothing waits; the record is rewritten at the first round (a session before may have died
 * waiting). */
void bwait_init(struct bwait *w);
void bwait_take(struct bwait *w, const struct msg_bwait *m);
/* A worker is gone: whatever it waited for, it does not any more. */
void bwait_slot_gone(struct bwait *w, int slot);
/* Inside the round's transaction: the record, when it changed. 0 or STORE_FULL. */
int bwait_record(struct bwait *w, store_txn *t, const char *endpoint);
void bwait_committed(struct bwait *w);
/* For status: 1 with since (wall ms) and the endpoint when the run waits, else 0. */
int bwait_read(store_txn *t, int64_t *since, char *endpoint, size_t n);
/* "waiting for broker ENDPOINT since HH:MM:SS" (local time). */
void bwait_describe(char *out, size_t n, int64_t since, const char *endpoint);

#endif
