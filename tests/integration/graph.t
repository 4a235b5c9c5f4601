#!/bin/bash
# graph.t: the merged knowledge graph: name variants become one entity, relations carry a
# weight and provenance (with cue times for subtitles), alias rules apply, and the graph
# exports as jsonl, Neo4j csv, Cypher and GraphML that other tools load. Changing
# chunks_per_batch on a finished run buys no chunk again.
. "$(dirname "$0")/lib.sh"
plan 20

mkdir -p "$T/in"
cat >"$T/in/a.txt" <<'TXT'
Host: Today [[Dr. Ada Lovelace|person]] and [[Charles Babbage|person]] are our topic.
Guest: [[Ada Lovelace|person]] worked with [[Charles Babbage|person]] for years.
Host: [[Ada Lovelace|person]] and [[Charles Babbage|person]] wrote many letters.
Host: [[ada lovelace|Person]] wrote notes on [[the Analytical Engine|product]].
Guest: [[Countess of Lovelace|person]] is how some letters name her.
TXT
cat >"$T/in/b.vtt" <<'VTT'
WEBVTT

00:00:01.000 --> 00:00:04.500
<v Host>Later [[ADA  LOVELACE|person]] met [[Prof. Charles Babbage|person]] again.
VTT
cat >"$T/in/c.txt" <<'TXT'
Odd names: [[O'Brien "Quote" \ Back|person]] and [[Line\nBreak|person]] and [[semi;colon, comma "q"|organization]] and [[Amp & <xml|weird`type]].
TXT
printf 'Countess of Lovelace = Ada Lovelace\n' >"$T/aliases.txt"

start_mock
# one chunk per line: each line is its own answer, so merging is across answers
write_config "$T/cfg.json" "{\"chunking\": {\"chunk_tokens\": 30, \"overlap_tokens\": 0, \"chunks_per_batch\": 2},
	\"graph\": {\"aliases_file\": \"$T/aliases.txt\"}}"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/state" -q 2>"$T/start.err"; rc=$?
check "the run finishes (exit $rc)" [ $rc -eq 0 ]
kg export -s "$T/state" -o "$T/g.jsonl" 2>"$T/export.err"

ent() { json_line "$1" "$2"; }
json_line() {
	/usr/bin/python3 - "$T/g.jsonl" "$1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ents = [r for r in rows if r["kind"] == "entity"]
rels = [r for r in rows if r["kind"] == "relation"]
print(eval(sys.argv[2]))
PY
}
check "five variants of Ada Lovelace (case, spacing, title, alias) are one entity" \
	[ "$(json_line "[sorted([e['name']] + e['aliases']) for e in ents if any('ovelace' in n for n in [e['name']] + e['aliases'])]")" = "[['ADA  LOVELACE', 'Ada Lovelace', 'Countess of Lovelace', 'Dr. Ada Lovelace', 'ada lovelace']]" ]
check "the merged entity's name is its most frequent form, its type too" \
	[ "$(json_line "[(e['name'], e['type']) for e in ents if e['name'].lower() == 'ada lovelace']")" = "[('Ada Lovelace', 'person')]" ]
check "Prof. Charles Babbage and Charles Babbage are one entity" \
	[ "$(json_line "len([e for e in ents if 'babbage' in e['name'].lower()])")" = 1 ]
check "the relation seen in four chunks (four spellings) is one, weight 4, four provenance entries" \
	[ "$(json_line "[(r['weight'], len(r['provenance'])) for r in rels if r['source_name'] == 'Ada Lovelace' and r['target_name'] == 'Charles Babbage']")" = "[(4, 4)]" ]
check "subtitle provenance carries the cue times" \
	[ "$(json_line "sorted({(p['start'], p['end']) for e in ents for p in e['provenance'] if p['source'].endswith('b.vtt')})")" = "[('00:00:01.000', '00:00:04.500')]" ]

kg export -s "$T/state" -o "$T/g2.jsonl" 2>/dev/null
check "two exports of the same run are byte-identical" cmp -s "$T/g.jsonl" "$T/g2.jsonl"
# an output that cannot be written: exit 2 naming it (cache.t does -f invalid)
kg export -s "$T/state" -o /dev/full 2>"$T/full.err"; rc=$?
check "export to a full device: exit 2 (got $rc), naming it" \
	sh -c "[ $rc -eq 2 ] && grep -q '/dev/full: write failed' '$T/full.err'"
mkdir -p "$T/empty-state"
kg export -s "$T/empty-state" 2>"$T/none.err"; rc=$?
check "export where no run was planned: exit 2 (got $rc), saying so" \
	sh -c "[ $rc -eq 2 ] && grep -q 'no planned run here' '$T/none.err'"
kg export -s "$T/state" -f xml 2>"$T/fmt.err"; rc=$?
check "an unknown format: exit 2 (got $rc) listing the formats" \
	sh -c "[ $rc -eq 2 ] && grep -q 'jsonl, csv, cypher, graphml, kuzu, invalid' '$T/fmt.err'"

# GraphML: networkx reads it with the counts of the jsonl export
kg export -s "$T/state" -f graphml -o "$T/g.graphml" 2>/dev/null
counts=$(/usr/bin/python3 - "$T/g.graphml" <<'PY'
import sys, networkx as nx
g = nx.read_graphml(sys.argv[1])
print(g.number_of_nodes(), g.number_of_edges())
PY
)
check "networkx loads the graphml with the jsonl's counts ($counts)" \
	[ "$counts" = "$(json_line "'%d %d' % (len(ents), len(rels))")" ]

# csv: Neo4j's bulk-import headers, and rows Python's csv module reads back as many
kg export -s "$T/state" -f csv -o "$T/csv" 2>/dev/null
check "nodes.csv has Neo4j's header (id:ID ... :LABEL)" \
	[ "$(head -1 "$T/csv/nodes.csv")" = "id:ID,name,type,aliases:string[],descriptions:string[],weight:int,chunks:string[],sources:string[],:LABEL" ]
check "relationships.csv has Neo4j's header (:START_ID,:END_ID,:TYPE ...)" \
	[ "$(head -1 "$T/csv/relationships.csv" | cut -d, -f1-3)" = ":START_ID,:END_ID,:TYPE" ]
rows=$(/usr/bin/python3 - "$T/csv" <<'PY'
import csv, sys
n = list(csv.reader(open(sys.argv[1] + "/nodes.csv", newline="")))
r = list(csv.reader(open(sys.argv[1] + "/relationships.csv", newline="")))
ok = all(len(x) == len(n[0]) for x in n) and all(len(x) == len(r[0]) for x in r)
names = {x[1] for x in n[1:]}
print(len(n) - 1, len(r) - 1, ok, "O'Brien \"Quote\" \\ Back" in names)
PY
)
check "the csv rows parse back: one per entity and relation, hostile names intact ($rows)" \
	[ "$rows" = "$(json_line "'%d %d True True' % (len(ents), len(rels))")" ]

# Cypher: a lexer reads every statement and decodes the hostile names exactly
kg export -s "$T/state" -f cypher -o "$T/g.cypher" 2>/dev/null
stmts=$(/usr/bin/python3 "$TOP/tests/integration/cypher_check.py" "$T/g.cypher" \
	"O'Brien \"Quote\" \\ Back" "$(printf 'Line\nBreak')" 'semi;colon, comma "q"' 'Amp & <xml' 'weird`type' 2>&1)
check "the cypher export lexes, hostile names decode exactly ($stmts)" \
	[ "$stmts" = "$(json_line "1 + len(ents) + len(rels)")" ]

# a bad alias file is refused before anything runs, naming its line
printf 'fine = ok\nno equals sign here\n' >"$T/bad-aliases.txt"
write_config "$T/bad.json" "{\"graph\": {\"aliases_file\": \"$T/bad-aliases.txt\"}}"
kg start -c "$T/bad.json" -i "$T/in" -s "$T/bad-state" -q 2>"$T/bad.err"; rc=$?
check "a bad alias file: exit 2 (got $rc) naming file and line" \
	sh -c "[ $rc -eq 2 ] && grep -q bad-aliases.txt:2: '$T/bad.err'"

# per-chunk reuse: batches of 10, then 7 over the same chunks buy nothing
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/corpus" --files 6 --words 900 --seed 5
write_config "$T/c10.json" '{"chunking": {"chunk_tokens": 60, "overlap_tokens": 0, "chunks_per_batch": 10}, "api": {"max_tokens": 8192}}'
write_config "$T/c7.json" '{"chunking": {"chunk_tokens": 60, "overlap_tokens": 0, "chunks_per_batch": 7}, "api": {"max_tokens": 8192}}'
kg start -c "$T/c10.json" -i "$T/corpus" -s "$T/s10" -q 2>/dev/null
before=$(mock_stat requests)
kg export -s "$T/s10" -o "$T/c10.jsonl" 2>/dev/null
kg start --fresh -c "$T/c7.json" -i "$T/corpus" -s "$T/s10" -q 2>/dev/null; rc=$?
after=$(mock_stat requests)
check "chunks_per_batch 10 -> 7 on a finished run: exit $rc, no API call ($before then $after)" \
	[ "$rc:$before" = "0:$after" ]
kg export -s "$T/s10" -o "$T/c7.jsonl" 2>/dev/null
check "and the same graph, byte for byte" cmp -s "$T/c10.jsonl" "$T/c7.jsonl"
# a new transcript: only its chunks are sent, none of the known ones again
cp "$T/in/a.txt" "$T/corpus/new.txt"
kg start --fresh -c "$T/c7.json" -i "$T/corpus" -s "$T/s10" -q 2>/dev/null; rc=$?
check "a new file among known ones: exit $rc, requests sent ($(mock_stat requests) > $after)" \
	[ "$(mock_stat requests)" -gt "$after" ]
check "no chunk was ever sent twice ($(mock_stat chunks_sent_twice))" [ "$(mock_stat chunks_sent_twice)" = 0 ]
finish
