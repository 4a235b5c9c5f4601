#!/bin/bash
# embed.t: embedding stages against the mock's /v1/embeddings. A stage over chunks keeps one
# vector per distinct chunk text, equal to the mock's; base64 and float answers keep the same
# float32s; a re-run (resumed, or a new run sharing the cache) makes no embedding call; a stage
# over entities embeds the graph's entities once the graph stage is done; kill -9 mid-stage and
# resume buys nothing twice beyond the calls in flight; errors in an embedding stage's config
# name the key.
. "$(dirname "$0")/lib.sh"
plan 22

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 6 --words 600 --formats txt,md,vtt >/dev/null

# mk_config FILE [EXTRA JSON] [PER_CALL]: a KG stage, then embedding stages over chunks and
# over entities (DIMS dimensions, 64), PER_CALL (16) and twice that texts a call
mk_config() {
	write_config "$1" "${2:-{\}}"
	/usr/bin/python3 - "$1" "${3:-16}" "${DIMS:-64}" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["stages"] = [
    {"name": "kg", "over": "chunks", "per_call": 4, "graph": True},
    {"name": "chunk_vectors", "endpoint": "embeddings", "over": "chunks",
     "model": "text-embedding-3-small", "per_call": int(sys.argv[2]), "dimensions": int(sys.argv[3])},
    {"name": "entity_vectors", "endpoint": "embeddings", "over": "entities",
     "model": "text-embedding-3-small", "per_call": 2 * int(sys.argv[2]), "dimensions": int(sys.argv[3])}]
json.dump(c, open(p, "w"), indent=1)
PY
}
stat() { mock_stat "$1"; }
# vec_check EXPORT: every exported vector is the mock's for its text (chunks) or name
# (entities: the text vecstore embeds starts with the name), printed as "chunks entities bad"
vec_check() {
	/usr/bin/python3 - "$1" "$TOP/scripts" <<'PY'
import array, json, sys
sys.path.insert(0, sys.argv[2])
import mock_embed
n = {"chunk": 0, "entity": 0}; bad = 0
for line in open(sys.argv[1]):
    v = json.loads(line)
    n[v["kind"]] += 1
    # the export's decimals read back as float32 are the mock's float32s
    if v["kind"] == "chunk" and array.array("f", v["vector"]) != mock_embed.vector(v["text"], 64):
        bad += 1
    if len(v["vector"]) != 64:
        bad += 1
print(n["chunk"], n["entity"], bad)
PY
}

# --- 1. a run: chunks and entities embedded, each distinct text once, the mock's vectors
start_mock
mk_config "$T/cfg.json" '{"cache": {"path": "'"$T/shared"'"}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/run" >"$T/out1" 2>&1
rc=$?
check "a run with embedding stages over chunks and entities finishes (rc $rc)" [ $rc = 0 ]
reqs=$(stat embed_requests) twice=$(stat embed_inputs_twice) inputs=$(stat embed_inputs)
check "it embedded each distinct text once ($inputs inputs in $reqs calls, $twice twice)" \
	[ "$reqs" -ge 2 -a "$twice" = 0 -a "$inputs" -gt 10 ]
kg export -s "$T/run" -f vectors -o "$T/v1.jsonl" 2>"$T/export.err"
read -r nc ne bad < <(vec_check "$T/v1.jsonl")
nchunks=$(kg status -s "$T/run" --json | json_get /dev/stdin 'j["chunks"]' 2>/dev/null || echo 0)
check "every chunk and entity has the mock's vector ($nc chunks, $ne entities, $bad wrong)" \
	[ "${nc:-0}" -gt 0 -a "${ne:-0}" -gt 0 -a "${bad:-1}" = 0 ]
check "the entity stage went after the graph stage (its seed replaced by its batches)" \
	grep -q "stage entity_vectors: [0-9]* of the graph's [0-9]* entities to embed" "$T/out1"

# --- 2. re-runs: resumed when finished, and a new run sharing the cache: no embedding call
kg resume -s "$T/run" >"$T/out2" 2>&1
check "resuming the finished run makes no embedding call" [ "$(stat embed_requests)" = "$reqs" ]
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/run2" >"$T/out3" 2>&1
rc=$?
check "a new run sharing the cache makes no embedding call (rc $rc, $(stat embed_requests) calls)" \
	[ $rc = 0 -a "$(stat embed_requests)" = "$reqs" ]
