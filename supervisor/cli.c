/* cli.c: the one prologue every user command goes through: parse the options the command
 * takes (every option of every command in one table; an option it does not take is refused
 * naming it), print its usage on --help, set the log level; then where its config comes from.
 * The commands themselves are cli_commands.c's table. */
#include "cli.h"
#include "../common/log.h"
#include "../common/util.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CONFIG "etc/kgsup.json"

/* Every option of every command; bit 0: taken by all of them. */
static const struct cli_option {
	const char *name;
	char letter; /* its short form, or 0 */
	int has_arg;
	unsigned bit;
} options[] = {
	{ "config", 'c', 1, CO_CONFIG },
	{ "input", 'i', 1, CO_INPUT },
	{ "state", 's', 1, CO_STATE },
	{ "workers", 'w', 1, CO_WORKERS },
	{ "format", 'f', 1, CO_FORMAT },
	{ "output", 'o', 1, CO_OUTPUT },
	{ "fresh", 0, 0, CO_FRESH },
	{ "batch-api", 0, 0, CO_BATCH_API },
	{ "cancel", 0, 0, CO_CANCEL },
	{ "retry-failed", 0, 0, CO_RETRY_FAILED },
	{ "json", 0, 0, CO_JSON },
	{ "prometheus", 0, 0, CO_PROMETHEUS },
	{ "now", 0, 0, CO_NOW },
	{ "no-progress", 0, 0, CO_NO_PROGRESS },
	{ "detach", 0, 0, CO_DETACH },
	{ "strict", 0, 0, CO_STRICT },
	{ "slowest", 0, 1, CO_SLOWEST },
	{ "errors", 0, 0, CO_ERRORS },
	{ "stage", 0, 1, CO_STAGE },
	{ "top", 'k', 1, CO_TOP },
	{ "shard", 0, 1, CO_SHARD },
	{ "shards", 0, 1, CO_SHARD },
	{ "listen", 0, 1, CO_LISTEN },
	{ "key", 0, 1, CO_KEY },
	{ "allow", 0, 1, CO_ALLOW },
	{ "broker", 0, 1, CO_BROKER },
	{ "broker-public-key", 0, 1, CO_BROKER_PUB },
	{ "verbose", 'v', 0, 0 },
	{ "quiet", 'q', 0, 0 },
	{ "help", 'h', 0, 0 },
};

#define NOPTIONS (sizeof options / sizeof options[0])
#define LONG_VAL 256 /* getopt's value for options[i] is LONG_VAL + i */

__attribute__((format(printf, 2, 3)))
static int usage_error(const struct cli_command *cmd, const char *fmt, ...)
{
	char msg[640];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	die_msg("%s: %s (see kgsup %s --help)", cmd->name, msg, cmd->name);
	return EXIT_USAGE;
}

static int takes(const struct cli_command *cmd, const struct cli_option *o)
{
	return !o->bit || (cmd->opts & o->bit);
}

/* The option getopt returned as c (LONG_VAL + index, or a letter), or NULL. */
static const struct cli_option *option_of(int c)
{
	if (c >= LONG_VAL && c < LONG_VAL + (int)NOPTIONS)
		return &options[c - LONG_VAL];
	for (size_t i = 0; c > 0 && i < NOPTIONS; i++)
		if (options[i].letter == c)
			return &options[i];
	return NULL;
}

/* The option named by "--name" or "--name=value", among all commands', or NULL. */
static const struct cli_option *option_named(const char *arg, char *name, size_t n)
{
	snprintf(name, n, "%.*s", (int)strcspn(arg, "="), arg);
	for (size_t i = 0; i < NOPTIONS; i++)
		if (!strncmp(name, "--", 2) && !strcmp(name + 2, options[i].name))
			return &options[i];
	return NULL;
}

int cli_takes(const struct cli_command *cmd, const char *option)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (!strcmp(options[i].name, option))
			return takes(cmd, &options[i]);
	return 0;
}

/* getopt's '?' or ':' for the option at argv[optind - 1] (or optopt): a usage error naming it. */
static int option_error(const struct cli_command *cmd, int c, char **argv)
{
	char name[64];
	const struct cli_option *o = option_of(optopt);
	if (o && optopt >= LONG_VAL)
		snprintf(name, sizeof name, "--%s", o->name);
	else if (optopt)
		snprintf(name, sizeof name, "-%c", optopt);
	else
		o = option_named(argv[optind - 1], name, sizeof name);
	if (c == ':')
		return usage_error(cmd, "option %s needs a value", name);
	if (o && takes(cmd, o)) /* given a value it does not take: --now=1 */
		return usage_error(cmd, "option %s takes no value", name);
	if (o)
		return usage_error(cmd, "option %s is not one of %s's", name, cmd->name);
	return usage_error(cmd, "unknown option %s", name);
}

/* arg as a whole number from 1 to max into *out: 0, or -1. */
static int count_of(const char *arg, long max, int *out)
{
	char *end;
	long n = strtol(arg, &end, 10);
	if (!*arg || *end || n < 1 || n > max)
		return -1;
	*out = (int)n;
	return 0;
}

