/* roles.h: the entry points of kgsup's processes. kgsup.c's main hands the command line to
 * cli_main, which dispatches on the first argument through the command table
 * (supervisor/cli_commands.c); the internal roles (__worker, __broker, __check, __embed,
 * __batchop, __zygote) are how the supervisor's children come back to life after exec; a worker is
 * also forked by the zygote, which calls worker_main itself. */
#ifndef KGSUP_ROLES_H
#define KGSUP_ROLES_H

int cli_main(int argc, char **argv);    /* kgsup COMMAND ...: the command table */
int worker_main(int argc, char **argv); /* kgsup __worker SLOT DIR SESSION */
int broker_main(int argc, char **argv); /* kgsup __broker DIR SESSION */
int zygote_main(int argc, char **argv); /* kgsup __zygote DIR SESSION ZYGOTE_PAD */
int check_main(int argc, char **argv);  /* kgsup __check MODEL...: the server, before a run */
int embed_main(int argc, char **argv);  /* kgsup __embed MODEL DIMS: a search's query vector */
int batchop_main(int argc, char **argv); /* kgsup __batchop OP DIR: one Batch API call */

/* The zygote's last argument: room in its command line for a worker's slot number, so that a
 * worker it forks can show the same command line as an exec'd one (worker/zygote.c). */
#define ZYGOTE_PAD "----------"

/* How long the check waits for an answer to each of its (at most two) GETs, past the run's
 * connect timeout; the supervisor's deadline for the whole check follows from it. */
#define CHECK_TIMEOUT_MS 10000

#endif
