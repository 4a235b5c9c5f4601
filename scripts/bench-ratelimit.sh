#!/bin/bash
# bench-ratelimit.sh KGSUP: kgsup against the usual Python asyncio client (scripts/pyclient.py),
# side by side against the same mock server, in the five cases of the rate-limit issue:
#   1 request-bound   server 3000 RPM (1 s sliding window), 50 ms latency, ~1000 batches
#   2 token-bound     server 300,000 TPM (10 s sliding window), large batches
#   3 latency-bound   no limit, 500 ms latency, 32 workers
#   4 over-configured server 3000 RPM, both clients configured at 6000
#   5 faults          5% of requests answered 500, 2% dropped connections
# Both clients send the same request bodies (kgsup plan -o). For each run: wall time, the
# physical bound (max of requests/RPM, tokens/TPM, batches x latency / concurrency),
# achieved/ideal (bound / wall), requests the server saw, 429s, failed batches, duplicates.
# Environment: BENCH_CASES="1 3" runs only those cases; BENCH_PYTHON=0 leaves out the Python
# client; BENCH_MOCK_ARGS="--p-drop 0.05" adds mock options to every case.
set -uo pipefail
KGSUP=${1:?usage: bench-ratelimit.sh path/to/kgsup}
TOP=$(cd "$(dirname "$0")/.." && pwd)
[ "${BENCH_PYTHON:-1}" = 0 ] || /usr/bin/python3 "$TOP/scripts/pyclient.py" --ready || exit 2
D=$(mktemp -d /tmp/kgsup-bench-XXXXXX)
MOCK=
trap '[ -n "$MOCK" ] && kill $MOCK 2>/dev/null; rm -rf "$D"' EXIT
export OPENAI_API_KEY=bench-key
ONLY=${BENCH_CASES:-1 2 3 4 5}

start_mock() {
	rm -rf "$D/mock"
	/usr/bin/python3 "$TOP/scripts/mock_llm.py" --dir "$D/mock" "$@" 2>"$D/mock.log" &
	MOCK=$!
	for _ in $(seq 100); do [ -s "$D/mock/port" ] && break; sleep 0.1; done
	PORT=$(cat "$D/mock/port")
}
stop_mock() { kill $MOCK; wait $MOCK 2>/dev/null; MOCK=; }
# (the mock's stats of a large case are longer than one argument may be: they go through pipes)
stats() { curl -s --cacert "$D/mock/cert.pem" "https://127.0.0.1:$PORT/stats"; }

# config CASE RPM TPM CHUNK_TOKENS CHUNKS_PER_BATCH MAX_TOKENS
config() {
	cat >"$D/$1.json" <<JSON
{"api": {"base_url": "https://127.0.0.1:PORT/v1", "ca_file": "$D/mock/cert.pem", "model": "m",
         "max_tokens": $6, "timeout_s": 30},
 "limits": {"requests_per_minute": $2, "tokens_per_minute": $3},
 "retry": {"max_attempts": 10},
 "chunking": {"chunk_tokens": $4, "overlap_tokens": 0, "chunks_per_batch": $5}}
JSON
}

# row CASE CLIENT BOUND JSON-FIGURES
printf '%-16s %-7s %8s %8s %8s %9s %6s %6s %5s\n' case client wall_s bound_s ach/ideal requests 429s failed dups
row() {
	/usr/bin/python3 - "$@" <<'PY'
import json, sys
case, client, bound, fig = sys.argv[1], sys.argv[2], float(sys.argv[3]), json.loads(sys.argv[4])
print("%-16s %-7s %8.2f %8.2f %8.1f%% %9d %6d %6d %5d" % (case, client, fig["wall"], bound,
      100 * bound / fig["wall"], fig["requests"], fig["r429"], fig["failed"], fig["dups"]))
PY
}

