#!/bin/bash
# chaos.t: a run of 500+ batches during which workers are SIGKILLed about every half second and
# the supervisor is SIGKILLed twice (its children must exit on their own) and resumed each
# time. It passes only if every batch ends done, the export equals that of an uninterrupted
# run, the mock saw at most one duplicate answer per kill, and a rerun makes no API call.
. "$(dirname "$0")/lib.sh"
plan 9

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
finish
