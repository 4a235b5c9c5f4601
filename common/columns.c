/* columns.c: the choice of a table's id, text and kept columns (see columns.h). */
#include "columns.h"
#include "buf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Headers that name a row id, the most telling first; compared without case, spaces, "_"
 * or "-", so "Response ID" is response_id. */
static const char *const id_names[] = {
	"id", "response_id", "respondent_id", "row_id", "record_id", "submission_id",
	"entry_id", "feedback_id", "ticket_id", "uuid",
};
#define NID_NAMES (sizeof id_names / sizeof id_names[0])

int column_stats_row(const struct table_row *row, void *stats)
{
	struct column_stats *st = stats;
	if (!st->names) {
		st->ncols = row->ncells;
		st->names = xcalloc(row->ncells + 1, sizeof *st->names);
		for (size_t i = 0; i < row->ncells; i++)
			st->names[i] = xstrndup(row->cells[i], row->lens[i]);
		st->with_text = xcalloc(row->ncells + 1, sizeof *st->with_text);
		st->chars = xcalloc(row->ncells + 1, sizeof *st->chars);
		st->words = xcalloc(row->ncells + 1, sizeof *st->words);
		return 0;
	}
	st->rows++;
	for (size_t i = 0; i < st->ncols && i < row->ncells; i++) {
		const unsigned char *p = (const unsigned char *)row->cells[i];
		uint64_t chars = 0;
		int text = 0, gap = 0, words = 0; /* a space after text, then text again */
		for (size_t k = 0; k < row->lens[i]; k++) {
			chars += (p[k] & 0xc0) != 0x80; /* a UTF-8 character's first byte */
			words |= gap && !isspace(p[k]);
			gap |= text && isspace(p[k]);
			text |= !isspace(p[k]);
		}
		st->chars[i] += chars;
		st->words[i] += words ? chars : 0;
		st->with_text[i] += text;
	}
	return 0;
}

void column_stats_free(struct column_stats *st)
{
	for (size_t i = 0; i < st->ncols; i++)
		free(st->names[i]);
	free(st->names);
	free(st->with_text);
	free(st->chars);
	free(st->words);
	memset(st, 0, sizeof *st);
}

/* The header cell without the white space around it, compared to name. */
static int header_is(const char *cell, const char *name, int nocase)
{
	while (isspace((unsigned char)*cell))
		cell++;
	size_t n = strlen(cell), m = strlen(name);
	while (n && isspace((unsigned char)cell[n - 1]))
		n--;
	return n == m && !(nocase ? strncasecmp(cell, name, n) : strncmp(cell, name, n));
}

/* The column named name: the exact header first, then one that differs only in case. */
static int find_column(const struct column_stats *st, const char *name)
{
	for (int nocase = 0; nocase < 2; nocase++)
		for (size_t i = 0; i < st->ncols; i++)
			if (header_is(st->names[i], name, nocase))
				return (int)i;
	return -1;
}

/* The column a kept name stands for: of the columns it names, the first neither kept yet nor
 * the id or text column, else the first not kept yet, else the first; so a header that names
 * two columns keeps both, each once. */
static int find_kept(const struct column_stats *st, const struct column_choice *ch,
		     const char *name)
{
	for (int pass = 0; pass < 3; pass++)
		for (int nocase = 0; nocase < 2; nocase++)
			for (size_t i = 0; i < st->ncols; i++) {
				int kept = 0, own = (int)i == ch->id_col || (int)i == ch->text_col;
				for (size_t k = 0; k < ch->nkeep; k++)
					kept |= ch->keep[k] == i;
				if (header_is(st->names[i], name, nocase) &&
				    !(pass < 2 && kept) && !(pass == 0 && own))
					return (int)i;
			}
	return -1;
}

/* s lower-cased without spaces, "_" and "-", into out. */
static void squeeze(const char *s, char *out, size_t n)
{
	size_t k = 0;
	for (; *s && k + 1 < n; s++)
		if (!strchr(" \t_-", *s))
			out[k++] = (char)tolower((unsigned char)*s);
	out[k] = '\0';
}

static int id_by_name(const struct column_stats *st)
{
	char want[64], have[64];
	for (size_t k = 0; k < NID_NAMES; k++) {
		squeeze(id_names[k], want, sizeof want);
		for (size_t i = 0; i < st->ncols; i++) {
			squeeze(st->names[i], have, sizeof have);
			if (!strcmp(want, have))
				return (int)i;
		}
	}
	return -1;
}

static void unknown(const char *file, const struct column_stats *st, const char *name,
		    const char *key, char *err, size_t errlen)
{
	buf b;
	buf_init(&b);
	for (size_t i = 0; i < st->ncols; i++)
		buf_printf(&b, "%s\"%s\"", i ? ", " : "", st->names[i]);
	snprintf(err, errlen, "%s: no column \"%s\" (%s); its columns: %s", file, name, key,
		 st->ncols ? buf_cstr(&b) : "none");
	buf_free(&b);
}

