#!/bin/bash
# bench-stages.sh KGSUP: the analyzers job (etc/jobs/analyzers.json: four stage-A analyzers over
# each transcript, four stage-B ones needing all of them) on 50 transcripts, against the mock
# at 1 s latency (plain HTTP on 127.0.0.1), kgsup with 16 workers beside the usual Python
# asyncio orchestrator (scripts/pystages.py: a semaphore of 16, gather per stage level, a
# barrier between levels), each against a fresh mock. For each side: the calls the mock saw and
# how many it answered 200, the wall time, the bound (the longer of the critical path, levels x
# latency, and calls x latency / 16) and wall / bound.
# Environment: BENCH_DOCS (50), BENCH_LATENCY_MS (1000), BENCH_WORKERS (16), BENCH_PYTHON=0
# leaves out the Python side, BENCH_KGSUP=0 the kgsup side.
set -uo pipefail
KGSUP=${1:?usage: bench-stages.sh path/to/kgsup}
TOP=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
DOCS=${BENCH_DOCS:-50}
LAT=${BENCH_LATENCY_MS:-1000}
W=${BENCH_WORKERS:-16}
JOB=$TOP/etc/jobs/analyzers.json
[ "${BENCH_PYTHON:-1}" = 0 ] || $PY "$TOP/scripts/pystages.py" --ready || exit 2
. "$TOP/scripts/bench-lib.sh" stages
STATUS=0

# the calls the job makes and its levels, from the config and the corpus
read -r CALLS LEVELS < <($PY - "$JOB" "$DOCS" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))["stages"]
level = {}
for s in st:
    level[s["name"]] = 1 + max((level[n] for n in s.get("needs", [])), default=-1)
print(len(st) * int(sys.argv[2]), max(level.values()) + 1)
PY
)
BOUND=$($PY -c "print(round(max($LEVELS * $LAT / 1000.0, $CALLS * $LAT / 1000.0 / $W), 3))")

echo "# $DOCS transcripts, $((CALLS / DOCS)) analyzers in $LEVELS levels: $CALLS calls at $LAT ms," \
	"$W at a time; $(nproc) cores, $(date -u +%F)"
$PY "$TOP/scripts/gen_corpus.py" "$D/in" --files "$DOCS" --words 1500 --formats txt --seed 11
printf '%-7s %6s %6s %8s %8s %10s\n' side calls ok wall_s bound_s wall/bound

# row SIDE WALL: one line of the table, the calls from the mock's /stats
row() {
	stats | $PY -c "
import json, sys
s = json.load(sys.stdin)
side, wall, bound = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
print('%-7s %6d %6d %8.2f %8.2f %9.1f%%' % (side, s['requests'], s['status'].get('200', 0),
      wall, bound, 100 * wall / bound))" "$1" "$2" "$BOUND"
}

if [ "${BENCH_KGSUP:-1}" != 0 ]; then
	start_mock --latency-ms "$LAT"
	# limits out of the way: the bench measures scheduling, not rate limiting
	job_config "$JOB" "$D/analyzers.json" "$PORT" "$W" 1000000
	t0=$(now)
	"$KGSUP" start -c "$D/analyzers.json" -i "$D/in" -s "$D/state" -w "$W" -q 2>"$D/kgsup.err"
	rc=$?
	t1=$(now)
	if [ $rc -eq 0 ]; then
		row kgsup "$($PY -c "print($t1 - $t0)")"
	elif [ $rc -eq 2 ]; then
		echo "kgsup   rejected the stages config (exit 2): $(tail -1 "$D/kgsup.err")"
		STATUS=1
	else
		row kgsup "$($PY -c "print($t1 - $t0)")"
		echo "# kgsup exited $rc: $(tail -1 "$D/kgsup.err")"
		STATUS=1
	fi
	stop_mock
fi

if [ "${BENCH_PYTHON:-1}" != 0 ]; then
	start_mock --latency-ms "$LAT"
	t0=$(now)
	$PY "$TOP/scripts/pystages.py" "$JOB" "$D/in" "$D/py-out" --base-url "http://127.0.0.1:$PORT/v1" \
		--concurrency "$W" >"$D/py.out" 2>"$D/py.err"
	rc=$?
	t1=$(now)
	row python "$($PY -c "print($t1 - $t0)")"
	if [ $rc -ne 0 ] || ! grep -q '"failed": 0, "blocked": 0' "$D/py.out"; then
		echo "# pystages.py exited $rc: $(cat "$D/py.out") $(tail -1 "$D/py.err")"
		STATUS=1
	fi
	stop_mock
fi
exit $STATUS
