#!/bin/bash
# shards.t: one corpus run whole by one supervisor and as 4 shards (start --shard I/4, each its
# own state directory, against the same mock): the shards' documents partition the corpus, the
# merged export (export -s ... -s ...) equals the whole run's byte for byte in every graph format
# and in results and tree, with and without stages; status sums the shards; --shard auto reads
# Slurm's and Kubernetes' variables; bad --shard values, a shard resumed as another and a
# cache.path on NFS are refused; a shard killed with SIGKILL and resumed buys nothing twice
# beyond the calls in flight.
. "$(dirname "$0")/lib.sh"
plan 53

# the corpus: generated transcripts of every format, and a copy of one (planned once)
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" --files 20 --words 300 --seed 11 "$T/in" >/dev/null
first=$(cd "$T/in" && ls | grep '\.txt$' | head -n 1)
cp "$T/in/$first" "$T/in/zz-copy-of-$first"
start_mock
write_config "$T/cfg.json" '{"chunking": {"chunk_tokens": 60, "overlap_tokens": 0, "chunks_per_batch": 3}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/whole" -q 2>"$T/whole.err"; rc=$?
check "the whole run finishes (exit $rc)" [ $rc -eq 0 ]
rcs=
for i in 0 1 2 3; do
	kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s$i" --shard $i/4 -q 2>"$T/s$i.err"
	rcs="$rcs$?"
done
check "4 shards finish (exits $rcs)" [ "$rcs" = 0000 ]
wtotal=$(kg status -s "$T/whole" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["batches"]["total"])')
check "the 4 shards together bought each of the whole run's $wtotal requests once ($(mock_stat ok) answers, $(mock_stat distinct_ok_bodies) distinct bodies, at most $(mock_stat max_ok_per_body) of one)" \
	sh -c "[ $(mock_stat ok) -eq $((2 * wtotal)) ] && [ $(mock_stat distinct_ok_bodies) -eq $wtotal ] && [ $(mock_stat max_ok_per_body) -eq 2 ]"
S="-s $T/s0 -s $T/s1 -s $T/s2 -s $T/s3"

# which documents each holds: its own export's metadata.json
docs() { /usr/bin/python3 -c "import json,sys; [print(d['document']) for d in json.load(open(sys.argv[1]))['documents']]" "$1"; }
kg export -s "$T/whole" -f tree -o "$T/tree.whole" 2>/dev/null
docs "$T/tree.whole/metadata.json" | sort >"$T/docs.whole"
for i in 0 1 2 3; do
	kg export -s "$T/s$i" -f tree -o "$T/tree.s$i" 2>/dev/null
	docs "$T/tree.s$i/metadata.json"
done | sort >"$T/docs.shards"
check "the shards' documents partition the corpus ($(wc -l <"$T/docs.whole") documents, each in exactly one shard)" \
	sh -c "[ -s '$T/docs.whole' ] && cmp -s '$T/docs.whole' '$T/docs.shards' && [ -z \"\$(uniq -d '$T/docs.shards')\" ]"
check "the copy of $first is planned in no shard, as in the whole run" \
	sh -c "! grep -q zz-copy '$T/docs.shards' && ! grep -q zz-copy '$T/docs.whole'"
nonempty=0
for i in 0 1 2 3; do [ -n "$(docs "$T/tree.s$i/metadata.json")" ] && nonempty=$((nonempty + 1)); done
check "every shard has documents of its own ($nonempty of 4)" [ $nonempty -eq 4 ]

# the merged export equals the whole run's, byte for byte: every format, the shards in any order
same_export() { # FORMAT KIND(file|dir): exports both to the same path (kuzu's load.cypher names it)
	local f=$1 out=$T/out.$1
	rm -rf "$out" "$out.whole"
	kg export -s "$T/whole" -f "$f" -o "$out" 2>/dev/null && mv "$out" "$out.whole" &&
		kg export -s "$T/s2" -s "$T/s0" -s "$T/s3" -s "$T/s1" -f "$f" -o "$out" 2>"$T/merge.$f.err" &&
		if [ -d "$out" ]; then diff -r "$out.whole" "$out" >/dev/null; else cmp -s "$out.whole" "$out"; fi &&
		[ -s "$out.whole" ] || [ -d "$out.whole" ]
}
for f in jsonl csv cypher graphml kuzu results tree; do
	check "export -f $f of the 4 shards equals the whole run's byte for byte" same_export $f
