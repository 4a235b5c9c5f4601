/* hash.h: what kgsup takes from OpenSSL's libcrypto: SHA-256 for chunk ids and the cache keys,
 * and base64 for embedding vectors as servers send them. */
#ifndef KGSUP_HASH_H
#define KGSUP_HASH_H

#include <stddef.h>

#define HASH_LEN 32

typedef struct hash_ctx hash_ctx;

hash_ctx *hash_new(void);
void hash_update(hash_ctx *h, const void *data, size_t len);
/* Writes HASH_LEN bytes and frees the context. */
void hash_final(hash_ctx *h, unsigned char out[HASH_LEN]);
void hash_once(const void *data, size_t len, unsigned char out[HASH_LEN]);
/* Lower-case hex of the first nbytes of digest into out (2*nbytes+1 bytes). */
void hash_hex(const unsigned char *digest, size_t nbytes, char *out);

/* Decodes base64 text (no whitespace) into out, which has room for len / 4 * 3 bytes: the
 * number of bytes, or -1 when it is not base64. */
long base64_decode(const char *text, size_t len, unsigned char *out);

#endif