/* The column with the longest average text that is not the id column, counting cells of words
 * alone where some column has them (a sparse comment column beats a date or an address on
 * every row); -1 if none has any text. */
static int longest_text(const struct column_stats *st, int id_col)
{
	int best = -1;
	const uint64_t *by = st->chars;
	for (size_t i = 0; i < st->ncols; i++)
		if ((int)i != id_col && st->words[i])
			by = st->words;
	for (size_t i = 0; i < st->ncols; i++)
		if ((int)i != id_col && by[i] && (best < 0 || by[i] > by[best]))
			best = (int)i;
	return best;
}

static int choose_id(const char *file, const struct column_stats *st, const struct column_spec *spec,
		     struct column_choice *out, buf *desc, char *err, size_t errlen)
{
	if (spec->id_column && !strcmp(spec->id_column, COLUMNS_NUMBERED) &&
	    find_column(st, spec->id_column) < 0) { /* (a column so named is that column) */
		out->id_col = -1;
		buf_printf(desc, "rows numbered from 1 (input.id_column \"%s\")", COLUMNS_NUMBERED);
	} else if (spec->id_column) {
		if ((out->id_col = find_column(st, spec->id_column)) < 0) {
			unknown(file, st, spec->id_column, "input.id_column", err, errlen);
			return -1;
		}
		buf_printf(desc, "id column \"%s\" (input.id_column)", st->names[out->id_col]);
	} else if ((out->id_col = id_by_name(st)) >= 0 &&
		   st->with_text[out->id_col] == st->rows) {
		buf_printf(desc, "id column \"%s\" (by its name)", st->names[out->id_col]);
	} else if (out->id_col >= 0) { /* (else the table could not be read without renaming it) */
		buf_printf(desc, "rows numbered from 1 (column \"%s\" has empty cells; "
				 "input.id_column names an id column)", st->names[out->id_col]);
		out->id_col = -1;
	} else {
		buf_printf(desc, "rows numbered from 1 (no column is named id, response_id, "
				 "respondent_id, row_id, ...; input.id_column names one)");
	}
	return 0;
}

static int choose_text(const char *file, const struct column_stats *st,
		       const struct column_spec *spec, struct column_choice *out, buf *desc,
		       char *err, size_t errlen)
{
	if (spec->text_column) {
		if ((out->text_col = find_column(st, spec->text_column)) < 0) {
			unknown(file, st, spec->text_column, "input.text_column", err, errlen);
			return -1;
		}
		buf_printf(desc, ", text column \"%s\" (input.text_column)", st->names[out->text_col]);
		return 0;
	}
	if ((out->text_col = longest_text(st, out->id_col)) < 0) {
		snprintf(err, errlen, "%s: no column holds text (input.text_column names one)", file);
		return -1;
	}
	uint64_t avg = (st->chars[out->text_col] + st->rows / 2) / st->rows;
	buf_printf(desc, ", text column \"%s\" (longest average text, %llu characters)",
		   st->names[out->text_col], (unsigned long long)avg);
	return 0;
}

int columns_choose(const char *file, const struct column_stats *st, const struct column_spec *spec,
		   struct column_choice *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	buf desc;
	buf_init(&desc);
	buf_printf(&desc, "%s: ", file);
	int rc = choose_id(file, st, spec, out, &desc, err, errlen);
	if (!rc)
		rc = choose_text(file, st, spec, out, &desc, err, errlen);
	out->keep = xcalloc(spec->nkeep + 1, sizeof *out->keep);
	for (size_t k = 0; !rc && k < spec->nkeep; k++) {
		int c = find_kept(st, out, spec->keep_columns[k]);
		if (c < 0 && spec->keep_may_lack) {
			out->keep[out->nkeep++] = COLUMN_NONE;
			buf_printf(&desc, "%s\"%s\" (not here: empty)", k ? ", " : ", kept ",
				   spec->keep_columns[k]);
			continue;
		}
		if (c < 0) {
			unknown(file, st, spec->keep_columns[k],
				spec->keep_keys && spec->keep_keys[k] ? spec->keep_keys[k] :
									"input.keep_columns",
				err, errlen);
			rc = -1;
			break;
		}
		out->keep[out->nkeep++] = (size_t)c;
		buf_printf(&desc, "%s\"%s\"", k ? ", " : ", kept ", st->names[c]);
	}
	snprintf(out->desc, sizeof out->desc, "%s", buf_cstr(&desc));
	buf_free(&desc);
	if (rc)
		column_choice_free(out);
	return rc;
}

void column_choice_free(struct column_choice *c)
{
	free(c->keep);
	c->keep = NULL;
	c->nkeep = 0;
}
