#!/bin/bash
# stop.t: SIGTERM stops a live run gracefully (calls in flight finish, none starts, exit 75); while it runs,
# status answers and a second start is refused; resume then finishes the run without buying
# any answer twice. Then SIGINT and SIGHUP sent to the run's whole process group, as a terminal
# sends them (Ctrl-C, hangup): the calls in flight still finish and are committed once; a
# second Ctrl-C abandons them.
. "$(dirname "$0")/lib.sh"
plan 25

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 12 --words 1000
# long enough calls that the run is still live under a sanitizer on loaded cores (make check
# runs three scripts at once) while status, a second start and the SIGTERM are tried
start_mock --latency-ms 400
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
stop_mock

# group_signal NAME LATENCY_MS SIG...: a run in a session of its own (so this script is not
# signalled with it) gets each SIG in turn, 0.3 s apart, on its whole process group, as a
# terminal sends them, while 4 calls are in flight; sets S, rc and ms (from the first signal
# to the exit)
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/small" --files 4 --words 500
group_signal() {
	local name=$1 latency=$2 n sig t0
	shift 2
	S=$T/group-$name
	start_mock --latency-ms "$latency"
	write_config "$T/group.json" '{"chunking": {"chunks_per_batch": 1}}'
	setsid "$KGSUP" start -c "$T/group.json" -i "$T/small" -s "$S" -w 4 -q 2>"$T/group-$name.err" &
	local pid=$!
	for _ in $(seq 100); do
		n=$(mock_stat requests)
		[ "$n" -ge 4 ] && break
		sleep 0.1
	done
	diag "$* to process group $(ps -o pgid= -p $pid) (kgsup $pid) with $n calls sent, $(mock_stat ok) answered"
	t0=$(date +%s%N)
	for sig in "$@"; do
		kill -"$sig" -- -"$pid"
		sleep 0.3
	done
	wait $pid; rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	kg status -s "$S" --json >"$S.json"
	diag "after $*: $(cat "$S.json")"
}
# status_is FILE EXPR: a Python expression over the status JSON is true
status_is() { [ "$(json_get "$1" "$2")" = True ]; }

group_signal INT 1500 INT
check "SIGINT to the group: exit 75 (got $rc)" [ $rc -eq 75 ]
ok_mock=$(mock_stat ok)
check "SIGINT to the group: the calls in flight finished and were committed ($ok_mock answered, $(json_get "$S.json" "j['requests']['ok']") recorded)" \
	status_is "$S.json" "j['requests']['ok'] == $ok_mock and $ok_mock >= 4"
check "SIGINT to the group: nothing possibly billed" status_is "$S.json" "j['batches']['possibly_billed'] == 0"
kg resume -s "$S" -q 2>>"$T/group-INT.err"; rc=$?
kg status -s "$S" --json >"$S.json"
check "SIGINT to the group, then resume: exit 0 (got $rc)" [ $rc -eq 0 ]
check "no batch bought twice ($(mock_stat requests) requests for $(json_get "$S.json" "j['batches']['total']") batches)" \
	status_is "$S.json" "j['batches']['total'] == $(mock_stat requests) and j['batches']['done'] == j['batches']['total']"
stop_mock

group_signal HUP 1500 HUP
check "SIGHUP to the group: exit 75 (got $rc)" [ $rc -eq 75 ]
check "SIGHUP to the group: nothing possibly billed" status_is "$S.json" "j['batches']['possibly_billed'] == 0"
kg resume -s "$S" -q 2>>"$T/group-HUP.err"; rc=$?
kg status -s "$S" --json >"$S.json"
diag "after resume: $(cat "$S.json")"
check "SIGHUP to the group, then resume: exit 0 (got $rc)" [ $rc -eq 0 ]
check "requests counted as the server saw them ($(json_get "$S.json" "j['requests']['sent']") counted, $(mock_stat requests) seen)" \
	status_is "$S.json" "j['requests']['sent'] == $(mock_stat requests)"
check "tokens counted as the server billed them (prompt $(json_get "$S.json" "j['tokens']['prompt']") / $(mock_stat prompt_tokens))" \
	status_is "$S.json" "j['tokens']['prompt'] == $(mock_stat prompt_tokens) and j['tokens']['completion'] == $(mock_stat completion_tokens)"
check "no batch bought twice ($(mock_stat requests) requests for $(json_get "$S.json" "j['batches']['total']") batches)" \
	status_is "$S.json" "j['batches']['total'] == $(mock_stat requests) and j['batches']['done'] == j['batches']['total']"
check "no spool file left behind" [ -z "$(ls -A "$S/spool" 2>/dev/null)" ]
stop_mock

# the supervisor, not the workers, hears the second Ctrl-C: it must pass it on
group_signal INT-INT 6000 INT INT
check "a second SIGINT to the group abandons the calls: exit 75 long before they end (got $rc after $ms ms of 6000 ms calls)" \
	[ "$rc:$((ms < 4000))" = 75:1 ]
check "and none is recorded as answered" status_is "$S.json" "j['requests']['ok'] == 0"
stop_mock
finish
