/* jsonl.c: the .jsonl reader: one {"id": "...", "text": "..."} per line, each line a document
 * of its own named "path#id", its text read as plain text. */
#include "reader.h"
#include "json.h"

#include <stdio.h>
#include <string.h>

int jsonl_line(struct reader *rd, const struct line *l)
{
	if (line_blank(l))
		return 0;
	char perr[96];
	json *obj = json_parse(l->p, l->len, perr, sizeof perr);
	if (!obj) {
		snprintf(rd->err, rd->errlen, "%s:%u: not valid JSON (%s)", rd->name, rd->lineno, perr);
		return -1;
	}
	const char *id = json_string(json_get(obj, "id"));
	const char *body = json_string(json_get(obj, "text"));
	if (!id || !*id || !body) {
		json_free(obj);
		snprintf(rd->err, rd->errlen,
			 "%s:%u: expected an object with string members \"id\" and \"text\"", rd->name,
			 rd->lineno);
		return -1;
	}
	buf_reset(&rd->source);
	buf_printf(&rd->source, "%s#%s", rd->name, id);
	reader_begin_document(rd, buf_cstr(&rd->source));
	text_feed(rd, body, strlen(body));
	json_free(obj);
	text_finish(rd);
	return reader_deliver(rd, 0) ? 1 : 0;
}
