#!/bin/bash
# conncheck.t: the server before and during a run. Before the plan, start and resume ask GET
# /models: a model the server does not list (the run's or a stage's) stops the run (exit 4,
# naming model and server), a server without the endpoint is a warning and the run goes on, a
# base_url without /v1 gets the fix, and a server that cannot be reached is "cannot connect to
# URL: reason" (exit 2); nothing is planned or sent then, and nothing is left running. During a run, a server that goes away
# pauses the run (log and status say so) without using up attempts, and the run goes on when
# it is back on the same port.
. "$(dirname "$0")/lib.sh"
plan 32

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 3 --words 400 >/dev/null
CFG='{"chunking": {"chunks_per_batch": 1}}'
# not_planned DIR: the check stopped the run before its plan
not_planned() { ! kg status -s "$1" >/dev/null 2>&1; }

# --- a model the server does not list: exit 4 before the plan, naming model and server ---
start_mock --model mock-1
write_config "$T/cfg.json" '{"api": {"model": "gpt-nope"}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/m" -w 2 -q 2>"$T/err"; rc=$?
check "unlisted model: exit 4 (got $rc)" [ $rc -eq 4 ]
check "the message names the model, the server and what it lists: $(head -c 300 "$T/err")" \
	grep -qF "kgsup: unknown model \"gpt-nope\" at $MOCK_URL: the server lists 1 model (mock-1); set api.model" "$T/err"
check "nothing sent ($(mock_stat requests)), /models asked ($(mock_stat models_asked))" \
	[ "$(mock_stat requests)" = 0 -a "$(mock_stat models_asked)" = 1 ]
check "and nothing planned" not_planned "$T/m"
# (the zygote starts while the server is checked: stopped and reaped again)
check "nor anything left running or made for the run's sockets: $(pgrep -af -- "kgsup __[a-z]* $T/m ")$(ls "$T/m/sock")" \
	eval '! pgrep -f -- "kgsup __[a-z]* $T/m " >/dev/null && [ -z "$(ls "$T/m/sock")" ]'

# a stage's own model is checked too
write_config "$T/cfg.json"
/usr/bin/python3 - "$T/cfg.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["stages"] = [{"name": "kg", "over": "chunks", "per_call": 1, "graph": True, "model": "mock-2"}]
json.dump(c, open(sys.argv[1], "w"))
PY
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/st" -w 2 -q 2>"$T/err"; rc=$?
check "a stage's unlisted model: exit 4 naming it (got $rc: $(head -c 200 "$T/err"))" \
	eval "[ $rc -eq 4 ] && grep -qF 'unknown model \"mock-2\" at $MOCK_URL: the server lists 1 model (mock-1)' '$T/err'"

# the model listed: no word, the run goes on
write_config "$T/cfg.json" "$CFG"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/ok" -w 2 -q 2>"$T/err"; rc=$?
check "a listed model: exit 0 (got $rc)" [ $rc -eq 0 ]
check "without a warning about models: $(head -c 200 "$T/err")" eval "! grep -q 'models' '$T/err'"
stop_mock

# --- no /models at all (a server without the endpoint): a warning, the run completes ---
start_mock
write_config "$T/cfg.json" "$CFG"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/nm" -w 2 -q 2>"$T/err"; rc=$?
check "/models missing: exit 0 (got $rc)" [ $rc -eq 0 ]
check "a warning says the model names are not checked: $(grep -m1 'models' "$T/err")" \
	grep -qF "warn: the server at $MOCK_URL does not list its models (GET $MOCK_URL/models: HTTP 404); the model names are not checked before the run" "$T/err"
check "and /models was asked ($(mock_stat models_asked))" [ "$(mock_stat models_asked)" = 1 ]
check "the run completed" [ "$(json_get "$T/nm/report.json" "j['state']")" = done ]
URL_BEFORE=$MOCK_URL
stop_mock

