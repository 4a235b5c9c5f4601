/* pbatch_impl.h: private to the pbatch*.c files (pbatch.h). */
#ifndef KGSUP_PBATCH_IMPL_H
#define KGSUP_PBATCH_IMPL_H

#include "pbatch.h"
#include "../common/paths.h"

struct sup;

#define PBATCH_POLL_MAX_MS 300000 /* polls grow to 5 min */
/* How long the results a collect sent may take to arrive once it has ended: it ends only after
 * they left it (its socket's linger), so this is a loaded machine's delay, not a loss's. */
#define COLLECT_WAIT_MS 120000
#define PBATCH_BACKOFF_MAX_MS 60000

int part_rec_put(store_txn *t, uint32_t n, const struct part_rec *r);
/* Records part n (its in-memory record, state `to`) in a transaction of its own. 0 or -1
 * (an illegal change, or the store failed: logged). */
int part_move(struct sup *s, uint32_t n, enum part_state to);

/* DIR/batchapi/part-N<suffix>: ".jsonl" the requests, ".idx" what collect needs of each line,
 * ".out.jsonl" and ".err.jsonl" the provider's output and error files. */
void part_path(char *out, size_t len, const char *state_dir, uint32_t n, const char *suffix);

/* Whether the provider's batch status is a final one (its files can be fetched). */
int pbatch_status_ended(const char *status);

/* pbatch_ops.c: the op in hand */
int pbatch_op_start(struct sup *s, enum pb_op op, uint32_t part, const char *args);
const char *pbatch_op_name(enum pb_op op);
/* Reads what the op wrote; 1 when it has ended (outcome taken), else 0. */
int pbatch_op_poll(struct sup *s);
/* The provider's keys on a line of ids (batch ids, file ids): letters, digits, '-', '_'. */
int pbatch_id_ok(const char *id);

/* pbatch_steps.c: what an ended op means for its part */
void pbatch_step_done(struct sup *s, enum pb_op op, uint32_t part, int code, const char *out,
		      size_t len);
/* Rebuilds the map of the requests held by parts not collected. */
int pbatch_keys_rebuild(struct sup *s);

#endif
