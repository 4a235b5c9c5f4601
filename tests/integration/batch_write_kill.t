#!/bin/bash
# batch_write_kill.t: kill -9 while a part of the Batch API is being written (some of its lines
# in its file, the part not recorded), then resume: the part is written again whole under the
# same number, submitted once, and every request is answered once.
. "$(dirname "$0")/lib.sh"
plan 4

# many small requests: rendering them into the part takes long enough to be caught at it
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 300 --words 2000 >/dev/null
start_mock --batch-delay-s 1
write_config "$T/c.json" '{"chunking": {"chunks_per_batch": 1}, "batch": {"poll_s": 0.1}}'
S=$T/run
"$KGSUP" start -c "$T/c.json" -i "$T/in" -s "$S" --batch-api --no-progress 2>"$S.err" &
pid=$!
# killed the moment the part's file holds its first bytes, before they are all out and synced
# and the part recorded (the supervisor alone: its children die with it)
caught=$(/usr/bin/python3 -c "import os, signal, sys, time
path, pid = sys.argv[1], int(sys.argv[2])
end = time.time() + 60
while time.time() < end and not (os.path.exists(path) and os.path.getsize(path)):
    time.sleep(0.0002)
os.kill(pid, signal.SIGKILL)
print(os.path.getsize(path) if os.path.exists(path) else 'none')" "$S/batchapi/part-000000.jsonl" $pid)
wait $pid 2>/dev/null
for _ in $(seq 100); do pgrep -f -- "kgsup __[a-z]* .*$S" >/dev/null || break; sleep 0.1; done
before=$(grep -c "requests written" "$S.err")
kg status -s "$S" --json >"$T/st0.json" 2>/dev/null
check "killed while part 0 was being written (its file had $caught bytes, the log $before 'requests written', $(mock_stat files_uploaded) uploads)" \
	eval '[ "$caught" != none ] && [ "$before:$(mock_stat files_uploaded)" = 0:0 ]'
kg resume -s "$S" --no-progress 2>>"$S.err"; rc=$?
kg batches -s "$S" --json >"$T/b.json" 2>/dev/null
total=$(json_get "$T/st0.json" "j['batches']['total']")
check "resumed: exit 0 (got $rc), all $total batches done" \
	eval '[ $rc = 0 ] && [ "$(kg status -s "$S" --json 2>/dev/null | /usr/bin/python3 -c "import json,sys; b=json.load(sys.stdin)[\"batches\"]; print(b[\"done\"] == b[\"total\"] and b[\"failed\"] == 0)")" = True ]'
lines=$(json_get "$T/b.json" "sum(p['lines'] for p in j['batch_api']['batches'])")
check "part 0 written again whole: the parts' lines ($lines) are the batches ($total), each line of its file once" \
	eval '[ "$lines" = "$total" ] && [ "$(cat "$S"/batchapi/part-??????.jsonl | wc -l)" = "$total" ] &&
	      [ "$(cat "$S"/batchapi/part-??????.jsonl | /usr/bin/python3 -c "import json,sys; ids=[json.loads(l)[\"custom_id\"] for l in sys.stdin]; print(len(ids) == len(set(ids)))")" = True ]'
check "submitted once, nothing bought twice ($(mock_stat files_uploaded) uploads, $(mock_stat batches_created) batches, $(mock_stat batch_custom_ids_twice) custom_ids twice, $(mock_stat requests) live)" \
	[ "$(mock_stat files_uploaded):$(mock_stat batches_created):$(mock_stat batch_custom_ids_twice):$(mock_stat requests)" = "$(json_get "$T/b.json" "len(j['batch_api']['batches'])"):$(json_get "$T/b.json" "len(j['batch_api']['batches'])"):0:0" ]
stop_mock
finish