# --- nothing listening: exit 2, the URL and the reason ---
# (a timeout: were it not refused, the run would wait for the server)
timeout -k 2 30 "$KGSUP" start -c "$T/cfg.json" -i "$T/in" -s "$T/down" -w 2 -q 2>"$T/err"; rc=$?
check "nothing listening: exit 2 (got $rc)" [ $rc -eq 2 ]
check "cannot connect to URL: reason: $(head -c 200 "$T/err")" \
	grep -qxF "kgsup: cannot connect to $URL_BEFORE: Connection refused" "$T/err"
check "one line, nothing planned" eval "[ \$(wc -l <'$T/err') -eq 1 ] && ! kg status -s '$T/down' >/dev/null 2>&1"
# resume looks too
timeout -k 2 30 "$KGSUP" resume -s "$T/nm" -q 2>"$T/err"; rc=$?
check "resume with nothing listening: exit 2 (got $rc: $(head -c 200 "$T/err"))" \
	eval "[ $rc -eq 2 ] && grep -qF 'cannot connect to $URL_BEFORE: Connection refused' '$T/err'"

# TLS verification: the mock's certificate is not one the system trusts
start_mock --model mock-1
write_config "$T/cfg.json" "$CFG"
sed -i "s#\"$T/mock/cert.pem\"#null#" "$T/cfg.json"
timeout -k 2 30 "$KGSUP" start -c "$T/cfg.json" -i "$T/in" -s "$T/tls" -w 2 -q 2>"$T/err"; rc=$?
check "an untrusted certificate: exit 2 (got $rc: $(head -c 200 "$T/err"))" \
	eval "[ $rc -eq 2 ] && grep -qF 'cannot connect to $MOCK_URL: SSL certificate problem' '$T/err'"
# api.ca_path: a directory of CAs named by hash; the CA in it is trusted, and only it (no
# bundle of the system's beside it)
mkdir -p "$T/cas" "$T/nocas"
cp "$T/mock/cert.pem" "$T/cas/mock.pem"
openssl rehash "$T/cas" 2>/dev/null
write_config "$T/cfg.json" "{\"api\": {\"ca_file\": null, \"ca_path\": \"$T/cas\"}}"
timeout -k 2 60 "$KGSUP" start -c "$T/cfg.json" -i "$T/in" -s "$T/capath" -w 2 -q 2>"$T/err"; rc=$?
check "api.ca_path holding the server's CA: the run finishes (exit $rc: $(head -c 200 "$T/err"))" [ $rc -eq 0 ]
write_config "$T/cfg.json" "{\"api\": {\"ca_file\": null, \"ca_path\": \"$T/nocas\"}}"
timeout -k 2 30 "$KGSUP" start -c "$T/cfg.json" -i "$T/in" -s "$T/nocapath" -w 2 -q 2>"$T/err"; rc=$?
check "api.ca_path without it: exit 2 (got $rc: $(head -c 200 "$T/err"))" \
	eval "[ $rc -eq 2 ] && grep -qF 'cannot connect to $MOCK_URL: SSL certificate problem' '$T/err'"
stop_mock

# --- base_url without /v1: the fix is said before anything is planned or sent ---
start_mock --strict-path --model mock-1
write_config "$T/cfg.json" "{\"api\": {\"base_url\": \"https://127.0.0.1:$PORT\"}}"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/v" -w 2 -q 2>"$T/err"; rc=$?
check "no /v1: exit 4 (got $rc)" [ $rc -eq 4 ]
check "with the fix: $(head -c 300 "$T/err")" grep -qF \
	"set api.base_url to \"https://127.0.0.1:$PORT/v1\"" "$T/err"
check "nothing sent ($(mock_stat requests)) nor planned" eval "[ $(mock_stat requests) = 0 ] && ! kg status -s '$T/v' >/dev/null 2>&1"
stop_mock

