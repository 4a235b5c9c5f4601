/* zipfile.h: reading the members of a zip archive (libzip; zip.h is only in zipfile.c),
 * streamed in blocks so a large member is never held whole. */
#ifndef KGSUP_ZIPFILE_H
#define KGSUP_ZIPFILE_H

#include <stddef.h>

struct zipfile;

/* NULL with "FILE: what" in err. */
struct zipfile *zipfile_open(const char *path, char *err, size_t errlen);
void zipfile_close(struct zipfile *z);
/* 1 when the archive has a member of that name. */
int zipfile_has(struct zipfile *z, const char *name);
/* Hands the member's bytes to fn in blocks; fn returns 0 to go on, non-zero to stop (that
 * value is returned). -1 with "FILE: MEMBER: what" in err when it cannot be read. */
typedef int (*zipfile_fn)(const char *p, size_t n, void *arg);
int zipfile_read(struct zipfile *z, const char *name, zipfile_fn fn, void *arg, char *err,
		 size_t errlen);

#endif
