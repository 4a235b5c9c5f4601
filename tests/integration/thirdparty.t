#!/bin/bash
# thirdparty.t: kgsup against an OpenAI-compatible server nobody here wrote, the npm package
# @dwmkerr/mock-llm (pinned; scripts/install-npm.sh puts it in build/npm), on 127.0.0.1. Its
# rules answer by the model asked for: a KG answer with usage and one without, each shape of
# error body a server sends (OpenAI, Express, FastAPI, vLLM, Ollama, a text), a 401, an unknown
# model in Ollama's words, and its own 404 for a base_url without /v1. Every message and exit
# code a user sees is checked: the log lines, status (text and --json) and report.json.
# Skipped (TAP SKIP) only when the package is missing and npm cannot reach its registry.
. "$(dirname "$0")/lib.sh"

NPM_DIR=${KGSUP_NPM_DIR:-$TOP/build/npm}
ML=$NPM_DIR/node_modules/@dwmkerr/mock-llm/dist/main.js
KGSUP_NPM_DIR=$NPM_DIR sh "$TOP/scripts/install-npm.sh" mock-llm # (nothing to do once there)
if [ ! -f "$ML" ]; then
	if command -v npm >/dev/null && ! timeout 60 npm ping --fetch-retries=1 \
		--fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=5000 >/dev/null 2>&1; then
		echo "1..0 # SKIP @dwmkerr/mock-llm is not installed and npm cannot reach its registry"
		exit 0
	fi
	plan 1
	not_ok "@dwmkerr/mock-llm installed in $NPM_DIR (scripts/install-npm.sh; npm: $(command -v npm || echo none))"
	exit 1
fi
plan 63

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 2 --words 300

# The KG answer every answered call gets, as kgsup's answer JSON inside the message content.
KG='{\"entities\": [{\"name\": \"Ada Lovelace\", \"type\": \"person\"}, {\"name\": \"Analytical Engine\", \"type\": \"machine\"}], \"relations\": [{\"source\": \"Ada Lovelace\", \"target\": \"Analytical Engine\", \"type\": \"wrote about\"}]}'
MODELS="kg nousage openai express fastapi fastapi-list vllm ollama-500 text-503 refused"

# rule MODEL STATUS BODY: one rule of mock-llm's config (the last rule that matches wins)
rule() {
	printf '  - path: "/v1/chat/completions"\n    method: POST\n'
	printf "    match: \"body.model == '%s'\"\n" "$1"
	printf '    response:\n      status: %s\n      content: |\n        %s\n' "$2" "$3"
}
{
	echo "rules:"
	# any other model, Ollama's way: the unknown model's own name in its message
	printf '  - path: "/v1/chat/completions"\n    method: POST\n    response:\n'
	printf '      status: 404\n      content: |\n'
	printf '        {"error": "model \\"{{jmes request body.model}}\\" not found, try pulling it first"}\n'
	rule kg 200 '{"id": "chatcmpl-1", "object": "chat.completion", "model": "kg", "choices": [{"index": 0, "message": {"role": "assistant", "content": "'"$KG"'"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160}}'
	rule nousage 200 '{"id": "chatcmpl-2", "object": "chat.completion", "model": "nousage", "choices": [{"index": 0, "message": {"role": "assistant", "content": "'"$KG"'"}, "finish_reason": "stop"}]}'
	rule openai 400 '{"error": {"message": "This model'"'"'s maximum context length is 8192 tokens", "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}'
	rule express 400 '{"error": "Bad Request", "message": "messages must not be empty"}'
	rule fastapi 422 '{"detail": "temperature must be <= 2"}'
	rule fastapi-list 422 '{"detail": [{"loc": ["body", "max_tokens"], "msg": "ensure this value is less than 4097", "type": "value_error"}]}'
	rule vllm 400 '{"object": "error", "message": "max_tokens must be at least 1, got -5.", "type": "BadRequestError", "param": null, "code": 400}'
	rule ollama-500 500 '{"error": "llama runner process has terminated: signal: killed"}'
	rule text-503 503 '"upstream connect error or disconnect/reset before headers"'
	rule refused 401 '{"error": {"message": "Incorrect API key provided: sk-test. You can find your API key at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}'
	# every model above is listed: a check of the model before the run lets the calls happen
	printf '  - path: "/v1/models"\n    method: GET\n    response:\n      status: 200\n      content: |\n'
	printf '        {"object": "list", "data": ['
	sep=
	for m in $MODELS llama9; do printf '%s{"id": "%s", "object": "model"}' "$sep" "$m"; sep=', '; done
	printf ']}\n'
} >"$T/mock-llm.yaml"

