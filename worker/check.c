/* check.c: the look at the server before a run, `kgsup __check MODEL...`. The supervisor
 * never loads libcurl (it forks workers), so it execs this once, like a worker, with the run's
 * settings (config JSON) on standard input. It asks GET {base_url}/models with the run's key
 * and says by its exit code what it found, with the user's one line on standard output:
 *   0            go on (a warning logged where the server could not say)
 *   EXIT_USAGE   the server cannot be reached: refused, DNS, TLS verification, a timeout
 *   EXIT_ABORTED it lists its models and a model of the run is not among them, or it lists
 *                them only under /v1 and base_url lacks it */
#include "http.h"
#include "../common/answer.h"
#include "../common/json.h"
#include "../common/log.h"
#include "../common/roles.h"
#include "../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SETTINGS_MAX (64 << 20)

struct look {
	http_client *http;
	struct http_response resp;
	char base[512];      /* base_url without its trailing slashes */
	char msg[1024];      /* the line for the user, when the run must not go on */
};

/* The names a model list gives: OpenAI's {"data": [{"id"}]} (vLLM, llama.cpp, Ollama's /v1
 * too), or {"models": [{"name" or "model"}]}. NULL when the body is neither. */
static const json *model_list(const json *root, const char **field)
{
	const json *l = json_get(root, "data");
	*field = "id";
	if (json_kind(l) == J_ARRAY)
		return l;
	l = json_get(root, "models");
	*field = "name";
	return json_kind(l) == J_ARRAY ? l : NULL;
}

static const char *entry_name(const json *e, const char *field)
{
	const char *s = json_string(json_get(e, field));
	return s ? s : json_string(json_get(e, "model"));
}

/* Whether the list names model: as it is, or with Ollama's default tag. */
static int listed(const json *list, const char *field, const char *model)
{
	size_t n = strlen(model);
	for (const json *e = json_first(list); e; e = json_next(e)) {
		const char *id = entry_name(e, field);
		if (id && (!strcmp(id, model) ||
			   (!strchr(model, ':') && !strncmp(id, model, n) && !strcmp(id + n, ":latest"))))
			return 1;
	}
	return 0;
}

/* "a, b, c" (the first few) into b. */
static void some_names(buf *b, const json *list, const char *field, int *count)
{
	*count = 0;
	for (const json *e = json_first(list); e; e = json_next(e)) {
		const char *id = entry_name(e, field);
		if (id && (*count)++ < 8)
			buf_printf(b, "%s%s", *count > 1 ? ", " : "", id);
	}
	if (*count > 8)
		buf_puts(b, ", ...");
}

/* A 200 from /models: every model of the run must be listed. */
static int check_listed(struct look *l, char **models, int nmodels)
{
	json *root = json_parse(l->resp.body.data ? l->resp.body.data : "", l->resp.body.len, NULL, 0);
	const char *field;
	const json *list = root ? model_list(root, &field) : NULL;
	int rc = 0;
	if (!list || !json_first(list)) {
		log_warn("GET %s/models answered no list of models; the model names are not checked "
			 "before the run", l->base);
	} else {
		for (int i = 0; i < nmodels && !rc; i++) {
			if (listed(list, field, models[i]))
				continue;
			buf names;
			buf_init(&names);
			int count;
			some_names(&names, list, field, &count);
			/* (in the words of a call's unknown model, call.c) */
			snprintf(l->msg, sizeof l->msg, "unknown model \"%s\" at %s: the server lists %d "
				 "model%s (%s); set api.model, or the stage's model, to one of them",
				 models[i], l->base, count, count == 1 ? "" : "s", buf_cstr(&names));
			buf_free(&names);
			rc = EXIT_ABORTED;
		}
	}
	json_free(root);
	return rc;
}

static int ends_in_v1(const char *base)
{
	size_t n = strlen(base);
	return n >= 3 && !strcmp(base + n - 3, "/v1");
}

