#!/bin/bash
# bench-trace.sh KGSUP [BATCHES] [ROUNDS]: what DIR/trace.jsonl costs. The same kgsup runs
# BATCHES tiny batches (one chunk of ~16 tokens each) against the mock over plain http on
# 127.0.0.1, with the trace off (trace.max_mb 0) and on (the default), alternately ROUNDS times
# each; prints per run the wall time, requests/s, kgsup's CPU and context switches per request
# (supervisor, broker and workers: /usr/bin/time counts the children it reaped) and the
# trace's size; then the median of each column by setting.
set -uo pipefail
KGSUP=${1:?usage: bench-trace.sh path/to/kgsup [batches] [rounds]}
N=${2:-5000}
ROUNDS=${3:-3}
TOP=$(cd "$(dirname "$0")/.." && pwd)
D=$(mktemp -d /tmp/kgsup-bench-trace-XXXXXX)
MOCK=
cleanup() { [ -n "$MOCK" ] && kill "$MOCK" 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT
export OPENAI_API_KEY=bench-key
/usr/bin/python3 "$TOP/scripts/mock_llm.py" --dir "$D/mock" --plain --per-chunk 2 2>/dev/null &
MOCK=$!
for _ in $(seq 100); do [ -s "$D/mock/port" ] && break; sleep 0.1; done
URL=http://127.0.0.1:$(cat "$D/mock/port")/v1
/usr/bin/python3 - "$D/in" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2]); os.makedirs(d, exist_ok=True)
for f in range((n + 999) // 1000):
    with open(os.path.join(d, "t%03d.txt" % f), "w") as out:
        for i in range(min(1000, n - f * 1000)):
            out.write("Speaker %d talks about Item %d of File %d today.\n" % (i % 7, i, f))
PY
for mb in 0 64; do
	cat >"$D/cfg-$mb.json" <<JSON
{"api": {"base_url": "$URL", "model": "m", "max_tokens": 256, "timeout_s": 30},
 "run": {"workers": 8},
 "chunking": {"chunk_tokens": 16, "overlap_tokens": 0, "chunks_per_batch": 1},
 "trace": {"max_mb": $mb}}
JSON
done
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(date -u +%F)"
printf '%-10s %8s %8s %8s %11s %11s %12s\n' trace batches wall_s "req/s" "CPU us/req" "switch/req" \
	"trace bytes"
for r in $(seq "$ROUNDS"); do
	for mb in 0 64; do
		rm -rf "$D/s"
		/usr/bin/time -o "$D/time" -f '%e %U %S %w %c' "$KGSUP" start -c "$D/cfg-$mb.json" -i "$D/in" \
			-s "$D/s" -q >/dev/null 2>&1 || echo "# run failed"
		read -r wall user sys vol invol <"$D/time"
		reqs=$(/usr/bin/python3 -c "import json; print(json.load(open('$D/s/report.json'))['requests']['sent'])")
		size=$(cat "$D/s"/trace*.jsonl 2>/dev/null | wc -c)
		printf '%-10s %8d %8.2f %8.0f %11.0f %11.1f %12d\n' "$([ "$mb" = 0 ] && echo off || echo on)" \
			"$reqs" "$wall" "$(echo "$reqs / $wall" | bc -l)" \
			"$(echo "($user + $sys) * 1000000 / $reqs" | bc -l)" \
			"$(echo "($vol + $invol) / $reqs" | bc -l)" "$size"
	done
done | tee "$D/rows"
/usr/bin/python3 - "$D/rows" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l[:2] in ("of", "on")]
for s in ("off", "on"):
    r = [x for x in rows if x[0] == s]
    med = [statistics.median(float(x[i]) for x in r) for i in range(2, 7)]
    print("%-10s %8s %8.2f %8.0f %11.0f %11.1f %12.0f  (median of %d)" % (s, "", *med, len(r)))
PY
