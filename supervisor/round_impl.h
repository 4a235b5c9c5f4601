/* round_impl.h: what round.c and round_apply.c share; nothing else includes it. */
#ifndef KGSUP_ROUND_IMPL_H
#define KGSUP_ROUND_IMPL_H

#include "sup.h"

/* Inside the round's transaction: a worker's result (its answer checked, kept, and the ledger
 * told), and an invalid answer kept for `kgsup invalid`. 0 or STORE_FULL. */
int round_apply_result(store_txn *t, struct sup *s, const struct queued_result *q);
int round_apply_invalid(store_txn *t, struct sup *s, const struct frame *f);

#endif
