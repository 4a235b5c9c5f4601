/* nss.c: glibc's name service switch warmed up (nss.h). Apart from the rest because netdb.h
 * and proto.h cannot meet (MSG_BATCH is a flag of sendmmsg there). */
#include "nss.h"

#include <netdb.h>

void nss_warm(void)
{
	getprotobyname("tcp");
	endprotoent();
}
