/* pbatch_view.h: what status, report.json and `kgsup batches` show of a run's Batch API parts
 * (pbatch.h), read from the store by any reader. */
#ifndef KGSUP_PBATCH_VIEW_H
#define KGSUP_PBATCH_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../common/config.h"
#include "../common/store.h"
#include "pbatch.h"

struct pbatch_view {
	struct part_rec *parts;
	size_t n;
	size_t busy;         /* not collected */
	uint64_t lines, lines_answered, lines_failed, refusals;
	uint64_t prompt_tokens, completion_tokens; /* bought through the Batch API */
	double full_usd;     /* what those tokens cost at the live price */
	double saved_usd;    /* pricing.batch_discount of it */
	double eta_s;        /* from the answered lines' pace; -1: unknown */
};

/* 0 (an empty view for a run without parts), or -1 when the store cannot be read. */
int pbatch_view_read(store_txn *t, const struct config *cfg, struct pbatch_view *v);
void pbatch_view_free(struct pbatch_view *v);
/* ,"batch_api":{...}: nothing for a run without parts */
void pbatch_view_json(const struct pbatch_view *v, buf *b);
/* Lines for status and `kgsup batches`: a summary, and with parts one line a part. */
void pbatch_view_print(const struct pbatch_view *v, int parts);

#endif
