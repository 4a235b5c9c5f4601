/* cli_commands.c: the command table and kgsup's main (cli_main): each command's name, handler,
 * usage text and the options it takes, so that dispatch, `kgsup --help` and each command's
 * --help all come from one place; cli.c parses the options a command takes. */
#include "cli.h"
#include "../common/log.h"
#include "../common/paths.h"
#include "../common/roles.h"
#include "../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct cli_command commands[] = {
	{ "plan", plan_cmd, NULL, CO_INPUT | CO_CONFIG | CO_JSON | CO_OUTPUT | CO_STRICT | CO_BATCH_API,
	  0, "what a run would send and cost, without sending anything",
	  "kgsup plan -i PATH [-i PATH...] [-c FILE] [--json] [-o FILE] [--strict] [--batch-api]\n"
	  "  Plans the inputs as start would and prints chunks, batches, estimated tokens and\n"
	  "  cost, sending nothing. -o FILE writes each request body as one line. --batch-api\n"
	  "  also prices it through the Batch API (pricing.batch_discount off).\n" },
	{ "start", start_cmd, NULL,
	  CO_INPUT | CO_STATE | CO_CONFIG | CO_WORKERS | CO_FRESH | CO_NO_PROGRESS | CO_DETACH |
		  CO_STRICT | CO_SHARD | CO_BATCH_API, 0,
	  "plan the transcripts and run them through the API",
	  "kgsup start -i PATH [-i PATH...] -s DIR [-c FILE] [-w N] [--fresh] [-v|-q]\n"
	  "            [--no-progress] [--detach] [--strict] [--shard I/N | --shard auto [--shards N]]\n"
	  "            [--batch-api]\n"
	  "  Plans the transcripts under PATH and runs them through the API; continues the\n"
	  "  run in DIR if it holds the same inputs and settings.\n"
	  "  -i PATH   file or directory (recursive; .txt .md .vtt .srt .jsonl), repeatable\n"
	  "  -s DIR    state directory (plan, results, cache, sockets)\n"
	  "  -c FILE   config (default: ./etc/kgsup.json if present, else built-in defaults)\n"
	  "  -w N      workers (overrides run.workers)\n"
	  "  --fresh   throw away the run in DIR (its cache is kept) and plan anew\n"
	  "  --no-progress  no progress bar on a terminal: a log line every 10 s\n"
	  "  --detach  run in the background once planned: DIR/kgsup.pid, DIR/kgsup.log\n"
	  "  --strict  an input that cannot be read (binary, unreadable) refuses the run;\n"
	  "            without it, it is skipped with a warning and counted\n"
	  "  --shard I/N  run shard I (from 0) of N: the documents whose text hashes to I;\n"
	  "            each shard in a state directory of its own, merged by export -s ... -s ...\n"
	  "  --shard auto  I and N from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, or from\n"
	  "            JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) with --shards N\n"
	  "  --batch-api  send through the provider's Batch API (run.mode \"batch\"): half the\n"
	  "            price, answers within batch.completion_window; resume picks it up\n" },
	{ "resume", resume_cmd, NULL,
	  CO_STATE | CO_WORKERS | CO_RETRY_FAILED | CO_NO_PROGRESS | CO_DETACH | CO_SHARD, 0,
	  "continue a run with its recorded settings",
	  "kgsup resume -s DIR [-w N] [--retry-failed] [-v|-q] [--no-progress] [--detach]\n"
	  "             [--shard I/N | --shard auto [--shards N]]\n"
	  "  Continues the run in DIR with the settings it was started with.\n"
	  "  --retry-failed  give batches that failed for good another round\n"
	  "  --shard   refuse unless DIR holds that shard (it keeps the one it was started as)\n" },
	{ "status", status_cmd, NULL,
	  CO_STATE | CO_STATES | CO_JSON | CO_PROMETHEUS | CO_BROKER | CO_KEY | CO_BROKER_PUB, 0,
	  "progress of a run, live or finished (--json); a shared broker's view (--broker)",
	  "kgsup status -s DIR [-s DIR...] [--json | --prometheus]\n"
	  "kgsup status --broker tcp://HOST:PORT [--json] [--key CLIENT.key\n"
	  "             --broker-public-key BROKER.pub]\n"
	  "  Shows the progress of the run in DIR, live or finished; --prometheus prints the\n"
	  "  counters in Prometheus text format. Several -s (the shards of a run): their sum.\n"
	  "  --broker: the view of a shared broker (kgsup broker): its clients, each one's\n"
	  "  rate over the last minute, each model's total against its limit, 429s. A broker\n"
	  "  with CURVE needs an allowed client key and the broker's public key.\n" },
	{ "broker", broker_cmd, NULL, CO_LISTEN | CO_CONFIG | CO_KEY | CO_ALLOW, 0,
	  "a rate-limit broker shared by several supervisors (other machines)",
	  "kgsup broker --listen tcp://ADDR:PORT -c FILE [--key BROKER.key --allow DIR]\n"
	  "  Paces the requests of every supervisor whose config names it (limits.broker) to\n"
	  "  the limits of FILE (limits.*). Asks come to PORT, reports to PORT+1.\n"
	  "  --key FILE  speak CURVE with this secret key (kgsup keygen); then\n"
	  "  --allow DIR admit only clients whose public key is a *.pub file in DIR (read\n"
	  "              again on SIGHUP). Without --key, ADDR must be loopback.\n"
	  "  Runs until SIGTERM or SIGINT.\n" },
	{ "keygen", keygen_cmd, NULL, CO_NAME, 0,
	  "a CURVE key pair for a shared broker or its clients",
	  "kgsup keygen NAME\n"
	  "  Writes NAME.key (the secret key, mode 0600) and NAME.pub (the public key); an\n"
	  "  existing file is never overwritten.\n" },
	{ "export", export_cmd, NULL, CO_STATE | CO_STATES | CO_FORMAT | CO_OUTPUT | CO_STAGE, 0,
	  "write the knowledge graph, the answers, the invalid answers, a table's rows, or vectors",
	  "kgsup export -s DIR [-s DIR...] [-f jsonl|csv|cypher|graphml|kuzu|invalid|results|tree|\n"
	  "             xlsx|vectors|npy|merges] [-o PATH] [--stage NAME]\n"
	  "  Several -s: the shards of one run (start --shard), merged as the run of one\n"
	  "  machine over the whole corpus would have written it.\n"
	  "  Writes the merged knowledge graph (default jsonl to standard output; csv needs\n"
	  "  -o DIR for nodes.csv and relationships.csv, kuzu -o DIR for those and\n"
	  "  load.cypher: kuzu DB < DIR/load.cypher); -f invalid writes the answers that\n"
	  "  failed validation, kept for inspection; -f results one line per answer;\n"
	  "  -f tree -o DIR a file per document and stage, and DIR/metadata.json.\n"
	  "  A run over rows of tables: -f csv [-o FILE] and -f xlsx -o FILE write a line per\n"
	  "  input row in input order: its id, its kept columns, then the answer's fields\n"
	  "  (nested objects as a.b, arrays joined with \"; \"), empty where it has none.\n"
	  "  -f vectors [-o FILE]: a JSON line per embedding vector (chunks, then entities);\n"
	  "  -f npy -o DIR: DIR/vectors.npy (float32, rows x dimensions) and DIR/ids.tsv;\n"
	  "  --stage NAME: only that embedding stage's vectors. -f merges [-o FILE]: the\n"
	  "  entities merged by graph.resolve, with their cosine (TSV).\n" },
	{ "report", report_cmd, NULL, CO_STATE | CO_JSON, 0,
	  "summarise a run over rows: values of the answers' fields, NPS (--json)",
	  "kgsup report -s DIR [--json]\n"
	  "  Summarises the run over rows in DIR (live or finished): rows, skipped and\n"
	  "  duplicate; per stage the texts answered, from the cache and not; for each enum or\n"
	  "  boolean field of its items the count and share of each value, for each number its\n"
	  "  min, mean and max; with report.score_column set, the Net Promoter Score (% of\n"
	  "  9-10 less % of 0-6) and its 0-100 form. --json prints one JSON object.\n" },
	{ "stop", stop_cmd, NULL, CO_STATE | CO_NOW, 0,
	  "stop a live run gracefully (--now: abandon calls in flight)",
	  "kgsup stop -s DIR [--now]\n"
	  "  Stops the live run in DIR gracefully and waits until it has exited.\n"
	  "  --now  abandon the calls in flight instead of waiting for them\n" },
	{ "scale", scale_cmd, NULL, CO_STATE, OPERAND_WORKERS,
	  "change the number of workers of a live run",
	  "kgsup scale N -s DIR\n"
	  "  Sets the number of workers of the live run in DIR to N (1-" STR(WORKERS_MAX) "): new workers\n"
	  "  start; surplus ones hand back the batches they have not started, finish a call in\n"
	  "  flight, and exit.\n" },
	{ "trace", trace_cmd, NULL, CO_STATE | CO_JSON | CO_SLOWEST | CO_ERRORS, 0,
	  "the requests of a run, one by one: the slowest, the failed",
	  "kgsup trace -s DIR [--slowest N] [--errors] [--json]\n"
	  "  Reads DIR/trace.jsonl (and trace.1.jsonl, the older part): a line per request\n"
	  "  made and per batch answered from the cache. Without options: a summary.\n"
	  "  --slowest N  the N slowest requests, with where their time went\n"
	  "  --errors     every request that failed, with its cause and the server's message\n"
	  "  --json       the chosen lines as they are in the file (all of them alone)\n" },
	{ "batches", batches_cmd, NULL, CO_STATE | CO_JSON | CO_CANCEL, 0,
	  "a run's Batch API parts and provider batches; --cancel cancels them",
	  "kgsup batches -s DIR [--json] [--cancel]\n"
	  "  Lists the parts of a run sent through the Batch API (start --batch-api): each\n"
	  "  file, its provider batch, status and counts. --cancel cancels the provider\n"
	  "  batches still running (stop leaves them at the provider; resume picks them up).\n" },
	{ "search", search_cmd, NULL, CO_STATE | CO_STATES | CO_JSON | CO_TOP | CO_STAGE, OPERAND_TEXT,
	  "the chunks and entities nearest to a text, by their embedding vectors",
	  "kgsup search -s DIR [-s DIR...] [-k N] [--stage NAME] [--json] \"QUERY\"\n"
	  "  Embeds QUERY with the model and dimensions of the run's embedding stage over\n"
	  "  chunks (one call; the vector is kept in DIR/search/ so asking again costs\n"
	  "  nothing) and prints the N (default 10) nearest chunks by cosine similarity:\n"
	  "  the similarity, the document, the cue times of .vtt/.srt chunks and the text's\n"
	  "  first line; then the N nearest entities when a stage embeds entities.\n"
	  "  Several -s: the shards of one run (start --shard), searched as the run (the\n"
	  "  query's vector kept in the first DIR's search/).\n"
	  "  --stage NAME  search that embedding stage only\n"
	  "  --json        one JSON array of the hits, for scripts\n" },
	{ "__worker", NULL, worker_main, 0, 0, NULL, NULL }, /* kgsup __worker SLOT DIR SESSION */
	{ "__broker", NULL, broker_main, 0, 0, NULL, NULL }, /* kgsup __broker DIR SESSION */
	{ "__zygote", NULL, zygote_main, 0, 0, NULL, NULL }, /* kgsup __zygote DIR SESSION PAD */
	{ "__check", NULL, check_main, 0, 0, NULL, NULL },   /* kgsup __check MODEL... */
	{ "__embed", NULL, embed_main, 0, 0, NULL, NULL },   /* kgsup __embed MODEL DIMS */
	{ "__batchop", NULL, batchop_main, 0, 0, NULL, NULL }, /* kgsup __batchop OP DIR */
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

