#!/bin/bash
# scale.t: `kgsup scale N` changes the worker count of a live run (status sees it), another
# user cannot steer the run, and the run still finishes with every batch bought once.
. "$(dirname "$0")/lib.sh"
plan 9

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 8 --words 800 --seed 4
start_mock --latency-ms 150
write_config "$T/cfg.json" '{"chunking": {"chunk_tokens": 100, "overlap_tokens": 0, "chunks_per_batch": 1}}'

"$KGSUP" start -c "$T/cfg.json" -i "$T/in" -s "$T/state" -w 2 -q 2>"$T/start.err" &
pid=$!
# workers_seen N: waits up to 5 s for status to report N live workers
workers_seen() {
	for _ in $(seq 50); do
		[ "$(kg status -s "$T/state" --json 2>/dev/null | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['workers'])" 2>/dev/null)" = "$1" ] && return 0
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
finish
