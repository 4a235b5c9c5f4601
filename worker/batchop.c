/* batchop.c: one call of OpenAI's Batch API, `kgsup __batchop OP STATE_DIR`. The supervisor
 * never loads libcurl, so it starts this role of the one binary (role_spawn) once per
 * operation. The role dies with its supervisor (PR_SET_PDEATHSIG), reads the run's settings
 * from STATE_DIR/run/config.json and the key as a worker does (config_api_key: never on disk,
 * argv or in a log), takes the op's arguments as one JSON object on standard input, and writes
 * one JSON object and a newline on standard output. Paths are relative to api.base_url:
 *   upload    {"path": "/abs/part.jsonl"}  POST /files, multipart: purpose=batch, then file
 *             (streamed from disk, named by its base name). Out: the server's answer.
 *   create    {"input_file_id", "endpoint", "completion_window", "metadata"?}  POST /batches
 *             with standard input's object as the body, as it is. Out: the answer.
 *   get       {"id"}  GET /batches/ID. Out: the answer.
 *   list      {"after"?, "limit"? (1-100, default 100)}  GET /batches?limit=N[&after=ID].
 *   cancel    {"id"}  POST /batches/ID/cancel with the body {}. Out: the answer.
 *   download  {"file_id", "path": "/abs/out.jsonl"}  GET /files/ID/content, streamed to
 *             PATH.tmp, fsync'd, renamed to PATH, the directory fsync'd. Out: {"bytes": N}.
 *             A failed download leaves neither PATH nor PATH.tmp.
 *   collect   {"session", "input", "index", "output", "errors", ...}  no call: the lines of a
 *             part's files downloaded become results sent to the supervisor (collect.c).
 * "The answer" is the server's JSON object as it sent it (trailing white space cut), then a
 * newline. Ids go into URLs only when made of letters, digits, '-' and '_'; an argument of the
 * wrong type, a missing one or one the op does not take is a usage error naming it. JSON calls
 * have api.timeout_s and the api.max_response_bytes cap; uploads and downloads have no total
 * timeout but are cut off when they stall (http.h), and a download has no size cap. Failed
 * calls are retried as a worker's are (retry.*, Retry-After honoured). What went wrong goes to
 * standard error as one line, and the exit code says what it is:
 *   EXIT_OK       done, standard output written
 *   EXIT_USAGE    bad arguments, unusable settings, no key, or the server cannot be connected to
 *   EXIT_ABORTED  the server refused: a 4xx other than 408, 409 and 429
 *                 ("METHOD URL: HTTP 4xx: <the server's message>")
 *   EXIT_FAILED   429, 5xx, 408, 409, timeouts or a dropped connection past retry.max_attempts,
 *                 or a 2xx answer that is not a JSON object
 *   EXIT_INTERNAL a local failure: writing the download or standard output
 *   EXIT_STOPPED  SIGTERM arrived (the call is abandoned, a download's PATH.tmp removed) */
#include "worker.h"
#include "batchop_impl.h"
#include "../common/answer.h"
#include "../common/json.h"
#include "../common/log.h"
#include "../common/paths.h"
#include "../common/roles.h"
#include "../common/sig.h"
#include "../common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ARGS_MAX (1 << 20) /* standard input: metadata is small; a runaway writer is not */
#define LIST_LIMIT_MAX 100 /* the most the API lists at once */

static int send_get(struct batchop *b, const struct request *q, struct http_response *r)
{
	return http_get(b->http, q->path, (long)(b->cfg->timeout_s * 1000), r);
}

static int send_post(struct batchop *b, const struct request *q, struct http_response *r)
{
	return http_post_to(b->http, q->path, q->body, q->body_len, r);
}

static int send_file(struct batchop *b, const struct request *q, struct http_response *r)
{
	static const char *const fields[] = { "purpose", "batch", NULL };
	return http_post_file(b->http, q->path, fields, "file", q->file, r);
}

static int stop_requested(void *arg)
{
	(void)arg;
	return sig_stop_requested();
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !sig_stop_requested())
		;
}

