/* batchop_impl.h: private to the Batch API role's files (batchop.c, batchop_download.c): one
 * run of the role, a request, and the retried call every op makes. Not for use outside them. */
#ifndef KGSUP_BATCHOP_IMPL_H
#define KGSUP_BATCHOP_IMPL_H

#include <stddef.h>

#include "http.h"
#include "../common/config.h"
#include "../common/json.h"

#define ID_MAX 256

/* One run of the role. */
struct batchop {
	const char *op;
	const struct config *cfg;
	int base_len; /* api.base_url without its trailing slashes, for messages */
	http_client *http;
	const json *args;
	const char *in; /* standard input's text (create sends it as it is) */
	size_t in_len;
	int out_fd; /* a download's PATH.tmp, or -1 */
};

/* One request, sent once per attempt by its send function. */
struct request {
	const char *method; /* for messages */
	char path[ID_MAX * 2 + 64];
	int (*send)(struct batchop *b, const struct request *q, struct http_response *r);
	const char *body;      /* a POST's JSON */
	size_t body_len;
	const char *file;      /* an upload's file */
};

/* The request, retried: EXIT_OK with a 2xx answer in r, or an exit code with its line logged. */
int batchop_call(struct batchop *b, const struct request *q, struct http_response *r);
/* The string argument key of standard input's object, or NULL. */
const char *batchop_arg(const struct batchop *b, const char *key);

/* batchop_download.c: the download op */
int batchop_download(struct batchop *b);

#endif
