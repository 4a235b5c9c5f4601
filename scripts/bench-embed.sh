#!/bin/bash
# bench-embed.sh KGSUP: 100,000 short chunks embedded at a configured limit, kgsup beside the
# usual Python asyncio client (scripts/pyembed.py: a semaphore of 20, a hand-written sliding
# window limiter of the same limits, the same batches, an MD5 cache dict), each against a fresh
# mock (plain HTTP on 127.0.0.1) whose embedding model has its own limit (--model-limit) in a
# window of 1 s and answers BENCH_LATENCY_MS after a request arrives.
# The corpus: BENCH_FILES .txt files of one distinct sentence a line, cut with
# chunking.chunk_tokens 40 and no overlap, so each line is one chunk and every chunk is sent.
# Why these limits: 3,000 requests a minute is text-embedding-3-small's own; at BENCH_PER_CALL
# 32 inputs a call the 100,000 chunks make 3,125 calls, 62.5 s at 50 a second: long enough to
# measure a rate, and the request limit binds (the tokens, about 770 a call, use under half of
# BENCH_TPM; 20 calls in flight at 150 ms could make 133 a second). The stage's own per_call of
# 256 makes 391 calls: BENCH_PER_CALL=256 BENCH_RPM=420 lasts as long (the window of 1 s
# admits whole requests, so the rate a second, RPM / 60, should be whole).
# For each side: the calls the mock saw, its 200s and 429s, texts embedded twice, the wall time,
# the achieved rate (200s a minute over the wall time) and its share of the limit, and the
# client's CPU (user + system) in all and per input, against the target (97% of the limit,
# under 1% 429s).
# Environment: BENCH_CHUNKS (100000), BENCH_FILES (100), BENCH_PER_CALL (32), BENCH_RPM (3000),
# BENCH_TPM (5000000), BENCH_LATENCY_MS (150), BENCH_PYTHON=0 leaves out the Python side,
# BENCH_KGSUP=0 the kgsup side.
set -uo pipefail
KGSUP=${1:?usage: bench-embed.sh path/to/kgsup}
TOP=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
N=${BENCH_CHUNKS:-100000}
FILES=${BENCH_FILES:-100}
PER_CALL=${BENCH_PER_CALL:-32}
RPM=${BENCH_RPM:-3000}
TPM=${BENCH_TPM:-5000000}
LAT=${BENCH_LATENCY_MS:-150}
MODEL=text-embedding-3-small
CONC=20
[ "${BENCH_PYTHON:-1}" = 0 ] || $PY "$TOP/scripts/pyembed.py" --ready || exit 2
. "$TOP/scripts/bench-lib.sh" embed
STATUS=0
MOCK_ARGS=(--model-limit "$MODEL=$RPM:$TPM" --window-s 1 --embed-latency-ms "$LAT")

# corpus DIR: N distinct lines of 81 to 159 bytes in FILES .txt files (scripts/gen_corpus.py's
# sentences, numbered): with chunk_tokens 40 (160 bytes) a line is never cut nor packed with the
# next, so each line is one chunk
corpus() {
	$PY - "$1" "$N" "$FILES" "$TOP/scripts" <<'PY'
import os, random, sys
out, n, files, scripts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, scripts)
sys.dont_write_bytecode = True
import gen_corpus
r = random.Random(21)
os.makedirs(out, exist_ok=True)
per = (n + files - 1) // files
for f in range(files):
    with open(os.path.join(out, "notes-%04d.txt" % f), "w") as fh:
        for i in range(f * per, min(n, (f + 1) * per)):
            line = "Note %d: %s" % (i, gen_corpus.sentence(r))
            while len(line) <= 80:  # a clause more, still one sentence
                line = line[:-1] + ", " + r.choice(gen_corpus.FILLER) + "."
            fh.write(line[:158] + "\n")
PY
}

# row SIDE WALL CPU_S: one line of the table, the calls from the mock's /stats
row() {
	stats | $PY -c "
import json, sys
s = json.load(sys.stdin)
side, wall, cpu, rpm = sys.argv[1], float(sys.argv[2]), sys.argv[3], float(sys.argv[4])
ok, lim = s['embed_ok'], s['embed_429']
rate = ok / wall * 60 if wall else 0
cpu_in = '%.4f' % (1000 * float(cpu) / s['embed_inputs']) if cpu and s['embed_inputs'] else '-'
share = rate / rpm
print('%-6s %7d %6d %5d %5d %5.2f%% %5d %8.2f %8.0f %6.1f%% %7s %8s %5s' % (side, s['embed_inputs'],
      s['embed_requests'], ok, lim, 100.0 * lim / max(1, s['embed_requests']), s['embed_inputs_twice'],
      wall, rate, 100 * share, cpu or '-', cpu_in,
      'yes' if share >= 0.97 and lim < 0.01 * max(1, s['embed_requests']) else 'no'))
" "$@" "$RPM"
}

