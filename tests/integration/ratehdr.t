#!/bin/bash
# ratehdr.t: limits the server announces in x-ratelimit-limit-requests, in units other than a
# minute (issue 20). A per-second figure does not slow the run to that many a minute; a
# per-minute one caps the rate (also when counted per second), with a warning naming both
# figures and why, as is every other change (a 429 lowering the rate, the rate back); a daily
# quota used up pauses the run until it resets, saying when, and the run goes on;
# limits.trust_announced false ignores the headers; status shows the limits in force and where
# they come from.
. "$(dirname "$0")/lib.sh"
plan 32

# batches CONFIG INPUT: how many batches the plan makes
batches() { "$KGSUP" plan -c "$1" -i "$2" --json | json_get /dev/stdin "j['batches']"; }
# secs_since START: wall seconds since START (date +%s.%N)
secs_since() { /usr/bin/python3 -c "import time; print(round(time.time() - $1, 2))"; }
# le A B: A <= B, as numbers
le() { /usr/bin/python3 -c "import sys; sys.exit(0 if $1 <= $2 else 1)"; }
# broker_warnings FILE: the broker's warnings in a run's log
broker_warnings() { grep ' broker warn: ' "$1"; }
# timed_start CONFIG INPUT NAME: kgsup start into $T/NAME, its log in $T/err-NAME; sets rc and
# took (wall seconds)
timed_start() {
	local t0
	t0=$(date +%s.%N)
	timeout 120 "$KGSUP" start -c "$1" -i "$2" -s "$T/$3" -w 4 2>"$T/err-$3"
	rc=$?
	took=$(secs_since "$t0")
}

# --- a per-second server: 40 a second, resets under a second; 1,200 a minute configured ----
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 20 --words 800
start_mock --rps 40
write_config "$T/cfg.json" '{"limits": {"requests_per_minute": 1200}, "chunking": {"chunks_per_batch": 1}}'
n=$(batches "$T/cfg.json" "$T/in")
timed_start "$T/cfg.json" "$T/in" s1
# the configured 20 a second allow n/20 s (the slow start and the processes' start on top);
# 40 a minute would take n*1.5 s
bound=$(/usr/bin/python3 -c "print(round($n / 20.0, 2))")
check "per-second server: exit 0 (got $rc)" [ $rc -eq 0 ]
check "$n batches in $took s, near the configured rate's $bound s, not $n at 40 a minute" \
	le "$took" "$bound * 1.5 + 3"
check "no warning: the limit did not change ($(broker_warnings "$T/err-s1" | head -n 1))" \
	eval '! broker_warnings "$T/err-s1"'
check "the log says why the figure is no cap" \
	grep -q "requests limit stays 1200 a minute: the server announces 40 requests with resets within a second: per second" "$T/err-s1"
kg status -s "$T/s1" --json >"$T/st1.json"
check "status --json: 1200 a minute from the config, 40 announced a second" \
	[ "$(json_get "$T/st1.json" "(lambda r: (r['effective'], r['source'], r['announced'], r['announced_unit']))(j['limits']['requests_per_minute'])")" = "(1200, 'config', 40, 'second')" ]
kg status -s "$T/s1" >"$T/st1.txt"
check "status: the limit, configured, and the server's figure that is no cap" \
	grep -q "^limits     requests 1200 a minute: configured; the server announces 40 a second, not a per-minute limit" "$T/st1.txt"
stop_mock

# --- a per-minute server: 120 a minute, windows of a minute; its first answer a 429 --------
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in2" --files 8 --words 800
start_mock --rpm 120 --first-429 1 --retry-after 1
write_config "$T/cfg2.json" '{"limits": {"requests_per_minute": 1200}, "chunking": {"chunks_per_batch": 1}}'
n2=$(batches "$T/cfg2.json" "$T/in2")
timed_start "$T/cfg2.json" "$T/in2" s2
check "per-minute server: exit 0 (got $rc)" [ $rc -eq 0 ]
# 2 a second: n2 requests need (n2 - 1) / 2 s at least, the one-request start aside
check "capped at 120 a minute: $n2 batches took $took s, at least $(( (n2 - 2) / 2 )) s" \
	le "($n2 - 2) / 2.0" "$took"
check "a warning names both figures and the server's announcement" \
	grep -q "broker warn: requests limit 1200 -> 120 a minute: the server announces 120 requests a minute (resets up to" "$T/err-s2"