# --- the server goes away in the middle of a run and comes back on the same port ---
MOCK_ARGS="--model mock-1 --latency-ms 300"
start_mock $MOCK_ARGS
# restart_mock: the mock again on the same port, with the same certificate
restart_mock() {
	rm -f "$T/mock/port"
	/usr/bin/python3 "$TOP/scripts/mock_llm.py" --dir "$T/mock" --port "$PORT" $MOCK_ARGS \
		2>>"$T/mock.log" &
	MOCK_PID=$!
	for _ in $(seq 100); do [ -s "$T/mock/port" ] && break; sleep 0.1; done
}
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in2" --files 6 --words 1500 >/dev/null
write_config "$T/cfg.json" '{"chunking": {"chunks_per_batch": 1},
	"retry": {"max_attempts": 3, "backoff_base_ms": 100, "backoff_cap_ms": 400}}'
kg start -c "$T/cfg.json" -i "$T/in2" -s "$T/out" -w 2 --no-progress 2>"$T/log" & KG=$!
for _ in $(seq 200); do [ "$(mock_stat ok)" -ge 3 ] && break; sleep 0.1; done
seen1=$(mock_stat requests)
sup=$(pgrep -f "start -c $T/cfg.json -i $T/in2 -s $T/out" | head -1)
# cpu_ticks: the supervisor's CPU time so far, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$sup/stat"; }
kill -9 "$MOCK_PID"; wait "$MOCK_PID" 2>/dev/null; MOCK_PID=
sleep 0.5
ticks0=$(cpu_ticks)
sleep 4 # ten backoffs of retry.backoff_cap_ms and more: attempts would have run out
ticks=$(( $(cpu_ticks) - ticks0 ))
kg status -s "$T/out" >"$T/st.txt"
kg status -s "$T/out" --json >"$T/st.json"
check "status says it waits: $(sed -n 2p "$T/st.txt")" \
	grep -qE "^ +waiting for the server at $MOCK_URL since [0-9]{2}:[0-9]{2}:[0-9]{2}: Connection refused$" "$T/st.txt"
check "status --json too: $(json_get "$T/st.json" "j['waiting']")" \
	[ "$(json_get "$T/st.json" "j['state'] == 'running' and j['waiting']['server'] == '$MOCK_URL' and j['waiting']['reason'] == 'Connection refused' and j['waiting']['since'].endswith('Z')")" = True ]
check "no batch failed while it waited" [ "$(json_get "$T/st.json" "j['batches']['failed']")" = 0 ]
check "the supervisor sleeps while it waits ($ticks ticks of CPU in 4 s)" [ "$ticks" -lt 100 ]
restart_mock
wait "$KG"; rc=$?
check "the run completes once the server is back: exit 0 (got $rc)" [ $rc -eq 0 ]
check "the log says it waited: $(grep -m1 'waiting for' "$T/log")" \
	grep -qE "sup warn: waiting for the server at $MOCK_URL since [0-9]{2}:[0-9]{2}:[0-9]{2}: Connection refused" "$T/log"
check "and that it went on: $(grep -m1 'answers again' "$T/log")" \
	grep -qF "the server at $MOCK_URL answers again after" "$T/log"
kg status -s "$T/out" --json >"$T/st.json"
check "every batch done, none failed: $(json_get "$T/st.json" "j['batches']")" \
	[ "$(json_get "$T/st.json" "(j['batches']['done'] == j['batches']['total'], j['batches']['failed'], j['waiting'])")" = "(True, 0, None)" ]
# what kgsup counts as sent is what the two mocks saw, give or take the calls cut off when the
# first one died (in flight, or on a kept-alive connection it had closed: two per worker)
sent=$(json_get "$T/st.json" "j['requests']['sent']")
seen=$((seen1 + $(mock_stat requests)))
check "calls that could not connect are not counted as requests ($sent sent, $seen seen)" \
	[ "$sent" -ge "$seen" -a "$sent" -le $((seen + 4)) ]
# while it waits, one batch at a time tries: the mock that came back got one call, answered
# (300 ms) before the next ones went
gap=$(/usr/bin/python3 -c "import json,sys; t=json.loads(sys.argv[1]); print(int((t[1]-t[0])*1000))" \
	"$(curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats" |
	   /usr/bin/python3 -c "import json,sys; print(json.dumps(json.load(sys.stdin)['times']))")")
check "the server back gets one call first, the next once it is answered (${gap} ms later)" [ "$gap" -ge 250 ]
stop_mock
finish
