/* zipfile.c: zip archive members read in blocks through libzip (see zipfile.h). The only
 * file that includes zip.h. */
#include "zipfile.h"
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <zip.h>

#define BLOCK (64u << 10)

struct zipfile {
	zip_t *za;
	char *path;
};

struct zipfile *zipfile_open(const char *path, char *err, size_t errlen)
{
	int code = 0;
	zip_t *za = zip_open(path, ZIP_RDONLY, &code);
	if (!za) {
		zip_error_t ze;
		zip_error_init_with_code(&ze, code);
		snprintf(err, errlen, "%s: not a readable .xlsx (zip) file: %s", path,
			 zip_error_strerror(&ze));
		zip_error_fini(&ze);
		return NULL;
	}
	struct zipfile *z = xmalloc(sizeof *z);
	z->za = za;
	z->path = xstrdup(path);
	return z;
}

void zipfile_close(struct zipfile *z)
{
	if (!z)
		return;
	zip_discard(z->za); /* opened read-only: nothing to write */
	free(z->path);
	free(z);
}

int zipfile_has(struct zipfile *z, const char *name)
{
	return zip_name_locate(z->za, name, 0) >= 0;
}

int zipfile_read(struct zipfile *z, const char *name, zipfile_fn fn, void *arg, char *err,
		 size_t errlen)
{
	zip_file_t *f = zip_fopen(z->za, name, 0);
	if (!f) {
		snprintf(err, errlen, "%s: %s: %s", z->path, name, zip_strerror(z->za));
		return -1;
	}
	char *block = xmalloc(BLOCK);
	int rc = 0;
	for (;;) {
		zip_int64_t got = zip_fread(f, block, BLOCK);
		if (got < 0) {
			snprintf(err, errlen, "%s: %s: %s", z->path, name, zip_file_strerror(f));
			rc = -1;
			break;
		}
		if (got == 0 || (rc = fn(block, (size_t)got, arg)))
			break;
	}
	free(block);
	zip_fclose(f);
	return rc;
}
