/* run.c: `kgsup start` and `kgsup resume`: settle what run this is (plan it, or check that the
 * state directory holds the same run), recover what an earlier session left (spooled answers,
 * batches in flight), record the settings the children read, then hand over to the loop
 * (loop.c). */
#include "sup.h"
#include "nofile.h"
#include "cli.h"
#include "control.h"
#include "lock.h"
#include "shard.h"
#include "../common/curvekey.h"
#include "../common/log.h"
#include "../common/names.h"
#include "../common/sig.h"
#include "../common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int prepare_dirs(const char *state_dir, char *err, size_t errlen)
{
	char path[PATHS_MAX];
	const char *subdirs[] = { "", "run", "sock", "spool" };
	for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
		paths_file(path, sizeof path, state_dir, subdirs[i]);
		/* a subdirectory planted as a symbolic link would have its target chmodded */
		if (mkdir_p(path, 0700) < 0 ||
		    (i ? chmod_dir_nofollow(path, 0700) : chmod(path, 0700)) < 0) {
			snprintf(err, errlen, "%s: cannot use: %s", path, nofollow_strerror(errno));
			return -1;
		}
	}
	if (paths_endpoint(path, sizeof path, state_dir, "XXXXXX", "w", 9999) < 0) {
		snprintf(err, errlen, "%s: path too long for its sockets; use a shorter state directory",
			 state_dir);
		return -1;
	}
	return 0;
}

static int meta_put_str(store_txn *t, const char *key, const char *val, size_t len)
{
	return store_put(t, DB_META, key, strlen(key), val, len);
}

/* Records the settings and prompt texts the run was started with (what resume uses). */
static int record_settings(store_txn *t, void *arg)
{
	struct sup *s = arg;
	buf json;
	buf_init(&json);
	config_to_json(&s->cfg, &json);
	int rc = meta_put_str(t, META_CONFIG, json.data, json.len) ||
		 meta_put_str(t, "prompt.system", s->prompts.system, strlen(s->prompts.system)) ||
		 meta_put_str(t, "prompt.user", s->prompts.user, strlen(s->prompts.user));
	if (!rc && !s->job.legacy) {
		buf_reset(&json);
		job_to_json(&s->job, &json);
		rc = meta_put_str(t, META_JOB, json.data, json.len);
	}
	buf_free(&json);
	return rc ? STORE_FULL : 0;
}

static char *meta_get_str(store *db, const char *key)
{
	store_txn *t = store_begin(db, 0);
	if (!t)
		return NULL;
	const void *v;
	size_t n;
	char *out = NULL;
	if (!store_get(t, DB_META, key, strlen(key), &v, &n))
		out = xstrndup(v, n);
	store_abort(t);
	return out;
}

/* What resume runs with: the settings, prompt texts and plan the run was started with. */
static int load_recorded_run(struct sup *s, const char *state_dir, char *err, size_t errlen)
{
	store_txn *t = store_begin(s->db, 0);
	int settings = t ? run_settings_read(t, &s->cfg, err, errlen) : STORE_ERROR;
	int noplan = !t || plan_read(t, &s->plan);
	store_abort(t);
	if (settings == STORE_NOTFOUND) {
		snprintf(err, errlen, "%s: no run to resume here", state_dir);
		return EXIT_USAGE;
	}
	s->prompts.system = meta_get_str(s->db, "prompt.system");
	s->prompts.user = meta_get_str(s->db, "prompt.user");
	if (settings || noplan || !s->prompts.system || !s->prompts.user) {
		if (!err[0])
			snprintf(err, errlen, "%s: the recorded run is incomplete; start it again",
				 state_dir);
		return EXIT_USAGE;
	}
	char *job = meta_get_str(s->db, META_JOB);
	int rc = job ? job_parse(&s->job, &s->cfg, job, strlen(job), "recorded job", err, errlen)
		     : job_from_config(&s->job, &s->cfg, s->prompts.system, s->prompts.user, err,
				       errlen);
	free(job);
	return rc ? EXIT_USAGE : 0;
}

