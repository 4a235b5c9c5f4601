#!/bin/bash
# kuzu.t: `export -f kuzu -o DIR` loads into a real kuzu (the npm package, which
# scripts/install-npm.sh puts in build/npm) with the statements of DIR/load.cypher run from
# another working directory: the counts of the jsonl export, every property of every entity and
# relation as jsonl has it, names with commas, quotes, a backslash, a newline and non-ASCII
# intact, and so are sources in a directory named so. The kuzu checks skip only where npm cannot reach its registry.
. "$(dirname "$0")/lib.sh"
plan 10

NPM_DIR=${KGSUP_NPM_DIR:-$TOP/build/npm}
kuzu_loads() { node -e 'require(process.argv[1] + "/node_modules/kuzu")' "$NPM_DIR" 2>/dev/null; }

# the inputs' directory name is in every entity's sources
in="$T/in, 'ü' \"q\""
mkdir -p "$in"
cat >"$in/a.txt" <<'TXT'
Host: [[Zoë, "Q" Ünal|person]] met [[O'Brien "Quote" \ Back|person]] in [[東京, 日本|place]].
Guest: [[zoë "q" ünal|person]] said [[Line\nBreak|person]] knows [[semi;colon, comma "q"|organization]].
Host: [[Amp & <xml [x {y}|weird`type]] and [[Zoë, "Q" Ünal|person]] wrote to [[東京, 日本|place]].
TXT
# a unit separator (kuzu.csv's list separator) in a name: a space in list elements
printf 'Guest: [[unit sep|person]] met [[Unit\037Sep|person]].\n' >>"$in/a.txt"
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$in/corpus" --files 3 --words 400 --seed 7

start_mock
write_config "$T/cfg.json" '{"chunking": {"chunk_tokens": 30, "overlap_tokens": 0, "chunks_per_batch": 2}}'
kg start -c "$T/cfg.json" -i "$in" -s "$T/state" -q 2>"$T/start.err"; rc=$?
check "the run finishes (exit $rc)" [ $rc -eq 0 ]
kg export -s "$T/state" -o "$T/g.jsonl" 2>/dev/null

out="$T/out dir/kuzu"
kg export -s "$T/state" -f kuzu -o "$out" 2>"$T/kuzu.err"; rc=$?
check "export -f kuzu: exit $rc, nodes.csv, relationships.csv and load.cypher written" \
	[ $rc -eq 0 -a -s "$out/nodes.csv" -a -s "$out/relationships.csv" -a -s "$out/load.cypher" ]
kg export -s "$T/state" -f kuzu 2>"$T/noout.err"; rc=$?
check "export -f kuzu without -o: exit 2 (got $rc), asking for the directory" \
	sh -c "[ $rc -eq 2 ] && grep -q 'give it with -o' '$T/noout.err'"
check "load.cypher names the files by absolute path" \
	grep -qF "FROM '$out/nodes.csv'" "$out/load.cypher"

if ! kuzu_loads; then
	KGSUP_NPM_DIR=$NPM_DIR sh "$TOP/scripts/install-npm.sh" kuzu
fi
if ! kuzu_loads; then
	IFS=';' read -ra names <<<"kuzu loads it;entity count;relation count;entities;relations;names"
	if timeout 60 npm ping --fetch-retries=1 --fetch-retry-mintimeout=1000 \
		--fetch-retry-maxtimeout=5000 >/dev/null 2>&1; then
		for n in "${names[@]}"; do not_ok "$n: the kuzu npm package does not load from $NPM_DIR"; done
	else
		for n in "${names[@]}"; do skip "$n" "npm cannot reach its registry to install kuzu"; done
	fi
	finish
	exit
fi

(cd / && node "$TOP/tests/integration/kuzu_check.js" "$NPM_DIR" "$T/db" "$out/load.cypher") \
	>"$T/kuzu.json" 2>"$T/kuzu-node.err"; rc=$?
[ $rc -eq 0 ] || diag "$(cat "$T/kuzu-node.err")"
check "kuzu loads load.cypher, run from /, into a new database (exit $rc)" [ $rc -eq 0 ]

# what kuzu holds against the jsonl export: counts, then every property
cmp_py() {
	/usr/bin/python3 - "$T/g.jsonl" "$T/kuzu.json" "$1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
try:
    kz = json.load(open(sys.argv[2]))
except ValueError:
    kz = {"entities": [], "relations": []}

def sources(r):
    out = []
    for p in r["provenance"]:
        if not out or out[-1] != p["source"]:
            out.append(p["source"])
    return out

def lst(v):
    return [x.replace("\x1f", " ") for x in v]

ents = sorted(({"id": r["id"], "name": r["name"], "type": r["type"], "aliases": lst(r["aliases"]),
                "descriptions": lst(r["descriptions"]), "weight": r["weight"],
                "chunks": r["chunks"], "sources": lst(sources(r))}
               for r in rows if r["kind"] == "entity"), key=lambda e: e["id"])
rels = sorted(({"source": r["source"], "target": r["target"], "id": r["id"], "type": r["type"],
                "descriptions": lst(r["descriptions"]), "weight": r["weight"],
                "chunks": r["chunks"], "sources": lst(sources(r))}
               for r in rows if r["kind"] == "relation"), key=lambda r: r["id"])
what = sys.argv[3]
if what == "entity count":
    print(len(ents), len(kz["entities"]))
elif what == "relation count":
    print(len(rels), len(kz["relations"]))
elif what == "entities":
    bad = [(a, b) for a, b in zip(ents, kz["entities"]) if a != b]
    print("same" if ents == kz["entities"] else "differ: %r" % (bad[:1] or len(kz["entities"])))
elif what == "relations":
    bad = [(a, b) for a, b in zip(rels, kz["relations"]) if a != b]
    print("same" if rels == kz["relations"] else "differ: %r" % (bad[:1] or len(kz["relations"])))
else:
    names = {e["name"] for e in kz["entities"]} | {a for e in kz["entities"] for a in e["aliases"]}
    want = ['Zoë, "Q" Ünal', 'zoë "q" ünal', 'O\'Brien "Quote" \\ Back', "東京, 日本",
            "Line\nBreak", 'semi;colon, comma "q"', "Amp & <xml [x {y}", "Unit Sep"]
    print("all" if all(w in names for w in want) else "missing %r" % [w for w in want if w not in names])
PY
}
same_count() { local c; c=$(cmp_py "$1"); diag "$1 (jsonl, kuzu): $c"; set -- $c; [ "$1" = "$2" ] && [ "$1" -gt 0 ]; }
check "kuzu has the jsonl export's entities, as many" same_count "entity count"
check "kuzu has the jsonl export's relations, as many" same_count "relation count"
r=$(cmp_py entities)
check "every entity's properties in kuzu are the jsonl export's ($r)" [ "$r" = same ]
r=$(cmp_py relations)
check "every relation's ends and properties in kuzu are the jsonl export's ($r)" [ "$r" = same ]
r=$(cmp_py names)
check "names and aliases with commas, quotes, a backslash, a newline and non-ASCII intact ($r)" \
	[ "$r" = all ]
finish