# start mock-llm on 127.0.0.1, on a port free a moment ago
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HOST=127.0.0.1 PORT=$PORT node "$ML" --config "$T/mock-llm.yaml" >"$T/mock-llm.log" 2>&1 &
MOCK_PID=$!
for _ in $(seq 150); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
MOCK_URL=http://127.0.0.1:$PORT/v1
check "mock-llm $(grep -o 'v[0-9.]* server running on [0-9.:]*' "$T/mock-llm.log") answers" \
	curl -sf "http://127.0.0.1:$PORT/health" -o /dev/null
# /proc/net/tcp: the listening sockets on that port, by local address (0100007F: 127.0.0.1)
addrs=$(awk -v p="$(printf '%04X' "$PORT")" '$4 == "0A" && $2 ~ ":" p "$" { split($2, a, ":"); print a[1] }' \
	/proc/net/tcp /proc/net/tcp6 | sort -u | tr '\n' ' ')
check "it listens on 127.0.0.1 only (${addrs% })" [ "${addrs% }" = 0100007F ]

# config FILE MODEL [BASE_URL]
config() {
	/usr/bin/python3 - "$1" "$2" "${3:-$MOCK_URL}" <<'PY'
import json, sys
path, model, url = sys.argv[1:4]
json.dump({"api": {"base_url": url, "model": model, "timeout_s": 10, "connect_timeout_s": 5},
           "chunking": {"chunks_per_batch": 1},
           "retry": {"max_attempts": 2, "backoff_base_ms": 50, "backoff_cap_ms": 200}},
          open(path, "w"), indent=1)
PY
}

# run NAME MODEL [BASE_URL]: kgsup start against MODEL; rc, err ($T/err-NAME), state $T/s-NAME
run() {
	config "$T/cfg-$1.json" "$2" "${3:-}"
	kg start -c "$T/cfg-$1.json" -i "$T/in" -s "$T/s-$1" -w "${W:-2}" 2>"$T/err-$1"
	rc=$?
	kg status -s "$T/s-$1" >"$T/st-$1.txt" 2>&1
	kg status -s "$T/s-$1" --json >"$T/st-$1.json" 2>&1
}
# warns FILE: log lines of level warn or error
warns() { grep -E '^[0-9TZ:.-]+ [a-z0-9]+ (warn|error): ' "$1"; }
rj() { json_get "$T/s-$1/report.json" "$2"; }
sj() { json_get "$T/st-$1.json" "$2"; }

# --- a KG answer with usage: done, nothing to warn about ---
run kg kg
check "KG answer: exit 0 (got $rc)" [ $rc -eq 0 ]
check "KG answer: no warning: $(warns "$T/err-kg" | head -2 | tr '\n' ' ')" [ -z "$(warns "$T/err-kg")" ]
n=$(sj kg "j['batches']['total']")
check "KG answer: every batch done ($n)" [ "$(sj kg "(j['state'], j['batches']['done'])")" = "('done', $n)" ]
check "KG answer: tokens are the server's usage" \
	[ "$(rj kg "(j['tokens']['prompt'], j['tokens']['completion'], j['tokens']['estimated_requests'])")" = "($((120 * n)), $((40 * n)), 0)" ]
kg export -s "$T/s-kg" -o "$T/kg.jsonl" 2>/dev/null
check "KG answer: the export has its entities and relation" [ "$(/usr/bin/python3 -c "
import json
items = [json.loads(l) for l in open('$T/kg.jsonl')]
print(sorted((i['kind'], i.get('name') or i.get('type')) for i in items))")" = \
	"[('entity', 'Ada Lovelace'), ('entity', 'Analytical Engine'), ('relation', 'wrote about')]" ]

# --- no usage: tokens estimated, said once (one worker), marked in status and report.json ---
W=1 run nousage nousage
check "no usage: exit 0 (got $rc)" [ $rc -eq 0 ]
check "no usage: the one warning says tokens are estimated: $(warns "$T/err-nousage" | tr '\n' ' ')" \
	[ "$(warns "$T/err-nousage" | sed 's/^[^ ]* //')" = \
	"w0 warn: the server sends no usage with its answers: tokens and cost are estimated (4 bytes a token)" ]
n=$(sj nousage "j['batches']['total']")
check "no usage: report.json counts every request estimated ($n), tokens above zero" \
	[ "$(rj nousage "(j['tokens']['estimated_requests'], j['tokens']['prompt'] > 0, j['tokens']['completion'] > 0)")" = "($n, True, True)" ]
check "no usage: status --json too" [ "$(sj nousage "j['tokens']['estimated_requests']")" = "$n" ]
check "no usage: status says so" grep -q "($n requests estimated: the server sent no usage)" "$T/st-nousage.txt"

