#!/bin/bash
# chaos.t: a run of 500+ batches during which workers are SIGKILLed about every half second and
# the supervisor is SIGKILLed twice (its children must exit on their own) and resumed each
# time. It passes only if every batch ends done, the export equals that of an uninterrupted
# run, the mock saw at most one duplicate answer per kill, and a rerun makes no API call.
# Then a supervisor SIGKILLed alone and resumed at once, beside its orphaned workers: the resume
# ends in bounded time, buys at most the calls that were in flight again, and leaves no spool
# file and no socket directory behind. And a worker stopped while it holds a batch is killed
# past the hold deadline, so the run still ends.
. "$(dirname "$0")/lib.sh"
plan 18

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 60 --words 1500
extra='{"chunking": {"chunk_tokens": 300, "overlap_tokens": 30, "chunks_per_batch": 1}}'

# the reference: the same input, uninterrupted
start_mock
write_config "$T/cfg.json" "$extra"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/ref" -w 8 -q 2>"$T/ref.err"
kg export -s "$T/ref" -o "$T/ref.jsonl" 2>/dev/null
stop_mock

start_mock --latency-ms 60
write_config "$T/cfg.json" "$extra"
S=$T/state
kills=0
alive() { pgrep -f -- "kgsup __(worker|broker) .*$S" >/dev/null; }
no_children() { ! alive; }
kill_workers() { # every ~0.5 s a random worker of this run, until told to stop
	while [ ! -e "$T/stop-killer" ]; do
		sleep 0.5
		pid=$(pgrep -f -- "__worker [0-9]* $S" | shuf -n 1)
		[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && echo kill >>"$T/kills"
	done
}
kill_workers &
killer=$!

for round in 1 2; do
	if [ $round = 1 ]; then
		"$KGSUP" start -c "$T/cfg.json" -i "$T/in" -s "$S" -w 8 -q 2>>"$T/run.err" &
	else
		"$KGSUP" resume -s "$S" -q 2>>"$T/run.err" &
	fi
	sup=$!
	sleep 3
	kill -KILL $sup; wait $sup 2>/dev/null
	echo kill >>"$T/kills"
	for _ in $(seq 50); do alive || break; sleep 0.1; done
	check "supervisor SIGKILL $round: its children exit on their own" no_children
done
kg status -s "$S" --json >"$T/mid.json"
diag "after two supervisor kills: $(cat "$T/mid.json")"
kg resume -s "$S" -q 2>>"$T/run.err"; rc=$?
touch "$T/stop-killer"; wait $killer
kills=$(wc -l <"$T/kills")
check "the final resume exits 0 (got $rc)" [ $rc -eq 0 ]
kg status -s "$S" --json >"$T/status.json"
diag "$(cat "$T/status.json")"
total=$(json_get "$T/status.json" "j['batches']['total']")
check "at least 500 batches ($total)" [ "$total" -ge 500 ]
check "every batch done" [ "$(json_get "$T/status.json" "j['batches']['done']")" = "$total" ]
kg export -s "$S" -o "$T/chaos.jsonl" 2>/dev/null
check "the export equals the uninterrupted run's" cmp -s "$T/ref.jsonl" "$T/chaos.jsonl"
dups=$(mock_stat duplicate_ok)
check "at most one duplicate answer per kill ($dups duplicates, $kills kills)" [ "$dups" -le "$kills" ]
check "the mock answered every batch ($(mock_stat distinct_ok_bodies) distinct)" [ "$(mock_stat distinct_ok_bodies)" = "$total" ]
before=$(mock_stat requests)
kg start -c "$T/cfg.json" -i "$T/in" -s "$S" -q 2>>"$T/run.err"; rc=$?
check "a rerun of the finished run exits 0 and makes no API call ($(($(mock_stat requests) - before)))" \
	[ "$rc:$(mock_stat requests)" = "0:$before" ]
stop_mock

# The supervisor alone SIGKILLed with calls in flight and resumed at once, while its orphaned
# workers still finish their calls: they must not take the new session's batches (a stall), and
# what they spool is committed, not left behind.
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/small" --files 4 --words 500
start_mock --latency-ms 2000
write_config "$T/orphans.json" '{"chunking": {"chunks_per_batch": 1}}'
O=$T/orphans
"$KGSUP" start -c "$T/orphans.json" -i "$T/small" -s "$O" -w 4 -q 2>"$T/orphans.err" &
sup=$!
for _ in $(seq 100); do [ "$(mock_stat requests)" -ge 4 ] && break; sleep 0.1; done
kill -KILL $sup; wait $sup 2>/dev/null
in_flight=$(($(mock_stat requests) - $(mock_stat ok)))
diag "supervisor killed with $in_flight calls in flight; orphans alive: $(pgrep -fc -- "__worker [0-9]* $O")"
t0=$(date +%s)
timeout 60 "$KGSUP" resume -s "$O" -q 2>>"$T/orphans.err"; rc=$?
secs=$(($(date +%s) - t0))
kg status -s "$O" --json >"$O.json"
diag "resume took $secs s: $(cat "$O.json")"
check "resume at once beside the orphans: exit 0 within 60 s (got $rc after $secs s)" [ $rc -eq 0 ]
check "every batch done" [ "$(json_get "$O.json" "j['batches']['done'] == j['batches']['total']")" = True ]
batches=$(json_get "$O.json" "j['batches']['total']")
check "at most the calls in flight bought twice ($(mock_stat requests) requests, $batches batches, $in_flight in flight)" \
	[ "$(mock_stat requests)" -le $((batches + in_flight)) ]
for _ in $(seq 50); do pgrep -f -- "__worker [0-9]* $O" >/dev/null || break; sleep 0.1; done
check "no spool file left behind: $(ls "$O/spool" | tr '\n' ' ')" [ -z "$(ls -A "$O/spool")" ]
check "what the orphans spooled is counted: $(json_get "$O.json" "j['requests']['sent']") requests as the mock saw $(mock_stat requests)" \
	[ "$(json_get "$O.json" "j['requests']['sent']")" = "$(mock_stat requests)" ]
check "no session's socket directory left in sock/: $(ls "$O/sock" | tr '\n' ' ')" [ -z "$(ls -A "$O/sock")" ]
stop_mock

# A worker that never answers (SIGSTOPped while it holds a batch) is killed past the hold
# deadline (here 2 x 1 attempt x (3 s + 50 ms) + 10 s) and its batch sent again: the run ends.
start_mock --latency-ms 1000
write_config "$T/stuck.json" '{"chunking": {"chunks_per_batch": 1}, "api": {"timeout_s": 3}, "retry": {"max_attempts": 1, "backoff_cap_ms": 50}}'
X=$T/stuck
timeout -k 5 60 "$KGSUP" start -c "$T/stuck.json" -i "$T/small" -s "$X" -w 4 -q 2>"$T/stuck.err" &
sup=$!
for _ in $(seq 100); do [ "$(mock_stat requests)" -ge 4 ] && break; sleep 0.1; done
stuck=$(pgrep -f -- "__worker 0 $X")
kill -STOP $stuck
t0=$(date +%s)
wait $sup; rc=$?
secs=$(($(date +%s) - t0))
kill -KILL $stuck 2>/dev/null
kg status -s "$X" --json >"$X.json"
diag "worker $stuck stopped; the run ended after $secs s: $(cat "$X.json")"
check "a worker stopped holding a batch: the run ends, exit 0 (got $rc after $secs s)" [ $rc -eq 0 ]
check "every batch done" [ "$(json_get "$X.json" "j['batches']['done'] == j['batches']['total']")" = True ]
check "the stuck worker was named in the log" grep -q "worker 0 has held batch" "$T/stuck.err"
finish
