/* roles.h: the entry points of kgsup's commands and process roles. kgsup.c dispatches on the
 * first argument through one table; the internal roles (__worker, __broker) are how the
 * supervisor's children come back to life after exec. */
#ifndef KGSUP_ROLES_H
#define KGSUP_ROLES_H

int start_main(int argc, char **argv);   /* kgsup start */
int resume_main(int argc, char **argv);  /* kgsup resume */
int status_main(int argc, char **argv);  /* kgsup status */
int export_main(int argc, char **argv);  /* kgsup export */
int stop_main(int argc, char **argv);    /* kgsup stop */
int scale_main(int argc, char **argv);   /* kgsup scale */
int plan_main(int argc, char **argv);    /* kgsup plan */
int worker_main(int argc, char **argv);  /* kgsup __worker SLOT DIR SESSION */
int broker_main(int argc, char **argv);  /* kgsup __broker DIR SESSION */

#endif
