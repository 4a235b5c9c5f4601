/* kgsup.c: main(). One binary, many roles: the first argument picks an entry of the table,
 * user-facing commands and the internal roles the supervisor re-execs its children into. */
#include "log.h"
#include "roles.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static const struct role {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary; /* NULL: internal */
} roles[] = {
	{ "plan", plan_main, "what a run would send and cost, without sending anything" },
	{ "start", start_main, "plan the transcripts and run them through the API" },
	{ "resume", resume_main, "continue a run with its recorded settings" },
	{ "status", status_main, "progress of a run, live or finished (--json)" },
	{ "export", export_main, "write the knowledge graph (or the invalid answers kept)" },
	{ "stop", stop_main, "stop a live run gracefully (--now: abandon calls in flight)" },
	{ "scale", scale_main, "change the number of workers of a live run" },
	{ "__worker", worker_main, NULL },
	{ "__broker", broker_main, NULL },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: kgsup COMMAND [OPTIONS]   (kgsup COMMAND --help for its options)\n\n");
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
		if (roles[i].summary)
			fprintf(f, "  %-8s %s\n", roles[i].name, roles[i].summary);
	fprintf(f, "\nexit codes: 0 done, 2 usage/config/input error, 3 some batches failed,\n"
		   "            4 the API refused us, 75 stopped before done (resumable)\n");
}

int main(int argc, char **argv)
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
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
		if (!strcmp(argv[1], roles[i].name))
			return roles[i].main(argc - 1, argv + 1);
	die_msg("unknown command '%s' (see kgsup --help)", argv[1]);
	return EXIT_USAGE;
}
