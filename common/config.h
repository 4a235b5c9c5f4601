/* config.h: kgsup's settings, read from a JSON file and checked against one table of key,
 * type, bounds and default (config.c). Unknown keys and bad values are errors naming the key. */
#ifndef KGSUP_CONFIG_H
#define KGSUP_CONFIG_H

/* The most workers one supervisor runs (run.workers, -w, scale): each slot is a ZeroMQ socket
 * in its context (zsock.c sizes the context for it) and NOFILE_PER_SLOT descriptors. */
#define WORKERS_MAX 4096

#include <stdint.h>

#include "buf.h"

struct config {
	/* api */
	char *base_url;
	char *model;
	char *api_key_env;
	char *api_key_file; /* NULL: the key is in the environment variable api_key_env */
	char *ca_file; /* a PEM file of CAs beside the system's; NULL: the system's alone */
	char *ca_path; /* a directory of CAs named by hash, instead of the system's; NULL: theirs */
	double timeout_s;
	double connect_timeout_s;
	double temperature;
	int64_t max_tokens;
	int json_mode;
	int structured_outputs; /* send a stage's schema as response_format json_schema */
	int embeddings_base64;  /* ask for vectors as base64 float32, not JSON numbers */
	int64_t max_input_tokens; /* a document longer than this is cut for documents stages */
	int64_t max_response_bytes;
	/* limits */
	int64_t requests_per_minute;
	int64_t tokens_per_minute;
	int64_t max_in_flight; /* 0: no limit */
	double window_s;       /* the provider's window, seconds; 0: not known (even pacing) */
	int trust_announced;   /* heed the server's x-ratelimit-* headers */
	char *limits_models;   /* limits.models as compact JSON, or NULL: one limit for all models */
	struct model_limit *model_limits; /* parsed from it */
	size_t nmodel_limits;
	/* a shared broker (kgsup broker): its tcp endpoint, or NULL: the supervisor starts its
	 * own; its public key and this client's secret key, files (absolute once loaded) */
	char *broker;
	char *broker_public_key;
	char *client_key;
	int64_t batch_queue_tokens; /* the provider's enqueued-token limit per model; 0: none known */
	/* retry */
	int64_t max_attempts;
	int64_t backoff_base_ms;
	int64_t backoff_cap_ms;
	/* run */
	int64_t workers; /* 1 to WORKERS_MAX */
	int64_t stop_deadline_s;
	char *run_mode; /* "live", "batch" (the Batch API, pbatch.h) or "auto" (some stages) */
	/* batch: the OpenAI Batch API */
	int64_t batch_max_requests; /* lines in one file */
	double batch_max_file_mb;
	double batch_poll_s;        /* the first wait between looks at a batch; it grows */
	char *batch_fallback;       /* "live" or "batch": where a line the API failed is asked again */
	char *batch_window;         /* completion_window */
	double batch_max_wait_h;    /* run.mode auto: the wait for answers the user accepts */
	double batch_expected_h;    /* run.mode auto: what one round through the API is taken to last */
	/* chunking */
	int64_t chunk_tokens;
	int64_t overlap_tokens;
	int64_t chunks_per_batch;
	/* prompt: file paths; empty means the built-in template */
	char *prompt_system;
	char *prompt_user;
	char *entity_types;
	/* pricing, dollars per million tokens */
	double input_per_mtok;
	double output_per_mtok;
	char *pricing_models; /* pricing.models as compact JSON, or NULL: prices per model */
	double batch_discount; /* the share of the price the Batch API takes off */
	struct model_price *prices; /* parsed from it */
	size_t nprices;
	/* cache */
	char *cache_path; /* NULL: inside the state directory */
	int64_t cache_ttl_days;
	/* graph: how the export merges entities (names.h) */
	char *graph_titles;       /* comma-separated titles dropped from the front of names */
	char *graph_aliases_file; /* NULL: no alias rules */
	int64_t graph_max_descriptions; /* distinct descriptions kept per entity or relation */
	int graph_resolve;              /* merge entities by their vectors too (resolve.h) */
	double graph_resolve_threshold; /* at this cosine similarity or more */
	/* input: tables' columns (columns.h); NULL: chosen from the header and the rows */
	char *input_id_column, *input_text_column, *input_sheet;
	char *input_keep_columns; /* a JSON array of column names, or NULL: all but id and text */
	/* report */
	char *report_score_column; /* a 0-10 score among the kept columns: the NPS */
	/* trace: DIR/trace.jsonl and trace.1.jsonl together stay under this; 0: no trace */
	double trace_max_mb;
	/* the job: the top-level "stages" array as compact JSON, or NULL (the one KG stage) */
	char *stages;
	char *config_file; /* the file read (stages' paths are relative to its directory) */
};

struct model_price {
	char *model;
	double input_per_mtok, output_per_mtok;
};

#define CONFIG_MAX_MODEL_LIMITS 32 /* models in limits.models */

/* A model's own limits (limits.models); -1: not given, the top-level one holds. */
struct model_limit {
	char *model;
	int64_t requests_per_minute, tokens_per_minute;
};

/* Fills c with every default. */
void config_defaults(struct config *c);
/* Reads path over the defaults. On error returns -1 with a one-line message in err
 * ("FILE: KEY: what is wrong"). */
int config_load(struct config *c, const char *path, char *err, size_t errlen);
/* Same, from text already in memory; name is used in messages. */
int config_parse(struct config *c, const char *text, size_t len, const char *name, char *err,
		 size_t errlen);
/* Checks relations between keys (e.g. overlap below chunk size). */
int config_check(const struct config *c, const char *name, char *err, size_t errlen);
/* Writes every key as a JSON document that config_parse reads back to the same values. */
void config_to_json(const struct config *c, buf *b);
void config_free(struct config *c);
/* The API key, from api.api_key_file (mode 0600 or stricter, checked) or else the environment.
 * malloc'd: give it back with config_forget_key, which wipes it. NULL with err set. */
char *config_api_key(const struct config *c, char *err, size_t errlen);
void config_forget_key(char *key);
/* Dollars for these tokens at the pricing.* rates. */
double config_cost_usd(const struct config *c, uint64_t prompt_tokens, uint64_t completion_tokens);
/* The same at the rates of model (pricing.models), or the run's when it has none listed. */
double config_cost_model(const struct config *c, const char *model, uint64_t prompt_tokens,
			 uint64_t completion_tokens);
/* The limits of model: its own (limits.models), else the top-level ones. Returns 1 when model
 * has its own entry, 0 when the top-level limits apply. */
int config_model_limits(const struct config *c, const char *model, int64_t *rpm, int64_t *tpm);
/* limits.broker and its keys, as a whole: the endpoint tcp://HOST:PORT, both keys or neither,
 * and keys required off loopback. 0, or -1 with "NAME: limits.KEY: ..." in err. */
int config_check_broker(const struct config *c, const char *name, char *err, size_t errlen);
/* Non-zero for an http:// URL whose host is localhost or a literal loopback address (the only
 * plain HTTP kgsup talks to); userinfo, a port and [brackets] are parsed, not matched. */
int config_is_loopback_http(const char *url);
/* Non-zero for a host as a URL parser gives it: localhost, 127.x.y.z or [::1]. */
int config_is_loopback_host(const char *host);

#endif
