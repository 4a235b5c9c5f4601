/* batches_cmd.c: `kgsup batches -s DIR [--json] [--cancel]`: a run's Batch API parts and their
 * provider batches; --cancel cancels those still running at the provider (kgsup stop leaves
 * them there, and a resumed run picks them up: this is how they are let go). Each cancel is
 * one `kgsup __batchop cancel` (this command loads no libcurl). */
#include "../cli.h"
#include "../pbatch_impl.h"
#include "../pbatch_view.h"
#include "../rolespawn.h"
#include "../runstate.h"
#include "../../common/log.h"
#include "../../common/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* One cancel; 0 when the provider took it. */
static int cancel_one(const char *state_dir, const char *id)
{
	char *argv[] = { "kgsup", "__batchop", "cancel", (char *)state_dir, NULL };
	int to, from;
	pid_t pid = role_spawn(argv, &to, &from);
	if (pid < 0) {
		log_error("cannot start kgsup __batchop: %s", strerror(errno));
		return -1;
	}
	char args[PART_ID_LEN + 16];
	snprintf(args, sizeof args, "{\"id\":\"%s\"}", id);
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	ssize_t w = write(to, args, strlen(args));
	(void)w; /* a role that died early says so by its exit code */
	signal(SIGPIPE, old);
	close(to);
	char chunk[4096];
	while (read(from, chunk, sizeof chunk) > 0)
		;
	close(from);
	return role_wait(pid) == EXIT_OK ? 0 : -1;
}

int batches_cmd(const struct cli *cli)
{
	char dbdir[PATHS_MAX], err[512];
	paths_file(dbdir, sizeof dbdir, cli->state_dir, "db");
	store *db = store_open(dbdir, 1, err, sizeof err);
	if (!db) {
		die_msg("%s", err);
		return EXIT_USAGE;
	}
	struct config cfg;
	config_defaults(&cfg);
	store_txn *t = store_begin(db, 0);
	struct pbatch_view v;
	char serr[256];
	/* the run's own settings: its pricing.batch_discount prices the saving (without
	 * readable settings the defaults do, as in status) */
	if (t)
		run_settings_read(t, &cfg, serr, sizeof serr);
	int rc = !t || pbatch_view_read(t, &cfg, &v) ? -1 : 0;
	store_abort(t);
	store_close(db);
	config_free(&cfg);
	if (rc) {
		die_msg("%s: cannot read the run's store", cli->state_dir);
		return EXIT_INTERNAL;
	}
	int code = EXIT_OK;
	if (cli->cancel) {
		size_t n = 0;
		for (size_t i = 0; i < v.n; i++) {
			const struct part_rec *r = &v.parts[i];
			if (r->state != P_SUBMITTED || !r->batch_id[0] || pbatch_status_ended(r->status))
				continue;
			if (!pbatch_id_ok(r->batch_id) || cancel_one(cli->state_dir, r->batch_id)) {
				log_error("part %zu: batch %s could not be cancelled", i, r->batch_id);
				code = EXIT_FAILED;
				continue;
			}
			printf("part %zu: batch %s cancelling\n", i, r->batch_id);
			n++;
		}
		printf("%zu batch%s cancelled; what they answered before is collected by kgsup resume "
		       "-s %s, the rest asked again\n", n, n == 1 ? "" : "es", cli->state_dir);
	} else if (cli->json) {
		buf b;
		buf_init(&b);
		pbatch_view_json(&v, &b);
		printf("{%s}\n", v.n ? buf_cstr(&b) + 1 : "\"batch_api\":null");
		buf_free(&b);
	} else {
		pbatch_view_print(&v, 1);
	}
	pbatch_view_free(&v);
	return code;
}
