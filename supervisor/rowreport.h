/* rowreport.h: the summary of a run over rows, for `kgsup report` and report.json's "rows":
 * the rows read, skipped (empty text) and duplicate; per stage the texts answered (by a call
 * or from the cache) and not, its rows by what became of them (rowtally.h), and for each field of its items (rowfields.h) that has a set
 * of values (an enum, also in an array, or a boolean) the count and share of each value over
 * the rows answered, and for each number its min, mean and max; and with report.score_column
 * set, the Net Promoter Score over the rows whose score is a whole number from 0 to 10. Rows
 * are counted, not texts: rows sharing a text each count its answer. */
#ifndef KGSUP_ROWREPORT_H
#define KGSUP_ROWREPORT_H

#include <stdint.h>
#include <stdio.h>

#include "rowfields.h"
#include "rowstore.h"
#include "rowtally.h"
#include "../common/config.h"
#include "../common/job.h"

struct field_sum {
	uint64_t *count;       /* per value of the field, rows holding it */
	uint64_t other;        /* rows whose value is none of them */
	uint64_t missing;      /* rows answered without a value (absent, null, empty array) */
	uint64_t n;            /* numbers: rows with one */
	double min, max, sum;
};

struct stage_sum {
	const struct stage *st;
	struct rowfields fields;
	struct field_sum *sum;   /* per field */
	struct row_counters ctr; /* texts, as the run counted them */
	struct row_tally tally;  /* rows, by what became of them */
	uint64_t rows_answered;  /* rows whose text has an answer: what shares are of */
};

struct rowreport {
	const struct job *job;     /* as given to rowreport_build */
	struct rows_plan plan;     /* tables, rows, skipped, duplicates: as the planner counted */
	size_t nstages;
	struct stage_sum *st;
	const char *score_column;  /* report.score_column, or NULL */
	int score_kept;            /* it is among the kept columns */
	uint64_t promoters, passives, detractors, unscored;
};

/* Reads the run's rows and answers in t. 0, or -1 with err set. */
int rowreport_build(struct rowreport *r, store_txn *t, const struct job *job,
		    const struct config *cfg, char *err, size_t errlen);
/* The summary as one JSON object. */
void rowreport_json(const struct rowreport *r, buf *out);
/* The summary for people. */
void rowreport_text(const struct rowreport *r, FILE *out);
void rowreport_free(struct rowreport *r);

/* The JSON object of the run's rows in t: 0, or -1 with err set (nothing written). */
int rowreport_write_json(store_txn *t, const struct job *job, const struct config *cfg,
			 buf *out, char *err, size_t errlen);
/* report.json's ,"rows":{...} of a run over rows, read in a transaction of its own (nothing
 * for other runs; a warning when it cannot be read). */
void rowreport_member(store *db, const struct job *job, const struct config *cfg, buf *out);

#endif
