#!/bin/bash
# split.t: an answer cut off at max_tokens (finish_reason "length") splits its batch in two
# rather than buying the same cut-off answer again; the graph equals that of a run whose
# batches were that small to begin with. A single chunk that still does not fit fails for good.
. "$(dirname "$0")/lib.sh"
plan 6

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 6 --words 800
start_mock --per-chunk 3
# about 160 completion tokens a chunk: 4 chunks never fit in 400, 2 always do
write_config "$T/cfg.json" '{"api": {"max_tokens": 400}, "chunking": {"chunks_per_batch": 4}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s" -q 2>"$T/err"; rc=$?
kg status -s "$T/s" --json >"$T/st.json"
diag "$(cat "$T/st.json")"
check "cut-off answers: exit 0 (got $rc)" [ $rc -eq 0 ]
check "batches were split and every remaining batch done" [ "$(json_get "$T/st.json" \
	"j['batches']['split'] > 0 and j['batches']['done'] == j['batches']['total']")" = True ]
check "no cut-off request was sent twice (retried: $(json_get "$T/st.json" "j['requests']['retried']"))" \
	[ "$(json_get "$T/st.json" "j['requests']['retried']")" = 0 ]
kg export -s "$T/s" -o "$T/split.jsonl" 2>/dev/null

write_config "$T/cfg2.json" '{"api": {"max_tokens": 400}, "chunking": {"chunks_per_batch": 2}}'
kg start -c "$T/cfg2.json" -i "$T/in" -s "$T/ref" -q 2>>"$T/err"
kg export -s "$T/ref" -o "$T/ref.jsonl" 2>/dev/null
same=$(/usr/bin/python3 - "$T/ref.jsonl" "$T/split.jsonl" <<'PY'
import json, sys
a, b = (open(f).read().splitlines() for f in sys.argv[1:])
def chunk_order(lines):  # chunks in the order the export first mentions them
    seen = []
    for l in lines:
        for c in json.loads(l)["chunks"]:
            if c not in seen:
                seen.append(c)
    return seen
print(sorted(a) == sorted(b) and chunk_order(a) == chunk_order(b))
PY
)
check "the graph equals a run with batches of 2 chunks, chunks in input order" [ "$same" = True ]

write_config "$T/cfg3.json" '{"api": {"max_tokens": 60}, "chunking": {"chunks_per_batch": 2}}'
kg start -c "$T/cfg3.json" -i "$T/in" -s "$T/tiny" -q 2>"$T/err3"; rc=$?
check "a single chunk that does not fit: exit 3 (got $rc)" [ $rc -eq 3 ]
check "with a reason naming api.max_tokens" grep -q "raise it" "$T/err3"
finish