# run_case NAME RPM TPM LATENCY_MS WORKERS CONF_RPM CONF_TPM FILES WORDS CHUNK_TOKENS CPB MAX_TOKENS MOCK-ARGS...
run_case() {
	local name=$1 rpm=$2 tpm=$3 lat=$4 workers=$5 crpm=$6 ctpm=$7 files=$8 words=$9
	local ct=${10} cpb=${11} mt=${12}
	shift 12
	local in=$D/in-$name
	/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$in" --files "$files" --words "$words" --seed 11
	config "$name" "$crpm" "$ctpm" "$ct" "$cpb" "$mt"
	"$KGSUP" plan -c "$D/$name.json" -i "$in" -o "$D/$name.req" --json >"$D/$name.plan" 2>/dev/null
	local n tokens bound
	n=$(wc -l <"$D/$name.req")
	tokens=$(/usr/bin/python3 -c "
import json; print(sum(len(l.rstrip(chr(10)))//4 + json.loads(l)['max_tokens'] for l in open('$D/$name.req')))")
	bound=$(/usr/bin/python3 -c "
r, t, n, tok, lat, w = $rpm, $tpm, $n, $tokens, $lat, $workers
b = max(n / r * 60 if r else 0, tok / t * 60 if t else 0, n * lat / 1000.0 / w)
print(round(b, 3))")
	local margs=(--latency-ms "$lat" "$@") more
	read -ra more <<<"${BENCH_MOCK_ARGS:-}"
	margs+=("${more[@]}")
	[ "$rpm" != 0 ] && margs+=(--rpm "$rpm")
	[ "$tpm" != 0 ] && margs+=(--tpm "$tpm")

	start_mock "${margs[@]}"
	sed -i "s/PORT/$PORT/" "$D/$name.json"
	local t0 t1 rc
	t0=$(date +%s.%N)
	"$KGSUP" start -c "$D/$name.json" -i "$in" -s "$D/state-$name" -w "$workers" -q 2>"$D/$name.err"
	rc=$?
	t1=$(date +%s.%N)
	local st failed
	st=$(stats)
	failed=$("$KGSUP" status -s "$D/state-$name" --json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['batches']['failed'])")
	[ $rc -eq 0 ] || echo "# kgsup exited $rc: $(tail -1 "$D/$name.err")"
	row "$name" kgsup "$bound" "$(printf '%s' "$st" | /usr/bin/python3 -c "
import json, sys; s=json.load(sys.stdin)
print(json.dumps({'wall': $t1 - $t0, 'requests': s['requests'], 'r429': s['status'].get('429', 0),
                  'failed': $failed, 'dups': s['duplicate_ok']}))")"
	sed -i "s/127.0.0.1:$PORT/127.0.0.1:PORT/" "$D/$name.json"
	stop_mock
	[ "${BENCH_PYTHON:-1}" = 0 ] && return

	start_mock "${margs[@]}"
	local py
	py=$(/usr/bin/python3 "$TOP/scripts/pyclient.py" "https://127.0.0.1:$PORT/v1" "$D/mock/cert.pem" \
		"$D/$name.req" --rpm "$crpm" --tpm "$ctpm" 2>"$D/$name.py.err")
	st=$(stats)
	row "$name" python "$bound" "$(printf '%s' "$st" | /usr/bin/python3 -c "
import json, sys; s=json.load(sys.stdin); p=json.loads('''$py''')
print(json.dumps({'wall': p['wall_s'], 'requests': s['requests'], 'r429': s['status'].get('429', 0),
                  'failed': p['failed'], 'dups': s['duplicate_ok']}))")"
	stop_mock
}

for c in $ONLY; do
	case $c in
	1) run_case 1-request-bound 3000 0 50 16 3000 1000000000 32 1500 100 1 1024 --window-s 1 ;;
	2) run_case 2-token-bound 0 300000 50 16 1000000 300000 28 1500 600 3 2048 --window-s 10 ;;
	3) run_case 3-latency-bound 0 0 500 32 1000000 1000000000 66 1500 100 1 1024 ;;
	4) run_case 4-over-config 3000 0 50 16 6000 1000000000 32 1500 100 1 1024 --window-s 1 ;;
	5) run_case 5-faults 0 0 50 16 1000000 1000000000 32 1500 100 1 1024 --p-500 0.05 --p-drop 0.02 ;;
	esac
done