static int write_run_config(struct sup *s, char *err, size_t errlen)
{
	char path[PATHS_MAX];
	paths_file(path, sizeof path, s->state_dir, "run/config.json");
	buf json;
	buf_init(&json);
	config_to_json(&s->cfg, &json);
	int rc = write_file_atomic(path, json.data, json.len, 0600);
	if (!rc) { /* the workers' copy of the stages; none: the one KG stage */
		paths_file(path, sizeof path, s->state_dir, "run/job.json");
		buf_reset(&json);
		job_to_json(&s->job, &json);
		rc = s->job.legacy ? (unlink(path) < 0 && errno != ENOENT ? -1 : 0)
				   : write_file_atomic(path, json.data, json.len, 0600);
	}
	buf_free(&json);
	if (rc)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return rc;
}

static int clear_plan(store_txn *t, void *arg)
{
	int keep_cache = *(int *)arg;
	for (int db = 0; db < DB_COUNT; db++) {
		if (keep_cache && (db == DB_CACHE || db == DB_INVALID || db == DB_ROWCACHE))
			continue;
		if (store_clear(t, (enum store_db)db))
			return STORE_FULL;
	}
	return 0;
}

/* Whether a spooled result waiting to be committed settles the batch's request (its answer,
 * a 4xx refusal, or never sent: ledger_settled); one committed already is of an earlier
 * dispatch of the batch and says nothing of the last. */
static int recovered(void *arg, uint32_t batch, const unsigned char key[HASH_LEN])
{
	const struct sup *s = arg;
	if (pbatch_holds(&s->pb, batch))
		return LEDGER_HELD;
	for (size_t i = 0; i < s->nqueue; i++) {
		const struct msg_result *m = &s->queue[i].m;
		if (m->batch == batch && m->key && !memcmp(m->key, key, HASH_LEN) &&
		    !delivered_already(&s->before, m->session, m->slot, m->seq) && ledger_settled(m))
			return 1;
	}
	return 0;
}

/* The ledger from the counters and plan as recorded. */
static int load_ledger(struct sup *s)
{
	store_txn *t = store_begin(s->db, 0);
	if (!t)
		return -1;
	struct counters c;
	struct plan_rec p;
	counters_read(t, &c);
	if (plan_read(t, &p))
		p = s->plan;
	ledger_init(&s->led, &c, p.nbatches);
	int rc = 0;
	if (!s->job.legacy) { /* which batch is of which stage and document, and what it needs */
		struct deps *d = xcalloc(1, sizeof *d);
		struct stage_counters sc[JOB_MAX_STAGES];
		stage_counters_read(t, sc, s->job.n);
		rc = deps_load(d, &s->job, t, p.nbatches, p.nsources);
		ledger_set_stages(&s->led, d, sc, s->job.n);
	}
	struct row_counters rc_rows[JOB_MAX_STAGES];
	row_counters_read(t, rc_rows, s->job.n);
	rows_init(&s->rows, &s->job, rc_rows);
	vecs_init(&s->vecs, &s->job, &s->cfg);
	rows_plan_read(t, &s->rows.plan);
	store_abort(t);
	return rc;
}

/* ---- start / resume ---- */

static int open_run(struct sup *s, const struct cli *cli, char *err, size_t errlen)
{
	s->state_dir = cli->state_dir;
	if (prepare_dirs(s->state_dir, err, errlen) || lock_take(s->state_dir, &s->lock_fd, err, errlen))
		return EXIT_USAGE;
	if (cli->detach)
		s->pid_file = lock_pid_file_write(s->state_dir) == 0;
	char dbdir[PATHS_MAX];
	paths_file(dbdir, sizeof dbdir, s->state_dir, "db");
	s->db = store_open(dbdir, 0, err, errlen);
	return s->db ? 0 : EXIT_INTERNAL;
}