/* Whether a failed attempt is worth another: the server was busy, slow or out of order. */
static int transient(const struct http_response *r)
{
	if (r->transport_error)
		return !r->too_large && !r->write_errno && !r->aborted;
	return r->status == 408 || r->status == 409 || r->status == 429 || r->status >= 500;
}

/* The request, retried: EXIT_OK with a 2xx answer in r, or an exit code with its line logged. */
int batchop_call(struct batchop *b, const struct request *q, struct http_response *r)
{
	const struct config *cfg = b->cfg;
	int blen = b->base_len;
	int64_t wait = cfg->backoff_base_ms;
	for (int64_t attempt = 1;; attempt++) {
		http_response_free(r);
		http_response_init(r);
		q->send(b, q, r);
		if (r->status / 100 == 2 && !r->transport_error)
			return EXIT_OK;
		/* a server reached once and then not is a failure to retry, not a wrong URL */
		if (r->connect_failed && attempt == 1) {
			log_error("%s %.*s%s: cannot connect: %s", q->method, blen, cfg->base_url,
				  q->path, r->error);
			return EXIT_USAGE;
		}
		if (transient(r) && attempt < cfg->max_attempts && !sig_stop_requested()) {
			int64_t d = r->limits.retry_after_ms > wait ? r->limits.retry_after_ms : wait;
			sleep_ms(d);
			wait = wait * 2 > cfg->backoff_cap_ms ? cfg->backoff_cap_ms : wait * 2;
			if (!sig_stop_requested())
				continue;
		}
		if (r->aborted || sig_stop_requested()) {
			log_error("%s %.*s%s: stopped by SIGTERM", q->method, blen, cfg->base_url,
				  q->path);
			return EXIT_STOPPED;
		}
		if (!r->status) {
			log_error("%s %.*s%s: %s", q->method, blen, cfg->base_url, q->path, r->error);
			return r->write_errno ? EXIT_INTERNAL : EXIT_FAILED;
		}
		char *said = answer_error_message(r->body.data ? r->body.data : "", r->body.len);
		log_error("%s %.*s%s: HTTP %ld%s%s", q->method, blen, cfg->base_url, q->path,
			  r->status, said ? ": " : "", said ? said : "");
		free(said);
		return transient(r) ? EXIT_FAILED : EXIT_ABORTED;
	}
}

/* Standard output: the 2xx answer as the server sent it, if it is a JSON object. */
static int print_answer(struct batchop *b, const struct request *q, const struct http_response *r)
{
	size_t len = r->body.len;
	while (len && strchr(" \t\r\n", r->body.data[len - 1]))
		len--;
	json *v = json_parse(r->body.data ? r->body.data : "", len, NULL, 0);
	int object = json_kind(v) == J_OBJECT;
	json_free(v);
	if (!object) {
		log_error("%s %.*s%s: HTTP %ld: the answer is not a JSON object", q->method,
			  b->base_len, b->cfg->base_url, q->path, r->status);
		return EXIT_FAILED;
	}
	if (fwrite(r->body.data, 1, len, stdout) != len || fputc('\n', stdout) == EOF ||
	    fflush(stdout)) {
		log_error("%s: cannot write standard output: %s", b->op, strerror(errno));
		return EXIT_INTERNAL;
	}
	return EXIT_OK;
}

/* A JSON call: the request, then its answer on standard output. */
static int json_call(struct batchop *b, struct request *q)
{
	struct http_response r;
	http_response_init(&r);
	int rc = batchop_call(b, q, &r);
	if (rc == EXIT_OK)
		rc = print_answer(b, q, &r);
	http_response_free(&r);
	return rc;
}

const char *batchop_arg(const struct batchop *b, const char *key)
{
	return json_string(json_get(b->args, key));
}

static int op_upload(struct batchop *b)
{
	const char *path = batchop_arg(b, "path");
	struct stat st;
	if (stat(path, &st) < 0 || access(path, R_OK) < 0) {
		log_error("upload: path: %s: %s", path, strerror(errno));
		return EXIT_USAGE;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("upload: path: %s: not a regular file", path);
		return EXIT_USAGE;
	}
	struct request q = { .method = "POST", .path = "/files", .send = send_file, .file = path };
	return json_call(b, &q);
}

