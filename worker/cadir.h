/* cadir.h: whether a directory holds CAs named by hash (cadir.c). */
#ifndef KGSUP_CADIR_H
#define KGSUP_CADIR_H

/* 1 when dir has an entry named HHHHHHHH.N (8 hex digits, a dot, a digit), as openssl rehash
 * and Debian's ca-certificates make them; 0 otherwise or when it cannot be read. */
int cadir_hashed(const char *dir);

#endif