const struct cli_command *cli_find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* Where the example config is: installed next to this binary (BINDIR/../share/kgsup), or in
 * the source tree it was built in. */
static const char *example_config(char *out, size_t n)
{
	char self[PATHS_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len <= 0)
		return "etc/kgsup.json in the source tree";
	self[len] = '\0';
	char *slash = strrchr(self, '/');
	if (slash) {
		*slash = '\0';
		snprintf(out, n, "%s/../share/kgsup/kgsup.json.example", self);
		char *real = realpath(out, NULL);
		if (real) {
			snprintf(out, n, "%s", real);
			free(real);
			return out;
		}
	}
	return "etc/kgsup.json in the source tree";
}

static void usage(FILE *f)
{
	fprintf(f, "usage: kgsup COMMAND [OPTIONS]   (kgsup COMMAND --help for its options)\n\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!commands[i].role)
			fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nevery command also takes -v (more logging), -q (warnings and errors only) and\n"
		   "--help\n"
		   "\nexit codes: 0 done, 2 usage/config/input error, 3 some batches failed,\n"
		   "            4 the API refused us, 75 stopped before done (resumable)\n"
		   "\nthe API key: in the environment variable OPENAI_API_KEY (api.api_key_env names\n"
		   "another), or a 0600 file named by api.api_key_file; never on the command line\n");
	char example[PATHS_MAX];
	fprintf(f, "an example config with every key: %s; the manual: man kgsup\n",
		example_config(example, sizeof example));
}

int cli_main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("kgsup %s\n", KGSUP_VERSION);
		return EXIT_OK;
	}
	const struct cli_command *cmd = cli_find(argv[1]);
	if (!cmd) {
		die_msg("unknown command '%s' (see kgsup --help)", argv[1]);
		return EXIT_USAGE;
	}
	if (cmd->role)
		return cmd->role(argc - 1, argv + 1);
	struct cli cli;
	int rc = cli_parse(&cli, argc - 1, argv + 1, cmd);
	if (rc < 0)
		rc = cmd->run(&cli);
	cli_free(&cli);
	return rc;
}
