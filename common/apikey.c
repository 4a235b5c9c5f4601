/* apikey.c: the API key, read from api.api_key_file (a secret file only its owner may read)
 * or the environment, and wiped when done with (config.h). */
#include "config.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads the key file: a regular file only its owner can read or write (it is a secret). */
static char *key_from_file(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: cannot read the API key file (api.api_key_file): %s", path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) || st.st_uid != geteuid()) {
		snprintf(err, errlen,
			 "%s: the API key file must be a regular file of yours with mode 0600 or "
			 "stricter (it is %04o); chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return NULL;
	}
	char key[4096];
	ssize_t n = read(fd, key, sizeof key - 1);
	close(fd);
	while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r' || key[n - 1] == ' '))
		n--;
	if (n <= 0) {
		snprintf(err, errlen, "%s: the API key file is empty or unreadable", path);
		return NULL;
	}
	key[n] = '\0';
	char *copy = xstrdup(key);
	explicit_bzero(key, sizeof key);
	return copy;
}

char *config_api_key(const struct config *c, char *err, size_t errlen)
{
	if (c->api_key_file)
		return key_from_file(c->api_key_file, err, errlen);
	const char *key = getenv(c->api_key_env);
	if (!key || !*key) {
		snprintf(err, errlen,
			 "environment variable %s is %s (api.api_key_env names it; or name a "
			 "0600 file in api.api_key_file)", c->api_key_env, key ? "empty" : "not set");
		return NULL;
	}
	return xstrdup(key);
}

void config_forget_key(char *key)
{
	if (key) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
}