done
check "the merged graph is not trivially small ($(wc -l <"$T/out.jsonl.whole") lines)" [ "$(wc -l <"$T/out.jsonl.whole")" -ge 20 ]
kg export -s "$T/s0" -s "$T/s1" -o "$T/part.jsonl" 2>"$T/part.err"
check "two shards of four merge with a warning naming the missing ones" \
	sh -c "grep -q 'shards 2, 3 of 4 not given' '$T/part.err' && ! cmp -s '$T/part.jsonl' '$T/out.jsonl.whole'"
kg export -s "$T/s0" -s "$T/s0" -o "$T/x.jsonl" 2>"$T/twice.err"; rc=$?
check "a shard given twice is refused (exit $rc: $(head -c 120 "$T/twice.err"))" \
	sh -c "[ $rc -eq 2 ] && grep -q 'both shard 0/4' '$T/twice.err'"
kg export -s "$T/whole" -s "$T/s1" -o "$T/x.jsonl" 2>"$T/mix.err"; rc=$?
check "a whole run and a shard are not merged (exit $rc)" [ $rc -eq 2 ]

# status sums the shards
kg status -s "$T/whole" --json >"$T/st.whole"
kg status $S --json >"$T/st.sum"
kg status $S >"$T/st.text"
sumcheck() { /usr/bin/python3 - "$T/st.whole" "$T/st.sum" <<'PY'
import json, sys
w, s = (json.load(open(p)) for p in sys.argv[1:])
for k in ("chunks", "sources"):
    assert w[k] == s[k], (k, w[k], s[k])
for k in ("total", "done", "failed"):
    assert w["batches"][k] == s["batches"][k], (k, w["batches"][k], s["batches"][k])
assert w["requests"]["ok"] == s["requests"]["ok"]
assert s["state"] == "done" and s["shard"] == {"count": 4, "given": [0, 1, 2, 3]}, s["shard"]
PY
}
check "status -s x4 --json: chunks, sources, batches and answers sum to the whole run's" sumcheck
check "status -s x4 says the shards summed" grep -q '^shards     4 of 4 summed: 0, 1, 2, 3' "$T/st.text"
kg status -s "$T/s2" --json >"$T/st.s2"
check "a shard's status names it" [ "$(json_get "$T/st.s2" "j['shard']")" = "{'index': 2, 'count': 4}" ]

# --shard auto
SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=0 \
	kg start -c "$T/cfg.json" -i "$T/in" -s "$T/slurm2" --shard auto -q 2>"$T/slurm.err"; rc=$?
kg export -s "$T/slurm2" -f results -o "$T/slurm2.res" 2>/dev/null
kg export -s "$T/s2" -f results -o "$T/s2.res" 2>/dev/null
check "--shard auto in a Slurm array task 2 of 4 runs shard 2/4 (exit $rc)" \
	sh -c "[ $rc -eq 0 ] && cmp -s '$T/slurm2.res' '$T/s2.res'"
JOB_COMPLETION_INDEX=1 kg start -c "$T/cfg.json" -i "$T/in" -s "$T/k8s1" --shard auto --shards 4 -q 2>"$T/k8s.err"; rc=$?
kg export -s "$T/k8s1" -f results -o "$T/k8s1.res" 2>/dev/null
kg export -s "$T/s1" -f results -o "$T/s1.res" 2>/dev/null
check "--shard auto --shards 4 with JOB_COMPLETION_INDEX=1 runs shard 1/4 (exit $rc)" \
	sh -c "[ $rc -eq 0 ] && cmp -s '$T/k8s1.res' '$T/s1.res'"