/* Applies one option the command takes; -1 to go on, or an exit code. */
static int apply(struct cli *cli, const struct cli_option *o, char *arg)
{
	switch (o->bit) {
	case CO_CONFIG: cli->config_path = arg; break;
	case CO_INPUT:
		cli->inputs = xrealloc(cli->inputs, (size_t)(cli->ninputs + 1) * sizeof(char *));
		cli->inputs[cli->ninputs++] = arg;
		break;
	case CO_STATE:
		if (cli->nstates && !(cli->cmd->opts & CO_STATES))
			return usage_error(cli->cmd, "takes one state directory (-s DIR)");
		cli->state_dirs = xrealloc(cli->state_dirs, (size_t)(cli->nstates + 1) * sizeof(char *));
		cli->state_dirs[cli->nstates++] = arg;
		if (!cli->state_dir)
			cli->state_dir = arg;
		break;
	case CO_WORKERS:
		if (count_of(arg, WORKERS_MAX, &cli->workers))
			return usage_error(cli->cmd, "-w takes a number from 1 to " STR(WORKERS_MAX));
		break;
	case CO_FORMAT: cli->format = arg; break;
	case CO_OUTPUT: cli->output = arg; break;
	case CO_FRESH: cli->fresh = 1; break;
	case CO_BATCH_API: cli->batch_api = 1; break;
	case CO_CANCEL: cli->cancel = 1; break;
	case CO_RETRY_FAILED: cli->retry_failed = 1; break;
	case CO_JSON: cli->json = 1; break;
	case CO_PROMETHEUS: cli->prometheus = 1; break;
	case CO_NOW: cli->now = 1; break;
	case CO_NO_PROGRESS: cli->no_progress = 1; break;
	case CO_DETACH: cli->detach = 1; break;
	case CO_STRICT: cli->strict = 1; break;
	case CO_SLOWEST:
		if (count_of(arg, 100000, &cli->slowest))
			return usage_error(cli->cmd, "--slowest takes a number from 1 to 100000");
		break;
	case CO_ERRORS: cli->errors = 1; break;
	case CO_STAGE: cli->stage = arg; break;
	case CO_TOP:
		if (count_of(arg, 10000, &cli->top_k))
			return usage_error(cli->cmd, "-k takes a number from 1 to 10000");
		break;
	case CO_SHARD:
		if (!strcmp(o->name, "shard"))
			cli->shard_spec = arg;
		else if (count_of(arg, SHARD_MAX, &cli->shards))
			return usage_error(cli->cmd, "--shards takes a number from 1 to %d", SHARD_MAX);
		break;
	case CO_LISTEN: cli->listen = arg; break;
	case CO_KEY: cli->key = arg; break;
	case CO_ALLOW: cli->allow = arg; break;
	case CO_BROKER: cli->broker = arg; break;
	case CO_BROKER_PUB: cli->broker_public_key = arg; break;
	default:
		if (o->letter == 'v')
			log_set_level(log_get_level() + 1);
		else if (o->letter == 'q')
			log_set_level(LOG_WARN);
		else {
			fputs(cli->cmd->usage, stdout);
			return EXIT_OK;
		}
	}
	return -1;
}

/* getopt's tables for the options cmd takes, and only those. */
static void getopt_tables(const struct cli_command *cmd, struct option *longs, char *shorts)
{
	size_t nl = 0, ns = 0;
	shorts[ns++] = ':'; /* a missing value is ':', told apart from an unknown option */
	for (size_t i = 0; i < NOPTIONS; i++) {
		if (!takes(cmd, &options[i]))
			continue;
		longs[nl++] = (struct option){ options[i].name, options[i].has_arg ? required_argument
										    : no_argument,
					       NULL, LONG_VAL + (int)i };
		if (options[i].letter) {
			shorts[ns++] = options[i].letter;
			if (options[i].has_arg)
				shorts[ns++] = ':';
		}
	}
	longs[nl] = (struct option){ 0, 0, 0, 0 };
	shorts[ns] = '\0';
}

/* After the options: the operand (kgsup scale N), and the state directory a command needs. */
static int check_rest(struct cli *cli, int argc, char **argv)
{
	const struct cli_command *cmd = cli->cmd;
	if (cmd->operand == OPERAND_TEXT) {
		if (optind >= argc || !*argv[optind])
			return usage_error(cmd, "takes the text to search for");
		cli->text = argv[optind++];
	} else if (cmd->operand == OPERAND_WORKERS) {
		char *end = NULL;
		long n = optind < argc ? strtol(argv[optind], &end, 10) : 0;
		if (optind >= argc || *end || n < 1 || n > WORKERS_MAX)
			return usage_error(cmd, "takes a number of workers from 1 to " STR(WORKERS_MAX));
		cli->scale_to = (int)n;
		optind++;
	}
	if ((cmd->opts & CO_NAME) && optind < argc)
		cli->name = argv[optind++];
	else if (cmd->opts & CO_NAME)
		return usage_error(cmd, "needs a NAME");
	if (optind < argc)
		return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if ((cmd->opts & CO_STATE) && !cli->state_dir && !cli->broker)
		return usage_error(cmd, "needs a state directory (-s DIR)");
	for (int i = 0; i < cli->nstates; i++)
		if (!*cli->state_dirs[i])
			return usage_error(cmd, "-s needs a directory");
	char err[512];
	if (shard_parse(cli->shard_spec, cli->shards, &cli->shard, err, sizeof err))
		return usage_error(cmd, "%s", err);
	return -1;
}

int cli_parse(struct cli *cli, int argc, char **argv, const struct cli_command *cmd)
{
	struct option longs[NOPTIONS + 1];
	char shorts[2 * NOPTIONS + 2];
	memset(cli, 0, sizeof *cli);
	cli->cmd = cmd;
	getopt_tables(cmd, longs, shorts);
	optind = 1;
	opterr = 0;
	int c, rc;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct cli_option *o = option_of(c);
		if (c == '?' || c == ':' || !o)
			return option_error(cmd, c, argv);
		if ((rc = apply(cli, o, optarg)) >= 0)
			return rc;
	}
	return check_rest(cli, argc, argv);
}

void cli_free(struct cli *cli)
{
	free(cli->inputs);
	cli->inputs = NULL;
	free(cli->state_dirs);
	cli->state_dirs = NULL;
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
