#!/bin/bash
# export_stages.t: the answers of a run with stages. `export -f results` writes one line per
# answer in document, stage, chunk order (the same bytes every time); `export -f tree` writes
# DIR/<document>/<stage>.json holding those very answers and DIR/metadata.json saying every
# stage of every document is done and what it cost. In a run with a graph stage and another
# stage, the graph formats merge only the graph stage's answers, and a split batch's halves
# come in its place.
. "$(dirname "$0")/lib.sh"
plan 16

export MOCK_API_KEY=sk-mock-$$-secret
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 4 --words 700
start_mock --per-chunk 3

job_config "$T/analyzers.json" "$TOP/etc/jobs/analyzers.json"
kg start -c "$T/analyzers.json" -i "$T/in" -s "$T/s" -q 2>"$T/start.err"; rc=$?
check "the analyzers job finishes (exit $rc)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/# /' "$T/start.err"

kg export -s "$T/s" -f results -o "$T/r1.jsonl" 2>"$T/export.err"; rc=$?
check "export -f results: exit 0 (got $rc)" [ $rc -eq 0 ]
kg export -s "$T/s" -f results -o "$T/r2.jsonl" 2>/dev/null
check "two results exports are byte-identical" cmp -s "$T/r1.jsonl" "$T/r2.jsonl"

# py SCRIPT ARGS...: runs a Python check; its one line of output is the verdict
py() { /usr/bin/python3 - "$@"; }
verdict=$(py "$T/r1.jsonl" "$T/analyzers.json" "$T/in" <<'PY'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
stages = [s["name"] for s in json.load(open(sys.argv[2]))["stages"]]
docs = sorted(os.listdir(sys.argv[3]))
want = [(d, s) for d in docs for s in stages]  # document order (as planned), then stage order
got = [(r["document"], r["stage"]) for r in rows]
bad = [r for r in rows if "chunks" in r or not isinstance(r["answer"], dict)]
print("ok" if got == want and not bad else "got %s, want %s; bad %d" % (got[:10], want[:10], len(bad)))
PY
)
check "one results line per document and stage, in document then stage order ($verdict)" [ "$verdict" = ok ]

kg export -s "$T/s" -f tree -o "$T/tree" 2>"$T/tree.err"; rc=$?
check "export -f tree: exit 0 (got $rc)" [ $rc -eq 0 ]
verdict=$(py "$T/r1.jsonl" "$T/tree" <<'PY'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
tree = sys.argv[2]
wrong = []
for r in rows:
    path = os.path.join(tree, r["document"], r["stage"] + ".json")
    if not os.path.isfile(path) or json.load(open(path)) != r["answer"]:
        wrong.append(path)
files = sum(len(f) for _, _, f in os.walk(tree))
print("ok" if not wrong and files == len(rows) + 1 else "wrong %s; %d files" % (wrong[:3], files))
PY
)
check "the tree holds DIR/<doc>/<stage>.json for each, equal to its results line ($verdict)" \
	[ "$verdict" = ok ]
verdict=$(py "$T/tree/metadata.json" "$T/analyzers.json" "$T/in" <<'PY'
import json, os, re, sys
m = json.load(open(sys.argv[1]))
stages = [s["name"] for s in json.load(open(sys.argv[2]))["stages"]]
docs = sorted(os.listdir(sys.argv[3]))
bad = []
if not re.fullmatch(r"[0-9a-f]{64}", m["run_id"]) or not re.fullmatch(r"[0-9a-f]{64}", m["config_digest"]):
    bad.append("ids")
if [s["name"] for s in m["stages"]] != stages or m["stages"][4]["needs"] != stages[:4]:
    bad.append("stages")
if [d["document"] for d in m["documents"]] != docs:
    bad.append("documents")
for d in m["documents"]:
    for s in stages:
        e = d["stages"][s]
        if e["state"] != "done" or e["batches"] != 1 or e["prompt_tokens"] <= 0 or \
           e["completion_tokens"] <= 0 or e["cost_usd"] <= 0 or e["attempts"] < 1:
            bad.append("%s/%s: %s" % (d["document"], s, e))
    if not all(d["stages"][s]["context_tokens"] > 0 for s in stages[4:]):
        bad.append("%s: no context" % d["document"])
print("ok" if not bad else bad[:3])
PY
)
check "metadata.json: every document and stage done, with tokens, cost and context ($verdict)" \
	[ "$verdict" = ok ]
kg export -s "$T/s" -f tree -o "$T/tree2" 2>/dev/null
check "two tree exports are byte-identical" diff -r "$T/tree" "$T/tree2"
check "no temporary file is left in the tree" \
	[ -z "$(find "$T/tree" -name '*.tmp.*')" ]

kg export -s "$T/s" -f tree 2>"$T/notree.err"; rc=$?
check "export -f tree without -o: exit 2 (got $rc), saying to give a directory" \
	sh -c "[ $rc -eq 2 ] && grep -q 'give it with -o' '$T/notree.err'"

# a graph stage and a documents stage whose answers look like KG answers (a decoy entity)
cat >"$T/decoy.json" <<'JSON'
{"type": "object", "additionalProperties": false, "required": ["entities", "relations"],
 "properties": {
  "entities": {"type": "array", "minItems": 1, "maxItems": 1, "items": {"type": "object",
    "additionalProperties": false, "required": ["name", "type", "description", "chunks"],
    "properties": {"name": {"type": "string", "const": "Decoyname"},
                   "type": {"type": "string", "const": "decoy"},
                   "description": {"type": "string"},
                   "chunks": {"type": "array", "maxItems": 0, "items": {"type": "string"}}}}},
  "relations": {"type": "array", "maxItems": 0, "items": {"type": "string"}}}}
