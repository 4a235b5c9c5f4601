#!/bin/bash
# accept-core.sh KGSUP [FILES] [WORDS]: the core acceptance run: FILES transcripts (default
# 1000) of WORDS words (default 1500) against the mock at 20 ms latency with 16 workers.
# Checks: exit 0, status shows every batch done, the mock saw exactly one successful request per
# batch, and the export holds every entity the mock returned. Prints the figures.
# KGSUP_VALGRIND=1 runs every kgsup process under valgrind (errors fail the run).
set -uo pipefail
KGSUP=${1:?usage: accept-core.sh path/to/kgsup [files] [words]}
FILES=${2:-1000}
WORDS=${3:-1500}
TOP=$(cd "$(dirname "$0")/.." && pwd)
D=$(mktemp -d /tmp/kgsup-accept-XXXXXX)
trap 'kill $mock 2>/dev/null; rm -rf "$D"' EXIT
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$D/in" --files "$FILES" --words "$WORDS"
echo "corpus: $FILES files, $(cat "$D"/in/* | wc -w) words, $(du -sh "$D/in" | cut -f1)"
/usr/bin/python3 "$TOP/scripts/mock_llm.py" --dir "$D/mock" --latency-ms 20 2>"$D/mock.log" &
mock=$!
for _ in $(seq 100); do [ -s "$D/mock/port" ] && break; sleep 0.1; done
port=$(cat "$D/mock/port")
cat >"$D/cfg.json" <<JSON
{"api": {"base_url": "https://127.0.0.1:$port/v1", "ca_file": "$D/mock/cert.pem", "model": "m",
         "max_tokens": 8192},
 "limits": {"requests_per_minute": 1000000, "tokens_per_minute": 10000000000}}
JSON
export OPENAI_API_KEY=accept-test-key
run=("$KGSUP")
if [ "${KGSUP_VALGRIND:-}" = 1 ]; then
	run=(valgrind -q --trace-children=yes --error-exitcode=99 --leak-check=full
		--errors-for-leak-kinds=definite --log-file="$D/vg.%p.log" "$KGSUP")
fi
t0=$(date +%s.%N)
"${run[@]}" start -c "$D/cfg.json" -i "$D/in" -s "$D/state" -w 16 -q
rc=$?
t1=$(date +%s.%N)
"$KGSUP" status -s "$D/state" --json >"$D/status.json"
"$KGSUP" export -s "$D/state" -o "$D/graph.jsonl" 2>"$D/export.err"
curl -s --cacert "$D/mock/cert.pem" "https://127.0.0.1:$port/stats" >"$D/stats.json"
/usr/bin/python3 - "$D" "$rc" "$t0" "$t1" <<'PY'
import json, re, sys
d, rc, t0, t1 = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
st = json.load(open(d + "/status.json")); ms = json.load(open(d + "/stats.json"))
lines = [json.loads(l) for l in open(d + "/graph.jsonl")]
# the export merges entities: the records it read are in its summary line
records = int(re.search(r"merged from (\d+)", open(d + "/export.err").read()).group(1))
got = {n for l in lines if l["kind"] == "entity" for n in [l["name"]] + l["aliases"]}
missing = set(ms["entities"]) - got
b = st["batches"]
print("exit %d, wall %.1f s, chunks %d, batches %d done %d failed %d" % (rc, t1 - t0, st["chunks"], b["total"], b["done"], b["failed"]))
print("mock: %d requests, %d ok, %d distinct ok bodies, max %d ok per body" % (ms["requests"], ms["ok"], ms["distinct_ok_bodies"], ms["max_ok_per_body"]))
print("export: %d entity records read (mock returned %d), merged into %d entities, %d of the mock's names missing"
      % (records, ms["entity_records"], sum(1 for l in lines if l["kind"] == "entity"), len(missing)))
ok = rc == 0 and st["state"] == "done" and b["done"] == b["total"] and ms["ok"] == b["total"] \
    and ms["distinct_ok_bodies"] == b["total"] and not missing and records == ms["entity_records"]
print("ACCEPT: %s" % ("PASS" if ok else "FAIL"))
sys.exit(0 if ok else 1)
PY
res=$?
if [ "${KGSUP_VALGRIND:-}" = 1 ]; then
	# with -q valgrind writes to a process's log only when it has something to report
	n=$(find "$D" -name 'vg.*.log' -size +0 | wc -l)
	echo "valgrind: $(ls "$D"/vg.*.log | wc -l) processes checked, $n reported errors or leaks"
	cat "$D"/vg.*.log | head -40
	[ "$n" = 0 ] || res=1
fi
exit $res
