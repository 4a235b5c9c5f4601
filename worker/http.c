/* http.c: POST {base_url}/chat/completions (or /embeddings), GET {base_url}/models for the
 * check before a run, and the Batch API's calls (a file posted as multipart, a file's content
 * streamed to a descriptor), with libcurl (the only file with curl/curl.h). */
#include "http.h"
#include "cadir.h"
#include "../common/util.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct http_client {
	CURL *curl;
	struct curl_slist *headers;
	struct curl_slist *bare_headers; /* the key alone: a multipart body sets its Content-Type */
	char *base; /* base_url without its trailing slashes */
	char *url;  /* base + "/chat/completions" */
	long timeout_ms;
	long stall_s; /* a JSON call that receives nothing for this long is cut off */
	int out_fd;   /* a 2xx answer's body goes here, not into the response (-1: none) */
	char errbuf[CURL_ERROR_SIZE]; /* libcurl's own words on the last failure */
	size_t max_body;
	http_abort_fn abort_fn;
	void *abort_arg;
	struct http_response *cur; /* the response being filled */
	const char *body;          /* the request being sent, and how much of it curl has read */
	size_t body_len, body_read;
	char refused[INET6_ADDRSTRLEN]; /* a non-loopback address a plain-http call was kept from */
};

int http_global_init(char *err, size_t errlen)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc) {
		snprintf(err, errlen, "cannot initialise libcurl: %s", curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

void http_global_cleanup(void)
{
	curl_global_cleanup();
}

/* A download's bytes to its descriptor, all of them or the transfer stops. */
static size_t to_fd(http_client *c, const char *p, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t w = write(c->out_fd, p + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			c->cur->write_errno = errno;
			return 0; /* makes curl stop with CURLE_WRITE_ERROR */
		}
		done += (size_t)w;
	}
	c->cur->written += (int64_t)len;
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	http_client *c = arg;
	size_t len = size * n;
	long status = 0;
	/* only a success is the file: an error's body is the server's JSON message, kept below */
	if (c->out_fd >= 0 && curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
	    status / 100 == 2)
		return to_fd(c, p, len);
	if (c->cur->body.len + len > c->max_body) {
		c->cur->too_large = 1;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	buf_put(&c->cur->body, p, len);
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	http_client *c = arg;
	size_t len = size * n;
	if (!c->cur->first_byte_us)
		c->cur->first_byte_us = now_us();
	c->cur->header_bytes += len;
	if (c->cur->header_bytes > HTTP_MAX_HEADER_BYTES) {
		c->cur->headers_too_large = 1;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	/* a new status line (after a redirect or 100-continue) starts a fresh set of headers */
	if (len >= 5 && !memcmp(p, "HTTP/", 5))
		ratelimit_clear(&c->cur->limits);
	else
		ratelimit_header(&c->cur->limits, p, len, wall_ms());
	return len;
}

static size_t on_read(char *dst, size_t size, size_t n, void *arg)
{
	http_client *c = arg;
	size_t len = c->body_len - c->body_read;
	if (len > size * n)
		len = size * n;
	memcpy(dst, c->body + c->body_read, len);
	c->body_read += len;
	return len;
}

/* libcurl sends a request again, by itself, when a reused connection dies before any answer
 * (CURLOPT_SEEKFUNCTION(3)); the provider may have admitted and billed the first copy, and the
 * broker granted only one. Refusing the rewind makes it an error like any dropped
 * connection: the worker retries it after asking the broker. */
static int on_seek(void *arg, curl_off_t offset, int origin)
{
	http_client *c = arg;
	if (origin == SEEK_SET && offset == 0 && c->body_read == 0)
		return CURL_SEEKFUNC_OK;
	c->cur->resend_refused = 1;
	return CURL_SEEKFUNC_FAIL;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	http_client *c = arg;
	if (c->abort_fn && c->abort_fn(c->abort_arg)) {
		c->cur->aborted = 1;
		return 1;
	}
	return 0;
}

/* Plain http carries the key in clear, so it may only reach this machine. Whatever name or
 * address the URL gives and whatever the name resolves to, libcurl opens its sockets here:
 * an address that is not loopback gets no socket, so nothing is ever sent to it. */
static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)purpose;
	http_client *c = arg;
	const struct sockaddr_in *v4 = (const void *)&a->addr;
	const struct sockaddr_in6 *v6 = (const void *)&a->addr;
	int loopback = 0;
	if (a->family == AF_INET) {
		loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
		inet_ntop(AF_INET, &v4->sin_addr, c->refused, sizeof c->refused);
	} else if (a->family == AF_INET6) {
		loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr) ||
			   (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && v6->sin6_addr.s6_addr[12] == 127);
		inet_ntop(AF_INET6, &v6->sin6_addr, c->refused, sizeof c->refused);
	}
	if (!loopback)
		return CURL_SOCKET_BAD;
	c->refused[0] = '\0';
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* The scheme and host of base_url as libcurl itself parses them (userinfo and all): 0 for
 * https, 1 for plain http to a name or a loopback address (the socket check above then
 * applies), -1 with err set for anything else. */
static int url_check(const char *url, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int rc = -1;
	if (u && !curl_url_set(u, CURLUPART_URL, url, 0) &&
	    !curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) &&
	    !curl_url_get(u, CURLUPART_HOST, &host, 0)) {
		unsigned char addr[sizeof(struct in6_addr)];
		char inner[INET6_ADDRSTRLEN] = "";
		if (host[0] == '[')
			snprintf(inner, sizeof inner, "%.*s", (int)strcspn(host + 1, "]"), host + 1);
		int literal = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, inner, addr) == 1;
		if (!strcmp(scheme, "https"))
			rc = 0;
		else if (!strcmp(scheme, "http") && (!literal || config_is_loopback_host(host)))
			rc = 1;
	}
	if (rc < 0 && !host)
		snprintf(err, errlen, "api.base_url: libcurl cannot read it as a URL");
	else if (rc < 0)
		snprintf(err, errlen, "api.base_url: %s is not https:// and not plain http:// to a "
			 "loopback address", host);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/* The request's headers: the key (our copy wiped; curl keeps its own in the list), then with
 * json JSON and no "Expect: 100-continue" round trip. An upload keeps the round trip: a key the
 * server refuses costs no file sent for nothing. */
