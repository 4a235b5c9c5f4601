#!/bin/bash
# detach.t: `start --detach` returns once the run is planned and going, leaving a pid file and
# a log in the state directory; `stop` ends it and `resume` finishes it. A run that cannot
# start still fails in the foreground with its exit code.
. "$(dirname "$0")/lib.sh"
plan 8

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 6 --words 800 --seed 6
start_mock --latency-ms 150
write_config "$T/cfg.json" '{"chunking": {"chunk_tokens": 100, "overlap_tokens": 0, "chunks_per_batch": 1}, "run": {"workers": 2}}'

kg start -c "$T/cfg.json" -i "$T/in" -s "$T/state" --detach 2>"$T/detach.err"; rc=$?
check "start --detach returns at once with exit 0 (got $rc)" [ $rc -eq 0 ]
check "saying where the log is" grep -q "running in the background as pid" "$T/detach.err"
pid=$(cat "$T/state/kgsup.pid" 2>/dev/null)
check "the pid file names the live supervisor ($pid)" kill -0 "${pid:-0}"
check "status says running" [ "$(kg status -s "$T/state" --json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['state'])")" = running ]
kg stop -s "$T/state" 2>/dev/null
# (the process may linger a moment as a zombie of whoever adopted it)
exited() { for _ in $(seq 30); do [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != S ] && [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != R ] && return 0; sleep 0.1; done; return 1; }
gone() { exited && [ ! -e "$T/state/kgsup.pid" ] && grep -q "stopped before done" "$T/state/kgsup.log"; }
check "stop ends it: process and pid file gone, the log says stopped" gone
kg resume -s "$T/state" -q 2>/dev/null; rc=$?
check "resume finishes it (exit $rc)" [ $rc -eq 0 ]

kg start -c "$T/cfg.json" -i "$T/nothing-here" -s "$T/bad" --detach 2>"$T/bad.err"; rc=$?
check "a run that cannot start: its exit code in the foreground (got $rc)" [ $rc -eq 2 ]
check "pointing at the log, which names the input" grep -q "nothing-here" "$T/bad/kgsup.log"
finish
