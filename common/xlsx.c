/* xlsx.c: opening an .xlsx table: the workbook's sheet list and its relationships (to find
 * the sheet's member and the shared strings and styles), which cell styles are dates, and
 * the shared strings, held for every reading of the sheet (xlsx_sheet.c reads its rows).
 * The archive is read through zipfile.c, the XML through xml.c. */
#include "table_impl.h"
#include "xml.h"
#include "zipfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xlsx_part {
	struct table *t;
	struct xml *x;
	char *err;
	size_t errlen;
};

static int feed_part(const char *p, size_t n, void *arg)
{
	struct xlsx_part *xp = arg;
	return xml_feed(xp->x, p, n, 0, xp->err, xp->errlen);
}

int xlsx_parse_part(struct table *t, const char *member, const struct xml_handlers *h,
		    void *arg, struct xml **xp, char *err, size_t errlen)
{
	char what[256] = "";
	struct xlsx_part part = { t, xml_new(h, arg), what, sizeof what };
	*xp = part.x;
	int rc = zipfile_read(t->xlsx->zip, member, feed_part, &part, err, errlen);
	if (!rc)
		rc = xml_feed(part.x, "", 0, 1, what, sizeof what);
	if (rc < 0 && what[0]) /* an XML error (zipfile_read writes its own) */
		snprintf(err, errlen, "%s: %s: %s", t->path, member, what);
	xml_free(part.x);
	*xp = NULL;
	return rc;
}

/* ---- the workbook and its relationships ---- */

struct workbook {
	const char *want; /* the sheet asked for, or NULL for the first */
	char *rid;	  /* the chosen sheet's relationship */
	buf names;	  /* the sheets' names, for the error when want is not there */
	int date1904;
	/* from the relationships */
	char *sheet_target, *sst_target, *styles_target;
	struct xml *x;
};

static void wb_start(void *arg, const char *name, const char **attrs)
{
	struct workbook *w = arg;
	if (!strcmp(name, "workbookPr")) {
		const char *v = xml_attr(attrs, "date1904");
		w->date1904 = v && (!strcmp(v, "1") || !strcmp(v, "true"));
	} else if (!strcmp(name, "sheet")) {
		const char *n = xml_attr(attrs, "name"), *id = xml_attr(attrs, "id");
		if (!n || !id)
			return;
		buf_printf(&w->names, "%s\"%s\"", w->names.len ? ", " : "", n);
		if (!w->rid && (!w->want || !strcmp(w->want, n)))
			w->rid = xstrdup(id);
	}
}

static int ends_with(const char *s, const char *end)
{
	size_t a = strlen(s), b = strlen(end);
	return a >= b && !strcmp(s + a - b, end);
}

static void rels_start(void *arg, const char *name, const char **attrs)
{
	struct workbook *w = arg;
	const char *id = xml_attr(attrs, "Id"), *target = xml_attr(attrs, "Target");
	const char *type = xml_attr(attrs, "Type");
	if (strcmp(name, "Relationship") || !id || !target || !type)
		return;
	char **slot = NULL;
	if (w->rid && !strcmp(id, w->rid))
		slot = &w->sheet_target;
	else if (ends_with(type, "/sharedStrings"))
		slot = &w->sst_target;
	else if (ends_with(type, "/styles"))
		slot = &w->styles_target;
	if (slot && !*slot) { /* targets are relative to xl/, or absolute in the archive */
		buf b;
		buf_init(&b);
		buf_printf(&b, "%s%s", target[0] == '/' ? "" : "xl/", target + (target[0] == '/'));
		*slot = xstrdup(buf_cstr(&b));
		buf_free(&b);
	}
}

static void workbook_free(struct workbook *w)
{
	free(w->rid);
	buf_free(&w->names);
	free(w->sheet_target);
	free(w->sst_target);
	free(w->styles_target);
}

/* Finds the sheet's member; the shared strings' and styles' too when the workbook names
 * them. */
static int find_sheet(struct table *t, struct workbook *w, char *err, size_t errlen)
{
	static const struct xml_handlers wb = { .start = wb_start };
	static const struct xml_handlers rels = { .start = rels_start };
	if (xlsx_parse_part(t, "xl/workbook.xml", &wb, w, &w->x, err, errlen))
		return -1;
	if (!w->rid) {
		if (w->want)
			snprintf(err, errlen, "%s: no sheet \"%s\" (its sheets: %s)", t->path, w->want,
				 w->names.len ? buf_cstr(&w->names) : "none");
		else
			snprintf(err, errlen, "%s: the workbook has no sheet", t->path);
		return -1;
	}
	if (xlsx_parse_part(t, "xl/_rels/workbook.xml.rels", &rels, w, &w->x, err, errlen))
		return -1;
	if (!w->sheet_target || !zipfile_has(t->xlsx->zip, w->sheet_target)) {
		snprintf(err, errlen, "%s: the sheet's part (%s) is missing", t->path,
			 w->sheet_target ? w->sheet_target : w->rid);
		return -1;
	}
	t->xlsx->part = w->sheet_target;
	w->sheet_target = NULL;
	t->xlsx->date1904 = w->date1904;
	return 0;
}

/* ---- styles: which cell formats are dates ---- */

/* A custom number format shows a date when it has a day, month or year code outside its
 * quoted text, [colour] and [$-locale] parts and escaped characters. */
