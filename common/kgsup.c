/* kgsup.c: main(). One binary, many roles: the first argument picks an entry of the command table
 * (supervisor/cli_commands.c), a user-facing command or an internal role the supervisor re-execs
 * its children into. main stays out of the library so unit tests can link the rest. */
#include "roles.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
