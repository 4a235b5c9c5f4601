/* keygen_cmd.c: `kgsup keygen NAME`: a CURVE key pair for a shared broker or one of its
 * clients, NAME.key (secret, 0600) and NAME.pub (curvekey.h). */
#include "../cli.h"
#include "../../common/curvekey.h"
#include "../../common/log.h"
#include "../../common/util.h"

#include <string.h>

int keygen_cmd(const struct cli *cli)
{
	char public_[ZSOCK_KEY_LEN + 1], secret[ZSOCK_KEY_LEN + 1], err[1024];
	if (!*cli->name) {
		die_msg("keygen: NAME must not be empty");
		return EXIT_USAGE;
	}
	if (zsock_curve_keypair(public_, secret) < 0) {
		die_msg("keygen: this libzmq has no CURVE support");
		return EXIT_INTERNAL;
	}
	int rc = curvekey_write(cli->name, public_, secret, err, sizeof err);
	explicit_bzero(secret, sizeof secret);
	if (rc) {
		die_msg("keygen: %s", err);
		return EXIT_USAGE;
	}
	printf("%s.key (secret, mode 0600) and %s.pub written; public key %s\n", cli->name,
	       cli->name, public_);
	return EXIT_OK;
}
