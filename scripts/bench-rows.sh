#!/bin/bash
# bench-rows.sh KGSUP: the feedback job (etc/jobs/feedback.json: one rows stage, 120 rows a
# call) on generated tables of 850, 1,800 and 3,000 rows (scripts/gen_feedback.py: about 15% of
# the comments repeat, so fewer rows are sent), against the mock at 2.5 s a call and 8 requests
# a second (its sliding window of 1 s), plain HTTP on 127.0.0.1: kgsup (16 workers, 480
# requests a minute counted over 1 s: limits.window_s 1) beside the usual Python asyncio client (scripts/pyrows.py: a semaphore of
# 4, an 8 a second token bucket, the same cache of normalised comments), each against a fresh
# mock and a fresh cache. For each size and side: the calls the mock saw and how many it
# answered 200, the wall time, the bound (the longer of ceil(200s / workers) x latency and
# 200s / 8 s, workers being the side's calls in flight) and wall / bound, against the target.
# When both sides finish, kgsup's CSV export is compared with pyrows.py's (the mock answers a
# text the same whoever asks).
# Environment: BENCH_SIZES ("850 1800 3000"), BENCH_LATENCY_MS (2500), BENCH_RPS (8),
# BENCH_WORKERS (16), BENCH_PYTHON=0 leaves out the Python side, BENCH_KGSUP=0 the kgsup side.
set -uo pipefail
KGSUP=${1:?usage: bench-rows.sh path/to/kgsup}
TOP=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
SIZES=${BENCH_SIZES:-850 1800 3000}
LAT=${BENCH_LATENCY_MS:-2500}
RPS=${BENCH_RPS:-8}
W=${BENCH_WORKERS:-16}
PYW=4
JOB=$TOP/etc/jobs/feedback.json
[ "${BENCH_PYTHON:-1}" = 0 ] || $PY "$TOP/scripts/pyrows.py" --ready || exit 2
. "$TOP/scripts/bench-lib.sh" rows
STATUS=0
# the mock's --rpm is per minute, scaled to its window of 1 s
MOCK_ARGS=(--latency-ms "$LAT" --rpm $((RPS * 60)) --window-s 1)

# row SIZE SIDE WORKERS WALL TARGET: one line of the table, the calls from the mock's /stats
row() {
	stats | $PY -c "
import json, math, sys
s = json.load(sys.stdin)
size, side, w, wall, target, lat, rps = sys.argv[1:8]
w, wall, target, lat, rps = int(w), float(wall), float(target), float(lat) / 1000, float(rps)
ok = s['status'].get('200', 0)
bound = max(math.ceil(ok / w) * lat, ok / rps)
print('%-5s %-6s %3d %6d %5d %8.2f %8.2f %9.1f%% %7.0f %5s' % (size, side, w, s['requests'], ok,
      wall, bound, 100 * wall / bound if bound else 0, target, 'yes' if wall < target else 'no'))
" "$@" "$LAT" "$RPS"
}

# same_csv A B: whether two CSV files hold the same cells (line ends and quoting aside)
same_csv() {
	$PY - "$1" "$2" <<'PY'
import csv, sys
a, b = (list(csv.reader(open(p, newline="", encoding="utf-8-sig"))) for p in sys.argv[1:3])
diff = sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))
print("the same %d lines" % len(a) if not diff else "%d of %d lines differ (header: %s)"
      % (diff, max(len(a), len(b)), "same" if a[:1] == b[:1] else "%s against %s" % (a[:1], b[:1])))
PY
}

target_of() { case $1 in 850) echo 5 ;; 1800) echo 10 ;; 3000) echo 15 ;; *) echo $(( ($1 + 199) / 200 )) ;; esac; }

echo "# feedback tables, 120 rows a call at $LAT ms, $RPS requests a second; kgsup $W workers," \
	"Python semaphore $PYW; $(nproc) cores, $(date -u +%F)"
printf '%-5s %-6s %3s %6s %5s %8s %8s %10s %7s %5s\n' rows side w calls 200s wall_s bound_s \
	wall/bound target under

for n in $SIZES; do
	tgt=$(target_of "$n")
	$PY "$TOP/scripts/gen_feedback.py" "$n" "$D/t$n.csv" --seed 19
	kg_csv= py_csv=
	if [ "${BENCH_KGSUP:-1}" != 0 ]; then
		start_mock "${MOCK_ARGS[@]}"
		# the mock counts over 1 s: said to kgsup (limits.window_s), as a user who knows would
		job_config "$JOB" "$D/feedback.json" "$PORT" "$W" $((RPS * 60)) 1
		rm -rf "$D/state$n"
		t0=$(now)
		"$KGSUP" start -c "$D/feedback.json" -i "$D/t$n.csv" -s "$D/state$n" -w "$W" -q \
			2>"$D/kgsup$n.err"
		rc=$?
		t1=$(now)
		if [ $rc -eq 0 ]; then
			row "$n" kgsup "$W" "$($PY -c "print($t1 - $t0)")" "$tgt"
			if "$KGSUP" export -s "$D/state$n" -f csv -o "$D/kg$n.csv" 2>"$D/export$n.err"; then
				kg_csv=$D/kg$n.csv
			else
				echo "# kgsup export -f csv failed: $(tail -1 "$D/export$n.err")"
				STATUS=1
			fi
		else
			printf '%-5s %-6s failed (exit %d): %s\n' "$n" kgsup "$rc" "$(tail -1 "$D/kgsup$n.err")"
			STATUS=1
		fi
		stop_mock
	fi
	if [ "${BENCH_PYTHON:-1}" != 0 ]; then
		start_mock "${MOCK_ARGS[@]}"
		t0=$(now)
		$PY "$TOP/scripts/pyrows.py" "$JOB" "$D/t$n.csv" "$D/py$n.csv" --cache "$D/py$n.cache.json" \
			--base-url "http://127.0.0.1:$PORT/v1" --concurrency "$PYW" --rps "$RPS" \
			>"$D/py$n.out" 2>"$D/py$n.err"
		rc=$?
		t1=$(now)
		row "$n" python "$PYW" "$($PY -c "print($t1 - $t0)")" "$tgt"
		if [ $rc -ne 0 ] || ! grep -q '"missing": 0' "$D/py$n.out"; then
			echo "# pyrows.py exited $rc: $(cat "$D/py$n.out") $(tail -1 "$D/py$n.err")"
			STATUS=1
		else
			py_csv=$D/py$n.csv
		fi
		stop_mock
	fi
	if [ -n "$kg_csv" ] && [ -n "$py_csv" ]; then
		echo "# $n rows: kgsup's CSV export and pyrows.py's CSV: $(same_csv "$kg_csv" "$py_csv")"
	fi
done
exit $STATUS
