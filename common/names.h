/* names.h: the normal form of entity names and types, under which variants of one name merge:
 * Unicode case folding with compatibility normalization (NFKC), punctuation and whitespace
 * runs turned into one space, leading titles ("Dr.", "Prof.") dropped, then the user's alias
 * rules. "Dr. Ada Lovelace", "ADA  LOVELACE" and "ada lovelace" all become "ada lovelace".
 * Only this file uses libunistring. */
#ifndef KGSUP_NAMES_H
#define KGSUP_NAMES_H

#include <stddef.h>

#include "buf.h"

typedef struct names names;

/* titles: comma-separated words dropped from the front of a name; aliases_file: NULL or a file
 * of "alias = canonical" lines ('#' starts a comment). Returns NULL with a one-line error naming
 * the file and line in err. */
names *names_new(const char *titles, const char *aliases_file, char *err, size_t errlen);
void names_free(names *n);

/* Appends the normal form of an entity name to out (not NUL-terminated); "" when the name has
 * nothing but punctuation. */
void names_entity(const names *n, const char *s, size_t len, buf *out);
/* Appends the normal form of a type (folding, punctuation and whitespace only). */
void names_fold(const char *s, size_t len, buf *out);

#endif
