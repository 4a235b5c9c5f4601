/* allow.c: the clients a shared broker admits (allow.h). */
#include "allow.h"
#include "../../common/curvekey.h"
#include "../../common/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int allow_load(struct allow *a, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "%s: cannot read the allow directory: %s", dir, strerror(errno));
		return -1;
	}
	map_free(&a->keys);
	a->dir = dir;
	a->nkeys = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 5 || strcmp(e->d_name + n - 4, ".pub") || e->d_name[0] == '.')
			continue;
		char path[4096], key[ZSOCK_KEY_LEN + 1], why[512];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (curvekey_read(path, 0, key, why, sizeof why)) {
			log_warn("%s (skipped)", why);
			continue;
		}
		map_put(&a->keys, key, ZSOCK_KEY_LEN, 1);
		a->nkeys++;
	}
	closedir(d);
	/* a key refused before may be allowed now, or refused again: told again either way */
	map_free(&a->refused);
	log_info("%zu client keys allowed (%s)", a->nkeys, dir);
	return 0;
}

int allow_admit(const char *public_, void *arg)
{
	struct allow *a = arg;
	if (map_get(&a->keys, public_, ZSOCK_KEY_LEN) != UINT32_MAX)
		return 1;
	if (map_get(&a->refused, public_, ZSOCK_KEY_LEN) == UINT32_MAX) {
		map_put(&a->refused, public_, ZSOCK_KEY_LEN, 1);
		log_warn("client key %s refused: not in %s (its workers get no grant)", public_,
			 a->dir);
	}
	return 0;
}

void allow_free(struct allow *a)
{
	map_free(&a->keys);
	map_free(&a->refused);
}
