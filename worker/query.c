/* query.c: a search's query vector, `kgsup __embed MODEL DIMS`. The supervisor never loads
 * libcurl, so `kgsup search` execs this once, as the check before a run is exec'd: the run's
 * settings (config JSON), a NUL and the query text on standard input. It makes the one call
 * POST {base_url}/embeddings {"model", "input": [text], "encoding_format": "base64" (or
 * "float" with api.embeddings_base64 false), "dimensions" when DIMS > 0} with the run's key,
 * retried on 429, 5xx and transport errors as the run's retry settings say, and writes the
 * vector to standard output as an embedding answer's frame (vec.h) of one vector under its
 * key. What went wrong goes to standard error as one line, and its exit code says what it is:
 *   EXIT_USAGE    the server cannot be reached, or the settings or the key are unusable
 *   EXIT_ABORTED  the server refused the call (a key, a model, a request it will not take)
 *   EXIT_FAILED   it kept failing (429, 5xx, timeouts) past retry.max_attempts */
#include "http.h"
#include "../common/answer.h"
#include "../common/log.h"
#include "../common/roles.h"
#include "../common/util.h"
#include "../common/vec.h"
#include "../common/vec_answer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define INPUT_MAX (64 << 20)

/* Standard input: the settings, then after a NUL the text. */
static int read_input(buf *in, const char **text, size_t *len)
{
	char chunk[65536];
	ssize_t n;
	while ((n = read(0, chunk, sizeof chunk)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || in->len > INPUT_MAX)
			return -1;
		buf_put(in, chunk, (size_t)n);
	}
	const char *nul = in->data ? memchr(in->data, '\0', in->len) : NULL;
	if (!nul)
		return -1;
	*text = nul + 1;
	*len = in->len - (size_t)(nul + 1 - in->data);
	return 0;
}

static void request(buf *b, const struct config *cfg, const char *model, long dims,
		    const char *text, size_t len)
{
	buf_puts(b, "{\"model\":");
	buf_json_str(b, model, strlen(model));
	buf_puts(b, ",\"input\":[");
	buf_json_str(b, text, len);
	buf_printf(b, "],\"encoding_format\":\"%s\"", cfg->embeddings_base64 ? "base64" : "float");
	if (dims > 0)
		buf_printf(b, ",\"dimensions\":%ld", dims);
	buf_putc(b, '}');
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Whether a failed attempt is worth another: 429, a server error, a transport error. */
static int transient(const struct http_response *r)
{
	return r->transport_error || r->status == 429 || r->status >= 500 || r->status == 408;
}

/* The call, retried: 0 with the vector written, or an exit code with the line logged. */
static int embed(http_client *h, const struct config *cfg, const char *model, long dims,
		 const char *text, size_t len)
{
	buf body, out;
	buf_init(&body);
	buf_init(&out);
	request(&body, cfg, model, dims, text, len);
	struct http_response r;
	http_response_init(&r);
	int rc = EXIT_FAILED;
	int64_t wait = cfg->backoff_base_ms;
	for (int64_t attempt = 1; attempt <= cfg->max_attempts; attempt++) {
		http_response_free(&r);
		http_response_init(&r);
		http_post_to(h, "/embeddings", body.data, body.len, &r);
		if (r.connect_failed) {
			log_error("cannot connect to %s: %s", cfg->base_url, r.error);
			rc = EXIT_USAGE;
			break;
		}
		if (r.status == 200) {
			char err[256];
			int64_t prompt;
			if (vec_answer_read(body.data, body.len, r.body.data ? r.body.data : "", r.body.len,
					    &out, &prompt, err, sizeof err)) {
				log_error("POST %s/embeddings: %s", cfg->base_url, err);
				rc = EXIT_ABORTED;
				break;
			}
			rc = fwrite(out.data, 1, out.len, stdout) == out.len && fflush(stdout) == 0
				     ? EXIT_OK : EXIT_INTERNAL;
			break;
		}
		char *said = answer_error_message(r.body.data ? r.body.data : "", r.body.len);
		if (!transient(&r) || attempt == cfg->max_attempts) {
			if (r.status)
				log_error("POST %s/embeddings: HTTP %ld%s%s", cfg->base_url, r.status,
					  said ? ": " : "", said ? said : "");
			else
				log_error("POST %s/embeddings: %s", cfg->base_url, r.error);
			free(said);
			rc = transient(&r) ? EXIT_FAILED : EXIT_ABORTED;
			break;
		}
		free(said);
		int64_t d = r.limits.retry_after_ms > wait ? r.limits.retry_after_ms : wait;
		sleep_ms(d);
		wait = wait * 2 > cfg->backoff_cap_ms ? cfg->backoff_cap_ms : wait * 2;
	}
	http_response_free(&r);
	buf_free(&body);
	buf_free(&out);
	return rc;
}

int embed_main(int argc, char **argv)
{
	if (argc != 3) {
		die_msg("__embed is internal: started by kgsup search");
		return EXIT_USAGE;
	}
	log_set_tag("search");
	log_level_from_env();
	const char *model = argv[1];
	long dims = strtol(argv[2], NULL, 10);
	buf in;
	buf_init(&in);
	struct config cfg;
	config_defaults(&cfg);
	char err[512] = "";
	char *key = NULL;
	const char *text;
	size_t len;
	http_client *h = NULL;
	int rc = EXIT_USAGE;
	if (read_input(&in, &text, &len)) {
		log_error("cannot read the settings and the query");
	} else if (config_parse(&cfg, in.data, (size_t)(text - 1 - in.data), "the run's settings",
				err, sizeof err) ||
		   !(key = config_api_key(&cfg, err, sizeof err)) ||
		   http_global_init(err, sizeof err) ||
		   !(h = http_new(&cfg, key, NULL, NULL, err, sizeof err))) {
		log_error("%s", err);
	} else {
		rc = embed(h, &cfg, model, dims, text, len);
	}
	if (h) {
		http_free(h);
		http_global_cleanup();
	}
	config_forget_key(key);
	config_free(&cfg);
	buf_free(&in);
	return rc;
}
