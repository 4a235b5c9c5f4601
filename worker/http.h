/* http.h: kgsup's HTTPS client: the worker's, the check's before a run and the Batch API
 * role's. One kept-alive libcurl handle per process (connection and TLS session reuse), with
 * connect and total timeouts, TLS verification always on, a cap on the response size and an
 * abort hook for shutdown. */
#ifndef KGSUP_HTTP_H
#define KGSUP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../common/config.h"
#include "../common/ratehdr.h"

struct http_response {
	long status;            /* 0 when no HTTP answer arrived */
	buf body;
	struct ratelimit_info limits;
	int transport_error;    /* connection, timeout, TLS... */
	int connect_failed;     /* of those: the request never went out (refused, DNS, TLS,
				 * a connect timeout); the server saw nothing */
	int too_large;          /* body exceeded api.max_response_bytes */
	int headers_too_large;  /* headers exceeded HTTP_MAX_HEADER_BYTES */
	size_t header_bytes;
	int aborted;            /* abort hook said stop */
	int resend_refused;     /* the connection died after the request went: not sent again */
	int write_errno;        /* http_get_to_fd: writing to the descriptor failed (errno) */
	int64_t written;        /* http_get_to_fd: bytes of the answer written to the descriptor */
	char error[256];
	int64_t latency_us;
	int64_t sent_us;        /* when the request went out (CLOCK_MONOTONIC), 0: it never did */
	int64_t first_byte_us;  /* when the answer's first line came (the same), 0: none came;
				 * taken in the header callback: curl's start-transfer time marks
				 * the upload's start when the body comes from a read callback */
	int64_t done_us;        /* when the call ended, answered or not (the same) */
};

/* A server that sends headers forever is cut off here (the body has its own bound). */
#define HTTP_MAX_HEADER_BYTES (256 * 1024)

/* A file's upload or download has no total timeout (they are up to hundreds of MB); one that
 * moves fewer than HTTP_STALL_BYTES_PER_S for HTTP_STALL_S seconds is cut off as a timeout. */
#define HTTP_STALL_BYTES_PER_S 1024
#define HTTP_STALL_S 60

typedef struct http_client http_client;

/* Called during transfers with http_new's abort_arg; non-zero aborts the transfer. */
typedef int (*http_abort_fn)(void *arg);

/* Returns 0 or -1 with err set. api_key is kept only in the header list in memory. */
int http_global_init(char *err, size_t errlen);
http_client *http_new(const struct config *cfg, const char *api_key, http_abort_fn abort_fn,
		      void *abort_arg, char *err, size_t errlen);
int http_post(http_client *c, const char *body, size_t len, struct http_response *r);
/* POST {base_url}PATH (PATH starts with '/'); the client posts to chat completions after. */
int http_post_to(http_client *c, const char *path, const char *body, size_t len,
		 struct http_response *r);
/* GET {base_url}PATH (PATH starts with '/') within timeout_ms; the client posts as before
 * afterwards. */
int http_get(http_client *c, const char *path, long timeout_ms, struct http_response *r);
/* POST {base_url}PATH as multipart/form-data: the text fields (name, value pairs, then NULL;
 * fields may be NULL), then file_field with the file at file_path, read from disk as it is sent
 * and named by its base name. Long-transfer timeouts (HTTP_STALL_*), connect timeout as
 * configured, "Expect: 100-continue" kept; the answer is bounded by api.max_response_bytes. */
int http_post_file(http_client *c, const char *path, const char *const *fields,
		   const char *file_field, const char *file_path, struct http_response *r);
/* GET {base_url}PATH with long-transfer timeouts; a 2xx answer's body is written to fd as it
 * arrives (r->written bytes, no size cap; r->write_errno when a write failed, which stops the
 * transfer), any other answer's body goes to r->body as usual. The caller owns fd: it is
 * neither truncated, synced nor closed here. */
int http_get_to_fd(http_client *c, const char *path, int fd, struct http_response *r);
void http_response_init(struct http_response *r);
void http_response_free(struct http_response *r);
void http_free(http_client *c);
void http_global_cleanup(void);

#endif