check "a warning when a 429 lowers the rate, with both figures" \
	grep -Eq "broker warn: rate lowered after an HTTP 429: [0-9]+ -> [0-9]+ requests" "$T/err-s2"
check "a warning when the rate is back at the limit" \
	grep -q "broker warn: rate back to 120 requests and" "$T/err-s2"
kg status -s "$T/s2" --json >"$T/st2.json"
check "status --json: 120 a minute announced by the server, 1200 configured" \
	[ "$(json_get "$T/st2.json" "(lambda r: (r['limit'], r['configured'], r['announced_unit']))(j['limits']['requests_per_minute'])")" = "(120, 1200, 'minute')" ]
stop_mock

# the same server without the 429, status while the run is live: where the limit comes from
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in4" --files 4 --words 800
start_mock --rpm 120
write_config "$T/cfg2.json" '{"limits": {"requests_per_minute": 1200}, "chunking": {"chunks_per_batch": 1}}'
kg start -c "$T/cfg2.json" -i "$T/in4" -s "$T/s2b" -w 4 -q 2>/dev/null &
pid=$!
for _ in $(seq 100); do grep -q '"source":"announced"' "$T/s2b/run/limits.json" 2>/dev/null && break; sleep 0.1; done
kg status -s "$T/s2b" >"$T/st2b.txt"
kg status -s "$T/s2b" --json >"$T/st2b.json"
wait $pid
check "status (live): requests 120 a minute, announced by the server" \
	grep -q "^limits     requests 120 a minute: announced by the server (configured 1200)" "$T/st2b.txt"
check "status --json (live): effective 120, source announced" \
	[ "$(json_get "$T/st2b.json" "(lambda r: (r['effective'], r['source']))(j['limits']['requests_per_minute'])")" = "(120, 'announced')" ]
stop_mock

# --- a minute's limit counted per second (OpenAI's "quantized" limits; the mock's 1 s window):
# 1,200 a minute announced, resets under a second, never more than 20 left
start_mock --rpm 1200 --window-s 1
write_config "$T/cfg5.json" '{"limits": {"requests_per_minute": 2400}, "chunking": {"chunks_per_batch": 1}}'
timed_start "$T/cfg5.json" "$T/in4" s5
check "a minute counted per second: exit 0 (got $rc)" [ $rc -eq 0 ]
check "it caps: a warning names both figures and why" \
	grep -q "broker warn: requests limit 2400 -> 1200 a minute: the server announces 1200 requests a minute (resets up to .*counted per second)" "$T/err-s5"
stop_mock

# --- limits.trust_announced false: the same per-minute server's headers are ignored --------
start_mock --rpm 120
write_config "$T/cfg3.json" '{"limits": {"requests_per_minute": 1200, "trust_announced": false}, "chunking": {"chunks_per_batch": 1}}'
timed_start "$T/cfg3.json" "$T/in2" s3
check "trust_announced false: exit 0 (got $rc)" [ $rc -eq 0 ]
check "not capped: $n2 batches in $took s, under the $(( (n2 - 2) / 2 )) s 120 a minute needs" \
	le "$took" "($n2 - 2) / 2.0"
check "no word of the server's figures" eval '! grep -q "broker .*limit" "$T/err-s3"'
kg status -s "$T/s3" --json >"$T/st3.json"
check "status --json: 1200 from the config, no announced figure, trust_announced false" \
	[ "$(json_get "$T/st3.json" "(lambda l: (l['requests_per_minute']['effective'], l['requests_per_minute']['source'], l['requests_per_minute']['announced'], l['trust_announced']))(j['limits'])")" = "(1200, 'config', None, False)" ]
stop_mock

# --- a daily quota of 8 whose day ends 20 s after the mock starts ---------------------------
# KGSUP_MINUTE_MS shortens the minute the broker judges units by, so that a reset of seconds
# reads as past a minute: a daily quota, not a per-minute limit. The timeouts make a worker
# holding a batch for 14 s look stuck to the supervisor, but for the pause.
start_mock --daily 8 --day-ends-s 20
write_config "$T/cfg4.json" '{"limits": {"requests_per_minute": 1200}, "chunking": {"chunks_per_batch": 1},
	"api": {"timeout_s": 1}, "retry": {"max_attempts": 2, "backoff_base_ms": 1, "backoff_cap_ms": 1}}'
