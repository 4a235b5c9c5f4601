/* plan.h: turning the inputs into the run's plan: sources, chunks and batches, streamed into
 * the store in bounded transactions (memory does not grow with the input), and the
 * fingerprint that tells whether a state directory holds the same run. */
#ifndef KGSUP_PLAN_H
#define KGSUP_PLAN_H

#include <stddef.h>

#include "../common/config.h"
#include "../common/store.h"
#include "runstate.h"

struct prompts {
	char *system; /* template texts */
	char *user;
};

int prompts_load(struct prompts *p, const struct config *cfg, char *err, size_t errlen);
void prompts_free(struct prompts *p);

/* Reads every input and writes the plan into db; with db NULL only computes the plan summary
 * and fingerprint. Returns 0, or -1 with err set (input errors name the file and line). */
int plan_inputs(const struct config *cfg, const struct prompts *pr, char *const *inputs,
		int ninputs, store *db, struct plan_rec *out, char *err, size_t errlen);

#endif