static struct curl_slist *request_headers(const char *api_key, int json)
{
	buf auth;
	buf_init(&auth);
	buf_printf(&auth, "Authorization: Bearer %s", api_key);
	struct curl_slist *l = curl_slist_append(NULL, buf_cstr(&auth));
	memset(auth.data, 0, auth.len);
	buf_free(&auth);
	if (!json)
		return l;
	l = curl_slist_append(l, "Content-Type: application/json");
	return curl_slist_append(l, "Expect:");
}

/* The CAs: api.ca_file (beside the system's directory, as ever) or api.ca_path (instead of
 * it); without either, the system's hashed directory rather than the bundle file OpenSSL
 * parses whole (a worker's largest cost before its first request), when it serves (cadir.c). */
static void set_cas(CURL *h, const struct config *cfg)
{
	char *dir = NULL, *bundle = NULL; /* CURLINFO_CAPATH, _CAINFO: libcurl 7.84 (Debian 12: 7.88) */
	if (cfg->ca_path)
		curl_easy_setopt(h, CURLOPT_CAPATH, cfg->ca_path);
	if (cfg->ca_file || cfg->ca_path)
		curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file); /* NULL: no bundle */
	else if (curl_easy_getinfo(h, CURLINFO_CAPATH, &dir) == CURLE_OK &&
		 curl_easy_getinfo(h, CURLINFO_CAINFO, &bundle) == CURLE_OK &&
		 cadir_serves(curl_version_info(CURLVERSION_NOW)->ssl_version, dir, bundle))
		curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
}

static void set_options(http_client *c, const struct config *cfg, int plain)
{
	CURL *h = c->curl;
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(cfg->connect_timeout_s * 1000));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	set_cas(h, cfg);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(h, CURLOPT_READDATA, c);
	curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
	curl_easy_setopt(h, CURLOPT_SEEKDATA, c);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "kgsup/" KGSUP_VERSION);
	/* headers have no size limit of their own in curl; bound how long they may trickle */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->stall_s);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, plain ? "http" : "https");
	if (plain) {
		curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
		curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, c);
	}
}

