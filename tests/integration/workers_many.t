#!/bin/bash
# workers_many.t: more workers than ZeroMQ's default of 1,023 sockets in a context (each slot
# is a socket in the supervisor's): a run started with -w 1030 has 1,030 workers up, scale
# takes the live run to 1,040, and it stops cleanly, with no socket or descriptor refused and
# no worker killed on the way (a worker forked by the zygote once took its middle process's
# exit for the supervisor's death, about one start in a thousand). (A run starts no more
# workers than it has batches to ask: 1,224 here, at 120 a minute, so that they stay waiting
# while the count grows. Not scaled down: a surplus worker
# finishes the batch it holds first, and here each waits for its turn in the rate limit.)
# Not under the sanitizers: 1,040 ASan processes do not fit in a test machine's memory.
. "$(dirname "$0")/lib.sh"
plan 4
hard=$(ulimit -Hn)
why=
under_asan && why="1,040 ASan processes"
[ "$hard" != unlimited ] && [ "$hard" -lt 4224 ] && why="a hard RLIMIT_NOFILE of $hard (1,040 workers need 4,224)"
if [ -n "$why" ]; then
	for i in 1 2 3 4; do skip "1,040 workers ($i)" "$why"; done
	finish
	exit 0
fi

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 96 --words 600 --seed 9 >/dev/null
start_mock --latency-ms 300
write_config "$T/cfg.json" '{"chunking": {"chunk_tokens": 100, "overlap_tokens": 0, "chunks_per_batch": 1}, "limits": {"requests_per_minute": 120}}'

# workers_seen N S: waits up to S seconds for status to report N live workers
workers_seen() {
	for _ in $(seq $(($2 * 5))); do
		[ "$(kg status -s "$T/many" --json 2>/dev/null | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['workers'])" 2>/dev/null)" = "$1" ] && return 0
		sleep 0.2
	done
	return 1
}
"$KGSUP" start -c "$T/cfg.json" -i "$T/in" -s "$T/many" -w 1030 -q 2>"$T/many.err" &
pid=$!
check "all 1,030 workers up (status)" workers_seen 1030 90
kg scale 1040 -s "$T/many" 2>/dev/null; rc=$?
check "scale 1040 on the live run (exit $rc): status sees 1,040" workers_seen 1040 60
kg stop -s "$T/many" 2>/dev/null
wait $pid; rc=$?
check "stop: exit 75 (got $rc)" [ "$rc" = 75 ]
bad='cannot|Too many|killed by'
check "no socket or descriptor refused, no worker killed: $(grep -m1 -E "$bad" "$T/many.err")" \
	[ "$(grep -c -E "$bad" "$T/many.err")" = 0 ]
stop_mock
finish