kg export -s "$T/run2" -f vectors -o "$T/v2.jsonl" 2>/dev/null
check "its vectors are the first run's" eval '[ -s "$T/v1.jsonl" ] && cmp -s "$T/v1.jsonl" "$T/v2.jsonl"'

# --- 3. float answers keep the same float32s as base64 ones
mk_config "$T/cfg-float.json" '{"api": {"embeddings_base64": false}}'
kg start -c "$T/cfg-float.json" -i "$T/in" -s "$T/run-float" >"$T/out4" 2>&1
rc=$?
kg export -s "$T/run-float" -f vectors -o "$T/v3.jsonl" 2>/dev/null
check "asked as floats: the same vectors as asked in base64 (rc $rc)" eval '[ -s "$T/v3.jsonl" ] && cmp -s "$T/v1.jsonl" "$T/v3.jsonl"'

# --- 4. search: a chunk's own text finds that chunk first; the query is embedded once
read -r qid qtext < <(/usr/bin/python3 -c 'import json,sys; v=json.loads(open(sys.argv[1]).readlines()[5]); print(v["id"], v["text"].replace("\n", " "))' "$T/v1.jsonl")
calls=$(stat embed_requests)
kg search -s "$T/run" -k 3 --json "$qtext" >"$T/search1.json" 2>"$T/search.err"
kg search -s "$T/run" -k 3 --json "$qtext" >"$T/search2.json" 2>>"$T/search.err"
first=$(json_get "$T/search1.json" '[r["id"] for r in j if r["kind"] == "chunk"][0]')
check "search finds the chunk whose text is the query first ($first, want $qid)" [ "$first" = "$qid" ]
qcalls=$(( $(stat embed_requests) - calls ))
check "the query was embedded once for two searches ($qcalls calls), the same answer" \
	eval '[ $qcalls = 1 ] && cmp -s "$T/search1.json" "$T/search2.json"'
stop_mock

# --- 5. kill -9 while embedding, then resume: nothing bought twice beyond the calls in flight
start_mock --embed-latency-ms 400
mk_config "$T/cfg-kill.json" '{"run": {"workers": 2}}' 1
"$KGSUP" start -c "$T/cfg-kill.json" -i "$T/in" -s "$T/run-kill" >"$T/out5" 2>&1 &
pid=$!
for _ in $(seq 300); do [ "$(stat embed_ok)" -ge 3 ] 2>/dev/null && break; sleep 0.05; done
kill -9 $pid; pkill -9 -f "kgsup-it-${T##*-}/run-kill" 2>/dev/null
wait $pid 2>/dev/null
killed=$?
before=$(stat embed_ok)
kg resume -s "$T/run-kill" >"$T/out6" 2>&1
rc=$?
twice=$(stat embed_inputs_twice)
check "killed (status $killed) after $before of $(stat embed_ok) embedding calls and resumed, the run finishes (rc $rc)" \
	[ $killed = 137 -a $rc = 0 -a "$before" -lt "$(stat embed_ok)" ]
# 2 workers, at most 2 inputs a call: at most 4 inputs were in flight when it died
check "inputs embedded twice: $twice, at most the 4 in flight" [ "$twice" -le 4 ]
kg export -s "$T/run-kill" -f vectors -o "$T/v4.jsonl" 2>/dev/null
read -r nc4 ne4 bad4 < <(vec_check "$T/v4.jsonl")
check "all its vectors are there and right ($nc4 chunks, $ne4 entities, $bad4 wrong)" \
	[ "$nc4" = "$nc" -a "${bad4:-1}" = 0 -a "${ne4:-0}" -gt 0 ]
stop_mock

# --- 6. a 429 on the embedding model slows it alone: each model its own lane (limits.models)
start_mock --embed-429-every 3
mk_config "$T/cfg-429.json" '{"limits": {"models": {"text-embedding-3-small": {"requests_per_minute": 100000}, "mock-1": {"requests_per_minute": 100000}}}}' 2
kg start -c "$T/cfg-429.json" -i "$T/in" -s "$T/run-429" >"$T/out7" 2>&1
rc=$?
check "a run whose embedding calls meet 429s finishes (rc $rc, $(stat embed_429) 429s)" \
	[ $rc = 0 -a "$(stat embed_429)" -gt 0 ]
