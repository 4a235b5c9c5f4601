#!/bin/bash
# server_errors.t: what a user sees when the server refuses: its own message, whatever the shape
# of its error body, in the log line and in report.json; an unknown model in Ollama's words and
# a 404 for a base_url without /v1 stop the run at once (exit 4) saying why; an aborted run
# keeps its reason (status, report.json); a run with failed batches says how to retry them.
. "$(dirname "$0")/lib.sh"
plan 48

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 3 --words 400
CFG='{"chunking": {"chunks_per_batch": 1}, "retry": {"max_attempts": 2}}'

# shape_case NAME BODY WANT: every call answered 400 with BODY; WANT is the batch's error
shape_case() {
	local name=$1 body=$2 want=$3 dir=$T/shape-$1
	start_mock --error-status 400 --error-body "$body"
	write_config "$T/cfg.json" "$CFG"
	kg start -c "$T/cfg.json" -i "$T/in" -s "$dir" -w 2 -q 2>"$T/err-$name"; rc=$?
	local got
	got=$(json_get "$dir/report.json" "j['batches']['failures'][0]['error']")
	check "$name: exit 3 (got $rc)" [ $rc -eq 3 ]
	check "$name: report.json's failure is '$want' (got '$got')" [ "$got" = "$want" ]
	check "$name: the log line says it" grep -qF "failed: $want" "$T/err-$name"
	stop_mock
}

shape_case openai '{"error": {"message": "context too long", "type": "x"}}' \
	"HTTP 400: context too long"
shape_case error_message '{"error": "Bad Request", "message": "messages must not be empty"}' \
	"HTTP 400: Bad Request: messages must not be empty"
shape_case detail '{"detail": "max_tokens is too large"}' "HTTP 400: max_tokens is too large"
shape_case detail_list '{"detail": [{"loc": ["body", "temperature"], "msg": "must be <= 2"}]}' \
	"HTTP 400: body.temperature: must be <= 2"
shape_case vllm '{"object": "error", "message": "This model'"'"'s maximum context length is 4096", "type": "BadRequestError", "code": 400}' \
	"HTTP 400: This model's maximum context length is 4096"
shape_case ollama '{"error": "invalid options: foo"}' "HTTP 400: invalid options: foo"
shape_case text '<html><body>400 Bad Request
nginx</body></html>' "HTTP 400: <html><body>400 Bad Request nginx</body></html>"
shape_case empty '' "HTTP 400"
check "an empty body leaves no trailing space: \"$(json_get "$T/shape-empty/report.json" \
	"j['batches']['failures'][0]['error']")\"" \
	[ "$(json_get "$T/shape-empty/report.json" "repr(j['batches']['failures'][0]['error'])")" = "'HTTP 400'" ]

# --- after the cause: start on a run whose batches failed says how to retry them ---
start_mock --error-status 400 --error-body '{"error": "still broken"}'
write_config "$T/cfg.json" "$CFG"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/h" -w 2 -q 2>/dev/null
before=$(mock_stat requests)
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/h" -w 2 -q 2>"$T/err"; rc=$?
n=$(json_get "$T/h/report.json" "j['batches']['failed']")
check "start again on failed batches: exit 3 (got $rc)" [ $rc -eq 3 ]
check "and nothing sent" [ "$(mock_stat requests)" = "$before" ]
check "and it says: $n batches failed; kgsup resume --retry-failed -s DIR retries them" \
	grep -qF "$n batches failed; kgsup resume --retry-failed -s $T/h retries them" "$T/err"
kg status -s "$T/h" >"$T/st.txt"
check "status says so too" grep -qF "hint       $n batches failed; kgsup resume --retry-failed -s $T/h retries them" "$T/st.txt"
kg status -s "$T/h" --json >"$T/st.json"
check "status --json has the hint" [ "$(json_get "$T/st.json" "j['hint']")" = \
	"$n batches failed; kgsup resume --retry-failed -s $T/h retries them" ]
check "status --json: state failed, no reason" \
	[ "$(json_get "$T/st.json" "(j['state'], j['reason'])")" = "('failed', None)" ]
stop_mock

