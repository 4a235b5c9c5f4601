/* batchop_download.c: the Batch API role's download op (batchop.c has the protocol): a file's
 * content streamed to PATH.tmp, then made durable under PATH, so that a failed or stopped
 * download leaves neither. */
#include "batchop_impl.h"
#include "../common/log.h"
#include "../common/paths.h"
#include "../common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Each attempt writes the file from its start. */
static int send_download(struct batchop *b, const struct request *q, struct http_response *r)
{
	if (ftruncate(b->out_fd, 0) < 0 || lseek(b->out_fd, 0, SEEK_SET) < 0) {
		r->write_errno = errno;
		snprintf(r->error, sizeof r->error, "cannot write the answer: %s", strerror(errno));
		return -1;
	}
	return http_get_to_fd(b->http, q->path, b->out_fd, r);
}

/* PATH.tmp made durable under PATH: fsync'd, renamed, its directory fsync'd. */
static int commit_download(const char *tmp, const char *path)
{
	char dir[PATHS_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	if (rename(tmp, path) < 0 || fsync_dir(dirname(dir)) < 0) {
		log_error("download: %s: %s", path, strerror(errno));
		return EXIT_INTERNAL;
	}
	return EXIT_OK;
}

int batchop_download(struct batchop *b)
{
	const char *path = batchop_arg(b, "path");
	char tmp[PATHS_MAX], dir[PATHS_MAX];
	struct stat st;
	snprintf(dir, sizeof dir, "%s", path);
	int found = stat(dirname(dir), &st);
	if (found < 0 || !S_ISDIR(st.st_mode)) {
		log_error("download: path: %s: %s", dir, found < 0 ? strerror(errno) : "not a directory");
		return EXIT_USAGE;
	}
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		log_error("download: path: too long");
		return EXIT_USAGE;
	}
	b->out_fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (b->out_fd < 0) {
		log_error("download: %s: %s", tmp, nofollow_strerror(errno));
		return EXIT_INTERNAL;
	}
	struct request q = { .method = "GET", .send = send_download };
	snprintf(q.path, sizeof q.path, "/files/%s/content", batchop_arg(b, "file_id"));
	struct http_response r;
	http_response_init(&r);
	int rc = batchop_call(b, &q, &r);
	if (rc == EXIT_OK && fsync(b->out_fd) < 0) {
		log_error("download: %s: %s", tmp, strerror(errno));
		rc = EXIT_INTERNAL;
	}
	int closed = close(b->out_fd);
	b->out_fd = -1;
	if (rc == EXIT_OK && closed < 0) {
		log_error("download: %s: %s", tmp, strerror(errno));
		rc = EXIT_INTERNAL;
	}
	if (rc == EXIT_OK)
		rc = commit_download(tmp, path);
	if (rc != EXIT_OK)
		unlink(tmp);
	else if (printf("{\"bytes\":%lld}\n", (long long)r.written) < 0 || fflush(stdout)) {
		log_error("download: cannot write standard output: %s", strerror(errno));
		rc = EXIT_INTERNAL;
	}
	http_response_free(&r);
	return rc;
}