kg export -s "$T/s0" -s "$T/slurm2" -s "$T/k8s1" -s "$T/s3" -o "$T/auto.jsonl" 2>/dev/null
check "shards run by --shard auto merge like the others" cmp -s "$T/auto.jsonl" "$T/out.jsonl.whole"

# bad --shard values: exit 2, one line naming the option or the variable
refused() { # WHAT-TO-FIND ARGS... (env before via env)
	local want=$1; shift
	"$@" >"$T/bad.out" 2>"$T/bad.err"; local rc=$?
	grep -v 'warn: ' "$T/bad.err" >"$T/bad.line" # (the look at the server before it: a warning)
	[ $rc -eq 2 ] && [ "$(wc -l <"$T/bad.line")" -eq 1 ] && grep -q -- "$want" "$T/bad.line"
}
B="$KGSUP start -c $T/cfg.json -i $T/in -s $T/bad"
for v in 4/4 -1/4 1/0 1 a/4 '1/4x' 70000/70001; do
	check "--shard $v refused (exit 2, one line naming --shard)" refused --shard $B --shard "$v"
done
check "--shards without --shard auto refused" refused "--shards" $B --shard 1/4 --shards 4
check "--shard auto without Slurm or Kubernetes variables refused, naming both" \
	refused SLURM_ARRAY_TASK_ID env -u SLURM_ARRAY_TASK_ID -u JOB_COMPLETION_INDEX $B --shard auto
check "--shard auto with JOB_COMPLETION_INDEX but no --shards refused, asking for it" \
	refused "--shards N" env JOB_COMPLETION_INDEX=1 $B --shard auto
check "JOB_COMPLETION_INDEX=4 with --shards 4 refused" \
	refused JOB_COMPLETION_INDEX=4 env JOB_COMPLETION_INDEX=4 $B --shard auto --shards 4
check "SLURM_ARRAY_TASK_ID without SLURM_ARRAY_TASK_COUNT refused" \
	refused SLURM_ARRAY_TASK_COUNT env -u SLURM_ARRAY_TASK_COUNT SLURM_ARRAY_TASK_ID=1 $B --shard auto
check "nothing was made for the refused runs" [ ! -e "$T/bad" ]

# a shard's state directory keeps its shard
check "resume of shard 1/4 as --shard 2/4 refused, naming both" \
	refused 'holds shard 1/4 of its run, not shard 2/4' "$KGSUP" resume -s "$T/s1" --shard 2/4
check "start on shard 1/4's directory as 3/4 refused" \
	refused 'holds shard 1/4' $KGSUP start -c $T/cfg.json -i $T/in -s $T/s1 --shard 3/4 -q
kg resume -s "$T/s1" --shard 1/4 -q 2>"$T/resume.err"; rc=$?
check "resume as the same shard goes on (exit $rc)" [ $rc -eq 0 ]

# cache.path on a network file system: refused (statfs answers NFS through a shim)
write_config "$T/cfg-nfs.json" "{\"cache\": {\"path\": \"$T/nfs/cache\"}}"
mkdir -p "$T/nfs"
if under_asan; then
	skip "cache.path on NFS refused" "an LD_PRELOAD shim does not go with AddressSanitizer"
	skip "-" "-"
elif ! cc -shared -fPIC -o "$T/nfs_shim.so" "$TOP/tests/integration/nfs_shim.c" -ldl 2>"$T/cc.err"; then
	skip "cache.path on NFS refused" "cannot build the shim: $(head -n 1 "$T/cc.err")"
	skip "-" "-"
