#!/bin/bash
# stage_limits.t: what a stage's own settings do. A document longer than the stage's
# max_input_tokens is cut there (a warning names it, status counts it, the request carries only
# that much); a stage on another model costs at that model's prices (pricing.models); a job
# mixing a KG stage over chunks with a documents stage, without structured outputs, sends
# json_object requests and checks each stage's answers by its own rules.
. "$(dirname "$0")/lib.sh"
plan 13

export MOCK_API_KEY=mock-key-$$
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 3 --words 1500 --formats txt >/dev/null
: >"$T/in/empty.txt"; printf 'WEBVTT\n\n' >"$T/in/nocues.vtt"   # no text: nothing to ask about
start_mock --latency-ms 1
mkdir -p "$T/job"
# no schema: without structured outputs the mock cannot know one (it answers the KG extraction,
# a JSON object, which a stage without a schema takes as it is)
printf 'You summarise.\n' >"$T/job/sys.txt"
printf 'Brief of {{document_name}}\n<doc>\n{{document}}\n</doc>\n' >"$T/job/brief.txt"
printf 'Whole of {{document_name}}\n<doc>\n{{document}}\n</doc>\n' >"$T/job/whole.txt"
cat >"$T/job/cfg.json" <<J
{"api": {"base_url": "$MOCK_URL", "ca_file": "$T/mock/cert.pem", "api_key_env": "MOCK_API_KEY"},
 "limits": {"requests_per_minute": 100000, "tokens_per_minute": 100000000},
 "pricing": {"input_per_mtok": 1, "output_per_mtok": 2,
             "models": {"big-model": {"input_per_mtok": 100, "output_per_mtok": 1000}}},
 "stages": [
  {"name": "brief", "over": "documents", "max_input_tokens": 100,
   "prompt": {"system": "sys.txt", "user": "brief.txt"}},
  {"name": "pricey", "over": "documents", "model": "big-model",
   "prompt": {"system": "sys.txt", "user": "whole.txt"}},
  {"name": "kg", "over": "chunks", "per_call": 4, "graph": true}
 ]}
J
kg start -c "$T/job/cfg.json" -i "$T/in" -s "$T/s" -w 4 --no-progress 2>"$T/err"; rc=$?
check "the job runs (exit $rc)" [ $rc -eq 0 ]
check "a warning names each document cut for stage brief ($(grep -c 'cut at 100 tokens' "$T/err"))" \
	[ "$(grep -c 'interview-0000[0-2].txt: cut at 100 tokens .* for stage brief' "$T/err")" = 3 ]
kg status -s "$T/s" --json >"$T/st.json"
py() { /usr/bin/python3 -c "import json,sys; j=json.load(open('$T/st.json')); $1"; }
check "status counts the cut documents per stage ($(py "print(j['stages']['brief']['documents_cut'], j['stages']['pricey']['documents_cut'])"))" \
	[ "$(py "print(j['stages']['brief']['documents_cut'], j['stages']['pricey']['documents_cut'])")" = "3 0" ]
curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats?bodies=1" >"$T/log.json"
sizes=$(/usr/bin/python3 - "$T/log.json" <<'PY'
import json, re, sys
log = json.load(open(sys.argv[1]))["requests_log"]
def doc(e):
    m = re.search(r"<doc>\n(.*)\n</doc>", e["user"], re.S)
    return len(m.group(1).encode()) if m else -1
brief = [doc(e) for e in log if e["user"].startswith("Brief of")]
pricey = [doc(e) for e in log if e["user"].startswith("Whole of")]
print(max(brief), min(pricey), len(brief), len(pricey))
PY
)
read -r bmax pmin nb np <<<"$sizes"
check "brief's requests carry at most 100 tokens of document ($bmax bytes), pricey's the whole ($pmin bytes); none for the empty inputs ($nb, $np)" \
	[ "$bmax" -le 400 -a "$bmax" -gt 300 -a "$pmin" -gt 4000 -a "$nb:$np" = "3:3" ]
