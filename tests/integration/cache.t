#!/bin/bash
# cache.t: the request cache and the rules of resuming. Invalid answers are kept apart and
# never served; a shared cache (cache.path) answers a second run over the same input with no
# API call; --fresh keeps the cache; changed inputs are refused; kgsup stop stops a live run.
. "$(dirname "$0")/lib.sh"
plan 16

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 12 --words 900
start_mock --p-nonjson 0.3 --seed 4
write_config "$T/cfg.json" "{\"cache\": {\"path\": \"$T/shared-cache\"}, \"chunking\": {\"chunks_per_batch\": 2}, \"retry\": {\"max_attempts\": 20}}"

kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s1" -q 2>"$T/err"; rc=$?
kg status -s "$T/s1" --json >"$T/st1.json"
check "first run: exit 0 (got $rc)" [ $rc -eq 0 ]
check "invalid answers were kept ($(json_get "$T/st1.json" "j['requests']['invalid_answers']"))" \
	[ "$(json_get "$T/st1.json" "j['requests']['invalid_answers'] > 0")" = True ]
kg export -s "$T/s1" -f invalid -o "$T/invalid.jsonl" 2>/dev/null
check "export -f invalid shows them with the reason" grep -q '"reason":"invalid answer' "$T/invalid.jsonl"
kg export -s "$T/s1" -f invalid -o /dev/full 2>"$T/full.err"; rc=$?
check "export -f invalid to a full device: exit 2 (got $rc) naming it, as the graph formats" \
	sh -c "[ $rc -eq 2 ] && grep -q '/dev/full: write failed' '$T/full.err'"
kg export -s "$T/s1" -o "$T/g1.jsonl" 2>/dev/null

before=$(mock_stat requests)
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s2" -q 2>"$T/err"; rc=$?
kg status -s "$T/s2" --json >"$T/st2.json"
check "second state directory, shared cache: exit 0 (got $rc)" [ $rc -eq 0 ]
check "and no API call ($(($(mock_stat requests) - before)))" [ "$(mock_stat requests)" = "$before" ]
check "status: every batch from the cache, money saved" [ "$(json_get "$T/st2.json" \
	"j['batches']['cached'] == j['batches']['total'] == j['batches']['done'] and j['cache']['saved_usd'] > 0")" = True ]
kg export -s "$T/s2" -o "$T/g2.jsonl" 2>/dev/null
check "the cached run exports the same graph (no invalid answer served)" cmp -s "$T/g1.jsonl" "$T/g2.jsonl"

kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s1" --fresh -q 2>"$T/err"; rc=$?
check "--fresh plans anew and still buys nothing (exit $rc)" [ "$rc:$(mock_stat requests)" = "0:$before" ]

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in2" --files 3 --words 500 --seed 9
kg start -c "$T/cfg.json" -i "$T/in2" -s "$T/s1" -q 2>"$T/err"; rc=$?
check "other inputs on an existing run: exit 2 (got $rc)" [ $rc -eq 2 ]
check "with a message pointing at --fresh and resume" grep -q "holds a different run.*--fresh" "$T/err"
stop_mock

# kgsup stop on a live run
start_mock --latency-ms 200
write_config "$T/cfg.json" '{"chunking": {"chunks_per_batch": 1}}'
"$KGSUP" start -c "$T/cfg.json" -i "$T/in" -s "$T/s3" -w 2 -q 2>"$T/err" &
pid=$!
for _ in $(seq 50); do [ "$(mock_stat ok)" -ge 3 ] && break; sleep 0.1; done
kg stop -s "$T/s3" 2>"$T/stop.err"; src=$?
wait $pid; rc=$?
check "kgsup stop: exits 0 once the run is gone (got $src)" [ $src -eq 0 ]
check "the run it stopped exits 75 (got $rc)" [ $rc -eq 75 ]
kg stop -s "$T/s3" 2>/dev/null; src=$?
check "kgsup stop without a live run: exit 2 (got $src)" [ $src -eq 2 ]
kg resume -s "$T/s3" -q 2>>"$T/err"; rc=$?
check "and the stopped run resumes to done (exit $rc)" [ $rc -eq 0 ]

# more cached batches than one round answers (512): the next rounds go on answering from the
# cache; none is sent unlooked-up
mkdir -p "$T/many"
for i in $(seq 1 700); do printf '{"id": "m%d", "text": "Item %d: Ada met Bob in room %d."}\n' $i $i $i; done >"$T/many/m.jsonl"
start_mock
write_config "$T/many.json" '{"chunking": {"chunks_per_batch": 1}}'
kg start -c "$T/many.json" -i "$T/many" -s "$T/s4" -w 4 -q 2>/dev/null
before=$(mock_stat requests)
kg start -c "$T/many.json" -i "$T/many" -s "$T/s4" --fresh -w 4 -q 2>/dev/null; rc=$?
check "700 batches all in the cache: --fresh buys none of them (exit $rc, $(($(mock_stat requests) - before)) requests)" \
	[ "$rc:$(mock_stat requests)" = "0:$before" ]
finish