static int op_create(struct batchop *b)
{
	struct request q = { .method = "POST", .path = "/batches", .send = send_post,
			     .body = b->in, .body_len = b->in_len };
	return json_call(b, &q);
}

static int op_get(struct batchop *b)
{
	struct request q = { .method = "GET", .send = send_get };
	snprintf(q.path, sizeof q.path, "/batches/%s", batchop_arg(b, "id"));
	return json_call(b, &q);
}

static int op_list(struct batchop *b)
{
	const json *limit = json_get(b->args, "limit");
	const char *after = batchop_arg(b, "after");
	struct request q = { .method = "GET", .send = send_get };
	snprintf(q.path, sizeof q.path, "/batches?limit=%d%s%s",
		 limit ? (int)json_number(limit) : LIST_LIMIT_MAX, after ? "&after=" : "",
		 after ? after : "");
	return json_call(b, &q);
}

static int op_cancel(struct batchop *b)
{
	struct request q = { .method = "POST", .send = send_post, .body = "{}", .body_len = 2 };
	snprintf(q.path, sizeof q.path, "/batches/%s/cancel", batchop_arg(b, "id"));
	return json_call(b, &q);
}

/* What an argument must be. */
enum arg_type {
	A_ID,     /* a string of letters, digits, '-' and '_' (it goes into a URL) */
	A_PATH,   /* an absolute path */
	A_STRING, /* a non-empty string */
	A_LIMIT,  /* an integer from 1 to LIST_LIMIT_MAX */
	A_OBJECT,
};

static const char *const arg_wanted[] = {
	[A_ID] = "an id (letters, digits, '-' and '_')",
	[A_PATH] = "an absolute path",
	[A_STRING] = "a non-empty string",
	[A_LIMIT] = "an integer from 1 to 100",
	[A_OBJECT] = "an object",
};

struct arg {
	const char *key;
	enum arg_type type;
	int required;
};

#define OP_ARGS_MAX 4

/* The ops: what each needs on standard input, and what does it. Dispatch and the usage line
 * come from here. */
static const struct op {
	const char *name;
	struct arg needs[OP_ARGS_MAX];
	int open; /* keys beyond needs go to the server as they are (create's body) */
	int (*run)(struct batchop *b); /* NULL: collect, which makes no call */
} ops[] = {
	{ "upload", { { "path", A_PATH, 1 } }, 0, op_upload },
	{ "create", { { "input_file_id", A_ID, 1 }, { "endpoint", A_STRING, 1 },
		      { "completion_window", A_STRING, 1 }, { "metadata", A_OBJECT, 0 } }, 1,
	  op_create },
	{ "get", { { "id", A_ID, 1 } }, 0, op_get },
	{ "list", { { "after", A_ID, 0 }, { "limit", A_LIMIT, 0 } }, 0, op_list },
	{ "cancel", { { "id", A_ID, 1 } }, 0, op_cancel },
	{ "download", { { "file_id", A_ID, 1 }, { "path", A_PATH, 1 } }, 0, batchop_download },
	/* no call: the lines of the files downloaded become results (collect.c) */
	{ "collect", { { "session", A_STRING, 1 }, { "input", A_PATH, 1 }, { "index", A_PATH, 1 } },
	  1, NULL },
};

#define NOPS (sizeof ops / sizeof ops[0])

static int arg_ok(const json *v, enum arg_type t)
{
	const char *s = json_string(v);
	double n = json_number(v);
	switch (t) {
	case A_ID:
		return s && *s && strlen(s) < ID_MAX &&
		       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") ==
			       strlen(s);
	case A_PATH:
		return s && s[0] == '/' && strlen(s) < PATHS_MAX - 8;
	case A_STRING:
		return s && *s;
	case A_LIMIT:
		return json_kind(v) == J_NUMBER && n >= 1 && n <= LIST_LIMIT_MAX && n == (int)n;
	case A_OBJECT:
		return json_kind(v) == J_OBJECT;
	}
	return 0;
}

