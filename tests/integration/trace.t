#!/bin/bash
# trace.t: DIR/trace.jsonl, a line per request (retries included) and per batch answered from
# the cache: every field, a 429 with its Retry-After, a 500 with the server's message, the
# times in order, tokens and cost as report.json has them, cache hits on a second run, lines
# written while the run is live, the cap (trace.max_mb) and the rotation to trace.1.jsonl,
# trace.max_mb 0; `kgsup trace`: the summary, --slowest N, --errors, --json.
. "$(dirname "$0")/lib.sh"
plan 41

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 3 --words 400 >/dev/null
CFG='{"chunking": {"chunks_per_batch": 1}, "retry": {"max_attempts": 3}}'

# tr FILE... -- EXPR: a Python expression over the trace lines of the FILEs (L, in order)
tr() {
	/usr/bin/python3 - "$@" <<'PY'
import json, re, sys
args = sys.argv[1:]
files, expr = args[:args.index("--")], args[args.index("--") + 1]
L = [json.loads(l) for f in files for l in open(f)]
print(eval(expr))
PY
}

FIELDS="['attempt', 'batch', 'cache_hit', 'cause', 'cost_usd', 'done_ms', 'error', 'first_byte_ms', 'granted_ms', 'http_status', 'ok', 'queued', 'retry_after_ms', 'sent_ms', 'stage', 'tokens_estimated', 'tokens_in', 'tokens_out', 'worker']"

# --- a run with two 429s (Retry-After: 1) and 30 ms of latency ---
start_mock --first-429 2 --retry-after 1 --latency-ms 30
write_config "$T/cfg.json" "$CFG"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/a" -w 2 -q 2>"$T/a.err"; rc=$?
A=$T/a/trace.jsonl
check "the run: exit 0 (got $rc)" [ $rc -eq 0 ]
sent=$(mock_stat requests)
check "a line per request, retries included ($(wc -l <"$A") lines, $sent requests)" \
	[ "$(tr "$A" -- "len(L)")" = "$sent" ]
check "every line has every field" [ "$(tr "$A" -- "L and all(sorted(l) == $FIELDS for l in L)")" = True ]
check "the two 429s: cause rate_limited, Retry-After 1000 ms, the server's message" \
	[ "$(tr "$A" -- "[(l['http_status'], l['ok'], l['cause'], l['retry_after_ms'], l['error']) for l in L if l['http_status'] == 429]")" = \
	"[(429, False, 'rate_limited', 1000, 'HTTP 429: Rate limit reached'), (429, False, 'rate_limited', 1000, 'HTTP 429: Rate limit reached')]" ]
check "a batch refused with 429 has its next attempt, answered" \
	[ "$(tr "$A" -- "L and all(any(m['batch'] == l['batch'] and m['attempt'] == l['attempt'] + 1 and m['ok'] for m in L) for l in L if l['http_status'] == 429)")" = True ]
check "answered lines: 200, ok, no cause, no error, worker and attempt given" \
	[ "$(tr "$A" -- "L and all(l['ok'] and l['cause'] is None and l['error'] is None and l['worker'] in (0, 1) and l['attempt'] >= 1 for l in L if l['http_status'] == 200)")" = True ]
