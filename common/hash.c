/* hash.c: SHA-256 and base64 through OpenSSL's EVP interface. */
#include "hash.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

struct hash_ctx {
	EVP_MD_CTX *md;
};

hash_ctx *hash_new(void)
{
	hash_ctx *h = malloc(sizeof *h);
	if (!h || !(h->md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(h->md, EVP_sha256(), NULL)) {
		fputs("kgsup: cannot initialise SHA-256\n", stderr);
		abort();
	}
	return h;
}

void hash_update(hash_ctx *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->md, data, len);
}

void hash_final(hash_ctx *h, unsigned char out[HASH_LEN])
{
	unsigned int n = HASH_LEN;
	EVP_DigestFinal_ex(h->md, out, &n);
	EVP_MD_CTX_free(h->md);
	free(h);
}

void hash_once(const void *data, size_t len, unsigned char out[HASH_LEN])
{
	/* one call, no context to allocate: keys of short texts are made by the hundred thousand */
	unsigned int n = HASH_LEN;
	if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL)) {
		fputs("kgsup: cannot compute SHA-256\n", stderr);
		abort();
	}
}

void hash_hex(const unsigned char *digest, size_t nbytes, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[2 * nbytes] = '\0';
}

long base64_decode(const char *text, size_t len, unsigned char *out)
{
	if (len % 4 || len > (size_t)1 << 30)
		return -1;
	if (!len)
		return 0;
	int n = EVP_DecodeBlock(out, (const unsigned char *)text, (int)len);
	if (n < 0)
		return -1;
	/* EVP_DecodeBlock counts the padding's bytes as data: take them off */
	n -= (text[len - 1] == '=') + (text[len - 2] == '=');
	return n;
}
