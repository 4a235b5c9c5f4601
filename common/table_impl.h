/* table_impl.h: private to the table readers (table.c, table_csv.c, xlsx.c, xlsx_sheet.c):
 * the open table, the row builder they share, and each format's entry points, which
 * table.c's format table names. Not for use outside them. */
#ifndef KGSUP_TABLE_IMPL_H
#define KGSUP_TABLE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "table.h"

struct xml;
struct xml_handlers;

/* An open .xlsx table: what xlsx.c loads once for every reading of the sheet. */
struct xlsx {
	struct zipfile *zip;
	char *part;   /* the sheet's member, "xl/worksheets/sheet1.xml" */
	int date1904; /* the workbook counts days from 1904 (old Mac Excel) */
	buf sst;      /* the shared strings, each followed by a NUL */
	size_t *sst_off, *sst_len, nsst, capsst;
	unsigned char *xf_date; /* by cell style (the "s" attribute): 1 when a date format */
	size_t nxf, capxf;
};

struct table {
	char *path;
	const struct table_fmt *form; /* its row of the format table */
	struct xlsx *xlsx;	      /* xlsx: the workbook, styles and shared strings */
	int readings;		      /* csv/tsv: how often read (its encoding is said once) */
	char delim;		      /* csv/tsv: the field separator read (table_csv.c) */
	int unquoted;		      /* tsv: quotes are text (table_csv.c) */
	int sep_line;		      /* csv/tsv: line 1 is Excel's "sep=;", no row */
};

/* One row being built: cells are set by column (gaps stay empty), then handed over. */
struct rowbuf {
	buf data;	   /* the cells' bytes, each followed by a NUL */
	size_t *offs;	   /* into data; SIZE_MAX for an empty cell */
	size_t *lens;
	const char **ptrs; /* built by rowbuf_emit */
	size_t n, cap;
	size_t min_cells; /* rows are padded to the header's width */
	uint64_t nrows;	  /* rows handed over, the header included */
};

void rowbuf_init(struct rowbuf *rb);
void rowbuf_free(struct rowbuf *rb);
void rowbuf_reset(struct rowbuf *rb);
/* Sets cell col (0-based) to s; a cell set twice keeps the last value. -1 once the row
 * holds more than TABLE_MAX_ROW bytes or col is TABLE_MAX_COLS or more. */
int rowbuf_set(struct rowbuf *rb, size_t col, const char *s, size_t n);
/* Hands the row to fn as line `line` and empties it; returns what fn returned. */
int rowbuf_emit(struct rowbuf *rb, uint64_t line, table_row_fn fn, void *arg);

/* A format: its endings and its handlers. open may be NULL (nothing to load). */
struct table_fmt {
	const char *endings[3]; /* NULL-terminated */
	char delim;		/* csv/tsv: the field separator */
	int (*open)(struct table *t, const char *sheet, char *err, size_t errlen);
	int (*rows)(struct table *t, table_row_fn fn, void *arg, char *err, size_t errlen);
	void (*close)(struct table *t);
};

/* table_csv.c */
int csv_table_open(struct table *t, const char *sheet, char *err, size_t errlen);
int csv_table_rows(struct table *t, table_row_fn fn, void *arg, char *err, size_t errlen);
/* xlsx.c: the workbook, styles and shared strings */
int xlsx_table_open(struct table *t, const char *sheet, char *err, size_t errlen);
void xlsx_table_close(struct table *t);
/* Parses the archive's member with h; *xp is set before the first handler runs (for
 * xml_stop). 0, 1 when a handler stopped it, or -1 with "FILE: MEMBER: what" in err. */
int xlsx_parse_part(struct table *t, const char *member, const struct xml_handlers *h,
		    void *arg, struct xml **xp, char *err, size_t errlen);
/* xlsx_sheet.c: the sheet's rows */
int xlsx_table_rows(struct table *t, table_row_fn fn, void *arg, char *err, size_t errlen);

#endif
