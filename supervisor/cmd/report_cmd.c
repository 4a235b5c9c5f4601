/* report_cmd.c: `kgsup report`: the summary of a run over rows (rowreport.h), for people or
 * (--json) for programs. Reads in one read-only transaction, so it works on a live run too. */
#include "results.h"
#include "../cli.h"
#include "../rowreport.h"
#include "../../common/log.h"
#include "../../common/util.h"

#include <stdio.h>
#include <string.h>

int report_cmd(const struct cli *cli)
{
	char err[1024] = "";
	store *db = NULL;
	store_txn *t = NULL;
	struct plan_rec plan;
	struct config cfg;
	struct job job;
	struct rowreport r;
	config_defaults(&cfg);
	memset(&job, 0, sizeof job);
	memset(&r, 0, sizeof r);
	if (run_open_read(cli->state_dir, &db, &t, &plan, err, sizeof err) ||
	    run_job_read(t, &cfg, &job, err, sizeof err))
		goto done;
	if (rowreport_build(&r, t, &job, &cfg, err, sizeof err)) {
		char why[sizeof err];
		snprintf(why, sizeof why, "%s", err);
		snprintf(err, sizeof err, "%s: %s", cli->state_dir, why);
		goto done;
	}
	if (cli->json) {
		buf b;
		buf_init(&b);
		rowreport_json(&r, &b);
		printf("%s\n", buf_cstr(&b));
		buf_free(&b);
	} else {
		rowreport_text(&r, stdout);
	}
done:
	if (err[0])
		die_msg("%s", err);
	rowreport_free(&r);
	job_free(&job);
	config_free(&cfg);
	store_abort(t);
	store_close(db);
	return err[0] ? EXIT_USAGE : EXIT_OK;
}
