#!/bin/bash
# shards_vectors.t: a job with a chat stage and an embedding stage over chunks, run whole by one
# supervisor and as 3 shards (start --shard I/3) against one mock: the merged -f vectors and
# -f npy equal the whole run's byte for byte, and so do the graph and every stage's answers but
# the embedding stage's calls (each shard packs its own chunks); search over the shards answers
# as over the whole run, and of a shard that owns no documents says so; each shard embeds each
# text of its own documents once, a text in two shards' documents once in each (measured), and
# once in all with a shared cache.path; a stage over entities is refused with --shard, naming
# it, and nothing is made; graph.resolve without one runs, with a warning that it does nothing.
. "$(dirname "$0")/lib.sh"
plan 18

# the corpus: generated transcripts, and documents that begin with the text of one of them and
# end apart (different documents, so they fall to shards by their own hash, sharing chunks)
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" --files 8 --words 300 --seed 5 "$T/in" >/dev/null
first=$(cd "$T/in" && ls | grep '\.txt$' | head -n 1)
for tail in apples pears plums figs limes; do
	{ cat "$T/in/$first"; printf '\nAnd then we talked about %s for a while.\n' "$tail"; } >"$T/in/shared-$tail.txt"
done
start_mock
# mk_config FILE [EXTRA JSON] [EXTRA STAGE JSON]: the chat stage kg and the embedding stage
# chunk_vectors over chunks (16 dimensions, 7 texts a call), and the stage given
mk_config() {
	write_config "$1" "${2:-{\}}"
	/usr/bin/python3 - "$1" "${3:-}" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["chunking"] = {"chunk_tokens": 60, "overlap_tokens": 0}
c["stages"] = [
    {"name": "kg", "over": "chunks", "per_call": 3, "graph": True},
    {"name": "chunk_vectors", "endpoint": "embeddings", "over": "chunks",
     "model": "text-embedding-3-small", "per_call": 7, "dimensions": 16}]
if sys.argv[2]:
    c["stages"].append(json.loads(sys.argv[2]))
json.dump(c, open(p, "w"), indent=1)
PY
}
# digests FILE: how often the mock embedded each text so far, by SHA-256 of model, dimensions
# and text
digests() {
	curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats?bodies=1" |
		/usr/bin/python3 -c 'import json,sys; json.dump(json.load(sys.stdin)["embed_inputs_by_digest"], open(sys.argv[1], "w"))' "$1"
}
# embedded BEFORE AFTER CACHE SHARD_EXPORTS...: the texts embedded between the two snapshots,
# each as often as the shards whose own chunks hold it (CACHE 0), or once (CACHE 1: a shared
# cache.path, the shards run one after the other), and of several shards' some texts in more
# than one; prints what it found
embedded() {
	/usr/bin/python3 - "$@" <<'PY'
import collections, hashlib, json, sys
before, after = (json.load(open(p)) for p in sys.argv[1:3])
cache = sys.argv[3] == "1"
holders = collections.defaultdict(set)
for i, p in enumerate(sys.argv[4:]):
    for line in open(p):
        v = json.loads(line)
        d = hashlib.sha256(("%s\0%d\0%s" % (v["model"], len(v["vector"]), v["text"])).encode()).hexdigest()
        holders[d].add(i)
delta = {d: after.get(d, 0) - before.get(d, 0) for d in set(after) | set(before)}
delta = {d: n for d, n in delta.items() if n}
want = {d: 1 if cache else len(s) for d, s in holders.items()}
spread = sum(1 for s in holders.values() if len(s) > 1)
shards = len(sys.argv) > 5
print("%d texts%s; %d inputs embedded, %d texts more than once"
      % (len(holders), ", %d of them in the documents of more than one shard" % spread if shards else "",
         sum(delta.values()), sum(1 for n in delta.values() if n > 1)))
sys.exit(0 if delta == want and (spread > 0 or not shards) else 1)
PY
}
# shards CONFIG NAME: shards 0, 1 and 2 of 3 started into $T/NAME0..2, one after the other;
# prints their exit codes
shards() {
	local rcs= i
	for i in 0 1 2; do
		kg start -c "$1" -i "$T/in" -s "$T/$2$i" --shard $i/3 -q 2>"$T/$2$i.err"
		rcs="$rcs$?"
	done
	echo "$rcs"
}
refused() { # WHAT-TO-FIND DIR ARGS...: exit 2, one line (less warnings) naming it, DIR not made
	local want=$1 dir=$2; shift 2
	"$@" >"$T/bad.out" 2>"$T/bad.err"; local rc=$?
	grep -v 'warn: ' "$T/bad.err" >"$T/bad.line"
	[ $rc -eq 2 ] && [ "$(wc -l <"$T/bad.line")" -eq 1 ] && grep -q -- "$want" "$T/bad.line" &&
		[ ! -e "$dir" ]
}