/* The request cache: the run's own store, or the one cache.path names (shared by runs). */
static int open_cache(struct sup *s, char *err, size_t errlen)
{
	s->cache_db = s->db;
	if (s->cfg.cache_path) {
		/* LMDB must not open one environment twice in a process: the second one's locks
		 * deadlock against the first */
		char dbdir[PATHS_MAX];
		paths_file(dbdir, sizeof dbdir, s->state_dir, "db");
		if (same_file(s->cfg.cache_path, dbdir)) {
			snprintf(err, errlen, "cache.path: %s is this run's own store (%s); set it to "
				 "null to use that, or name another directory", s->cfg.cache_path, dbdir);
			return EXIT_USAGE;
		}
		if (cache_path_check(s->cfg.cache_path, err, errlen) ||
		    !(s->cache_db = store_open(s->cfg.cache_path, 0, err, errlen)))
			return EXIT_USAGE;
	}
	cache_init(&s->cache, s->db, s->cache_db, &s->cfg, &s->prompts, s->job.legacy);
	return 0;
}

static int plan_fresh(struct sup *s, const struct cli *cli, char *err, size_t errlen)
{
	int keep_cache = 1;
	if (store_write(s->db, clear_plan, &keep_cache)) {
		snprintf(err, errlen, "store: %s", store_strerror(s->db));
		return EXIT_INTERNAL;
	}
	int64_t t0 = now_ms();
	uint64_t skipped = 0;
	if (plan_inputs(&s->cfg, &s->prompts, &s->job, cli->inputs, cli->ninputs, cli->strict,
			&cli->shard, s->db, &s->cache, &s->plan, &skipped, err, errlen))
		return sig_stop_requested() ? EXIT_STOPPED : EXIT_USAGE;
	/* (a table whose every text the per-row cache answers needs no batch) */
	/* (nor does a shard none of whose documents is its own) */
	if (s->plan.nbatches == 0 && !(s->job.rows && s->plan.nchunks) &&
	    !(cli->shard.count && s->plan.nsources)) {
		snprintf(err, errlen, "no %s found in the inputs given (-i)",
			 s->job.rows ? "rows of tables (.csv, .tsv, .xlsx)" : "transcripts");
		return EXIT_USAGE;
	}
	log_info("planned %u chunks in %u batches from %u sources in %lld ms", s->plan.nchunks,
		 s->plan.nbatches, s->plan.nsources, (long long)(now_ms() - t0));
	if (skipped)
		log_warn("%llu inputs skipped: they could not be read (the warnings above say why)",
			 (unsigned long long)skipped);
	return 0;
}

static int settle_plan(struct sup *s, const struct cli *cli, char *err, size_t errlen)
{
	store_txn *t = store_begin(s->db, 0);
	struct plan_rec old;
	/* a plan of nothing (inputs without transcripts, refused) is no run to go on with */
	int have = t && plan_read(t, &old) == 0 && (old.nbatches > 0 || (s->job.rows && old.nchunks));
	int other_shard = have && !cli->fresh && shard_check(t, &cli->shard, s->state_dir, err, errlen);
	store_abort(t);
	if (other_shard)
		return EXIT_USAGE;
	if (!have || cli->fresh)
		return plan_fresh(s, cli, err, errlen);
	struct plan_rec now;
	if (plan_inputs(&s->cfg, &s->prompts, &s->job, cli->inputs, cli->ninputs, cli->strict,
			&cli->shard, NULL, NULL, &now, NULL, err, errlen))
		return EXIT_USAGE;
	if (memcmp(now.fingerprint, old.fingerprint, HASH_LEN)) {
		snprintf(err, errlen,
			 "%s holds a different run (its inputs or settings differ); "
			 "use --fresh to start it afresh (answers already bought stay cached), "
			 "or kgsup resume -s %s to go on with the recorded settings",
			 s->state_dir, s->state_dir);
		return EXIT_USAGE;
	}
	s->plan = old;
	log_info("continuing the run in %s", s->state_dir);
	return 0;
}

static int check_key(const struct config *cfg, char *err, size_t errlen)
{
	char *key = config_api_key(cfg, err, errlen);
	int ok = key != NULL;
	config_forget_key(key);
	return ok ? 0 : -1;
}

/* A shared broker's keys are read by every worker: files that are missing, not keys, or (the
 * secret) readable by others are refused here, once. The secret is wiped at once. */