/* /models is not there: the server may not have it (a warning), or base_url may lack /v1, which
 * the server's /v1/models then shows (the fix is said, and the run does not start). */
static int endpoint_missing(struct look *l)
{
	long status = l->resp.status;
	if (!ends_in_v1(l->base) && http_get(l->http, "/v1/models", CHECK_TIMEOUT_MS, &l->resp) == 0 &&
	    l->resp.status == 200) {
		snprintf(l->msg, sizeof l->msg, "the server at %s answers %ld for %s/models but lists its "
			 "models at %s/v1/models: set api.base_url to \"%s/v1\"", l->base, status,
			 l->base, l->base, l->base);
		return EXIT_ABORTED;
	}
	log_warn("the server at %s does not list its models (GET %s/models: HTTP %ld); the model "
		 "names are not checked before the run%s", l->base, l->base, status,
		 ends_in_v1(l->base) ? "" : " (if its calls answer 404 too, api.base_url may need /v1)");
	return 0;
}

static int look(struct look *l, char **models, int nmodels)
{
	http_get(l->http, "/models", CHECK_TIMEOUT_MS, &l->resp);
	long s = l->resp.status;
	if (l->resp.connect_failed) {
		snprintf(l->msg, sizeof l->msg, "cannot connect to %s: %s", l->base, l->resp.error);
		return EXIT_USAGE;
	}
	if (l->resp.transport_error) {
		log_warn("GET %s/models: %s; the model names are not checked before the run", l->base,
			 l->resp.error);
		return 0;
	}
	if (s == 200)
		return check_listed(l, models, nmodels);
	if (s == 404 || s == 405 || s == 501)
		return endpoint_missing(l);
	char *said = answer_error_message(l->resp.body.data ? l->resp.body.data : "", l->resp.body.len);
	log_warn("GET %s/models answered HTTP %ld%s%s; the model names are not checked before the "
		 "run", l->base, s, said ? ": " : "", said ? said : "");
	free(said);
	return 0;
}

/* The run's settings, as the supervisor wrote them to our standard input. */
static int read_settings(struct config *cfg, char *err, size_t errlen)
{
	buf in;
	buf_init(&in);
	char chunk[65536];
	ssize_t n;
	while ((n = read(0, chunk, sizeof chunk)) > 0 && in.len < SETTINGS_MAX)
		buf_put(&in, chunk, (size_t)n);
	config_defaults(cfg);
	int rc = n < 0 ? (snprintf(err, errlen, "cannot read the run's settings"), -1)
		       : config_parse(cfg, in.data ? in.data : "", in.len, "the run's settings", err,
				      errlen);
	buf_free(&in);
	return rc;
}

int check_main(int argc, char **argv)
{
	if (argc < 2) {
		die_msg("__check is internal: started by the supervisor");
		return EXIT_USAGE;
	}
	log_set_tag("check");
	log_level_from_env();
	static struct look l;
	struct config cfg;
	char err[512];
	char *key = NULL;
	int rc = EXIT_INTERNAL;
	if (read_settings(&cfg, err, sizeof err) || !(key = config_api_key(&cfg, err, sizeof err)) ||
	    http_global_init(err, sizeof err) ||
	    !(l.http = http_new(&cfg, key, NULL, NULL, err, sizeof err))) {
		log_error("%s", err);
	} else {
		snprintf(l.base, sizeof l.base, "%s", cfg.base_url);
		for (size_t n = strlen(l.base); n && l.base[n - 1] == '/'; n--)
			l.base[n - 1] = '\0';
		http_response_init(&l.resp);
		rc = look(&l, argv + 1, argc - 1);
		if (rc)
			printf("%s\n", l.msg);
		http_response_free(&l.resp);
		http_free(l.http);
		http_global_cleanup();
	}
	config_forget_key(key);
	config_free(&cfg);
	return rc;
}
