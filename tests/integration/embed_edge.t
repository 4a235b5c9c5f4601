#!/bin/bash
# embed_edge.t: embedding stages at their edges, against the mock. An answer larger than
# api.max_response_bytes is asked again in halves (asked whole again it is as large, and billed
# again), and a single input's answer too large fails its batch naming the key. Two stages of
# one model and dimensions share their vectors: each text is bought once. Entities the graph
# gains after the entity stage embedded it (resume --retry-failed) are embedded by a new seed
# of the stage, buying only those. A 400 to an embedding batch (a text over the model's limit)
# names the key that cuts texts; export says which stages lack vectors, and when a stage lacks
# texts another stage's failed batch held. A stage without "dimensions" whose server changes
# the vectors' length midway keeps one length.
. "$(dirname "$0")/lib.sh"
plan 12

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 40 --words 300 --formats txt >/dev/null
stat() { mock_stat "$1"; }
# embed_config FILE EXTRA STAGES: the test config with its stages
embed_config() {
	write_config "$1" "$2"
	/usr/bin/python3 - "$1" "$3" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["stages"] = json.loads(sys.argv[2])
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
}

# --- 1. an answer over api.max_response_bytes: halves, until they fit
start_mock
# 40 texts of the mock's 1536 dimensions as floats: over 200 kB at once, under it by ten
embed_config "$T/big.json" '{"api": {"embeddings_base64": false, "max_response_bytes": 200000},
	"retry": {"max_attempts": 3}}' '[{"name": "cv", "endpoint": "embeddings", "over": "chunks", "per_call": 64}]'
kg start -c "$T/big.json" -i "$T/in" -s "$T/run-big" >"$T/out1" 2>&1
rc=$?
check "a call whose answer is over api.max_response_bytes is split until it fits; the run finishes (rc $rc, $(stat embed_requests) calls)" \
	[ $rc = 0 ]
check "the split says why" grep -q "batch 0: its answer is larger than api.max_response_bytes (200000); split into batches" "$T/out1"
n=$(kg export -s "$T/run-big" -f vectors 2>/dev/null | grep -c '"kind":"chunk"')
check "every chunk has its vector ($n)" [ "$n" = 40 ]
# the answers too large were billed: their tokens are counted (guessed from the request)
ours=$(json_get "$T/run-big/report.json" 'j["tokens"]["prompt"]')
check "the tokens of answers too large to read count too ($ours, the server's $(stat embed_tokens))" \
	[ "$ours" -ge "$(stat embed_tokens)" ]

# --- 2. one input's answer over it: failed at once, saying what to raise
embed_config "$T/one.json" '{"api": {"embeddings_base64": false, "max_response_bytes": 2000},
	"retry": {"max_attempts": 3}}' '[{"name": "cv", "endpoint": "embeddings", "over": "chunks", "per_call": 1}]'
calls=$(stat embed_requests)
kg start -c "$T/one.json" -i "$T/in" -s "$T/run-one" >"$T/out2" 2>&1
rc=$?
calls=$(( $(stat embed_requests) - calls ))
check "a single input's answer over it fails its batch, once each (rc $rc, $calls calls), naming the key" \
	eval '[ $rc = 3 ] && [ $calls = 40 ] && grep -q "failed: the answer for a single input is larger than api.max_response_bytes (2000); raise it" "$T/out2"'

# --- 3. two stages of one model and dimensions: each text bought once, both stages' vectors there
embed_config "$T/two.json" '{"run": {"workers": 4}}' '[{"name": "cv", "endpoint": "embeddings", "over": "chunks", "per_call": 4, "dimensions": 64},
	{"name": "cv2", "endpoint": "embeddings", "over": "chunks", "per_call": 3, "dimensions": 64}]'
before=$(stat embed_inputs)
kg start -c "$T/two.json" -i "$T/in" -s "$T/run-two" >"$T/out3" 2>&1
rc=$?
inputs=$(( $(stat embed_inputs) - before ))
check "two stages of one model and dimensions buy each of the 40 texts once (rc $rc, $inputs inputs)" \
	[ $rc = 0 -a $inputs = 40 ]
n=$(kg export -s "$T/run-two" -f vectors 2>/dev/null | grep -c '"kind":"chunk"')
check "both stages have every chunk's vector ($n of 80)" [ "$n" = 80 ]
stop_mock