static int check_broker_keys(const struct config *cfg, char *err, size_t errlen)
{
	if (!cfg->client_key)
		return 0;
	char pub[ZSOCK_KEY_LEN + 1], sec[ZSOCK_KEY_LEN + 1];
	int rc = curvekey_read(cfg->broker_public_key, 0, pub, err, errlen) ||
		 curvekey_read(cfg->client_key, 1, sec, err, errlen) ? -1 : 0;
	if (!rc && zsock_curve_public(pub, sec) < 0) {
		snprintf(err, errlen, "%s: not a CURVE secret key (limits.client_key)", cfg->client_key);
		rc = -1;
	}
	explicit_bzero(sec, sizeof sec);
	return rc;
}

/* The alias file is read by every worker and by export: a bad one is refused here, once. */
static int check_names(const struct config *cfg, char *err, size_t errlen)
{
	names *n = names_new(cfg->graph_titles, cfg->graph_aliases_file, err, errlen);
	int ok = n != NULL;
	names_free(n);
	return ok ? 0 : -1;
}

static int supervise(struct sup *s, const struct cli *cli, char *err, size_t errlen)
{
	/* recovered answers first: their batches were in flight but are not billed twice */
	store_txn *t = store_begin(s->db, 0);
	if (!t || delivered_read(t, &s->before)) {
		store_abort(t);
		snprintf(err, errlen, "store: %s", store_strerror(s->db));
		return EXIT_INTERNAL;
	}
	store_abort(t);
	size_t spooled = sink_ingest_spool(s);
	if (spooled)
		log_info("%zu answers saved by workers of an earlier session recovered", spooled);
	uint64_t billed_before = s->led.ctr.possibly_billed;
	if (pbatch_open(s, err, errlen))
		return EXIT_INTERNAL;
	if (ledger_recover(&s->led, s->db, cli->retry_failed, recovered, s) || pbatch_adopt(s)) {
		snprintf(err, errlen, "store: %s", store_strerror(s->db));
		return EXIT_INTERNAL;
	}
	rows_count(&s->rows, s->db);
	if (s->led.ctr.possibly_billed > billed_before) /* (the counter is over every session) */
		log_warn("%llu batches were in flight when the last session ended: possibly billed, "
			 "sending them again",
			 (unsigned long long)(s->led.ctr.possibly_billed - billed_before));
	if (store_write(s->db, record_settings, s) || write_run_config(s, err, errlen)) {
		if (!err[0])
			snprintf(err, errlen, "store: %s", store_strerror(s->db));
		return EXIT_INTERNAL;
	}
	return loop_run(s);
}

/* The settings: recorded with the run (resume), or from the config and prompts (start). */
static int load_settings(struct sup *s, const struct cli *cli, int resume, char *err,
			 size_t errlen)
{
	if (!resume) {
		if (cli_load_config(cli, &s->cfg, err, errlen))
			return EXIT_USAGE;
		if (cli->batch_api) {
			free(s->cfg.run_mode);
			s->cfg.run_mode = xstrdup("batch");
		}
		if (cli->ninputs == 0) {
			snprintf(err, errlen, "start needs at least one input (-i PATH)");
			return EXIT_USAGE;
		}
		/* a job that cannot run as shards is refused before its state directory is made */
		if (prompts_load(&s->prompts, &s->cfg, err, errlen) ||
		    job_from_config(&s->job, &s->cfg, s->prompts.system, s->prompts.user, err,
				    errlen) ||
		    (cli->shard.count && shard_job_check(&s->job, &s->cfg, err, errlen)))
			return EXIT_USAGE;
		if (cli->shard.count)
			shard_job_warn(&s->job, &s->cfg);
		return 0;
	}
	char dbdir[PATHS_MAX];
	paths_file(dbdir, sizeof dbdir, cli->state_dir, "db");
	if (!store_exists(dbdir)) { /* nothing to resume: create nothing either */
		snprintf(err, errlen, "%s: no run to resume here", cli->state_dir);
		return EXIT_USAGE;
	}
	int code = open_run(s, cli, err, errlen);
	if (!code)
		code = load_recorded_run(s, cli->state_dir, err, errlen);
	/* (without --shard it goes on as the shard it is) */
	if (!code && cli->shard.count && shard_check_db(s->db, &cli->shard, cli->state_dir, err, errlen))
		code = EXIT_USAGE;
	if (!code && cli->workers > 0)
		s->cfg.workers = cli->workers;
	return code;
}