# run_kgsup: kgsup over $D/corpus, an embedding stage over chunks with the embedding model's
# own limits (limits.models), 20 workers as the Python side's 20 calls in flight; sets KG_WALL
# (seconds) and KG_CPU (user + system of kgsup and its children, seconds)
run_kgsup() {
	$PY - "$D/embed.json" "$PORT" "$MODEL" "$PER_CALL" "$RPM" "$TPM" <<'PY'
import json, sys
out, port, model, per_call, rpm, tpm = sys.argv[1:7]
cfg = {"api": {"base_url": "http://127.0.0.1:%s/v1" % port, "ca_file": None, "timeout_s": 60,
               "model": "mock-chat"},
       "limits": {"models": {model: {"requests_per_minute": int(rpm), "tokens_per_minute": int(tpm)}}},
       "chunking": {"chunk_tokens": 40, "overlap_tokens": 0},
       "cache": {"path": None},
       "run": {"workers": 20},
       "stages": [{"name": "chunk_vectors", "endpoint": "embeddings", "over": "chunks",
                   "model": model, "per_call": int(per_call)}]}
json.dump(cfg, open(out, "w"), indent=1)
PY
	local t0 rc
	t0=$(now)
	/usr/bin/time -f '%U %S' -o "$D/kg.time" "$KGSUP" start -c "$D/embed.json" -i "$D/corpus" \
		-s "$D/state" 2>"$D/kgsup.err"
	rc=$?
	KG_WALL=$(echo "$(now) - $t0" | bc)
	KG_CPU=$(awk '{ print $1 + $2 }' "$D/kg.time" 2>/dev/null)
	return $rc
}

echo "# $N chunks, $PER_CALL a call, $MODEL limited to $RPM requests and $TPM tokens a minute" \
	"(window 1 s), $LAT ms a call; Python semaphore $CONC; $(nproc) cores, $(date -u +%F)"
corpus "$D/corpus"
printf '%-6s %7s %6s %5s %5s %6s %5s %8s %8s %7s %7s %8s %5s\n' side inputs calls 200s 429s \
	429/call twice wall_s rpm share cpu_s cpu_ms/in met

if [ "${BENCH_KGSUP:-1}" != 0 ]; then
	start_mock "${MOCK_ARGS[@]}"
	KG_WALL= KG_CPU=
	run_kgsup
	rc=$?
	if [ $rc -eq 0 ]; then
		row kgsup "$KG_WALL" "$KG_CPU"
	else
		printf '%-6s failed (exit %d): %s\n' kgsup "$rc" "$(tail -1 "$D/kgsup.err" 2>/dev/null)"
		STATUS=1
	fi
	stop_mock
fi
if [ "${BENCH_PYTHON:-1}" != 0 ]; then
	start_mock "${MOCK_ARGS[@]}"
	$PY "$TOP/scripts/pyembed.py" "$D/corpus" --base-url "http://127.0.0.1:$PORT/v1" \
		--model "$MODEL" --per-call "$PER_CALL" --concurrency "$CONC" --rpm "$RPM" --tpm "$TPM" \
		--chunk-tokens 40 --overlap-tokens 0 >"$D/py.out" 2>"$D/py.err"
	rc=$?
	pyj() { $PY -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$D/py.out" "$1"; }
	if [ $rc -ne 0 ] || [ ! -s "$D/py.out" ]; then
		echo "# pyembed.py exited $rc: $(cat "$D/py.out") $(tail -1 "$D/py.err")"
		STATUS=1
	else
		row python "$(pyj wall_s)" "$(pyj cpu_s)"
		echo "# pyembed.py: $(cat "$D/py.out")"
		[ "$(pyj chunks)" = "$N" ] || { echo "# pyembed.py cut $(pyj chunks) chunks, not $N"; STATUS=1; }
	fi
	stop_mock
fi
exit $STATUS