mk_config "$T/cfg.json"
digests "$T/d0"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/whole" -q 2>"$T/whole.err"; rc=$?
digests "$T/d1"
rcs=$(shards "$T/cfg.json" s)
digests "$T/d2"
check "the whole run and 3 shards with an embedding stage over chunks finish (exits $rc, $rcs)" \
	[ "$rc$rcs" = 0000 ]
for i in 0 1 2; do kg export -s "$T/s$i" -f vectors -o "$T/own$i.jsonl" 2>/dev/null; done
kg export -s "$T/whole" -f vectors -o "$T/own.whole.jsonl" 2>/dev/null
said=$(embedded "$T/d0" "$T/d1" 0 "$T/own.whole.jsonl"); rc=$?
check "the whole run embedded each text once ($said)" [ $rc -eq 0 ]
said=$(embedded "$T/d1" "$T/d2" 0 "$T/own0.jsonl" "$T/own1.jsonl" "$T/own2.jsonl"); rc=$?
check "each shard embedded each text of its own documents once, a text in two shards' documents once in each ($said)" \
	[ $rc -eq 0 ]

# the merged exports equal the whole run's, byte for byte, the shards in any order
same_export() { # FORMAT
	local f=$1 out=$T/out.$1
	rm -rf "$out" "$out.whole"
	kg export -s "$T/whole" -f "$f" -o "$out.whole" 2>/dev/null &&
		kg export -s "$T/s2" -s "$T/s0" -s "$T/s1" -f "$f" -o "$out" 2>"$T/merge.$f.err" || return 1
	if [ -d "$out.whole" ]; then diff -r "$out.whole" "$out" >/dev/null; else cmp -s "$out.whole" "$out"; fi &&
		! grep -q 'no vector' "$T/merge.$f.err"
}
for f in vectors npy jsonl graphml; do
	check "export -f $f of the 3 shards equals the whole run's byte for byte" same_export $f
done
check "the merged vectors are not trivially few ($(wc -l <"$T/out.vectors.whole") chunks, $(grep -c . "$T/out.npy.whole/ids.tsv") lines of ids.tsv)" \
	[ "$(wc -l <"$T/out.vectors.whole")" -ge 40 ]
kg export -s "$T/s0" -s "$T/s1" -f vectors -o "$T/part.jsonl" 2>"$T/part.err"
/usr/bin/python3 - "$T/out.vectors.whole" "$T/own2.jsonl" "$T/part.want" <<'PY'
import json, sys
gone = {json.loads(l)["document"] for l in open(sys.argv[2])}
with open(sys.argv[3], "w") as out:
    out.writelines(l for l in open(sys.argv[1]) if json.loads(l)["document"] not in gone)
PY
check "shards 0 and 1 of 3: the whole run's vectors but shard 2's documents', with a warning naming it and no vector called missing" \
	sh -c "cmp -s '$T/part.jsonl' '$T/part.want' && grep -q 'shards 2 of 3 not given' '$T/part.err' && ! grep -q 'no vector' '$T/part.err'"

# the answers: every stage's the same but the embedding stage's calls, each of which names the
# chunks it embedded: the first of each text in the chunk order of its run (or shard)
kg export -s "$T/whole" -f results -o "$T/res.whole" 2>/dev/null
kg export -s "$T/s1" -s "$T/s2" -s "$T/s0" -f results -o "$T/res.merged" 2>/dev/null
check "export -f results of the 3 shards equals the whole run's but the embedding stage's lines" \
	sh -c "grep -q '\"stage\":\"kg\"' '$T/res.whole' && [ \"\$(grep -v '\"stage\":\"chunk_vectors\"' '$T/res.whole')\" = \"\$(grep -v '\"stage\":\"chunk_vectors\"' '$T/res.merged')\" ]"
firsts() { # RESULTS VECTORS [REPEATS]: the embedding lines name the first chunk of each text,
	# in order (REPEATS 1: and some text is repeated)
	/usr/bin/python3 - "$1" "$2" "${3:-0}" <<'PY'
import json, sys
listed = [c for l in open(sys.argv[1]) for r in [json.loads(l)] if r["stage"] == "chunk_vectors"
          for c in r["chunks"]]
seen, want = set(), []
for l in open(sys.argv[2]):
    v = json.loads(l)
    if v["text"] not in seen:
        seen.add(v["text"]); want.append(v["id"])
repeats = len(want) < sum(1 for _ in open(sys.argv[2]))
sys.exit(0 if listed == want and (repeats or sys.argv[3] == "0") else 1)
PY
}
check "the whole run's embedding lines name the chunks each call embedded (a repeated text once)" \
	firsts "$T/res.whole" "$T/own.whole.jsonl" 1