/* Everything a session held, whatever point it reached. What a failed last commit left queued
 * (a full disk) is dropped: its spooled files stay for next time. */
static void release(struct sup *s, const struct cli *cli)
{
	session_abandon(s);
	cache_free(&s->cache);
	if (s->cache_db && s->cache_db != s->db)
		store_close(s->cache_db);
	store_close(s->db);
	prompts_free(&s->prompts);
	job_free(&s->job);
	config_free(&s->cfg);
	for (size_t i = 0; i < s->nqueue; i++)
		free(s->queue[i].frame);
	for (size_t i = 0; i < s->ninvalid; i++)
		free(s->invalid[i].data);
	for (size_t i = 0; i < s->nspooled; i++)
		free(s->spooled[i]);
	ledger_free(&s->led);
	pbatch_free(&s->pb);
	rows_free(&s->rows);
	vecs_free(&s->vecs);
	buf_free(&s->result_msg);
	free(s->before.acked);
	free(s->now.acked);
	buf_free(&s->delivered_rec);
	free(s->queue);
	free(s->spooled);
	free(s->invalid);
	if (s->pid_file)
		lock_pid_file_remove(cli->state_dir);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
}

/* (proc_init does it again, and says why, if it fails here) */
static void begin_early(struct sup *s)
{
	char err[512];
	if (proc_begin(s, err, sizeof err))
		log_debug("%s", err);
}

static int run_command(const struct cli *cli, int resume)
{
	static struct sup s;
	char err[1024] = "";
	log_set_tag("sup");
	int code;
	if (cli->detach && (code = run_detach(cli->state_dir, &s.ready_fd)) >= 0)
		return code;
	config_defaults(&s.cfg);
	s.lock_fd = -1;
	if (sig_init() < 0) {
		die_msg("cannot install signal handlers: %s", strerror(errno));
		return EXIT_INTERNAL;
	}
	code = load_settings(&s, cli, resume, err, sizeof err);
	if (!code && (check_key(&s.cfg, err, sizeof err) || check_names(&s.cfg, err, sizeof err) ||
		      check_broker_keys(&s.cfg, err, sizeof err)))
		code = EXIT_USAGE;
	/* before anything is opened or planned: a run that cannot have its workers stops now */
	if (!code && (nofile_fit((int)s.cfg.workers, err, sizeof err) ||
		      spawn_choose(&s, err, sizeof err)))
		code = EXIT_USAGE;
	if (!code && !resume)
		code = open_run(&s, cli, err, sizeof err);
	/* the cache before the plan: a cache.path that cannot be used is refused before work */
	if (!code)
		code = open_cache(&s, err, sizeof err);
	/* before the plan: a server that cannot be reached or lacks the model costs no planning;
	 * the zygote, which needs neither, loads meanwhile (it inherits the log level and the
	 * bar's flag) */
	if (!code) {
		log_export_level();
		progress_begin(&s, !cli->no_progress);
		code = servercheck_run(&s, begin_early, err, sizeof err);
	}
	if (!code && !resume)
		code = settle_plan(&s, cli, err, sizeof err);
	if (!code && load_ledger(&s)) {
		snprintf(err, sizeof err, "store: %s", store_strerror(s.db));
		code = EXIT_INTERNAL;
	}
	if (!code) {
		s.want = (int)s.cfg.workers;
		log_export_level();
		s.no_progress = cli->no_progress;
		code = supervise(&s, cli, err, sizeof err);
	}
	if (err[0])
		die_msg("%s", err);
	release(&s, cli);
	return code;
}

int start_cmd(const struct cli *cli)
{
	return run_command(cli, 0);
}

int resume_cmd(const struct cli *cli)
{
	return run_command(cli, 1);
}
