/* test_cli.c: the command table. A command's usage text names exactly the options the table
 * lets it take (so --help never offers what parsing refuses, nor hides what it accepts), and
 * parsing refuses another command's option without running anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../supervisor/cli.h"

static const char *const user_commands[] = { "plan", "start", "resume", "status", "export",
					     "report", "stop", "scale" };

/* every option but -v, -q and --help (which go with every command), as usage texts spell them */
static const struct {
	const char *name;
	const char *spelled;
} opts[] = {
	{ "config", "-c FILE" },     { "input", "-i PATH" },   { "state", "-s DIR" },
	{ "workers", "-w N" },       { "format", "-f " },      { "output", "-o " },
	{ "fresh", "--fresh" },      { "retry-failed", "--retry-failed" },
	{ "json", "--json" },        { "prometheus", "--prometheus" },
	{ "now", "--now" },          { "no-progress", "--no-progress" },
	{ "detach", "--detach" },
};

static void usage_names_what_the_table_allows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof user_commands / sizeof user_commands[0]; i++) {
		const struct cli_command *c = cli_find(user_commands[i]);
		assert_non_null(c);
		assert_non_null(c->run);
		assert_null(c->role);
		for (size_t j = 0; j < sizeof opts / sizeof opts[0]; j++) {
			int in_usage = strstr(c->usage, opts[j].spelled) != NULL;
			if (in_usage != cli_takes(c, opts[j].name))
				fail_msg("%s: usage %s --%s, the table %s it", c->name,
					 in_usage ? "offers" : "leaves out", opts[j].name,
					 in_usage ? "refuses" : "takes");
		}
	}
}

static void internal_roles_are_not_user_commands(void **state)
{
	(void)state;
	const char *roles[] = { "__worker", "__broker" };
	for (size_t i = 0; i < 2; i++) {
		const struct cli_command *c = cli_find(roles[i]);
		assert_non_null(c);
		assert_non_null(c->role);
		assert_null(c->run);
		assert_null(c->usage);
	}
	assert_null(cli_find("frobnicate"));
}

static void another_commands_option_is_refused(void **state)
{
	(void)state;
	struct cli cli;
	char *stop[] = { "stop", "-s", "d", "--fresh", NULL };
	assert_int_equal(cli_parse(&cli, 4, stop, cli_find("stop")), 2);
	cli_free(&cli);
	char *scale[] = { "scale", "-s", "d", "-w", "2", "3", NULL };
	assert_int_equal(cli_parse(&cli, 6, scale, cli_find("scale")), 2);
	cli_free(&cli);
	char *ok[] = { "scale", "-s", "d", "7", "-q", NULL };
	assert_int_equal(cli_parse(&cli, 5, ok, cli_find("scale")), -1);
	assert_int_equal(cli.scale_to, 7);
	assert_string_equal(cli.state_dir, "d");
	cli_free(&cli);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(usage_names_what_the_table_allows),
		cmocka_unit_test(internal_roles_are_not_user_commands),
		cmocka_unit_test(another_commands_option_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