else
	check "cache.path on NFS refused (exit 2, naming NFS and the path)" \
		refused "cache.path: $T/nfs/cache is on NFS" env LD_PRELOAD="$T/nfs_shim.so" \
		KGSUP_NFS_PREFIX="$T/nfs" $KGSUP start -c "$T/cfg-nfs.json" -i "$T/in" -s "$T/nfsrun" --shard 0/4
	LD_PRELOAD="$T/nfs_shim.so" KGSUP_NFS_PREFIX="$T/elsewhere" kg start -c "$T/cfg-nfs.json" \
		-i "$T/in" -s "$T/localrun" --shard 0/4 -q 2>"$T/local.err"; rc=$?
	check "the same cache.path on a local disk is used (exit $rc)" \
		sh -c "[ $rc -eq 0 ] && [ -e '$T/nfs/cache/data.mdb' ]"
fi
# etc/slurm/kgsup.sbatch as shipped, run as Slurm would run the tasks of --array=0-3
rcs=
for i in 0 1 2 3; do
	SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_JOB_ID=77 \
		KGSUP="$KGSUP" KGSUP_CONFIG="$T/cfg.json" KGSUP_INPUT="$T/in" KGSUP_STATES="$T/slurm" \
		KGSUP_LOCAL="$T/node" KGSUP_WORKERS=4 bash "$TOP/etc/slurm/kgsup.sbatch" >"$T/sbatch$i.log" 2>&1
	rcs="$rcs$?"
done
kg export $(for i in 3 2 1 0; do echo -s "$T/slurm/shard-$i"; done) -o "$T/sbatch.jsonl" 2>/dev/null
check "etc/slurm/kgsup.sbatch as 4 array tasks (exits $rcs): the merged export equals the whole run's" \
	sh -c "[ $rcs = 0000 ] && cmp -s '$T/sbatch.jsonl' '$T/out.jsonl.whole'"

# more shards than documents: those without one are done at once
mkdir -p "$T/one"
cp "$T/in/$first" "$T/one/"
rcs=
for i in 0 1 2 3 4 5; do
	kg start -c "$T/cfg.json" -i "$T/one" -s "$T/one$i" --shard $i/6 -q 2>/dev/null
	rcs="$rcs$?"
done
kg status $(for i in 0 1 2 3 4 5; do echo -s "$T/one$i"; done) --json >"$T/one.st"
sum=$(json_get "$T/one.st" "'%d %s %s' % (j['sources'], j['batches']['done'] == j['batches']['total'] > 0, j['state'])")
check "one document in 6 shards: every shard exits 0 ($rcs), the sum is that document's ($sum)" \
	sh -c "[ $rcs = 000000 ] && [ '$sum' = '1 True done' ]"
stop_mock

# with stages: documents stages, a graph stage over chunks and a stage that needs both, on
# levels; the shards' documents carry their stages along
start_mock --per-chunk 3
export MOCK_API_KEY=sk-mock-$$-secret
/usr/bin/python3 - "$TOP/etc/jobs/analyzers.json" "$T/job.json" <<'PY'
import json, os, sys
j = json.load(open(sys.argv[1]))
base = os.path.dirname(os.path.abspath(sys.argv[1]))
summary, themes = j["stages"][0], dict(j["stages"][-1])
themes["needs"] = ["summary", "kg"]
j["stages"] = [summary, {"name": "kg", "over": "chunks", "per_call": 2, "graph": True}, themes]
for st in j["stages"]:  # the files beside the job it came from
    if "schema" in st:
        st["schema"] = os.path.join(base, st["schema"])
    for k in st.get("prompt", {}):
        st["prompt"][k] = os.path.join(base, st["prompt"][k])
json.dump(j, open(sys.argv[2], "w"))
PY
job_config "$T/stages.json" "$T/job.json" '{"chunking": {"chunk_tokens": 80, "overlap_tokens": 0}}'
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" --files 8 --words 250 --seed 5 "$T/in2" >/dev/null
kg start -c "$T/stages.json" -i "$T/in2" -s "$T/wst" -q 2>"$T/wst.err"; rc=$?
rcs=
for i in 0 1 2; do
	kg start -c "$T/stages.json" -i "$T/in2" -s "$T/st$i" --shard $i/3 -q 2>"$T/st$i.err"
	rcs="$rcs$?"
