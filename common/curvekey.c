/* curvekey.c: CURVE key files (curvekey.h). */
#include "curvekey.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char z85[] =
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

int curvekey_valid(const char *s)
{
	return strlen(s) == ZSOCK_KEY_LEN && strspn(s, z85) == ZSOCK_KEY_LEN;
}

int curvekey_read(const char *path, int secret, char out[ZSOCK_KEY_LEN + 1], char *err,
		  size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: cannot read the key: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (secret && (!S_ISREG(st.st_mode) || (st.st_mode & 077) || st.st_uid != geteuid())) {
		snprintf(err, errlen, "%s: a secret key must be a regular file of yours with mode 0600 "
			 "or stricter (it is %04o)", path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	char text[128];
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
		n--;
	text[n > 0 ? n : 0] = '\0';
	int ok = n == ZSOCK_KEY_LEN && curvekey_valid(text);
	if (ok)
		memcpy(out, text, ZSOCK_KEY_LEN + 1);
	explicit_bzero(text, sizeof text);
	if (!ok)
		snprintf(err, errlen, "%s: not a CURVE key (%d characters of Z85, as kgsup keygen "
			 "writes)", path, ZSOCK_KEY_LEN);
	return ok ? 0 : -1;
}

static int write_new(const char *path, const char *key, mode_t mode, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path,
			 errno == EEXIST ? "exists; not overwritten" : strerror(errno));
		return -1;
	}
	char line[ZSOCK_KEY_LEN + 2];
	snprintf(line, sizeof line, "%s\n", key);
	int rc = write(fd, line, ZSOCK_KEY_LEN + 1) == ZSOCK_KEY_LEN + 1 && fsync(fd) == 0 ? 0 : -1;
	explicit_bzero(line, sizeof line);
	if (rc)
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
	if (close(fd) < 0 && !rc) {
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc)
		unlink(path);
	return rc;
}

int curvekey_write(const char *name, const char *public_, const char *secret, char *err,
		   size_t errlen)
{
	char key[4096], pub[4096];
	snprintf(key, sizeof key, "%s.key", name);
	snprintf(pub, sizeof pub, "%s.pub", name);
	/* both refused before either is written: a pair is never half new */
	if (access(key, F_OK) == 0 || access(pub, F_OK) == 0) {
		snprintf(err, errlen, "%s: exists; not overwritten",
			 access(key, F_OK) == 0 ? key : pub);
		return -1;
	}
	if (write_new(key, secret, 0600, err, errlen))
		return -1;
	if (write_new(pub, public_, 0644, err, errlen)) {
		unlink(key);
		return -1;
	}
	return 0;
}
