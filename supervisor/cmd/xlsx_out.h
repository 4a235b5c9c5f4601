/* xlsx_out.h: one sheet written to an .xlsx file line by line, for people who open it in
 * Excel: the first line a bold header, panes frozen below it and right of its first column,
 * column widths fitted to the longest line of text in them (capped), and cells that are plain
 * numbers (ones that read back as written) stored as numbers, the rest as text. The file
 * appears under its name only when complete: it is written under a temporary name, then
 * renamed. Lines are kept in memory one at a time (libxlsxwriter's constant_memory mode). */
#ifndef KGSUP_XLSX_OUT_H
#define KGSUP_XLSX_OUT_H

#include <stddef.h>

typedef struct xlsx_out xlsx_out;

/* NULL with err set when path cannot be written. */
xlsx_out *xlsx_out_open(const char *path, const char *sheet, char *err, size_t errlen);
/* Writes the next line (the header first); cells NUL-terminated, with their lengths. 0, or -1
 * with err set (a sheet holds at most 1,048,576 lines). */
int xlsx_out_line(xlsx_out *x, const char *const *cell, const size_t *len, size_t n, char *err,
		  size_t errlen);
/* keep: finishes the file and puts it in place (0, or -1 with err set); else throws it away.
 * Frees x either way. */
int xlsx_out_close(xlsx_out *x, int keep, char *err, size_t errlen);

#endif