ok_firsts=0
for i in 0 1 2; do
	kg export -s "$T/s$i" -f results -o "$T/res.s$i" 2>/dev/null
	firsts "$T/res.s$i" "$T/own$i.jsonl" && ok_firsts=$((ok_firsts + 1))
done
check "each shard's embedding lines name the chunks of its own documents it embedded ($ok_firsts of 3)" \
	[ $ok_firsts -eq 3 ]

# search over the shards: what it finds over the whole run (a search of shard 0 alone first:
# the chunks' keys it keeps in s0/search/ are of its own chunks, kept apart from the three's)
read -r qid qtext < <(/usr/bin/python3 -c 'import json,sys; v=json.loads(open(sys.argv[1]).readlines()[5]); print(v["id"], v["text"].replace("\n", " "))' "$T/out.vectors.whole")
kg search -s "$T/s0" -k 5 --json "$qtext" >"$T/q.s0" 2>"$T/q.err"
kg search -s "$T/whole" -k 5 --json "$qtext" >"$T/q.whole" 2>>"$T/q.err"
kg search -s "$T/s0" -s "$T/s1" -s "$T/s2" -k 5 --json "$qtext" >"$T/q.merged" 2>>"$T/q.err"
got=$(json_get "$T/q.merged" '[r["id"] for r in j][0]' 2>/dev/null)
check "search -s x3 finds the chunk whose text is the query first ($got, want $qid), as the whole run's search does" \
	sh -c "[ '$got' = '$qid' ] && cmp -s '$T/q.whole' '$T/q.merged'"

# a shard that owns no documents (one document over 8 shards): its search says so, and that
# the other shards hold them, not that the run has no vectors yet
mkdir -p "$T/one" && cp "$T/in/$first" "$T/one/"
for i in 0 1; do
	kg start -c "$T/cfg.json" -i "$T/one" -s "$T/e$i" --shard $i/8 -q 2>"$T/e$i.err"
	own=$(kg status -s "$T/e$i" --json 2>/dev/null | json_get /dev/stdin 'j["sources"]' 2>/dev/null)
	[ "$own" = 0 ] && break
done
kg search -s "$T/e$i" -k 5 "$qtext" >"$T/e.out" 2>"$T/e.err"; rc=$?
check "search of shard $i/8, which owns $own documents: exit $rc (2), one line (less warnings) saying so and naming the other shards ($(grep -v "warn: " "$T/e.err" | head -c 160))" \
	eval '[ $rc -eq 2 ] && [ "$(grep -vc "warn: " "$T/e.err")" -eq 1 ] && grep -q "shard $i/8 owns no documents.*other shards" "$T/e.err"'

# a shared cache.path, the shards one after the other: each text embedded once in all
digests "$T/d2"
mk_config "$T/cfg-cache.json" "{\"cache\": {\"path\": \"$T/cache\"}}"
rcs=$(shards "$T/cfg-cache.json" c)
digests "$T/d3"
said=$(embedded "$T/d2" "$T/d3" 1 "$T/own0.jsonl" "$T/own1.jsonl" "$T/own2.jsonl"); rc=$?
check "3 shards sharing cache.path, one after the other, embedded each text once in all ($said)" \
	[ $rc -eq 0 ]
kg export -s "$T/c0" -s "$T/c1" -s "$T/c2" -f vectors -o "$T/cache.vectors" 2>/dev/null
check "they finish and their merged vectors are the whole run's too" \
	sh -c "[ $rcs = 000 ] && cmp -s '$T/cache.vectors' '$T/out.vectors.whole'"

# what needs the whole graph is refused with --shard, naming it, before anything is made
mk_config "$T/cfg-ent.json" '{}' '{"name": "entity_vectors", "endpoint": "embeddings", "over": "entities", "model": "text-embedding-3-small", "dimensions": 16}'
check "a stage over entities with --shard: exit 2, one line naming it, nothing made" \
	refused 'stage entity_vectors is not sharded' "$T/ent" "$KGSUP" start -c "$T/cfg-ent.json" -i "$T/in" -s "$T/ent" --shard 0/3 -q
# graph.resolve, which does nothing without a stage over entities, runs as in 0.5.0: warned of
mk_config "$T/cfg-res.json" '{"graph": {"resolve": true}}'
kg start -c "$T/cfg-res.json" -i "$T/in" -s "$T/res" --shard 1/3 -q 2>"$T/res.err"; rc=$?
check "graph.resolve with --shard, no stage over entities: exit $rc (0), warned of once ($(grep -o 'warn: --shard: graph.resolve.\{60\}' "$T/res.err"))" \
	eval '[ $rc -eq 0 ] && [ "$(grep -c "warn: --shard: graph.resolve does nothing" "$T/res.err")" -eq 1 ] &&
		[ "$(grep -vc "warn: " "$T/res.err")" -eq 0 ]'
stop_mock

finish
