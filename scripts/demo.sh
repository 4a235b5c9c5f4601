#!/bin/bash
# demo.sh KGSUP: the main job end to end on this machine, no network needed: a synthetic
# corpus, the local mock LLM over HTTPS, a run, its status and the exported graph; then the
# analyzers job on 12 of the transcripts; then the feedback job on a generated survey table,
# exported as CSV and XLSX, and its report; then the graph with embeddings of its chunks and
# entities, entities merged by their vectors, and a search.
set -euo pipefail
KGSUP=${1:?usage: demo.sh path/to/kgsup}
TOP=$(cd "$(dirname "$0")/.." && pwd)
D=$TOP/build/demo
rm -rf "$D"; mkdir -p "$D"

echo "== corpus: 60 transcripts (.txt .md .vtt .srt .jsonl) in $D/in"
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$D/in" --files 60 --words 1500

echo "== local OpenAI-compatible mock on 127.0.0.1 (HTTPS, 20 ms latency)"
/usr/bin/python3 "$TOP/scripts/mock_llm.py" --dir "$D/mock" --latency-ms 20 2>"$D/mock.log" &
mock=$!
trap 'kill $mock 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$D/mock/port" ] && break; sleep 0.1; done
port=$(cat "$D/mock/port")

# the shipped config, pointed at the mock
/usr/bin/python3 - "$TOP/etc/kgsup.json" "$D/kgsup.json" "$port" "$D/mock/cert.pem" "$TOP" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
# room for the answer to a 10-chunk batch (a smaller max_tokens makes kgsup split batches)
cfg["api"].update(base_url="https://127.0.0.1:%s/v1" % sys.argv[3], ca_file=sys.argv[4],
                  max_tokens=8192)
cfg["limits"].update(requests_per_minute=6000, tokens_per_minute=50000000)
for k in ("system", "user"):
    cfg["prompt"][k] = sys.argv[5] + "/" + cfg["prompt"][k]
json.dump(cfg, open(sys.argv[2], "w"), indent=1)
PY

export OPENAI_API_KEY=${OPENAI_API_KEY:-demo-key-not-secret}
# kg ARGS...: says the command, then runs it
kg() { echo "== kgsup $*"; "$KGSUP" "$@"; }
kg start -c "$D/kgsup.json" -i "$D/in" -s "$D/state" -w 16
kg status -s "$D/state"
echo "== kgsup export -s $D/state -f jsonl -o $D/graph.jsonl"
"$KGSUP" export -s "$D/state" -f jsonl -o "$D/graph.jsonl" 2>"$D/export.log"
ents=$(grep -c '"kind":"entity"' "$D/graph.jsonl" || true)
rels=$(grep -c '"kind":"relation"' "$D/graph.jsonl" || true)
echo "exported $ents entities and $rels relations to $D/graph.jsonl"

echo
echo "== the analyzers job (etc/jobs/analyzers.json): four analyzers per transcript, then four"
echo "   that read their answers within a token budget; 12 of the transcripts"
mkdir -p "$D/an-in" && cp "$D"/in/interview-0000[0-9].* "$D"/in/interview-0001[01].* "$D/an-in/"
cp -r "$TOP/etc/jobs" "$D/jobs"
# at_mock JOB: a job's config (in the copy, beside its prompts and schemas) pointed at the mock
at_mock() {
	/usr/bin/python3 - "$1" "$port" "$D/mock/cert.pem" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["api"].update(base_url="https://127.0.0.1:%s/v1" % sys.argv[2], ca_file=sys.argv[3])
cfg["limits"].update(requests_per_minute=6000, tokens_per_minute=50000000)
for m in (cfg["limits"].get("models") or {}).values():
    m.update(requests_per_minute=6000, tokens_per_minute=50000000)
json.dump(cfg, open(sys.argv[1], "w"), indent=1)
PY
}
at_mock "$D/jobs/analyzers.json"
kg start -c "$D/jobs/analyzers.json" -i "$D/an-in" -s "$D/an-state" -w 16
kg status -s "$D/an-state"
kg export -s "$D/an-state" -f tree -o "$D/an-tree"
echo "$(find "$D/an-tree" -name '*.json' | wc -l) files in $D/an-tree, e.g.:"
find "$D/an-tree" -name '*.json' | sort | sed -n 1,3p # (sed reads it all: head's early exit would be a SIGPIPE, fatal under pipefail)

echo
echo "== the feedback job (etc/jobs/feedback.json): a survey table of 3,000 rows (an id, a 0-10"
echo "   score, a comment, a channel), 120 comments a call, repeated comments sent once"
mkdir -p "$D/fb-in"
/usr/bin/python3 "$TOP/scripts/gen_feedback.py" 3000 "$D/fb-in/survey.csv" --seed 19
at_mock "$D/jobs/feedback.json"
kg start -c "$D/jobs/feedback.json" -i "$D/fb-in/survey.csv" -s "$D/fb-state" -w 16
kg status -s "$D/fb-state"
kg export -s "$D/fb-state" -f csv -o "$D/feedback.csv"
kg export -s "$D/fb-state" -f xlsx -o "$D/feedback.xlsx"
rows=$(/usr/bin/python3 -c "import csv, sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], newline='', encoding='utf-8-sig'))) - 1)" "$D/feedback.csv")
echo "$rows rows in $D/feedback.csv and $D/feedback.xlsx; the first lines:"
head -3 "$D/feedback.csv"
kg report -s "$D/fb-state"

echo
echo "== the graph with vectors (etc/jobs/kg-vectors.json): the KG stage, then embeddings of the"
echo "   chunks and of the merged entities; entities of one type whose vectors are alike merged"
at_mock "$D/jobs/kg-vectors.json"
kg start -c "$D/jobs/kg-vectors.json" -i "$D/an-in" -s "$D/vec-state" -w 16
kg status -s "$D/vec-state"
kg export -s "$D/vec-state" -f merges -o "$D/merges.tsv"
echo "$(($(wc -l <"$D/merges.tsv") - 1)) merges in $D/merges.tsv; the first:"
head -4 "$D/merges.tsv"
kg export -s "$D/vec-state" -f npy -o "$D/vectors"
kg search -s "$D/vec-state" -k 3 "what was decided about the budget"
