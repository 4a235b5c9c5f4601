/* cadir.c: whether a directory of CAs named by their hash, which OpenSSL looks up one at a
 * time as a server's chain needs them, serves for the system's bundle file, which it would
 * parse whole (http.c). */
#include "cadir.h"

#include <ctype.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

/* update-ca-certificates writes the bundle and the links in the directory (changing its
 * time); a CA appended to the bundle by hand changes only the bundle's, and is in no link. */
static int bundle_newer(const char *dir, const char *bundle)
{
	struct stat d, b;
	if (!bundle)
		return 0;
	if (stat(dir, &d) < 0 || stat(bundle, &b) < 0)
		return 1;
	return b.st_mtim.tv_sec > d.st_mtim.tv_sec ||
	       (b.st_mtim.tv_sec == d.st_mtim.tv_sec && b.st_mtim.tv_nsec > d.st_mtim.tv_nsec);
}

int cadir_serves(const char *tls, const char *dir, const char *bundle)
{
	if (!tls || strncmp(tls, "OpenSSL/", 8) || !dir || bundle_newer(dir, bundle))
		return 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int found = 0;
	struct dirent *e;
	while (!found && (e = readdir(d))) {
		const char *n = e->d_name;
		int hex = 0;
		while (hex < 8 && isxdigit((unsigned char)n[hex]))
			hex++;
		found = hex == 8 && n[8] == '.' && isdigit((unsigned char)n[9]);
	}
	closedir(d);
	return found;
}
