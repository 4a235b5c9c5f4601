/* curvekey.h: CURVE key files for a shared broker and its clients (`kgsup keygen NAME`):
 * NAME.key holds the secret key (Z85 text and a newline; mode 0600, never overwritten) and
 * NAME.pub the public one. A client's public key is worked out from its secret, so a client
 * names only its .key file; the broker's allow directory holds the clients' .pub files. */
#ifndef KGSUP_CURVEKEY_H
#define KGSUP_CURVEKEY_H

#include <stddef.h>

#include "zsock.h"

/* Reads a key file into out (ZSOCK_KEY_LEN characters). A secret one must be a regular file of
 * ours that nobody else may read. 0, or -1 with "PATH: what is wrong" in err. */
int curvekey_read(const char *path, int secret, char out[ZSOCK_KEY_LEN + 1], char *err,
		  size_t errlen);
/* Writes NAME.key (O_EXCL, 0600) and NAME.pub (0644); 0, or -1 with err set (an existing file
 * is never replaced). */
int curvekey_write(const char *name, const char *public_, const char *secret, char *err,
		   size_t errlen);
/* Non-zero when s is ZSOCK_KEY_LEN characters of Z85. */
int curvekey_valid(const char *s);

#endif
