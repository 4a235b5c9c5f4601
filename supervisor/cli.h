/* cli.h: kgsup's commands, in one table (cli_commands.c): each command's name, handler, usage text
 * and the options it takes. Dispatch, the usage text and the option parsing (cli.c) all come from
 * it, so an option a command does not take is refused naming it. Where the config comes from:
 * -c FILE, else ./etc/kgsup.json when present, else the built-in defaults; flags override. */
#ifndef KGSUP_CLI_H
#define KGSUP_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "../common/config.h"
#include "shard.h"

/* The options a command may take, one bit each. -v, -q and --help go with every command. */
enum cli_opt {
	CO_CONFIG = 1u << 0,       /* -c FILE */
	CO_INPUT = 1u << 1,        /* -i PATH, repeatable */
	CO_STATE = 1u << 2,        /* -s DIR: a command that takes it needs it */
	CO_WORKERS = 1u << 3,      /* -w N */
	CO_FORMAT = 1u << 4,       /* -f FORMAT */
	CO_OUTPUT = 1u << 5,       /* -o PATH */
	CO_FRESH = 1u << 6,        /* --fresh */
	CO_RETRY_FAILED = 1u << 7, /* --retry-failed */
	CO_JSON = 1u << 8,         /* --json */
	CO_PROMETHEUS = 1u << 9,   /* --prometheus */
	CO_NOW = 1u << 10,         /* --now */
	CO_NO_PROGRESS = 1u << 11, /* --no-progress */
	CO_DETACH = 1u << 12,      /* --detach */
	CO_STRICT = 1u << 13,      /* --strict */
	CO_SLOWEST = 1u << 14,     /* --slowest N */
	CO_ERRORS = 1u << 15,      /* --errors */
	CO_STAGE = 1u << 16,       /* --stage NAME */
	CO_TOP = 1u << 17,         /* -k N */
	CO_SHARD = 1u << 18,       /* --shard I/N|auto, --shards N */
	CO_STATES = 1u << 19,      /* -s DIR may be repeated: several shards' runs together */
	CO_BATCH_API = 1u << 20,   /* --batch-api: through the provider's Batch API */
	CO_CANCEL = 1u << 21,      /* --cancel */
	/* a shared broker (kgsup broker, keygen, status --broker) */
	CO_LISTEN = 1u << 24,      /* --listen tcp://ADDR:PORT */
	CO_KEY = 1u << 25,         /* --key FILE: a CURVE secret key */
	CO_ALLOW = 1u << 26,       /* --allow DIR: the clients' public keys */
	CO_BROKER = 1u << 27,      /* --broker tcp://HOST:PORT (status: -s is then not needed) */
	CO_BROKER_PUB = 1u << 28,  /* --broker-public-key FILE */
	CO_NAME = 1u << 29,        /* one NAME operand: kgsup keygen NAME */
};

/* What a command takes after its options. */
enum cli_operand {
	OPERAND_NONE = 0,
	OPERAND_WORKERS, /* a worker count N (1-WORKERS_MAX): kgsup scale N */
	OPERAND_TEXT,    /* one text: kgsup search "query" */
};

struct cli;

struct cli_command {
	const char *name;
	/* a user command: runs after the shared prologue (options parsed, --help, log level) */
	int (*run)(const struct cli *cli);
	/* an internal role (__worker, __broker): the supervisor's children after exec; it reads
	 * its own arguments and is not listed in the usage */
	int (*role)(int argc, char **argv);
	unsigned opts;         /* enum cli_opt bits */
	int operand;           /* what follows the options (enum cli_operand) */
	const char *summary;   /* one line for `kgsup --help` */
	const char *usage;     /* `kgsup NAME --help` */
};

struct cli {
	const struct cli_command *cmd;
	const char *config_path;
	const char *state_dir; /* the first -s */
	char **state_dirs;     /* every -s, in order (CO_STATES: more than one); cli_states() */
	int nstates;
	char **inputs;
	int ninputs;
	int workers; /* 0: from the config */
	int fresh;
	int batch_api; /* --batch-api */
	int cancel;    /* --cancel */
	int retry_failed;
	int json;
	int prometheus;
	int now;
	int no_progress;
	int scale_to; /* kgsup scale N */
	int detach;   /* --detach */
	int strict;   /* --strict: an input that cannot be read refuses the run */
	int slowest;  /* kgsup trace --slowest N; 0: not asked */
	int errors;   /* kgsup trace --errors */
	const char *format;
	const char *output;
	const char *stage; /* --stage NAME */
	int top_k;         /* -k N; 0: not given */
	const char *text;  /* the OPERAND_TEXT */
	const char *shard_spec; /* --shard as given */
	int shards;             /* --shards N (0: not given) */
	struct shard shard;     /* --shard resolved (count 0: none given) */
	const char *listen, *key, *allow, *broker, *broker_public_key; /* a shared broker's */
	const char *name; /* CO_NAME's operand */
};

/* The handlers of the user commands. */
int plan_cmd(const struct cli *cli);   /* cmd/plan_cmd.c */
int start_cmd(const struct cli *cli);  /* run.c */
int resume_cmd(const struct cli *cli); /* run.c */
int status_cmd(const struct cli *cli); /* cmd/status_cmd.c */
int export_cmd(const struct cli *cli); /* cmd/export_cmd.c */
int report_cmd(const struct cli *cli); /* cmd/report_cmd.c */
int stop_cmd(const struct cli *cli);   /* cmd/stop_scale_cmd.c */
int scale_cmd(const struct cli *cli);  /* cmd/stop_scale_cmd.c */
int trace_cmd(const struct cli *cli);  /* cmd/trace_cmd.c */
int search_cmd(const struct cli *cli); /* cmd/search_cmd.c */
int broker_cmd(const struct cli *cli); /* cmd/broker_cmd.c */
int keygen_cmd(const struct cli *cli); /* cmd/keygen_cmd.c */
int batches_cmd(const struct cli *cli); /* cmd/batches_cmd.c */
int status_broker(const struct cli *cli); /* cmd/status_broker.c: status --broker */

/* cli_main (roles.h), kgsup's main: picks the command of argv[1] and runs it. */
/* The command called name, or NULL. */
const struct cli_command *cli_find(const char *name);
/* Whether cmd takes the option of that long name ("fresh"). */
int cli_takes(const struct cli_command *cmd, const char *option);
/* Parses a command's arguments (argv[0] is its name). Returns -1 to go on, or the exit code to
 * return at once (help printed, or a usage error reported). */
int cli_parse(struct cli *cli, int argc, char **argv, const struct cli_command *cmd);
void cli_free(struct cli *cli);
/* The state directories given: state_dirs, or state_dir alone (a cli made by hand); *n of them. */
static inline char *const *cli_states(const struct cli *cli, int *n)
{
	*n = cli->nstates ? cli->nstates : 1;
	return cli->nstates ? cli->state_dirs : (char *const *)&cli->state_dir;
}
/* Loads the config the options name and applies the flags over it. */
int cli_load_config(const struct cli *cli, struct config *cfg, char *err, size_t errlen);

#endif