/* Every argument of op as it must be, and nothing else unless the op is open. */
static int check_args(const struct op *op, const json *args)
{
	for (int i = 0; i < OP_ARGS_MAX && op->needs[i].key; i++) {
		const struct arg *a = &op->needs[i];
		const json *v = json_get(args, a->key);
		if (!v && a->required) {
			log_error("%s: %s: missing", op->name, a->key);
			return -1;
		}
		if (v && !arg_ok(v, a->type)) {
			log_error("%s: %s: not %s", op->name, a->key, arg_wanted[a->type]);
			return -1;
		}
	}
	for (const json *m = json_first(args); m && !op->open; m = json_next(m)) {
		int known = 0;
		for (int i = 0; i < OP_ARGS_MAX && op->needs[i].key; i++)
			known |= !strcmp(op->needs[i].key, json_key(m));
		if (!known) {
			log_error("%s: %.64s: not an argument of %s", op->name, json_key(m), op->name);
			return -1;
		}
	}
	return 0;
}

static void usage(void)
{
	buf names;
	buf_init(&names);
	for (size_t i = 0; i < NOPS; i++)
		buf_printf(&names, "%s%s", i ? ", " : "", ops[i].name);
	log_error("usage: kgsup __batchop OP STATE_DIR (OP: %s; arguments as JSON on standard "
		  "input); internal: started by the supervisor", buf_cstr(&names));
	buf_free(&names);
}

/* Standard input: one JSON object. */
static json *read_args(const char *op, buf *in)
{
	char chunk[65536];
	ssize_t n;
	while ((n = read(0, chunk, sizeof chunk)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || in->len + (size_t)n > ARGS_MAX) {
			log_error("%s: standard input: %s", op, n < 0 ? strerror(errno) : "too long");
			return NULL;
		}
		buf_put(in, chunk, (size_t)n);
	}
	char err[256] = "";
	json *args = json_parse(in->data ? in->data : "", in->len, err, sizeof err);
	if (json_kind(args) != J_OBJECT) {
		log_error("%s: standard input: not a JSON object%s%s", op, err[0] ? ": " : "", err);
		json_free(args);
		return NULL;
	}
	return args;
}

/* The settings and the key, into a client. */
static http_client *connect_client(struct config *cfg, const char *state_dir)
{
	char path[PATHS_MAX], err[512] = "";
	char *key = NULL;
	http_client *h = NULL;
	paths_file(path, sizeof path, state_dir, "run/config.json");
	if (config_load(cfg, path, err, sizeof err) || !(key = config_api_key(cfg, err, sizeof err)) ||
	    http_global_init(err, sizeof err)) {
		log_error("%s", err);
	} else if (!(h = http_new(cfg, key, stop_requested, NULL, err, sizeof err))) {
		log_error("%s", err);
		http_global_cleanup();
	}
	config_forget_key(key); /* http keeps it only in its header list */
	return h;
}

int batchop_main(int argc, char **argv)
{
	/* a role nobody waits for any more has nothing left to do */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	log_set_tag("batchop");
	log_level_from_env();
	const struct op *op = NULL;
	for (size_t i = 0; argc == 3 && i < NOPS; i++)
		if (!strcmp(argv[1], ops[i].name))
			op = &ops[i];
	if (!op) {
		usage();
		return EXIT_USAGE;
	}
	if (sig_init_child() < 0) {
		log_error("cannot install signal handlers: %s", strerror(errno));
		return EXIT_INTERNAL;
	}
	buf in;
	buf_init(&in);
	struct config cfg;
	config_defaults(&cfg);
	struct batchop b = { .op = op->name, .cfg = &cfg, .out_fd = -1 };
	int rc = EXIT_USAGE;
	json *args = read_args(op->name, &in);
	if (args && !op->run && !check_args(op, args)) {
		rc = batchop_collect(argv[2], in.data, in.len);
	} else if (args && !check_args(op, args) && (b.http = connect_client(&cfg, argv[2]))) {
		b.args = args;
		b.base_len = (int)strlen(cfg.base_url);
		while (b.base_len && cfg.base_url[b.base_len - 1] == '/')
			b.base_len--;
		b.in = in.data;
		b.in_len = in.len;
		rc = op->run(&b);
		http_free(b.http);
		http_global_cleanup();
	}
	json_free(args);
	config_free(&cfg);
	buf_free(&in);
	return rc;
}
