/* stageview.h: a run's figures by stage, as status, status --json, report.json and the progress
 * bar show them: one writer each for JSON and text, so they say the same. Costs are at each
 * stage's model's prices (pricing.models). */
#ifndef KGSUP_STAGEVIEW_H
#define KGSUP_STAGEVIEW_H

#include <stdio.h>

#include "../common/buf.h"
#include "../common/config.h"
#include "../common/job.h"
#include "runstate.h"

/* Dollars spent by the stages, and what the cache saved them, each at its stage's prices. */
double stages_cost(const struct job *j, const struct config *cfg, const struct stage_counters *sc);
double stages_saved(const struct job *j, const struct config *cfg, const struct stage_counters *sc);
/* ,"stages":{NAME:{...},...} (nothing for a run without stages). */
void stages_json(buf *b, const struct job *j, const struct config *cfg,
		 const struct stage_counters *sc);
/* One line per stage, for `kgsup status`. */
void stages_text(FILE *out, const struct job *j, const struct config *cfg,
		 const struct stage_counters *sc);
/* A short "name done/total" list for the progress bar (the stages not finished first). */
void stages_brief(buf *b, const struct job *j, const struct stage_counters *sc);

#endif
