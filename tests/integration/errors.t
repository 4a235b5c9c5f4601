#!/bin/bash
# errors.t: bad input and a hostile or refusing API: the documented exit codes, one clear line
# naming what is wrong, retries that end with every batch done, and nothing bought twice.
. "$(dirname "$0")/lib.sh"
plan 26

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 10 --words 800
start_mock
write_config "$T/cfg.json"

# --- usage, config and input errors: exit 2, nothing sent ---
printf '{"api": {"modle": "x"}}' >"$T/bad.json"
kg start -c "$T/bad.json" -i "$T/in" -s "$T/s1" 2>"$T/err"; rc=$?
check "unknown config key: exit 2 (got $rc)" [ $rc -eq 2 ]
check "and the message names the key" grep -q "api.modle: unknown key" "$T/err"

env -u OPENAI_API_KEY "$KGSUP" start -c "$T/cfg.json" -i "$T/in" -s "$T/s2" 2>"$T/err"; rc=$?
check "missing API key: exit 2 (got $rc) naming the variable" \
	sh -c "[ $rc -eq 2 ] && grep -q 'OPENAI_API_KEY is not set' '$T/err'"

mkdir -p "$T/badin"
printf '{"id":"a","text":"Ada met Bob."}\n{"id": "b", "text": \n' >"$T/badin/x.jsonl"
kg start -c "$T/cfg.json" -i "$T/badin" -s "$T/s3" 2>"$T/err"; rc=$?
check "broken .jsonl line: exit 2 (got $rc)" [ $rc -eq 2 ]
check "and the message names file and line" grep -q "x.jsonl:2:" "$T/err"

mkdir -p "$T/void"
kg start -c "$T/cfg.json" -i "$T/void" -s "$T/s4v" 2>"$T/err"; rc=$?
check "an empty directory: exit 2 (got $rc)" [ $rc -eq 2 ]
check "saying it holds no transcripts: $(head -c 120 "$T/err")" grep -q "no transcripts" "$T/err"
kg start -c "$T/cfg.json" -i "$T/void" -s "$T/s4v" 2>"$T/err"; rc=$?
check "and so again the second time, not 'continuing' a run of nothing (exit $rc)" [ $rc -eq 2 ]

mkdir -p "$T/empty"; echo "not a transcript" >"$T/empty/notes.pdf"
kg start -c "$T/cfg.json" -i "$T/empty" -s "$T/s4" 2>"$T/err"; rc=$?
check "no transcripts: exit 2 (got $rc)" [ $rc -eq 2 ]
check "no transcripts: other files skipped with a warning naming the endings read" \
	grep -qF "notes.pdf: skipped (not one of .txt .md .vtt .srt .jsonl)" "$T/err"
check "no request was sent by any of the above" [ "$(mock_stat requests)" = 0 ]

# --- the API refuses the key: exit 4 after a handful of requests ---
stop_mock
MOCK_API_KEY=the-right-key start_mock
write_config "$T/cfg.json"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s5" -w 4 2>"$T/err"; rc=$?
check "401: exit 4 (got $rc)" [ $rc -eq 4 ]
check "401: at most one request per worker ($(mock_stat requests))" [ "$(mock_stat requests)" -le 4 ]
check "401: one clear message" grep -q "kgsup: aborted: HTTP 401" "$T/err"
check "the key appears nowhere in the output or the state directory" \
	bash -c "! grep -rq '$OPENAI_API_KEY' '$T/err' '$T/s5'"
stop_mock

# --- unknown model: exit 4 ---
start_mock --model real-model
write_config "$T/cfg.json"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s6" -w 2 2>"$T/err"; rc=$?
check "unknown model: exit 4 (got $rc)" [ $rc -eq 4 ]
check "unknown model: the message says so" grep -q "unknown model" "$T/err"
stop_mock

# --- transient faults: everything is retried until done, nothing bought twice ---
start_mock --p-500 0.1 --p-drop 0.05 --p-malformed 0.05 --p-nonjson 0.05 --p-429 0.05 --fence --seed 3
write_config "$T/cfg.json" '{"retry": {"max_attempts": 12}, "chunking": {"chunks_per_batch": 1}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s7" -w 4 -q 2>"$T/err"; rc=$?
kg status -s "$T/s7" --json >"$T/st.json"
check "faults: exit 0 (got $rc)" [ $rc -eq 0 ]
check "faults: every batch done" [ "$(json_get "$T/st.json" "j['batches']['done'] == j['batches']['total']")" = True ]
check "faults: retries were counted ($(json_get "$T/st.json" "j['requests']['retried']"))" \
	[ "$(json_get "$T/st.json" "j['requests']['retried'] > 0")" = True ]
check "faults: no batch answered twice" [ "$(mock_stat duplicate_ok)" = 0 ]
stop_mock

# --- a connection that dies after the request went: libcurl would send it again by itself
# on a new connection, unseen by the broker and billed twice; kgsup retries it instead, so
# every request the server saw is one kgsup sent and counted ---
start_mock --p-drop 0.3 --seed 4
write_config "$T/cfg.json" '{"retry": {"max_attempts": 20, "backoff_base_ms": 10}, "chunking": {"chunks_per_batch": 1}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s7b" -w 1 -q 2>"$T/err"; rc=$?
kg status -s "$T/s7b" --json >"$T/st.json"
sent=$(json_get "$T/st.json" "j['requests']['sent']")
check "dropped connections: exit 0 (got $rc)" [ $rc -eq 0 ]
check "dropped connections: the server saw the $sent requests kgsup sent ($(mock_stat requests))" \
	[ "$(mock_stat requests)" = "$sent" ]
stop_mock

# --- a 400 fails its batch for good; the run goes on and exits 3 ---
start_mock --p-400 0.2 --seed 5
write_config "$T/cfg.json" '{"chunking": {"chunks_per_batch": 1}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s8" -w 2 -q 2>"$T/err"; rc=$?
kg status -s "$T/s8" --json >"$T/st.json"
check "400: exit 3 (got $rc)" [ $rc -eq 3 ]
check "400: failed batches counted, the others done" [ "$(json_get "$T/st.json" \
	"j['state'] == 'failed' and j['batches']['failed'] > 0 and j['batches']['done'] + j['batches']['failed'] == j['batches']['total']")" = True ]
stop_mock

# --- a server that hangs: the call times out and is retried ---
start_mock --p-hang 0.2 --seed 2
write_config "$T/cfg.json" '{"api": {"timeout_s": 1}, "retry": {"max_attempts": 10}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s9" -w 4 -q 2>"$T/err"; rc=$?
check "hangs: exit 0 after timeouts and retries (got $rc)" [ $rc -eq 0 ]
finish
