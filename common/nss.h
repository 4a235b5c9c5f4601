/* nss.h: glibc's name service switch, warmed up in the zygote (worker/zygote.c). */
#ifndef KGSUP_NSS_H
#define KGSUP_NSS_H

/* Makes the lookups every worker makes at its start, so that glibc has read nsswitch.conf and
 * searched for its modules once, here, and the zygote's children find it done: libzmq's
 * context (through libpgm) looks up the "tcp" protocol, and glibc's first lookup of a kind
 * probes some sixty paths for an NSS module. Nothing stays open. */
void nss_warm(void);

#endif
