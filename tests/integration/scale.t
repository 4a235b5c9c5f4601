#!/bin/bash
# scale.t: `kgsup scale N` changes the worker count of a live run (status sees it), another
# user cannot steer the run, and the run still finishes with every batch bought once. Scaled
# down, a rate-limited run's surplus workers go at once, their batches waiting for a grant
# handed back, not after their turn in the limit.
. "$(dirname "$0")/lib.sh"
plan 14

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 8 --words 800 --seed 4
start_mock --latency-ms 150
write_config "$T/cfg.json" '{"chunking": {"chunk_tokens": 100, "overlap_tokens": 0, "chunks_per_batch": 1}}'

"$KGSUP" start -c "$T/cfg.json" -i "$T/in" -s "$T/state" -w 2 -q 2>"$T/start.err" &
pid=$!
# workers_seen N [DIR]: waits up to 5 s for status to report N live workers
workers_seen() {
	for _ in $(seq 50); do
		[ "$(kg status -s "${2:-$T/state}" --json 2>/dev/null | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['workers'])" 2>/dev/null)" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
check "the run starts with 2 workers" workers_seen 2
kg scale 5 -s "$T/state" 2>"$T/scale.err"; rc=$?
check "scale 5: exit $rc" [ $rc -eq 0 ]
check "status sees 5 workers" workers_seen 5
kg scale 1 -s "$T/state" 2>/dev/null
check "scale 1: status sees 1 worker" workers_seen 1
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	# the sockets directory is 0700: open the way to the socket for uid 65534, so what refuses
	# it is the run's check of its peer's uid (SO_PEERCRED), not the file system
	chmod o+x "$T" "$T/state" "$T/state/sock" && chmod o+w "$T/state/sock/control"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$KGSUP" scale 4 -s "$T/state" 2>"$T/other.err"; rc=$?
	other_refused() { [ $rc -eq 2 ] && grep -q "only the owner of the run may steer it" "$T/other.err"; }
	check "another user reaching the socket cannot scale the run (exit $rc): $(head -c 120 "$T/other.err")" \
		other_refused
else
	ok "another user cannot scale the run # SKIP needs root and setpriv"
fi
check "and it still has 1 worker" workers_seen 1
wait $pid; rc=$?
check "the run finishes (exit $rc)" [ $rc -eq 0 ]
check "no answer bought twice ($(mock_stat duplicate_ok) duplicates)" [ "$(mock_stat duplicate_ok)" = 0 ]
kg scale 3 -s "$T/state" 2>"$T/late.err"; rc=$?
late_refused() { [ $rc -eq 2 ] && grep -q "no live run" "$T/late.err"; }
check "scale after the run ended: exit 2 (got $rc), saying so" late_refused

# 8 workers at 12 requests a minute: after the first grants, each holds a batch waiting for
# its turn (5 s apart); scaled to 2, the 6 others go within the 5 s workers_seen waits
stop_mock
start_mock --latency-ms 150
write_config "$T/rl.json" '{"chunking": {"chunk_tokens": 100, "overlap_tokens": 0, "chunks_per_batch": 1}, "limits": {"requests_per_minute": 12}}'
"$KGSUP" start -c "$T/rl.json" -i "$T/in" -s "$T/rl" -w 8 -q 2>"$T/rl.err" &
pid=$!
check "a rate-limited run with 8 workers" workers_seen 8 "$T/rl"
sleep 2
kg scale 2 -s "$T/rl" 2>/dev/null
check "scaled to 2: the 6 waiting for a grant go at once (status sees 2 within 5 s)" \
	workers_seen 2 "$T/rl"
# up to 8 again, then down to 2 and at once back to 8, the 6 recalled still there: they are
# sent nothing (they would hand it back, again and again, spinning), they go and new ones come
kg scale 8 -s "$T/rl" 2>/dev/null
workers_seen 8 "$T/rl"
sleep 2
kg scale 2 -s "$T/rl" 2>/dev/null; kg scale 8 -s "$T/rl" 2>/dev/null
check "scaled to 2 and at once back to 8: 8 workers within 5 s" workers_seen 8 "$T/rl"
# cpu PID: the process's user + system CPU time, in clock ticks
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
c0=$(cpu $pid); sleep 3; c1=$(cpu $pid)
check "the supervisor idles at 12 requests a minute: $((c1 - c0)) ticks of CPU in 3 s (under 50)" \
	[ $((c1 - c0)) -lt 50 ]
kg stop -s "$T/rl" 2>/dev/null
wait $pid; rc=$?
check "stopped (exit $rc), nothing bought twice ($(mock_stat duplicate_ok))" \
	[ "$rc:$(mock_stat duplicate_ok)" = 75:0 ]
stop_mock
finish