http_client *http_new(const struct config *cfg, const char *api_key, http_abort_fn abort_fn,
		      void *abort_arg, char *err, size_t errlen)
{
	int plain = url_check(cfg->base_url, err, errlen);
	if (plain < 0)
		return NULL;
	http_client *c = xcalloc(1, sizeof *c);
	c->curl = curl_easy_init();
	if (!c->curl) {
		snprintf(err, errlen, "cannot create a libcurl handle");
		free(c);
		return NULL;
	}
	size_t blen = strlen(cfg->base_url);
	while (blen && cfg->base_url[blen - 1] == '/')
		blen--;
	c->base = xstrndup(cfg->base_url, blen);
	buf url;
	buf_init(&url);
	buf_printf(&url, "%s/chat/completions", c->base);
	c->url = xstrdup(buf_cstr(&url));
	buf_free(&url);
	c->timeout_ms = (long)(cfg->timeout_s * 1000);
	c->stall_s = (long)cfg->timeout_s;
	c->out_fd = -1;
	c->max_body = (size_t)cfg->max_response_bytes;
	c->abort_fn = abort_fn;
	c->abort_arg = abort_arg;

	c->headers = request_headers(api_key, 1);
	c->bare_headers = request_headers(api_key, 0);
	set_options(c, cfg, plain);
	return c;
}

void http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof *r);
	buf_init(&r->body);
	ratelimit_clear(&r->limits);
}

void http_response_free(struct http_response *r)
{
	buf_free(&r->body);
}

/* Why no request went out: the system's word for a refused or unreachable connection
 * ("Connection refused"), else libcurl's own message, which names the host it could not
 * resolve or the certificate it would not trust. */
static void connect_reason(http_client *c, CURLcode rc, char *out, size_t n)
{
	long os_errno = 0;
	if (rc == CURLE_COULDNT_CONNECT &&
	    curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno)
		snprintf(out, n, "%s", strerror((int)os_errno));
	else if (c->errbuf[0])
		snprintf(out, n, "%s", c->errbuf);
	else
		snprintf(out, n, "%s", curl_easy_strerror(rc));
}

/* The words for a transfer that failed, and whether its request never went out (r->sent_us
 * is set): nothing reached the server, so nothing was billed or counted there. */
static void describe_failure(http_client *c, CURLcode rc, struct http_response *r)
{
	r->transport_error = 1;
	if (r->too_large)
		snprintf(r->error, sizeof r->error, "response larger than api.max_response_bytes (%zu)",
			 c->max_body);
	else if (r->headers_too_large)
		snprintf(r->error, sizeof r->error, "response headers larger than %d KiB",
			 HTTP_MAX_HEADER_BYTES / 1024);
	else if (r->write_errno)
		snprintf(r->error, sizeof r->error, "cannot write the answer: %s", strerror(r->write_errno));
	else if (r->resend_refused)
		snprintf(r->error, sizeof r->error, "the connection closed before any answer");
	else if (c->refused[0])
		snprintf(r->error, sizeof r->error, "api.base_url: refused to send plain http to %s, "
			 "which is not a loopback address", c->refused);
	else if (!r->aborted && r->sent_us == 0)
		connect_reason(c, rc, r->error, sizeof r->error);
	else
		snprintf(r->error, sizeof r->error, "%s", curl_easy_strerror(rc));
	r->connect_failed = !r->aborted && !r->too_large && !r->headers_too_large &&
			    !r->resend_refused && !r->write_errno && r->sent_us == 0;
}

