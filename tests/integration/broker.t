#!/bin/bash
# broker.t: the rate-limit broker as a user notices it: Retry-After is honoured by everyone,
# a killed broker is restarted and the run finishes, max_in_flight bounds concurrent calls,
# and limits.window_s sends a window's share at once and no more in any window.
. "$(dirname "$0")/lib.sh"
plan 11

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 4 --words 600

# Retry-After: the first answer is a 429 asking for 2 s; no request may come sooner
start_mock --first-429 1 --retry-after 2
write_config "$T/cfg.json"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s1" -w 4 -q 2>"$T/err"; rc=$?
check "429 then success: exit 0 (got $rc)" [ $rc -eq 0 ]
gap=$(curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats" |
	/usr/bin/python3 -c "import json,sys; t=json.load(sys.stdin)['times']; print(round(t[1]-t[0],3))")
check "no request within the 2 s Retry-After (next came after $gap s)" \
	[ "$(/usr/bin/python3 -c "print($gap >= 1.95)")" = True ]
kg status -s "$T/s1" --json >"$T/st.json"
check "the 429 is counted in status" [ "$(json_get "$T/st.json" "j['requests']['http_429']")" = 1 ]
stop_mock

# the broker killed mid-run: restarted, workers reconnect, the run finishes
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in2" --files 10 --words 1000
start_mock --latency-ms 200
write_config "$T/cfg.json" '{"chunking": {"chunks_per_batch": 1}}'
"$KGSUP" start -c "$T/cfg.json" -i "$T/in2" -s "$T/s2" -w 4 2>"$T/err2" &
pid=$!
for _ in $(seq 50); do [ "$(mock_stat ok)" -ge 3 ] && break; sleep 0.1; done
bpid=$(pgrep -f -- "kgsup __broker $T/s2")
diag "killing broker pid $bpid after $(mock_stat ok) answers"
kill -KILL $bpid
wait $pid; rc=$?
check "broker SIGKILLed mid-run: the run still exits 0 (got $rc)" [ $rc -eq 0 ]
check "the supervisor restarted it" grep -q "broker killed by signal 9; restarting" "$T/err2"
kg status -s "$T/s2" --json >"$T/st.json"
check "every batch done" [ "$(json_get "$T/st.json" "j['batches']['done'] == j['batches']['total']")" = True ]
stop_mock

# limits.window_s 1 against a server counting 480 a minute over 1 s windows: the first 8 go
# together (the even pace spreads them over about 0.9 s), and none is refused
start_mock --latency-ms 200 --rpm 480 --window-s 1
write_config "$T/cfg.json" '{"limits": {"requests_per_minute": 480, "window_s": 1},
	"chunking": {"chunks_per_batch": 1}}'
kg start -c "$T/cfg.json" -i "$T/in2" -s "$T/s4" -w 16 -q 2>"$T/err4"; rc=$?
check "window_s 1: exit 0 (got $rc)" [ $rc -eq 0 ]
curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats" >"$T/stats4.json"
seen=$(json_get "$T/stats4.json" "'%d requests, %s 429s, the first 8 within %.3f s, the 9th %.3f s after the first' % (len(j['times']), j['status'].get('429', 0), sorted(j['times'])[7] - sorted(j['times'])[0], sorted(j['times'])[8] - sorted(j['times'])[0])")
diag "window_s 1: $seen"
check "window_s 1: no 429 ($seen)" [ "$(json_get "$T/stats4.json" "j['status'].get('429', 0)")" = 0 ]
check "window_s 1: the first 8 requests within 0.5 s, more than 8 in all ($seen)" \
	[ "$(json_get "$T/stats4.json" "len(j['times']) > 8 and sorted(j['times'])[7] - sorted(j['times'])[0] < 0.5")" = True ]
stop_mock

# window_s 5 and its broker killed once the first share went: the broker restarted does not
# know those grants, and lets a window go by before it grants (else a second share within it)
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in5" --files 6 --words 500 >/dev/null
start_mock --latency-ms 1000 --rpm 96 --window-s 5
write_config "$T/cfg5.json" '{"limits": {"requests_per_minute": 96, "window_s": 5},
	"chunking": {"chunks_per_batch": 1}}'
"$KGSUP" start -c "$T/cfg5.json" -i "$T/in5" -s "$T/s5" -w 16 -q 2>"$T/err5" &
pid=$!
for _ in $(seq 50); do [ "$(mock_stat requests)" -ge 8 ] && break; sleep 0.1; done
kill -KILL "$(pgrep -f -- "kgsup __broker $T/s5")"
wait $pid; rc=$?
curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats" >"$T/stats5.json"
seen=$(json_get "$T/stats5.json" "'%d requests, %s 429s' % (len(j['times']), j['status'].get('429', 0))")
check "window_s 5, its broker killed after the first share: restarted, exit $rc, no 429 ($seen)" \
	eval '[ $rc -eq 0 ] && grep -q "broker killed by signal 9; restarting" "$T/err5" &&
		[ "$(json_get "$T/stats5.json" "len(j[\"times\"]) > 8 and j[\"status\"].get(\"429\", 0) == 0")" = True ]'
stop_mock

# max_in_flight: 8 workers, at most 2 calls at once at the server
start_mock --latency-ms 50
write_config "$T/cfg.json" '{"limits": {"max_in_flight": 2}, "chunking": {"chunks_per_batch": 1}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s3" -w 8 -q 2>"$T/err"
check "max_in_flight 2 with 8 workers: the server saw at most 2 at once ($(mock_stat max_in_flight))" \
	[ "$(mock_stat max_in_flight)" -le 2 ]
finish
