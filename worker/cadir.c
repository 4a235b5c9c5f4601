/* cadir.c: whether a directory holds CAs named by their hash, which OpenSSL looks up one at a
 * time as a server's chain needs them: then the HTTP client trusts the system's CAs through
 * that directory rather than the bundle file it would parse whole (http.c). */
#include "cadir.h"

#include <ctype.h>
#include <dirent.h>

int cadir_hashed(const char *dir)
{
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