check "times: queued ISO 8601 with ms, then granted <= sent <= first byte <= done" \
	[ "$(tr "$A" -- "L and all(re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z', l['queued']) and 0 <= l['granted_ms'] <= l['sent_ms'] <= l['first_byte_ms'] <= l['done_ms'] for l in L)")" = True ]
check "the mock's 30 ms are between sent and first byte" \
	[ "$(tr "$A" -- "L and all(l['first_byte_ms'] - l['sent_ms'] >= 29 for l in L if l['ok'])")" = True ]
check "a wait for the 429's Retry-After shows as time before the grant" \
	[ "$(tr "$A" -- "max(l['granted_ms'] for l in L) >= 900")" = True ]
check "tokens in and out as report.json has them" \
	[ "$(tr "$A" -- "(sum(l['tokens_in'] for l in L), sum(l['tokens_out'] for l in L))")" = \
	"$(json_get "$T/a/report.json" "(j['tokens']['prompt'], j['tokens']['completion'])")" ]
check "cost: the tokens at the configured prices, summing to report.json's" \
	[ "$(tr "$A" -- "L and all(abs(l['cost_usd'] - (l['tokens_in'] * 0.15 + l['tokens_out'] * 0.6) / 1e6) < 1e-9 for l in L) and round(sum(l['cost_usd'] for l in L), 6)")" = \
	"$(json_get "$T/a/report.json" "j['cost_usd']")" ]
check "no cache hit in a first run" [ "$(tr "$A" -- "any(l['cache_hit'] for l in L)")" = False ]

# --- the same run again (--fresh keeps the cache): every batch answered from it ---
n_a=$(tr "$A" -- "len(L)")
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/a" -w 2 -q --fresh 2>/dev/null
batches=$(json_get "$T/a/report.json" "j['batches']['total']")
check "second run: nothing sent" [ "$(mock_stat requests)" = "$sent" ]
check "a cache-hit line per batch ($batches) appended" \
	[ "$(tr "$A" -- "[(l['cache_hit'], l['worker'], l['http_status'], l['cost_usd']) for l in L[$n_a:]]")" = \
	"$(/usr/bin/python3 -c "print([(True, None, None, 0)] * $batches)")" ]
check "their tokens: as bought" [ "$(tr "$A" -- "sorted((l['batch'], l['tokens_in']) for l in L[$n_a:])")" = \
	"$(tr "$A" -- "sorted((l['batch'], l['tokens_in']) for l in L[:$n_a] if l['ok'])")" ]

# --- kgsup trace on it ---
kg trace -s "$T/a" >"$T/sum.txt"; rc=$?
check "kgsup trace: the summary (exit $rc)" grep -qx "requests     $n_a (2 failed: 2 rate_limited)" "$T/sum.txt"
check "and the cache hits" grep -qx "from cache   $batches batches" "$T/sum.txt"
kg trace -s "$T/a" --slowest 3 >"$T/slow.txt"
want=$(tr "$A" -- "' '.join('%d:%d:%.1f' % (l['batch'], l['attempt'], l['done_ms']) for l in sorted((l for l in L if not l['cache_hit']), key=lambda l: -l['done_ms'])[:3])")
got=$(awk 'NR > 2 { printf "%s%s:%s:%s", (NR > 3 ? " " : ""), $2, $5, $10 }' "$T/slow.txt")
check "--slowest 3: the three slowest requests, slowest first ($got)" [ "$got" = "$want" -a -n "$got" ]
check "--slowest: a header naming where the time went" grep -q "wait.*connect.*server.*total" "$T/slow.txt"
kg trace -s "$T/a" --slowest 2 --json >"$T/slow.json"
check "--slowest 2 --json: those lines as they are in the file" \
	[ "$(tr "$T/slow.json" -- "[(l['batch'], l['attempt']) for l in L]")" = "$(tr "$A" -- "[(l['batch'], l['attempt']) for l in sorted((l for l in L if not l['cache_hit']), key=lambda l: -l['done_ms'])[:2]]")" ]
kg trace -s "$T/a" --errors >"$T/errors.txt"
check "--errors: the two 429s with their Retry-After and message" \
	[ "$(grep -c "429 rate_limited  *1000 ms  HTTP 429: Rate limit reached" "$T/errors.txt")" = 2 ]
check "--errors: and a count of the failed by cause" grep -qx "2 of $n_a requests failed: 2 rate_limited" "$T/errors.txt"
kg trace -s "$T/a" --errors --json >"$T/errors.json"
check "--errors --json: the failed lines alone, as they are" \
	[ "$(cat "$T/errors.json")" = "$(grep '"ok":false' "$A")" -a "$(wc -l <"$T/errors.json")" = 2 ]
kg trace -s "$T/a" --json >"$T/all.json"
check "--json alone: every line as it is" cmp -s "$T/all.json" "$A"
stop_mock

# --- every request answered 500 with a message: each attempt a line, the message kept ---
start_mock --error-status 500 --error-body '{"error": {"message": "the model is overloaded"}}'
write_config "$T/cfg.json" "$CFG"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/b" -w 2 -q 2>/dev/null; rc=$?
B=$T/b/trace.jsonl
check "500s: exit 3 (got $rc)" [ $rc -eq 3 ]
check "a line per attempt ($(mock_stat requests) requests, 3 attempts a batch)" \
	[ "$(tr "$B" -- "len(L)")" = "$(mock_stat requests)" -a "$(tr "$B" -- "sorted(set(l['attempt'] for l in L))")" = "[1, 2, 3]" ]
check "each: 500, server_error, the server's message, no Retry-After, no tokens" \
	[ "$(tr "$B" -- "set((l['http_status'], l['ok'], l['cause'], l['error'], l['retry_after_ms'], l['tokens_in']) for l in L)")" = \
	"{(500, False, 'server_error', 'HTTP 500: the model is overloaded', None, 0)}" ]
kg trace -s "$T/b" --errors >"$T/errors-b.txt"
n_b=$(tr "$B" -- "len(L)")
check "--errors lists them all with the message" \
	[ "$(grep -c "500 server_error  *-  HTTP 500: the model is overloaded$" "$T/errors-b.txt")" = "$n_b" ]
check "and counts them" grep -qx "$n_b of $n_b requests failed: $n_b server_error" "$T/errors-b.txt"
kg trace -s "$T/b" --errors --json >"$T/errors-b.json"
check "--errors --json: the failed lines as they are" cmp -s "$T/errors-b.json" "$B"
stop_mock

# --- written while the run is live, once a round commits (not only at its end) ---
start_mock --latency-ms 400
write_config "$T/cfg.json" "$CFG"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/c" -w 1 -q --detach 2>/dev/null
for _ in $(seq 100); do [ -s "$T/c/trace.jsonl" ] && break; sleep 0.1; done
state=$(kg status -s "$T/c" --json 2>/dev/null | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['state'])")
check "lines are in trace.jsonl while the run is live (state $state)" \
	[ -s "$T/c/trace.jsonl" -a "$state" = running ]
kg stop -s "$T/c" 2>/dev/null
stop_mock

# --- the cap: trace.max_mb tiny; the older file rotated to trace.1.jsonl ---
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/many" --files 8 --words 600 >/dev/null
start_mock
write_config "$T/cfg.json" '{"chunking": {"chunks_per_batch": 1}, "trace": {"max_mb": 0.004}}'
kg start -c "$T/cfg.json" -i "$T/many" -s "$T/d" -w 2 -q 2>/dev/null
cap=$(/usr/bin/python3 -c "print(int(0.004 * 1048576 / 2))")
sizes="$(stat -c %s "$T/d/trace.jsonl" 2>/dev/null) $(stat -c %s "$T/d/trace.1.jsonl" 2>/dev/null)"
check "rotated: trace.1.jsonl and trace.jsonl, each at most half the cap ($sizes; $cap)" \
	[ -f "$T/d/trace.1.jsonl" -a "$(stat -c %s "$T/d/trace.jsonl")" -le "$cap" -a \
	"$(stat -c %s "$T/d/trace.1.jsonl")" -le "$cap" ]
kept=$(tr "$T/d/trace.1.jsonl" "$T/d/trace.jsonl" -- "len(L)")
check "the oldest lines are gone ($kept of $(mock_stat requests) kept), the rest whole JSON" \
	[ "$kept" -lt "$(mock_stat requests)" -a "$kept" -gt 0 ]
check "kgsup trace reads both files" \
	grep -qx "requests     $kept (0 failed)" <(kg trace -s "$T/d")
write_config "$T/cfg.json" '{"chunking": {"chunks_per_batch": 1}, "trace": {"max_mb": 0}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/e" -w 2 -q 2>/dev/null
check "trace.max_mb 0: no trace" [ ! -e "$T/e/trace.jsonl" ]
kg trace -s "$T/e" 2>"$T/e.err"; rc=$?
check "and kgsup trace says so (exit $rc)" \
	[ $rc -eq 2 -a "$(cat "$T/e.err")" = "kgsup: $T/e: no trace here (a run writes trace.jsonl unless trace.max_mb is 0)" ]

# --- trace.jsonl a symbolic link: not followed, the run goes on without a trace ---
mkdir -p "$T/f"; echo precious >"$T/victim"; ln -s "$T/victim" "$T/f/trace.jsonl"
write_config "$T/cfg.json" '{"chunking": {"chunks_per_batch": 1}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/f" -w 2 2>"$T/f.err"; rc=$?
check "a symbolic link for trace.jsonl: the run goes on (exit $rc), the file it names untouched" \
	[ $rc -eq 0 -a "$(cat "$T/victim")" = precious ]
check "saying why there is no trace" grep -q "trace.jsonl: .*; no trace this session" "$T/f.err"

# --- a session that died in the middle of a line: the next one starts on a line of its own ---
mkdir -p "$T/h"; printf '{"queued":"2026-01-01T00:0' >"$T/h/trace.jsonl"
before=$(mock_stat requests)
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/h" -w 2 -q 2>/dev/null
kg trace -s "$T/h" >"$T/h.out" 2>"$T/h.err"
torn() {
	grep -qx "requests     $(($(mock_stat requests) - before)) (0 failed)" "$T/h.out" &&
		grep -q "1 line is not a trace record (the first at $T/h/trace.jsonl:1)" "$T/h.err"
}
check "half a line left by a dead session: only it is not a record" torn
stop_mock

# --- kgsup trace on a line that is not a record: left out, naming the first ---
mkdir -p "$T/g"; head -1 "$A" >"$T/g/trace.jsonl"; echo 'not json' >>"$T/g/trace.jsonl"
kg trace -s "$T/g" >"$T/g.out" 2>"$T/g.err"; rc=$?
left_out() {
	[ $rc -eq 0 ] && grep -q "^requests     1 " "$T/g.out" &&
		grep -q "1 line is not a trace record (the first at $T/g/trace.jsonl:2)" "$T/g.err"
}
check "a line that is not a record: left out (exit $rc), naming its file and line" left_out
printf '{"queued":"2026-01-01T00:0' >>"$T/g/trace.jsonl"
kg trace -s "$T/g" >"$T/g.out" 2>"$T/g.err"; rc=$?
check "a last line without its newline (being written) is not read, and not a bad one" left_out

finish