JSON
printf 'List the entities.\n' >"$T/decoy-system.txt"
printf '{{document}}\n' >"$T/decoy-user.txt"
cat >"$T/graphjob.json" <<JSON
{"api": {"model": "mock-1", "structured_outputs": true},
 "stages": [
  {"name": "decoy", "over": "documents", "schema": "$T/decoy.json",
   "prompt": {"system": "$T/decoy-system.txt", "user": "$T/decoy-user.txt"}},
  {"name": "kg", "over": "chunks", "per_call": PER_CALL, "graph": true, "max_tokens": 400}]}
JSON
sed 's/PER_CALL/4/' "$T/graphjob.json" >"$T/g4.json"
sed 's/PER_CALL/2/' "$T/graphjob.json" >"$T/g2.json"
job_config "$T/g4cfg.json" "$T/g4.json"
job_config "$T/g2cfg.json" "$T/g2.json"
kg start -c "$T/g4cfg.json" -i "$T/in" -s "$T/g4" -q 2>"$T/g4.err"; rc=$?
kg start -c "$T/g2cfg.json" -i "$T/in" -s "$T/g2" -q 2>>"$T/g4.err"; rc2=$?
kg status -s "$T/g4" --json >"$T/g4st.json"
check "the graph-stage runs finish (exit $rc and $rc2), batches of 4 chunks split" \
	[ $rc -eq 0 -a $rc2 -eq 0 -a "$(json_get "$T/g4st.json" "j['batches']['split'] > 0")" = True ]
kg export -s "$T/g4" -f jsonl -o "$T/g4.jsonl" 2>"$T/g4x.err"
kg export -s "$T/g4" -f results -o "$T/g4r.jsonl" 2>/dev/null
verdict=$(py "$T/g4.jsonl" "$T/g4r.jsonl" <<'PY'
import json, sys
ents = [r for r in map(json.loads, open(sys.argv[1])) if r["kind"] == "entity"]
rows = [json.loads(l) for l in open(sys.argv[2])]
decoys = [e for e in ents if e["type"] == "decoy" or e["name"] == "Decoyname"]
kg_names = {e["name"] for r in rows if r["stage"] == "kg" for e in r["answer"]["entities"]}
missing = kg_names - {e["name"] for e in ents} - {a for e in ents for a in e["aliases"]}
print("ok" if ents and not decoys and not missing else "%d decoys, missing %s" % (len(decoys), sorted(missing)[:3]))
PY
)
check "the graph holds the KG stage's entities and none of the other stage's ($verdict)" \
	[ "$verdict" = ok ]
answers=$(grep -c '"stage":"kg"' "$T/g4r.jsonl")
check "the graph export merged the $answers KG answers only" \
	grep -q "in $answers answers" "$T/g4x.err"
kg export -s "$T/g2" -f results -o "$T/g2r.jsonl" 2>/dev/null
verdict=$(py "$T/g4r.jsonl" "$T/g2r.jsonl" <<'PY'
import json, sys
def order(path):  # per document, the kg lines' chunks one after another; the stages' order
    seq, stages = {}, []
    for r in map(json.loads, open(path)):
        stages.append((r["document"], r["stage"]))
        if r["stage"] == "kg":
            seq.setdefault(r["document"], []).extend(r["chunks"])
    return seq, sorted(set(stages), key=stages.index)
(a, sa), (b, sb) = order(sys.argv[1]), order(sys.argv[2])
print("ok" if a == b and sa == sb and a else "differ")
PY
)
check "the halves of split batches come in their place: chunks in the same order as unsplit ($verdict)" \
	[ "$verdict" = ok ]

# a run without stages: the one stage kg, each batch under the document of its first chunk
write_config "$T/legacy.json" '{"api": {"api_key_env": "MOCK_API_KEY"}, "chunking": {"chunk_tokens": 120, "overlap_tokens": 0, "chunks_per_batch": 2}}'
kg start -c "$T/legacy.json" -i "$T/in" -s "$T/l" -q 2>"$T/l.err"; rc=$?
kg status -s "$T/l" --json >"$T/lst.json"
kg export -s "$T/l" -f results -o "$T/lr.jsonl" 2>/dev/null
kg export -s "$T/l" -f tree -o "$T/ltree" 2>/dev/null
verdict=$(py "$T/lr.jsonl" "$T/ltree" "$(json_get "$T/lst.json" "j['batches']['total']")" <<'PY'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
per_doc = {}
for r in rows:
    per_doc.setdefault(r["document"], []).append(r["answer"])
tree = {d: json.load(open(os.path.join(sys.argv[2], d, "kg.json"))) for d in per_doc}
meta = json.load(open(os.path.join(sys.argv[2], "metadata.json")))
ok = len(rows) == int(sys.argv[3]) and all(r["stage"] == "kg" and r["chunks"] for r in rows) \
    and tree == per_doc and len(per_doc) == 4 and \
    all(d["stages"]["kg"]["prompt_tokens"] is None for d in meta["documents"])
print("ok" if ok else "%d lines for %s batches; tree %s" % (len(rows), sys.argv[3], tree == per_doc))
PY
)
check "a run without stages finishes (exit $rc)" [ $rc -eq 0 ]
check "without stages: a results line per batch, the tree's kg.json the array of them ($verdict)" \
	[ "$verdict" = ok ]
finish
