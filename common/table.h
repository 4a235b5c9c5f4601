/* table.h: feedback tables read row by row (.csv, .tsv, .xlsx). Each row is handed to a
 * callback as UTF-8 cells; memory does not grow with the file, except for an .xlsx file's
 * shared strings, which its cells point into. The formats are the rows of one table
 * (table.c); each one's reader is in a file of its own (table_csv.c, xlsx.c + xlsx_sheet.c).
 *   .csv .tsv - RFC 4180 (quoted fields, doubled quotes, newlines in quotes, CRLF, a UTF-8
 *               BOM dropped); a file that is not valid UTF-8 is read as Windows-1252 with
 *               one warning naming the file
 *   .xlsx     - the first sheet or the one named: shared and inline strings, numbers as
 *               written in the cell, booleans as "true"/"false", dates as ISO 8601 */
#ifndef KGSUP_TABLE_H
#define KGSUP_TABLE_H

#include <stddef.h>
#include <stdint.h>

enum table_format { TABLE_CSV, TABLE_TSV, TABLE_XLSX };

struct table_row {
	uint64_t line;		  /* csv/tsv: the row's first physical line; xlsx: the row
				   * number; both 1-based */
	size_t ncells;		  /* at least the header's number of cells (missing ones are "") */
	const char *const *cells; /* each NUL-terminated too */
	const size_t *lens;
};

/* Called for the header row first, then for each row; non-zero stops the reading. */
typedef int (*table_row_fn)(const struct table_row *row, void *arg);

/* An open table: the format found, the encoding or the sheet chosen, so it can be read more
 * than once (a first pass for column statistics, a second for the rows) at the cost of one
 * look. */
struct table;

/* Opens path: a .csv or .tsv file is checked for UTF-8 (warning once when it is read as
 * Windows-1252); an .xlsx file's workbook, styles and shared strings are loaded and the
 * sheet found (sheet NULL: the first). NULL with "FILE: what" in err. */
struct table *table_open(const char *path, const char *sheet, char *err, size_t errlen);
/* Reads every row from the top, the header first. Returns 0, 1 when fn stopped it, or -1
 * with "FILE:LINE: what" in err ("f.csv:12: unterminated quoted field"). */
int table_rows(struct table *t, table_row_fn fn, void *arg, char *err, size_t errlen);
void table_close(struct table *t);
/* table_open + table_rows + table_close. */
int table_read(const char *path, const char *sheet, table_row_fn fn, void *arg, char *err,
	       size_t errlen);

/* The format by file name ending (case-insensitive), -1 when it is not a table. */
int table_format_of(const char *path);
/* The endings read, for messages: ".csv, .tsv, .xlsx". */
const char *table_endings(void);

/* Appends s (len bytes) as one RFC 4180 field, quoted with inner quotes doubled (libcsv's
 * writer): what exports of tables write, a "," or "\r\n" between fields and lines. */
struct buf;
void table_csv_field(struct buf *out, const char *s, size_t len);

/* The longest row (all its cells) a table may have; a longer one is an error, so a missing
 * closing quote cannot make one field swallow the whole file into memory. */
#define TABLE_MAX_ROW ((size_t)64 << 20)

#endif
