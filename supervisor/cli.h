/* cli.h: command-line options of the user-facing commands, and where the config comes from:
 * -c FILE, else ./etc/kgsup.json when present, else the built-in defaults; flags override. */
#ifndef KGSUP_CLI_H
#define KGSUP_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "../common/config.h"

enum cli_command { CLI_START, CLI_RESUME, CLI_STATUS, CLI_EXPORT, CLI_STOP, CLI_PLAN, CLI_SCALE };

struct cli {
	enum cli_command cmd;
	const char *config_path;
	const char *state_dir;
	char **inputs;
	int ninputs;
	int workers; /* 0: from the config */
	int fresh;
	int retry_failed;
	int json;
	int prometheus;
	int now;
	int no_progress;
	int scale_to; /* kgsup scale N */
	int detach;   /* --detach */
	const char *format;
	const char *output;
};

/* Returns -1 to go on, or the exit code to return at once (help printed, or a usage error). */
int cli_parse(struct cli *cli, int argc, char **argv, enum cli_command cmd);
void cli_free(struct cli *cli);
/* Loads the config the options name and applies the flags over it. */
int cli_load_config(const struct cli *cli, struct config *cfg, char *err, size_t errlen);
/* Prints the usage of a command (or of kgsup) to f. */
void cli_usage(FILE *f, const char *command);

#endif