/* One transfer with the options set, into r. */
static int perform(http_client *c, struct http_response *r)
{
	buf_reset(&r->body);
	r->status = 0;
	r->transport_error = r->connect_failed = r->too_large = r->headers_too_large = 0;
	r->aborted = r->resend_refused = r->write_errno = 0;
	r->written = 0;
	r->first_byte_us = 0;
	c->refused[0] = '\0';
	c->errbuf[0] = '\0';
	r->header_bytes = 0;
	r->error[0] = '\0';
	ratelimit_clear(&r->limits);
	c->cur = r;
	int64_t t0 = now_us();
	CURLcode rc = curl_easy_perform(c->curl);
	r->done_us = now_us();
	r->latency_us = r->done_us - t0;
	c->cur = NULL;
	/* The request leaves after the connection and TLS handshake, if the call needed them
	 * (5-13 ms on a new connection to the mock here; round trips more on the internet): the
	 * provider counts it from then, and so does the broker. */
	curl_off_t before_send = 0;
	r->sent_us = 0;
	if (curl_easy_getinfo(c->curl, CURLINFO_PRETRANSFER_TIME_T, &before_send) == CURLE_OK &&
	    before_send > 0)
		r->sent_us = t0 + (int64_t)before_send;
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (rc == CURLE_OK)
		return 0;
	describe_failure(c, rc, r);
	r->status = 0;
	return -1;
}

/* One transfer to {base}PATH; the handle posts to c->url again after. */
static int perform_at(http_client *c, const char *path, struct http_response *r)
{
	buf url;
	buf_init(&url);
	buf_printf(&url, "%s%s", c->base, path);
	curl_easy_setopt(c->curl, CURLOPT_URL, buf_cstr(&url));
	int rc = perform(c, r);
	curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
	buf_free(&url);
	return rc;
}

static void set_body(http_client *c, const char *body, size_t len)
{
	c->body = body;
	c->body_len = len;
	c->body_read = 0;
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
}

int http_post_to(http_client *c, const char *path, const char *body, size_t len,
		 struct http_response *r)
{
	set_body(c, body, len);
	return perform_at(c, path, r);
}

int http_post(http_client *c, const char *body, size_t len, struct http_response *r)
{
	set_body(c, body, len);
	return perform(c, r);
}

int http_get(http_client *c, const char *path, long timeout_ms, struct http_response *r)
{
	curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	int rc = perform_at(c, path, r);
	/* back to what the client is for */
	curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	return rc;
}

/* A file's transfer may take long: no total timeout, only a stall is cut off (on) or back to a
 * JSON call's bounds (off). */
static void long_transfer(http_client *c, int on)
{
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, on ? 0L : c->timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, on ? (long)HTTP_STALL_BYTES_PER_S : 1L);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, on ? (long)HTTP_STALL_S : c->stall_s);
}

int http_post_file(http_client *c, const char *path, const char *const *fields,
		   const char *file_field, const char *file_path, struct http_response *r)
{
	curl_mime *m = curl_mime_init(c->curl);
	curl_mimepart *part;
	for (; fields && fields[0]; fields += 2) {
		part = curl_mime_addpart(m);
		curl_mime_name(part, fields[0]);
		curl_mime_data(part, fields[1], CURL_ZERO_TERMINATED);
	}
	part = curl_mime_addpart(m);
	curl_mime_name(part, file_field);
	/* read from disk as it goes out, named by its base name */
	CURLcode set = curl_mime_filedata(part, file_path);
	if (set) {
		r->transport_error = 1;
		r->status = 0;
		snprintf(r->error, sizeof r->error, "%s: %s", file_path, curl_easy_strerror(set));
		curl_mime_free(m);
		return -1;
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->bare_headers);
	curl_easy_setopt(c->curl, CURLOPT_MIMEPOST, m);
	long_transfer(c, 1);
	int rc = perform_at(c, path, r);
	long_transfer(c, 0);
	curl_easy_setopt(c->curl, CURLOPT_MIMEPOST, NULL); /* detached before it is freed */
	curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	curl_mime_free(m);
	return rc;
}

int http_get_to_fd(http_client *c, const char *path, int fd, struct http_response *r)
{
	c->out_fd = fd;
	curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	long_transfer(c, 1);
	int rc = perform_at(c, path, r);
	long_transfer(c, 0);
	curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
	c->out_fd = -1;
	return rc;
}

void http_free(http_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	curl_slist_free_all(c->bare_headers);
	free(c->base);
	free(c->url);
	free(c);
}
