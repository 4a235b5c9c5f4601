/* answer.h: reading what the API answered. The envelope is the chat-completions response;
 * the content is the model's JSON, which must satisfy the KG schema (etc/jobs/schemas/kg.json,
 * schema_kg()). A fenced ```json block or prose around one object is tolerated; anything else
 * is invalid. A valid answer is rewritten in one normal form so later stages need no checks:
 *   {"entities":[{"name","type","description","chunks":[id..]}],
 *    "relations":[{"source","target","type","description","chunks":[id..]}],
 *    "dropped_relations":N}
 * (every field present, "chunks" filled with the batch's chunk ids when missing, unknown ids
 * dropped, other properties left out). */
#ifndef KGSUP_ANSWER_H
#define KGSUP_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "names.h"
#include "schema.h"

struct envelope {
	char *content;       /* malloc'd; NULL when absent */
	char finish_reason[32];
	int64_t prompt_tokens;     /* -1 when usage is missing */
	int64_t completion_tokens;
};

/* Returns 0, or -1 with the reason in err. */
int answer_parse_envelope(const char *body, size_t len, struct envelope *env, char *err,
			  size_t errlen);
void envelope_free(struct envelope *env);

/* Entities and relations of a KG answer left out because they fail the KG schema's rules
 * for an item of their array (/properties/entities/items, /properties/relations/items). */
struct answer_invalid {
	int n;
	buf items; /* a JSON array: {"path","reason","item"} for each item left out */
};

/* Validates content against sch (the stage's schema; NULL means schema_kg()) and the KG
 * schema, and appends its normal form to out. chunk_ids is the batch's ids, '\n'-separated.
 * An answer that fails sch (when it is not the KG schema) is invalid as a whole. Items of
 * "entities" or "relations" that fail the KG schema's item rules are left out, counted and
 * listed in inv (its items buf initialised by the caller, reset here); the rest is kept when
 * the answer is then valid and has an entity left. Relations whose source or target is not
 * (in normal form, names.h) an entity of the answer are left out and counted in *dropped and
 * in the normal form's "dropped_relations". Returns 0, or -1 with the reason in err: the JSON
 * path of the first error and what is wrong ("$.entities[0].name: required property is
 * missing"). */
int answer_normalize(const schema *sch, const char *content, size_t len, const char *chunk_ids,
		     size_t ids_len, const names *nm, buf *out, int *dropped,
		     struct answer_invalid *inv, char *err, size_t errlen);

/* The answer of a stage that is not a graph stage: the JSON object in content (a fence or
 * prose around it tolerated), checked against sch when given, appended to out in compact form.
 * 0, or -1 with the reason (the JSON path of the first error) in err. */
int answer_check(const schema *sch, const char *content, size_t len, buf *out, char *err,
		 size_t errlen);

/* The server's message in an error body, whatever its shape ({"error":{"message":..}},
 * {"error":"..","message":".."}, {"object":"error","message":..}, {"error":".."},
 * {"detail":".."} or FastAPI's {"detail":[{"loc","msg"}..]}), else the first 200 bytes of the
 * body as text; one line, no white space at its ends. NULL when there is nothing (an empty
 * body). malloc'd. */
char *answer_error_message(const char *body, size_t len);

#endif
