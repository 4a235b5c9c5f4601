/* cli.c: option parsing for start, resume, status, export, stop and plan. */
#include "cli.h"
#include "../common/buf.h"
#include "../common/log.h"
#include "../common/util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CONFIG "etc/kgsup.json"

static const struct {
	const char *name;
	const char *usage;
} usages[] = {
	{ "plan", "kgsup plan -i PATH [-i PATH...] [-c FILE] [--json] [-o FILE]\n"
		  "  Plans the inputs as start would and prints chunks, batches, estimated tokens and\n"
		  "  cost, sending nothing. -o FILE writes each request body as one line.\n" },
	{ "start", "kgsup start -i PATH [-i PATH...] -s DIR [-c FILE] [-w N] [--fresh] [-v|-q]\n"
		   "            [--no-progress] [--detach]\n"
		   "  Plans the transcripts under PATH and runs them through the API; continues the\n"
		   "  run in DIR if it holds the same inputs and settings.\n"
		   "  -i PATH   file or directory (recursive; .txt .md .vtt .srt .jsonl), repeatable\n"
		   "  -s DIR    state directory (plan, results, cache, sockets)\n"
		   "  -c FILE   config (default: ./etc/kgsup.json if present, else built-in defaults)\n"
		   "  -w N      workers (overrides run.workers)\n"
		   "  --fresh   throw away the run in DIR (its cache is kept) and plan anew\n"
		   "  --no-progress  no progress bar on a terminal: a log line every 10 s\n"
		   "  --detach  run in the background once planned: DIR/kgsup.pid, DIR/kgsup.log\n" },
	{ "resume", "kgsup resume -s DIR [-w N] [--retry-failed] [-v|-q] [--no-progress] [--detach]\n"
		    "  Continues the run in DIR with the settings it was started with.\n"
		    "  --retry-failed  give batches that failed for good another round\n" },
	{ "status", "kgsup status -s DIR [--json | --prometheus]\n"
		    "  Shows the progress of the run in DIR, live or finished; --prometheus prints the\n"
		    "  counters in Prometheus text format.\n" },
	{ "export", "kgsup export -s DIR [-f jsonl|csv|cypher|graphml|invalid] [-o PATH]\n"
		    "  Writes the merged knowledge graph (default jsonl to standard output; csv needs\n"
		    "  -o DIR for nodes.csv and relationships.csv); -f invalid writes the answers that\n"
		    "  failed validation, kept for inspection.\n" },
	{ "stop", "kgsup stop -s DIR [--now]\n"
		  "  Stops the live run in DIR gracefully and waits until it has exited.\n"
		  "  --now  abandon the calls in flight instead of waiting for them\n" },
	{ "scale", "kgsup scale N -s DIR\n"
		   "  Sets the number of workers of the live run in DIR to N (1-1024): new workers\n"
		   "  start, surplus ones finish their batch and exit.\n" },
};

void cli_usage(FILE *f, const char *command)
{
	for (size_t i = 0; i < sizeof usages / sizeof usages[0]; i++)
		if (!command || !strcmp(command, usages[i].name))
			fprintf(f, "%s%s", usages[i].usage, command ? "" : "\n");
}

static const char *command_name(enum cli_command cmd)
{
	static const char *names[] = { "start", "resume", "status", "export", "stop", "plan",
				       "scale" };
	return names[cmd];
}

enum { OPT_FRESH = 256, OPT_RETRY_FAILED, OPT_JSON, OPT_NOW, OPT_NO_PROGRESS, OPT_HELP,
       OPT_PROMETHEUS, OPT_DETACH };

static int usage_error(enum cli_command cmd, const char *msg)
{
	die_msg("%s: %s (see kgsup %s --help)", command_name(cmd), msg, command_name(cmd));
	return EXIT_USAGE;
}

int cli_parse(struct cli *cli, int argc, char **argv, enum cli_command cmd)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "input", required_argument, NULL, 'i' },
		{ "state", required_argument, NULL, 's' },
		{ "workers", required_argument, NULL, 'w' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "fresh", no_argument, NULL, OPT_FRESH },
		{ "retry-failed", no_argument, NULL, OPT_RETRY_FAILED },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "prometheus", no_argument, NULL, OPT_PROMETHEUS },
		{ "now", no_argument, NULL, OPT_NOW },
		{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
		{ "detach", no_argument, NULL, OPT_DETACH },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 },
	};
	memset(cli, 0, sizeof *cli);
	cli->cmd = cmd;
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":c:i:s:w:f:o:vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cli->config_path = optarg; break;
		case 'i':
			cli->inputs = xrealloc(cli->inputs, (size_t)(cli->ninputs + 1) * sizeof(char *));
			cli->inputs[cli->ninputs++] = optarg;
			break;
		case 's': cli->state_dir = optarg; break;
		case 'w': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 1024)
				return usage_error(cmd, "-w takes a number from 1 to 1024");
			cli->workers = (int)n;
			break;
		}
		case 'f': cli->format = optarg; break;
		case 'o': cli->output = optarg; break;
		case 'v': log_set_level(log_get_level() + 1); break;
		case 'q': log_set_level(LOG_WARN); break;
		case OPT_FRESH: cli->fresh = 1; break;
		case OPT_RETRY_FAILED: cli->retry_failed = 1; break;
		case OPT_JSON: cli->json = 1; break;
		case OPT_PROMETHEUS: cli->prometheus = 1; break;
		case OPT_NOW: cli->now = 1; break;
		case OPT_NO_PROGRESS: cli->no_progress = 1; break;
		case OPT_DETACH: cli->detach = 1; break;
		case 'h': cli_usage(stdout, command_name(cmd)); return EXIT_OK;
		case ':': return usage_error(cmd, "an option is missing its value");
		default: return usage_error(cmd, "unknown option");
		}
	}
	if (cmd == CLI_SCALE) {
		char *end = NULL;
		long n = optind < argc ? strtol(argv[optind], &end, 10) : 0;
		if (optind >= argc || *end || n < 1 || n > 1024)
			return usage_error(cmd, "takes a number of workers from 1 to 1024");
		cli->scale_to = (int)n;
		optind++;
	}
	if (optind < argc)
		return usage_error(cmd, "unexpected argument");
	if (!cli->state_dir && cmd != CLI_PLAN)
		return usage_error(cmd, "needs a state directory (-s DIR)");
	if (cli->state_dir && !*cli->state_dir)
		return usage_error(cmd, "-s needs a directory");
	return -1;
}

void cli_free(struct cli *cli)
{
	free(cli->inputs);
	cli->inputs = NULL;
}

int cli_load_config(const struct cli *cli, struct config *cfg, char *err, size_t errlen)
{
	const char *path = cli->config_path;
	if (!path && access(DEFAULT_CONFIG, R_OK) == 0)
		path = DEFAULT_CONFIG;
	if (path && config_load(cfg, path, err, errlen))
		return -1;
	if (cli->workers > 0)
		cfg->workers = cli->workers;
	return 0;
}
