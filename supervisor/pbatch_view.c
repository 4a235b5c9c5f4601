/* pbatch_view.c: a run's Batch API parts as status, report.json and `kgsup batches` show them
 * (pbatch_view.h). */
#include "pbatch_view.h"
#include "../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pbatch_view_read(store_txn *t, const struct config *cfg, struct pbatch_view *v)
{
	memset(v, 0, sizeof *v);
	v->eta_s = -1;
	size_t cap = 0;
	struct part_rec r;
	int64_t first = 0, now = wall_ms();
	uint64_t answered_open = 0, total_open = 0;
	for (uint32_t n = 0; part_rec_read(t, n, &r) == 0; n++) {
		v->parts = xgrow(v->parts, &cap, v->n, sizeof *v->parts, 8);
		v->parts[v->n++] = r;
		v->lines += r.nlines;
		v->lines_answered += r.completed;
		v->lines_failed += r.failed;
		v->refusals += r.refusals;
		v->prompt_tokens += r.prompt_tokens;
		v->completion_tokens += r.completion_tokens;
		v->full_usd += r.cost_usd;
		if (r.state != P_COLLECTED) {
			v->busy++;
			answered_open += r.completed;
			total_open += r.nlines;
			if (r.submitted_ms && (!first || r.submitted_ms < first))
				first = r.submitted_ms;
		}
	}
	v->saved_usd = v->full_usd * cfg->batch_discount;
	if (first && answered_open && answered_open < total_open && now > first)
		v->eta_s = (double)(now - first) / 1000.0 * (double)(total_open - answered_open) /
			   (double)answered_open;
	return 0;
}

void pbatch_view_free(struct pbatch_view *v)
{
	free(v->parts);
	memset(v, 0, sizeof *v);
}

void pbatch_view_json(const struct pbatch_view *v, buf *b)
{
	if (!v->n)
		return;
	buf_printf(b, ",\"batch_api\":{\"parts\":%zu,\"open\":%zu,\"lines\":%llu,\"answered\":%llu,"
		   "\"failed\":%llu,\"queue_refusals\":%llu,\"tokens\":{\"prompt\":%llu,"
		   "\"completion\":%llu},\"full_usd\":%.6f,\"saved_usd\":%.6f,\"eta_s\":%.0f,"
		   "\"batches\":[",
		   v->n, v->busy, (unsigned long long)v->lines, (unsigned long long)v->lines_answered,
		   (unsigned long long)v->lines_failed, (unsigned long long)v->refusals,
		   (unsigned long long)v->prompt_tokens, (unsigned long long)v->completion_tokens,
		   v->full_usd, v->saved_usd, v->eta_s);
	for (size_t i = 0; i < v->n; i++) {
		const struct part_rec *r = &v->parts[i];
		buf_printf(b, "%s{\"part\":%zu,\"state\":\"%s\",\"lines\":%u,\"bytes\":%llu,"
			   "\"file_id\":\"%s\",\"batch_id\":\"%s\",\"status\":",
			   i ? "," : "", i, part_state_name(r->state), r->nlines,
			   (unsigned long long)r->bytes, r->file_id, r->batch_id);
		buf_json_str(b, r->status, strlen(r->status));
		buf_printf(b, ",\"completed\":%u,\"failed\":%u,\"refusals\":%u,\"error\":", r->completed,
			   r->failed, r->refusals);
		buf_json_str(b, r->error, strlen(r->error));
		buf_putc(b, '}');
	}
	buf_puts(b, "]}");
}

void pbatch_view_print(const struct pbatch_view *v, int parts)
{
	if (!v->n) {
		if (parts)
			printf("no Batch API parts in this run\n");
		return;
	}
	printf("batch api  %zu part%s (%zu open), %llu requests, %llu answered, %llu failed",
	       v->n, v->n == 1 ? "" : "s", v->busy, (unsigned long long)v->lines,
	       (unsigned long long)v->lines_answered, (unsigned long long)v->lines_failed);
	if (v->eta_s >= 0)
		printf(", about %.0f s to go", v->eta_s);
	printf("; saved $%.4f\n", v->saved_usd);
	for (size_t i = 0; parts && i < v->n; i++) {
		const struct part_rec *r = &v->parts[i];
		printf("  part %zu  %-10s %6u lines  %-8s %s%s%s\n", i, part_state_name(r->state),
		       r->nlines, r->status[0] ? r->status : "-", r->batch_id[0] ? r->batch_id : "-",
		       r->error[0] ? "  " : "", r->error);
	}
}