# --- 4. graph batches failed, the entity stage embedded what there was (the batch of a name
# over the server's input limit failed too); --retry-failed answers them, and the stage
# embeds the entities they add and the failed batch's, each once
mkdir -p "$T/people"
long=$(printf 'Bartholomew%.0s' $(seq 12))
echo "Host: [[Ada Lovelace|person]] met [[Charles Babbage|person]] and [[$long|person]]." >"$T/people/a.txt"
echo 'Guest: [[Grace Hopper|person]] wrote about [[Alan Turing|person]] and zebrafish.' >"$T/people/b.txt"
start_mock --fail-stage kg=zebrafish --embed-max-tokens 50
embed_config "$T/grow.json" '{"api": {"structured_outputs": true}, "retry": {"max_attempts": 2}}' \
	'[{"name": "kg", "over": "chunks", "per_call": 1, "graph": true},
	{"name": "ev", "endpoint": "embeddings", "over": "entities", "dimensions": 64, "per_call": 1}]'
kg start -c "$T/grow.json" -i "$T/people" -s "$T/run-grow" >"$T/out4" 2>&1
rc1=$?
# the same mock, failing nothing now (same port and certificate)
stop_mock
/usr/bin/python3 "$TOP/scripts/mock_llm.py" --dir "$T/mock" --port "$PORT" 2>>"$T/mock.log" &
MOCK_PID=$!
for _ in $(seq 50); do mock_stat embed_requests >/dev/null 2>&1 && break; sleep 0.1; done
kg resume --retry-failed -s "$T/run-grow" >"$T/out5" 2>&1
rc2=$?
kg export -s "$T/run-grow" -f vectors -o "$T/grow.jsonl" 2>"$T/grow.err"
check "a graph batch failed (rc $rc1), then answered by resume --retry-failed (rc $rc2)" \
	[ $rc1 = 3 -a $rc2 = 0 ]
bought=$(stat embed_inputs) twice=$(stat embed_inputs_twice)
n=$(grep -c '"kind":"entity"' "$T/grow.jsonl")
check "the entities the retried batch added are embedded too: $n of 5 exported, $bought bought by the resume ($twice twice), nothing left out ($(tail -1 "$T/grow.err"))" \
	eval '[ "$n" = 5 ] && [ "$bought" = 3 ] && [ "$twice" = 0 ] && ! grep -q "no vector" "$T/grow.err"'
stop_mock

# --- 5. a text over the server's input limit: the batch's 400 says which key cuts texts
start_mock --embed-max-tokens 50
# (a second stage of the model shares cv's texts: cv lists them, and its failed batch leaves
# cv2 without them too, though none of cv2's failed: export names both, and why)
embed_config "$T/long.json" '{}' '[{"name": "cv", "endpoint": "embeddings", "over": "chunks", "per_call": 64},
	{"name": "cv2", "endpoint": "embeddings", "over": "chunks", "per_call": 64}]'
kg start -c "$T/long.json" -i "$T/in" -s "$T/run-long2" >"$T/out6" 2>&1
rc=$?
check "a 400 for a text over the model's limit fails the batch naming max_input_tokens (rc $rc)" \
	eval '[ $rc = 3 ] && grep -q "batch 0 failed: HTTP 400: This model.s maximum context length is 50 tokens.* (a text over the model.s input limit? stage cv cuts texts at max_input_tokens, 8191 tokens counted as bytes / 4)" "$T/out6"'
kg export -s "$T/run-long2" -f vectors -o "$T/long.jsonl" 2>"$T/long.err"
check "export says which stages lack vectors, and that cv2 lacks texts cv's failed batch held ($(tail -1 "$T/long.err"))" \
	grep -q "80 items have no vector (stage cv 40, stage cv2 40 (texts it shares with stage cv, of one model and dimensions, whose failed batches held them); the run did not finish" "$T/long.err"
stop_mock

# --- 6. no "dimensions": a server whose vectors change length midway (a proxy over two models)
start_mock --embed-dims 64 --embed-dims-after 3:32
embed_config "$T/dims.json" '{"run": {"workers": 1}, "retry": {"max_attempts": 2}}' \
	'[{"name": "cv", "endpoint": "embeddings", "over": "chunks", "per_call": 4}]'
kg start -c "$T/dims.json" -i "$T/in" -s "$T/run-dims" >"$T/out7" 2>&1
rc=$?
lens=$(kg export -s "$T/run-dims" -f vectors 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(sorted({len(json.loads(l)["vector"]) for l in sys.stdin}))')
check "vectors of another length fail their batches, named; the stage keeps one length (rc $rc, $lens)" \
	eval '[ $rc = 3 ] && [ "$lens" = "[64]" ] && grep -q "its vectors have 32 dimensions, unlike the stage.s first (the server picks them: set the stage.s dimensions)" "$T/out7"'
stop_mock
finish