done
check "with stages: the whole run and 3 shards finish (exits $rc, $rcs)" [ "$rc$rcs" = 0000 ]
# metadata.json's latency_ms is each call's own: the same in no two runs
nolatency() { /usr/bin/python3 - "$1" <<'PY'
import json, re, sys
p = sys.argv[1]
open(p, "w").write(re.sub(r'"latency_ms":[0-9]+', '"latency_ms":0', open(p).read()))
PY
}
same_stages() {
	local f=$1 out=$T/sout.$1
	rm -rf "$out" "$out.whole"
	kg export -s "$T/wst" -f "$f" -o "$out" 2>/dev/null && mv "$out" "$out.whole" &&
		kg export -s "$T/st1" -s "$T/st2" -s "$T/st0" -f "$f" -o "$out" 2>/dev/null || return 1
	if [ -d "$out" ]; then
		nolatency "$out/metadata.json" && nolatency "$out.whole/metadata.json" &&
			diff -r "$out.whole" "$out" >/dev/null
	else
		[ -s "$out.whole" ] && cmp -s "$out.whole" "$out"
	fi
}
for f in jsonl graphml results tree; do
	check "with stages: export -f $f of 3 shards equals the whole run's" same_stages $f
done
check "with stages: the merged results hold every stage of every document ($(wc -l <"$T/sout.results.whole") lines)" \
	sh -c "[ $(grep -c '"stage":"themes"' "$T/sout.results") -eq $(grep -c '"stage":"summary"' "$T/sout.results") ] && [ $(grep -c '"stage":"kg"' "$T/sout.results") -gt 0 ] && [ $(grep -c '"stage":"themes"' "$T/sout.results") -ge 8 ]"
job_config "$T/rows.json" "$TOP/etc/jobs/feedback.json"
mkdir -p "$T/tables"
printf 'id,comment\n1,The app is slow\n2,Love the new search\n' >"$T/tables/fb.csv"
check "a job over rows is not sharded (exit 2, saying so)" \
	refused 'a job over rows is not sharded' "$KGSUP" start -c "$T/rows.json" -i "$T/tables" -s "$T/rows" --shard 0/2 -q
stop_mock
unset MOCK_API_KEY

# a shard killed with SIGKILL mid-run and resumed buys nothing twice beyond the calls in flight
start_mock --latency-ms 400
write_config "$T/cfg.json" '{"chunking": {"chunk_tokens": 60, "overlap_tokens": 0, "chunks_per_batch": 3}}'
"$KGSUP" start -c "$T/cfg.json" -i "$T/in" -s "$T/kill2" --shard 2/4 -w 4 -q 2>"$T/kill.err" &
pid=$!
for _ in $(seq 200); do [ "$(mock_stat ok)" -ge 6 ] && break; sleep 0.05; done
kill -KILL $pid
wait $pid 2>/dev/null
for _ in $(seq 100); do pgrep -f -- "kgsup __worker [0-9]* $T/kill2" >/dev/null || break; sleep 0.1; done
before=$(mock_stat ok)
kg resume -s "$T/kill2" -q 2>>"$T/kill.err"; rc=$?
total=$(json_get "$T/st.s2" "j['batches']['total']")
check "the killed shard resumes to the end (exit $rc; $before of $total answers bought before the kill)" \
	sh -c "[ $rc -eq 0 ] && [ $before -lt $total ]"
dup=$(mock_stat duplicate_ok)
check "no answer bought twice beyond the 4 calls in flight ($dup bought again, $(mock_stat distinct_ok_bodies) distinct of $total)" \
	sh -c "[ $dup -le 4 ] && [ $(mock_stat distinct_ok_bodies) -eq $total ]"
kg export -s "$T/s0" -s "$T/s1" -s "$T/kill2" -s "$T/s3" -o "$T/kill.jsonl" 2>/dev/null
check "the resumed shard merges into the whole run's graph" cmp -s "$T/kill.jsonl" "$T/out.jsonl.whole"
stop_mock

finish