# cost: pricey at big-model's prices, the others at the run's
cost=$(py "s=j['stages']; p=s['pricey']; b=s['brief']; k=s['kg']
want=(p['tokens']['prompt']*100+p['tokens']['completion']*1000)/1e6
other=(b['tokens']['prompt']*1+b['tokens']['completion']*2+k['tokens']['prompt']*1+k['tokens']['completion']*2)/1e6
print(abs(p['cost_usd']-want)<1e-5 and abs(j['cost_usd']-(want+other))<1e-5 and p['cost_usd']>0)")
check "a stage on another model costs at its prices, and the run's cost adds the stages up" [ "$cost" = True ]
modes=$(/usr/bin/python3 -c "
import json; log=json.load(open('$T/log.json'))['requests_log']
print(sorted({e['stage'] for e in log}))")
check "without structured outputs every request is json_object (no stage named at the mock: $modes)" \
	[ "$modes" = "['']" ]
kg export -s "$T/s" -f jsonl -o "$T/g.jsonl" 2>/dev/null
check "the KG stage's answers make the graph ($(grep -c '"kind":"entity"' "$T/g.jsonl") entities)" \
	[ "$(grep -c '"kind":"entity"' "$T/g.jsonl")" -gt 0 ]
kg export -s "$T/s" -f results -o "$T/r.jsonl" 2>/dev/null
# the same job afresh: every answer from the cache, saving what it cost, each stage at its prices
kg start -c "$T/job/cfg.json" -i "$T/in" -s "$T/s" -w 4 --fresh --no-progress 2>/dev/null
kg status -s "$T/s" --json >"$T/st2.json"
saved=$(/usr/bin/python3 -c "
import json; a=json.load(open('$T/st.json')); b=json.load(open('$T/st2.json'))
print(b['cache']['hits'] == b['batches']['total'] and abs(b['cache']['saved_usd'] - a['cost_usd']) < 1e-5)")
check "a rerun from the cache saved what the run cost, at each stage's prices" [ "$saved" = True ]
check "every stage's answers are exported (brief, pricey, kg: $(cut -d'"' -f4 "$T/r.jsonl" | sort -u | tr '\n' ' '))" \
	[ "$(cut -d'"' -f4 "$T/r.jsonl" | sort -u | tr '\n' ' ')" = "brief kg pricey " ]
# --- two inputs holding documents of the same name; a document cut inside a character
mkdir -p "$T/d1" "$T/d2" "$T/u"
echo "Ada Lovelace wrote the first program." >"$T/d1/rec.txt"
echo "Grace Hopper wrote the first compiler." >"$T/d2/rec.txt"
/usr/bin/python3 -c "open('$T/u/accents.txt','w').write('a' + 'é' * 10000)"
sed -e 's/"max_input_tokens": 100,/"max_input_tokens": 3000,/' -e '/"name": "pricey"/,/user": "whole.txt"}},/d' \
	-e '/"name": "kg"/d' -e 's/"user": "brief.txt"}},/"user": "brief.txt"}}/' "$T/job/cfg.json" >"$T/job/cfg2.json"
kg start -c "$T/job/cfg2.json" -i "$T/d1" -i "$T/d2" -i "$T/u" -s "$T/s2" -w 2 --no-progress 2>"$T/err2"; rc=$?
check "a job over documents of the same name runs (exit $rc)" [ $rc -eq 0 ]
kg export -s "$T/s2" -f tree -o "$T/tree" 2>"$T/export2.err"
check "both same-named documents are in the tree, the second by its path ($(cd "$T/tree" && find . -name brief.json | sort | tr '\n' ' '))" \
	[ -f "$T/tree/rec.txt/brief.json" -a -f "$T/tree/${T#/}/d2/rec.txt/brief.json" ]
check "and the log says how the second is named" grep -q "d2/rec.txt: named .*d2/rec.txt in exports" "$T/err2"
curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats?bodies=1" >"$T/log2.json"
cut=$(/usr/bin/python3 - "$T/log2.json" <<'PY'
import json, re, sys
for e in json.load(open(sys.argv[1]))["requests_log"]:
    m = re.search(r"<doc>\n(.*)\n</doc>", e["user"], re.S)
    if m and m.group(1).startswith("aé"):
        d = m.group(1)
        print(len(d.encode()), "\ufffd" in d, d.endswith("é"))
PY
)
check "a document cut at 3000 tokens is cut between characters ($cut: bytes, U+FFFD, ends whole)" \
	[ "$cut" = "11999 False True" ]
finish
