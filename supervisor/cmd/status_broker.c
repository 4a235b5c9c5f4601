/* status_broker.c: `kgsup status --broker tcp://HOST:PORT [--json]`: a shared broker's view,
 * asked over its ROUTER (MSG_BSTATUS, answered MSG_BVIEW: one JSON object, printed as it is
 * with --json): its clients (each supervisor: workers, last heard from, grants over the last
 * minute, 429s), each model's grants over the last minute against its limit, and 429s. A
 * broker with CURVE answers only an allowed client: --key and --broker-public-key. */
#include "../cli.h"
#include "../../common/curvekey.h"
#include "../../common/json.h"
#include "../../common/log.h"
#include "../../common/proto.h"
#include "../../common/util.h"
#include "../../common/zsock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_MS 3000

static double num(const json *o, const char *key)
{
	return json_number(json_get(o, key));
}

static const char *str(const json *o, const char *key)
{
	const char *s = json_string(json_get(o, key));
	return s ? s : "";
}

static void print_text(const json *v)
{
	printf("broker     %s (pid %.0f, since %s%s, %.0f client keys allowed)\n", str(v, "broker"),
	       num(v, "pid"), str(v, "started"),
	       json_kind(json_get(v, "curve")) == J_TRUE ? ", CURVE" : ", plain tcp",
	       num(v, "allowed_keys"));
	printf("grants     %.0f granted, %.0f reported, %.0f in flight\n", num(v, "granted"),
	       num(v, "reported"), num(v, "in_flight"));
	const json *clients = json_get(v, "clients");
	if (!json_first(clients))
		printf("clients    none yet\n");
	for (const json *c = json_first(clients); c; c = json_next(c))
		printf("client     %s: %.0f workers, last seen %.1f s ago (%s), %.0f grants in the "
		       "last minute, %.0f granted, %.0f answered 429\n", str(c, "client"),
		       num(c, "workers"), num(c, "seen_s_ago"), str(c, "last_seen"),
		       num(c, "grants_last_minute"), num(c, "granted"), num(c, "http_429"));
	for (const json *m = json_first(json_get(v, "models")); m; m = json_next(m)) {
		const char *model = json_string(json_get(m, "model"));
		printf("model      %s: %.0f grants in the last minute of %.0f requests a minute "
		       "(%.0f tokens), rate factor %.2f, %.0f answered 429, %.0f waiting\n",
		       model ? model : "(models not listed)", num(m, "grants_last_minute"),
		       num(m, "requests_per_minute"), num(m, "tokens_per_minute"),
		       num(m, "rate_factor"), num(m, "http_429"), num(m, "waiting"));
	}
}

/* The REQ socket to the broker: plain, or a CURVE client with the keys given. NULL with err. */
static zsock *connect_to(const struct cli *cli, char *err, size_t errlen)
{
	if (!cli->key)
		return zsock_connect(ZS_REQ, cli->broker);
	char server[ZSOCK_KEY_LEN + 1], secret[ZSOCK_KEY_LEN + 1], public_[ZSOCK_KEY_LEN + 1];
	zsock *s = NULL;
	if (!curvekey_read(cli->broker_public_key, 0, server, err, errlen) &&
	    !curvekey_read(cli->key, 1, secret, err, errlen)) {
		if (zsock_curve_public(public_, secret) < 0)
			snprintf(err, errlen, "%s: not a CURVE secret key", cli->key);
		else
			s = zsock_connect_curve(ZS_REQ, cli->broker, server, public_, secret);
	}
	explicit_bzero(secret, sizeof secret);
	return s;
}

int status_broker(const struct cli *cli)
{
	char err[1024] = "";
	if (cli->state_dir || cli->prometheus) {
		die_msg("status: --broker takes neither -s nor --prometheus");
		return EXIT_USAGE;
	}
	if (!cli->key != !cli->broker_public_key) {
		die_msg("status: --key and --broker-public-key go together (CURVE)");
		return EXIT_USAGE;
	}
	if (strncmp(cli->broker, "tcp://", 6)) {
		die_msg("status: --broker: expected tcp://HOST:PORT, got \"%s\"", cli->broker);
		return EXIT_USAGE;
	}
	zsock *s = connect_to(cli, err, sizeof err);
	if (!s) {
		die_msg("status: %s", err[0] ? err : "cannot connect to the broker");
		zsock_term();
		return err[0] ? EXIT_USAGE : EXIT_INTERNAL;
	}
	buf b;
	buf_init(&b);
	msg_encode_bstatus(&b, &(struct msg_bstatus){ .detail = 0 });
	char *frame = NULL;
	size_t len = 0;
	struct msg_bview v;
	int rc = EXIT_INTERNAL;
	if (zsock_send(s, b.data, b.len, 0) < 0 || zsock_recv(s, &frame, &len, ANSWER_MS) < 0)
		die_msg("status: broker %s did not answer in %d s (not running, or not admitting "
			"this client's key)", cli->broker, ANSWER_MS / 1000);
	else if (msg_decode_bview(frame, len, &v))
		die_msg("status: broker %s sent no view (another protocol version?)", cli->broker);
	else
		rc = EXIT_OK;
	json *view = rc == EXIT_OK ? json_parse(v.json, v.json_len, err, sizeof err) : NULL;
	if (rc == EXIT_OK && !view) {
		die_msg("status: broker %s sent a view that is not JSON: %s", cli->broker, err);
		rc = EXIT_INTERNAL;
	}
	if (view && cli->json)
		printf("%.*s\n", (int)v.json_len, v.json);
	else if (view)
		print_text(view);
	json_free(view);
	free(frame);
	buf_free(&b);
	zsock_close(s);
	zsock_term();
	return rc;
}
