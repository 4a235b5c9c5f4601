/* cadir.h: whether a directory holds CAs named by hash (cadir.c). */
#ifndef KGSUP_CADIR_H
#define KGSUP_CADIR_H

/* 1 when the TLS library (libcurl's ssl_version) is OpenSSL, which reads such a directory a CA
 * at a time, dir has an entry named HHHHHHHH.N (8 hex digits, a dot, a digit), as openssl
 * rehash and Debian's ca-certificates make them, and the bundle file (NULL: none) is not newer
 * than dir; 0 otherwise, or when dir is NULL or either cannot be read. */
int cadir_serves(const char *tls, const char *dir, const char *bundle);

#endif