static int is_date_code(const char *code)
{
	for (const char *p = code; *p; p++) {
		if (*p == '"') {
			const char *q = strchr(p + 1, '"');
			if (!q)
				return 0;
			p = q;
		} else if (*p == '[') {
			const char *q = strchr(p + 1, ']');
			if (!q)
				return 0;
			p = q;
		} else if ((*p == '\\' || *p == '_' || *p == '*') && p[1]) {
			p++;
		} else if (strchr("dDmMyY", *p)) {
			return 1;
		}
	}
	return 0;
}

struct styles {
	struct xlsx *xl;
	int in_xfs;
	unsigned *date_ids; /* the custom formats that are dates */
	size_t ndate, capdate;
	struct xml *x;
};

static int is_date_fmt(const struct styles *s, unsigned id)
{
	if (id >= 14 && id <= 22) /* the built-in date and time formats */
		return 1;
	for (size_t i = 0; i < s->ndate; i++)
		if (s->date_ids[i] == id)
			return 1;
	return 0;
}

static void st_start(void *arg, const char *name, const char **attrs)
{
	struct styles *s = arg;
	const char *id = xml_attr(attrs, "numFmtId");
	if (!strcmp(name, "cellXfs")) {
		s->in_xfs = 1;
	} else if (!strcmp(name, "numFmt") && id) {
		const char *code = xml_attr(attrs, "formatCode");
		if (code && is_date_code(code)) {
			s->date_ids = xgrow(s->date_ids, &s->capdate, s->ndate, sizeof *s->date_ids, 8);
			s->date_ids[s->ndate++] = (unsigned)strtoul(id, NULL, 10);
		}
	} else if (!strcmp(name, "xf") && s->in_xfs) {
		struct xlsx *xl = s->xl;
		xl->xf_date = xgrow(xl->xf_date, &xl->capxf, xl->nxf, 1, 16);
		xl->xf_date[xl->nxf++] = id && is_date_fmt(s, (unsigned)strtoul(id, NULL, 10));
	}
}

static void st_end(void *arg, const char *name)
{
	struct styles *s = arg;
	if (!strcmp(name, "cellXfs"))
		s->in_xfs = 0;
}

static int load_styles(struct table *t, const char *member, char *err, size_t errlen)
{
	static const struct xml_handlers h = { .start = st_start, .end = st_end };
	struct styles s = { .xl = t->xlsx };
	int rc = xlsx_parse_part(t, member, &h, &s, &s.x, err, errlen);
	free(s.date_ids);
	return rc;
}

/* ---- shared strings ---- */

struct sst {
	struct xlsx *xl;
	int in_si, in_t, in_rph; /* rPh: phonetic hints, not part of the text */
	size_t start;
	struct xml *x;
};

static void sst_start(void *arg, const char *name, const char **attrs)
{
	(void)attrs;
	struct sst *s = arg;
	if (!strcmp(name, "si")) {
		s->in_si = 1;
		s->start = s->xl->sst.len;
	} else if (!strcmp(name, "rPh")) {
		s->in_rph++;
	} else if (!strcmp(name, "t")) {
		s->in_t = 1;
	}
}

static void sst_end(void *arg, const char *name)
{
	struct sst *s = arg;
	struct xlsx *xl = s->xl;
	if (!strcmp(name, "rPh")) {
		s->in_rph--;
	} else if (!strcmp(name, "t")) {
		s->in_t = 0;
	} else if (!strcmp(name, "si") && s->in_si) {
		xl->sst_off = xgrow(xl->sst_off, &xl->capsst, xl->nsst, sizeof *xl->sst_off, 64);
		xl->sst_len = xrealloc(xl->sst_len, xl->capsst * sizeof *xl->sst_len);
		xl->sst_off[xl->nsst] = s->start;
		xl->sst_len[xl->nsst++] = xl->sst.len - s->start;
		buf_putc(&xl->sst, '\0');
		s->in_si = 0;
	}
}

static void sst_text(void *arg, const char *p, size_t n)
{
	struct sst *s = arg;
	if (s->in_si && s->in_t && !s->in_rph)
		buf_put(&s->xl->sst, p, n);
}

static int load_sst(struct table *t, const char *member, char *err, size_t errlen)
{
	static const struct xml_handlers h = { .start = sst_start, .end = sst_end, .text = sst_text };
	struct sst s = { .xl = t->xlsx };
	return xlsx_parse_part(t, member, &h, &s, &s.x, err, errlen);
}

int xlsx_table_open(struct table *t, const char *sheet, char *err, size_t errlen)
{
	t->xlsx = xcalloc(1, sizeof *t->xlsx);
	buf_init(&t->xlsx->sst);
	if (!(t->xlsx->zip = zipfile_open(t->path, err, errlen)))
		return -1;
	struct workbook w = { .want = sheet };
	buf_init(&w.names);
	int rc = find_sheet(t, &w, err, errlen);
	const char *sst = w.sst_target ? w.sst_target : "xl/sharedStrings.xml";
	const char *styles = w.styles_target ? w.styles_target : "xl/styles.xml";
	if (!rc && zipfile_has(t->xlsx->zip, styles))
		rc = load_styles(t, styles, err, errlen);
	if (!rc && zipfile_has(t->xlsx->zip, sst))
		rc = load_sst(t, sst, err, errlen);
	workbook_free(&w);
	return rc ? -1 : 0;
}

void xlsx_table_close(struct table *t)
{
	struct xlsx *xl = t->xlsx;
	if (!xl)
		return;
	zipfile_close(xl->zip);
	free(xl->part);
	buf_free(&xl->sst);
	free(xl->sst_off);
	free(xl->sst_len);
	free(xl->xf_date);
	free(xl);
	t->xlsx = NULL;
}