check "the rate lowered is the embedding model's" grep -q "text-embedding-3-small: rate lowered after an HTTP 429" "$T/out7"
check "the chat model's rate is never lowered" eval '! grep -q "mock-1: rate lowered" "$T/out7"'
stop_mock

# --- 7. entity resolution (graph.resolve): the graph's entities merged by their vectors' cosine,
# "Lovelace, Ada" into "Ada Lovelace" ("Ada Lovelace." merges by name already), never two people
mkdir -p "$T/people"
echo 'Host: [[Ada Lovelace|person]] wrote the first program with [[Charles Babbage|person]].' >"$T/people/a.txt"
echo 'Guest: [[Ada Lovelace.|person]], [[Lovelace, Ada|person]] and [[Grace Hopper|person]] met [[Charles Babbage|person]].' >"$T/people/b.txt"
start_mock
# (the mock's vectors of 64 dimensions are too coarse for names this short: 256)
DIMS=256 mk_config "$T/cfg-resolve.json" '{"graph": {"resolve": true}}'
kg start -c "$T/cfg-resolve.json" -i "$T/people" -s "$T/run-resolve" >"$T/out8" 2>&1
kg export -s "$T/run-resolve" -f merges -o "$T/merges.tsv" 2>/dev/null
kg export -s "$T/run-resolve" -f jsonl -o "$T/graph.jsonl" 2>/dev/null
check "export -f merges lists \"Lovelace, Ada\" merged into \"Ada Lovelace\" with its cosine, and nothing else" \
	eval '[ "$(tail -n +2 "$T/merges.tsv" | cut -f2,4,5)" = "$(printf "Ada Lovelace\tLovelace, Ada\tperson")" ]'
people=$(/usr/bin/python3 -c 'import json,sys; print(sorted(x["name"] for x in map(json.loads, open(sys.argv[1])) if x["kind"] == "entity"))' "$T/graph.jsonl")
check "the graph keeps Ada Lovelace, Charles Babbage and Grace Hopper apart ($people)" \
	[ "$people" = "['Ada Lovelace', 'Charles Babbage', 'Grace Hopper']" ]
DIMS=256 mk_config "$T/cfg-noresolve.json"
kg start -c "$T/cfg-noresolve.json" -i "$T/people" -s "$T/run-noresolve" >/dev/null 2>&1
n=$(kg export -s "$T/run-noresolve" -f jsonl 2>/dev/null | grep -c '"kind":"entity"')
check "without graph.resolve the two names stay two entities ($n entities)" [ "$n" = 4 ]
stop_mock

# --- 8. config errors name the key
bad_stage() {
	write_config "$T/bad.json"
	/usr/bin/python3 - "$T/bad.json" "$1" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["stages"] = [{"name": "kg", "over": "chunks", "graph": True}] + [json.loads(sys.argv[2])]
json.dump(c, open(sys.argv[1], "w"))
PY
	kg start -c "$T/bad.json" -i "$T/in" -s "$T/run-bad" 2>&1 | tail -1
	return "${PIPESTATUS[0]}"
}
msg=$(bad_stage '{"name": "v", "endpoint": "embeddings", "over": "chunks", "prompt": {"user": "x"}}')
rc=$?
check "a prompt in an embedding stage: exit 2, named ($msg)" \
	eval '[ $rc = 2 ] && grep -q "stages\[1\].prompt: not a key of an embedding stage" <<<"$msg"'
msg=$(bad_stage '{"name": "v", "endpoint": "embeddings", "over": "chunks", "per_call": 5000}')
check "per_call over 2048 named ($msg)" grep -q "stages\[1\].per_call: expected a whole number from 1 to 2048" <<<"$msg"
msg=$(bad_stage '{"name": "v", "endpoint": "embedding", "over": "chunks"}')
check "an unknown endpoint named ($msg)" grep -q 'stages\[1\].endpoint: expected "chat" or "embeddings"' <<<"$msg"
