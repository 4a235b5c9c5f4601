/* allow.h: the clients a shared broker admits (kgsup broker --key K --allow DIR): those whose
 * CURVE public key is the content of a *.pub file in DIR, read at the start and again on
 * SIGHUP. The broker's ZAP handler asks allow_admit for each connection; a key refused is
 * logged once (a client retries its connection all the time; its key, not each try, is news). */
#ifndef KGSUP_ALLOW_H
#define KGSUP_ALLOW_H

#include <stddef.h>

#include "../../common/strmap.h"

struct allow {
	const char *dir;
	struct strmap keys;    /* admitted public keys (Z85) */
	struct strmap refused; /* keys refused and logged */
	size_t nkeys;
};

/* (Re)reads DIR's *.pub files; 0, or -1 with err set (DIR cannot be read). A file that holds
 * no key is skipped with a warning. */
int allow_load(struct allow *a, const char *dir, char *err, size_t errlen);
/* For zsock_zap_answer: non-zero when the key is admitted. */
int allow_admit(const char *public_, void *arg);
void allow_free(struct allow *a);

#endif
