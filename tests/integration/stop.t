#!/bin/bash
# stop.t: SIGTERM stops a live run gracefully (calls in flight finish, none starts, exit 75); while it runs,
# status answers and a second start is refused; resume then finishes the run without buying
# any answer twice.
. "$(dirname "$0")/lib.sh"
plan 11

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 12 --words 1000
start_mock --latency-ms 150
write_config "$T/cfg.json" '{"chunking": {"chunks_per_batch": 1}}'

"$KGSUP" start -c "$T/cfg.json" -i "$T/in" -s "$T/state" -w 4 -q 2>"$T/start.err" &
pid=$!
for _ in $(seq 50); do
	[ -s "$T/state/lock" ] && kg status -s "$T/state" --json >"$T/live.json" 2>/dev/null &&
		[ "$(json_get "$T/live.json" "j['batches']['done'] > 2")" = True ] && break
	sleep 0.2
done
check "status on a live run says running" [ "$(json_get "$T/live.json" "j['state']")" = running ]
t0=$(date +%s%N); kg status -s "$T/state" >/dev/null 2>&1; ms=$((($(date +%s%N) - t0) / 1000000))
check "status on the live run, while it writes, answers in under a second (${ms} ms)" [ "$ms" -lt 1000 ]
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/state" 2>"$T/second.err"; rc=$?
check "a second start on a live state directory is refused (exit $rc)" [ $rc -eq 2 ]
check "with a message saying so" grep -q "already live" "$T/second.err"
kill -TERM $pid
sleep 0.05
sent_at_stop=$(mock_stat requests)
wait $pid; rc=$?
check "SIGTERM: exit 75 (got $rc)" [ $rc -eq 75 ]
# each worker already holds its next batch: it must hand it back, not start it
check "no call started after the stop ($sent_at_stop at the stop, $(mock_stat requests) at the end)" \
	[ "$(mock_stat requests)" = "$sent_at_stop" ]
kg status -s "$T/state" --json >"$T/stopped.json"
check "status after the stop: stopped, not all done" \
	[ "$(json_get "$T/stopped.json" "j['state'] == 'stopped' and j['batches']['done'] < j['batches']['total']")" = True ]
check "a graceful stop leaves nothing possibly billed" \
	[ "$(json_get "$T/stopped.json" "j['batches']['possibly_billed']")" = 0 ]

kg resume -s "$T/state" -q 2>"$T/resume.err"; rc=$?
kg status -s "$T/state" --json >"$T/done.json"
check "resume: exit 0 (got $rc)" [ $rc -eq 0 ]
check "resume: every batch done" [ "$(json_get "$T/done.json" "j['state'] == 'done' and j['batches']['done'] == j['batches']['total']")" = True ]
check "no answer bought twice (duplicates: $(mock_stat duplicate_ok))" [ "$(mock_stat duplicate_ok)" = 0 ]
finish
