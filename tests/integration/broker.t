#!/bin/bash
# broker.t: the rate-limit broker as a user notices it: Retry-After is honoured by everyone,
# a killed broker is restarted and the run finishes, max_in_flight bounds concurrent calls.
. "$(dirname "$0")/lib.sh"
plan 7

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

# max_in_flight: 8 workers, at most 2 calls at once at the server
start_mock --latency-ms 50
write_config "$T/cfg.json" '{"limits": {"max_in_flight": 2}, "chunking": {"chunks_per_batch": 1}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s3" -w 8 -q 2>"$T/err"
check "max_in_flight 2 with 8 workers: the server saw at most 2 at once ($(mock_stat max_in_flight))" \
	[ "$(mock_stat max_in_flight)" -le 2 ]
finish