# --- an unknown model in Ollama's words, after some answers: exit 4 naming model and server ---
start_mock --error-after 2 --error-status 404 \
	--error-body '{"error": "model \"mock-1\" not found, try pulling it first"}'
write_config "$T/cfg.json" "$CFG"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/m" -w 1 -q 2>"$T/err"; rc=$?
check "Ollama's unknown model: exit 4 (got $rc)" [ $rc -eq 4 ]
check "at once: one request after the answered ones ($(mock_stat requests))" \
	[ "$(mock_stat requests)" -eq 3 ]
want="unknown model \"mock-1\" at $MOCK_URL): model \"mock-1\" not found, try pulling it first"
check "the message names the model and the server: $(head -c 300 "$T/err" | tr '\n' ' ')" \
	grep -qF "$want" "$T/err"
kg status -s "$T/m" --json >"$T/st.json"
check "status --json: aborted, with the reason" \
	[ "$(json_get "$T/st.json" "j['state'] == 'aborted' and '$MOCK_URL' in j['reason'] and 'mock-1' in j['reason']")" = True ]
check "report.json: aborted, with the reason" \
	[ "$(json_get "$T/m/report.json" "j['state'] == 'aborted' and 'try pulling it first' in j['reason']")" = True ]
check "no batch counted failed for it" [ "$(json_get "$T/st.json" "j['batches']['failed']")" = 0 ]
stop_mock

# --- a base_url without /v1: 404 on the first calls stops the run with a hint ---
start_mock --strict-path
write_config "$T/cfg.json" "$CFG"
sed -i "s#$MOCK_URL#https://127.0.0.1:$PORT#" "$T/cfg.json"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/v" -w 2 -q 2>"$T/err"; rc=$?
check "404 without /v1: exit 4 (got $rc)" [ $rc -eq 4 ]
check "with the hint: $(head -c 300 "$T/err" | tr '\n' ' ')" grep -qF \
	"the server answered 404 for https://127.0.0.1:$PORT/chat/completions; does api.base_url need /v1? (HTTP 404: Not Found)" "$T/err"
# the worker's next batch may already be in its hands: at most two calls per worker
check "at once: at most two calls per worker ($(mock_stat requests))" [ "$(mock_stat requests)" -le 4 ]
kg status -s "$T/v" --json >"$T/st.json"
check "status --json: aborted, the reason with the hint" \
	[ "$(json_get "$T/st.json" "j['state'] == 'aborted' and 'need /v1' in j['reason']")" = True ]
check "and nothing failed: the batches wait for the fix" \
	[ "$(json_get "$T/st.json" "j['batches']['failed']")" = 0 ]
stop_mock

# --- a 404 after answers, not the model's: that batch fails, the run goes on ---
start_mock --error-after 2 --error-status 404 --error-body '{"detail": "Not Found"}'
write_config "$T/cfg.json" "$CFG"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/n" -w 1 -q 2>"$T/err"; rc=$?
check "a later 404: exit 3, not an abort (got $rc)" [ $rc -eq 3 ]
stop_mock

# --- 401: aborted, and why, in status and report.json ---
MOCK_API_KEY=the-right-key start_mock
write_config "$T/cfg.json" "$CFG"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/k" -w 2 -q 2>"$T/err"; rc=$?
check "401: exit 4 (got $rc)" [ $rc -eq 4 ]
kg status -s "$T/k" --json >"$T/st.json"
check "401: status --json state aborted ($(json_get "$T/st.json" "j['state']"))" \
	[ "$(json_get "$T/st.json" "j['state']")" = aborted ]
check "401: the reason is the server's: $(json_get "$T/st.json" "j['reason']")" \
	[ "$(json_get "$T/st.json" "j['reason']")" = "HTTP 401 (the API refused the key): Incorrect API key provided" ]
kg status -s "$T/k" >"$T/st.txt"
check "401: status text gives the reason" grep -qF "reason     HTTP 401 (the API refused the key)" "$T/st.txt"
check "401: report.json too" [ "$(json_get "$T/k/report.json" "(j['state'], j['reason'])")" = \
	"('aborted', 'HTTP 401 (the API refused the key): Incorrect API key provided')" ]
stop_mock
finish
