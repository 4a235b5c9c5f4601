/* broker_cmd.c: `kgsup broker --listen tcp://ADDR:PORT -c FILE [--key K --allow DIR]`: the
 * rate-limit broker on its own, shared by the supervisors whose config names it
 * (limits.broker), on this machine or others. Asks come to PORT, reports to PORT+1
 * (endpoint.h). Plain tcp carries no authentication: it is refused off loopback, where
 * anyone could take grants or poison the broker's view with reports; with --key the sockets
 * are CURVE servers and only the clients allowed (allow.h) are heard. */
#include "../cli.h"
#include "../broker/broker.h"
#include "../../common/curvekey.h"
#include "../../common/endpoint.h"
#include "../../common/log.h"
#include "../../common/paths.h"
#include "../../common/sig.h"
#include "../../common/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int broker_cmd(const struct cli *cli)
{
	char host[256], reports[PATHS_MAX], err[1024];
	int port;
	if (!cli->listen || !cli->config_path) {
		die_msg("broker: needs --listen tcp://ADDR:PORT and -c FILE (see kgsup broker --help)");
		return EXIT_USAGE;
	}
	if (endpoint_tcp_split(cli->listen, host, sizeof host, &port) ||
	    endpoint_reports(reports, sizeof reports, cli->listen)) {
		die_msg("broker: --listen: expected tcp://ADDR:PORT with PORT 1-65534 (reports "
			"go to PORT+1), got \"%s\"", cli->listen);
		return EXIT_USAGE;
	}
	if (!cli->key != !cli->allow) {
		die_msg("broker: --key and --allow go together (CURVE, and who is admitted)");
		return EXIT_USAGE;
	}
	if (!cli->key && !endpoint_is_loopback(cli->listen)) {
		die_msg("broker: --listen %s is not loopback (127.0.0.0/8, ::1, localhost): plain "
			"tcp only there; elsewhere give --key and --allow (kgsup keygen)", cli->listen);
		return EXIT_USAGE;
	}
	char secret[ZSOCK_KEY_LEN + 1];
	if (cli->key && curvekey_read(cli->key, 1, secret, err, sizeof err)) {
		die_msg("broker: --key %s", err);
		return EXIT_USAGE;
	}
	log_set_tag("broker");
	if (sig_init() < 0) {
		die_msg("broker: cannot install signal handlers: %s", strerror(errno));
		return EXIT_INTERNAL;
	}
	struct broker_start st = { .config = cli->config_path, .asks = cli->listen,
				   .reports = reports, .secret = cli->key ? secret : NULL,
				   .allow_dir = cli->allow, .parent_fd = -1 };
	int rc = broker_run(&st);
	explicit_bzero(secret, sizeof secret);
	return rc;
}