n4=$(batches "$T/cfg4.json" "$T/in4")
diag "$n4 batches against a quota of 8"
KGSUP_MINUTE_MS=1000 "$KGSUP" start -c "$T/cfg4.json" -i "$T/in4" -s "$T/s4" -w 4 2>"$T/err4" &
pid=$!
for _ in $(seq 100); do grep -q '"pause_reason":"daily' "$T/s4/run/limits.json" 2>/dev/null && break; sleep 0.1; done
kg status -s "$T/s4" >"$T/st4.txt"
kg status -s "$T/s4" --json >"$T/st4.json"
wait $pid; rc=$?
check "daily quota: exit 0 once it renewed (got $rc)" [ $rc -eq 0 ]
kg status -s "$T/s4" --json >"$T/st4b.json"
check "every batch done" [ "$(json_get "$T/st4b.json" "j['batches']['done'] == j['batches']['total'] == $n4")" = True ]
check "no worker killed for holding its batch through the pause" eval '! grep -q "without a result: killed" "$T/err4"'
check "nothing counted possibly billed" [ "$(json_get "$T/st4b.json" "j['batches']['possibly_billed']")" = 0 ]
curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats?bodies=1" >"$T/stats4.json"
ends=$(json_get "$T/stats4.json" "j['day_ends_wall']")
at=$(/usr/bin/python3 -c "import time; print(time.strftime('%H:%M:%S', time.gmtime(int($ends) + 1)))")
at0=$(/usr/bin/python3 -c "import time; print(time.strftime('%H:%M:%S', time.gmtime(int($ends))))")
check "the pause is a warning naming the UTC time the quota resets ($at0 or $at)" \
	grep -Eq "broker warn: daily request quota exhausted; resumes at ($at0|$at) UTC" "$T/err4"
check "and the run going on is told" \
	grep -q "broker warn: daily request quota exhausted until now: renewed, the run goes on" "$T/err4"
check "status (paused): the reason and the time" \
	grep -Eq "^paused     daily request quota exhausted; resumes at ($at0|$at) UTC" "$T/st4.txt"
check "status --json (paused): pause_reason and paused_until" \
	[ "$(json_get "$T/st4.json" "(j['limits']['pause_reason'], abs(j['limits']['paused_until_ms'] / 1000 - $ends) < 1.5)")" = "('daily request quota exhausted', True)" ]
# nothing answered between the quota running out and its day's end
t0w=$(json_get "$T/stats4.json" "j['t0_wall']")
late=$(json_get "$T/stats4.json" "sum(1 for r in j['requests_log'] if r['status'] == 200 and r['t_in'] + $t0w >= $ends)")
early=$(json_get "$T/stats4.json" "sum(1 for r in j['requests_log'] if r['status'] == 200 and r['t_in'] + $t0w < $ends)")
check "8 answered before the day's end, the other $((n4 - 8)) after it (got $early and $late)" \
	[ "$early" = 8 -a "$late" = $((n4 - 8)) ]
check "no request refused: none sent while nothing remained ($(json_get "$T/stats4.json" "j['rate_limited']") 429s)" \
	[ "$(json_get "$T/stats4.json" "j['rate_limited']")" = 0 ]
stop_mock

# stopped while paused for a quota: the batches waiting for their grants go back at once
start_mock --daily 4 --day-ends-s 120
write_config "$T/cfg6.json" '{"chunking": {"chunks_per_batch": 1}}'
KGSUP_MINUTE_MS=1000 "$KGSUP" start -c "$T/cfg6.json" -i "$T/in4" -s "$T/s6" -w 4 2>"$T/err6" &
pid=$!
for _ in $(seq 100); do grep -q '"pause_reason":"daily' "$T/s6/run/limits.json" 2>/dev/null && break; sleep 0.1; done
t0=$(date +%s.%N)
kg stop -s "$T/s6" >/dev/null
wait $pid; rc=$?
took=$(secs_since "$t0")
kg status -s "$T/s6" --json >"$T/st6.json"
check "kgsup stop during the pause: exit 75 in $took s, not the stop deadline's 30 (got $rc)" \
	eval '[ $rc -eq 75 ] && le "$took" 10'
check "the waiting batches pending again, none possibly billed" \
	[ "$(json_get "$T/st6.json" "(j['state'], j['batches']['pending'] > 0, j['batches']['possibly_billed'])")" = "('stopped', True, 0)" ]
stop_mock
finish
