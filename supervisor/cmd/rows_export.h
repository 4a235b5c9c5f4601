/* rows_export.h: export -f csv and -f xlsx of a run over rows: the table of rowgrid.h as CSV
 * (RFC 4180, every field quoted, lines ended by CRLF, UTF-8 without a byte order mark) or as
 * an .xlsx sheet (xlsx_out.h). A file is written under a temporary name and renamed when
 * complete; csv without a file goes to standard output. */
#ifndef KGSUP_ROWS_EXPORT_H
#define KGSUP_ROWS_EXPORT_H

#include <stddef.h>

#include "../../common/store.h"

/* 0, or -1 with err set (a run without a stage over rows is refused). */
int rows_export_csv(store_txn *t, const char *output, char *err, size_t errlen);
int rows_export_xlsx(store_txn *t, const char *output, char *err, size_t errlen);

#endif