# --- error bodies: the server's message in the log line, report.json and status ---
# shape NAME WANT: every batch fails with WANT (exit 3) and the user is told how to retry
shape() {
	local name=$1 want=$2
	run "$name" "$name"
	local n got
	n=$(sj "$name" "j['batches']['total']")
	got=$(rj "$name" "j['batches']['failures'][0]['error']")
	check "$name: exit 3 (got $rc)" [ $rc -eq 3 ]
	check "$name: report.json's failure is '$want' (got '$got')" [ "$got" = "$want" ]
	check "$name: a log line for each of the $n batches says it" \
		[ "$(grep -cF "failed: $want" "$T/err-$name")" = "$n" ]
	check "$name: the last line says how to retry" grep -qxF \
		"kgsup: $n batches failed; kgsup resume --retry-failed -s $T/s-$name retries them (kgsup status -s $T/s-$name)" "$T/err-$name"
	check "$name: status --json: failed, $n batches, the hint" [ "$(sj "$name" \
		"(j['state'], j['batches']['failed'], j['hint'])")" = "('failed', $n, '$n batches failed; kgsup resume --retry-failed -s $T/s-$name retries them')" ]
}
shape openai "HTTP 400: This model's maximum context length is 8192 tokens"
shape express "HTTP 400: Bad Request: messages must not be empty"
shape fastapi "HTTP 422: temperature must be <= 2"
shape fastapi-list "HTTP 422: body.max_tokens: ensure this value is less than 4097"
shape vllm "HTTP 400: max_tokens must be at least 1, got -5."
# 5xx are retried (max_attempts 2) before the batch fails
shape ollama-500 "gave up after 2 attempts; last: HTTP 500: llama runner process has terminated: signal: killed"
shape text-503 "gave up after 2 attempts; last: HTTP 503: upstream connect error or disconnect/reset before headers"
check "5xx: each batch asked twice ($(rj ollama-500 "j['requests']['sent']") requests, $(rj ollama-500 "j['batches']['total']") batches)" \
	[ "$(rj ollama-500 "j['requests']['sent'] == 2 * j['batches']['total'] and j['errors_by_cause']['server'] == j['requests']['sent']")" = True ]

# --- aborts: one error line, the reason in status and report.json, nothing failed ---
# abort NAME MODEL WANT [BASE_URL]: exit 4 with "aborted: WANT"
abort() {
	local name=$1 want=$3
	run "$name" "$2" "${4:-}"
	check "$name: exit 4 (got $rc)" [ $rc -eq 4 ]
	check "$name: the last line: aborted: $want" [ "$(tail -n 1 "$T/err-$name")" = "kgsup: aborted: $want" ]
	check "$name: no warning, one error line, the same: $(warns "$T/err-$name" | sed 's/^[^ ]* //' | head -3 | tr '\n' ' ')" \
		[ "$(warns "$T/err-$name" | sed 's/^[^ ]* //')" = "sup error: $want" ]
	check "$name: status --json: aborted, the reason, no batch failed" \
		[ "$(sj "$name" "(j['state'], j['reason'], j['batches']['failed'], j['batches']['possibly_billed'])")" = \
		"$(/usr/bin/python3 -c "import sys; print(('aborted', sys.argv[1], 0, 0))" "$want")" ]
	check "$name: status says why" grep -qxF "reason     $want" "$T/st-$name.txt"
	check "$name: report.json: aborted, the reason" [ "$(rj "$name" "(j['exit_code'], j['state'], j['reason'])")" = \
		"$(/usr/bin/python3 -c "import sys; print((4, 'aborted', sys.argv[1]))" "$want")" ]
}
abort refused refused "HTTP 401 (the API refused the key): Incorrect API key provided: sk-test. You can find your API key at https://platform.openai.com/account/api-keys."
abort model llama9 "HTTP 404 (unknown model \"llama9\" at $MOCK_URL): model \"llama9\" not found, try pulling it first"
# a base_url without /v1: mock-llm answers 404 for /models and lists its models under /v1, so
# the check before the run says the fix, before anything is planned or sent
run nov1 kg "http://127.0.0.1:$PORT"
check "nov1: exit 4 (got $rc)" [ $rc -eq 4 ]
check "nov1: the last line says the fix: $(tail -n 1 "$T/err-nov1")" [ "$(tail -n 1 "$T/err-nov1")" = \
	"kgsup: the server at http://127.0.0.1:$PORT answers 404 for http://127.0.0.1:$PORT/models but lists its models at http://127.0.0.1:$PORT/v1/models: set api.base_url to \"http://127.0.0.1:$PORT/v1\"" ]
check "nov1: no warning, nothing planned ($(cat "$T/st-nov1.txt"))" \
	[ -z "$(warns "$T/err-nov1")" -a -n "$(grep -F 'no planned run here' "$T/st-nov1.txt")" ]
finish
