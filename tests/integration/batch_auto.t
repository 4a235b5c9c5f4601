#!/bin/bash
# batch_auto.t: run.mode "auto" sends through the Batch API the stages whose answers would come
# back within batch.max_wait_h, counting batch.expected_h a round, and the rest live. The
# analyzers job has two levels of stages over documents: four that read nothing, four that read
# those. With a day a round and 30 hours accepted, the first level goes through batches and the
# second live; 48 hours take both through batches; 10 hours none. Each run's answers are the
# live run's, and nothing is bought twice, also across a kill -9 and resume. plan prices the
# route; a wrong mode names the key.
. "$(dirname "$0")/lib.sh"
plan 16

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 3 --words 1500 >/dev/null
FIRST="action_items decisions risks summary"
SECOND="follow_ups risk_review synthesis themes"
# auto_cfg FILE MAX_WAIT_H [MODE]: the analyzers job, run.mode auto, a day a round
auto_cfg() {
	job_config "$1" "$TOP/etc/jobs/analyzers.json" \
		"{\"batch\": {\"poll_s\": 0.1, \"max_wait_h\": $2, \"expected_h\": 24}, \"run\": {\"mode\": \"${3:-auto}\"}}"
	/usr/bin/python3 -c "import json, sys
c = json.load(open(sys.argv[1]))
c['api']['api_key_env'] = 'OPENAI_API_KEY'  # as write_config's: this mock takes any key
json.dump(c, open(sys.argv[1], 'w'))" "$1"
}
# live_stages: the stages of the live calls the mock answered, sorted, once each
live_stages() {
	curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats?bodies=1" |
		/usr/bin/python3 -c "import json, sys
print(' '.join(sorted({e['stage'] for e in json.load(sys.stdin)['requests_log']})))"
}
# same_tree DIR: the run's tree export is the live run's, file for file
same_tree() { kg export -s "$1" -f tree -o "$1.tree" 2>/dev/null && diff -r -x metadata.json "$T/live.tree" "$1.tree" >/dev/null; }

# the live run: the reference
start_mock
auto_cfg "$T/live.json" 0 live
kg start -c "$T/live.json" -i "$T/in" -s "$T/live" -q 2>"$T/live.err"
kg export -s "$T/live" -f tree -o "$T/live.tree" 2>/dev/null
live_requests=$(mock_stat requests)
stop_mock
diag "live: $live_requests requests"

# (1) 30 hours accepted: the first level through batches, the second live
start_mock
auto_cfg "$T/a30.json" 30
kg plan -c "$T/a30.json" -i "$T/in" --json >"$T/plan30.json" 2>/dev/null
kg plan -c "$T/a30.json" -i "$T/in" >"$T/plan30.txt" 2>/dev/null
kg start -c "$T/a30.json" -i "$T/in" -s "$T/a30" --no-progress 2>"$T/a30.err"; rc=$?
check "30 h accepted: exit 0 (got $rc), the answers are the live run's" \
	eval '[ $rc = 0 ] && same_tree "$T/a30"'
check "the stages read first went through batches, the others live (live: $(live_stages))" \
	[ "$(live_stages)" = "$SECOND" ]
lines=$(mock_stat batch_lines_submitted); live=$(mock_stat requests)
check "each request once: $lines lines in batches + $live live = the live run's $live_requests" \
	eval '[ $((lines + live)) = "$live_requests" ] && [ "$lines" -gt 0 ]'
check "none bought twice ($(mock_stat batch_custom_ids_twice) custom_ids twice, $(mock_stat duplicate_ok) bodies twice)" \
	[ "$(mock_stat batch_custom_ids_twice):$(mock_stat duplicate_ok)" = "0:0" ]
check "the log says where each stage goes and why" \
	eval 'grep -q "run.mode auto: stage summary: through the Batch API, answers expected 24 h" "$T/a30.err" &&
	      grep -q "run.mode auto: stage synthesis: live, as another round through the Batch API would make it 48 h" "$T/a30.err"'
report_saved=$(json_get "$T/a30/report.json" "j.get('batch_api', {}).get('saved_usd', 0)")
check "report.json counts the saving of the batched stages (\$$report_saved)" \
	/usr/bin/python3 -c "import sys; sys.exit(not float(sys.argv[1]) > 0)" "$report_saved"
check "plan prices the route: auto cost below the live one, 4 stages through batches ($(cat "$T/plan30.json"))" \
	/usr/bin/python3 -c "import json, sys
p = json.load(open(sys.argv[1])); a = p['auto_cost_usd']; c = p['cost_usd']
sys.exit(not (a['batch_api_stages'] == 4 and 0 < a['prompt'] < c['prompt']))" "$T/plan30.json"
check "plan says the route per stage" \
	eval 'grep -q "^stage risks: through the Batch API" "$T/plan30.txt" && grep -q "^stage themes: live" "$T/plan30.txt"'
stop_mock

# (2) 48 hours: both levels through batches, no live call
start_mock
auto_cfg "$T/a48.json" 48
kg start -c "$T/a48.json" -i "$T/in" -s "$T/a48" -q 2>"$T/a48.err"; rc=$?
check "48 h accepted: exit 0 (got $rc), the live run's answers" eval '[ $rc = 0 ] && same_tree "$T/a48"'
check "every stage through batches: no live call ($(mock_stat requests)), $(mock_stat batch_lines_ok) lines" \
	[ "$(mock_stat requests):$(mock_stat batch_lines_ok)" = "0:$live_requests" ]
stop_mock

# (3) 10 hours: less than a round, all live, no batch made
start_mock
auto_cfg "$T/a10.json" 10
kg start -c "$T/a10.json" -i "$T/in" -s "$T/a10" -q 2>"$T/a10.err"; rc=$?
check "10 h accepted: exit 0 (got $rc), the live run's answers" eval '[ $rc = 0 ] && same_tree "$T/a10"'
check "all live: no batch made ($(mock_stat batches_created)), $(mock_stat requests) live calls" \
	[ "$(mock_stat batches_created):$(mock_stat requests)" = "0:$live_requests" ]
stop_mock

# (4) killed -9 while its batch is at the provider, then resumed: the route holds, no request
# twice
start_mock --batch-delay-s 2
auto_cfg "$T/k.json" 30
"$KGSUP" start -c "$T/k.json" -i "$T/in" -s "$T/k" --no-progress 2>"$T/k.err" &
pid=$!
for _ in $(seq 1200); do grep -q "submitted as batch" "$T/k.err" && break; sleep 0.05; done
# (killed with its batch out: submitted, not yet collected)
killed=$(grep -c "submitted as batch" "$T/k.err"):$(grep -c "collected" "$T/k.err")
kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null
for _ in $(seq 100); do pgrep -f -- "kgsup __[a-z]* .*$T/k" >/dev/null || break; sleep 0.1; done
kg resume -s "$T/k" --no-progress 2>>"$T/k.err"; rc=$?
check "killed -9 with its batch out (seen: $killed), resumed: exit 0 (got $rc), the live run's answers" \
	eval '[ "$killed:$rc" = 1:0:0 ] && same_tree "$T/k"'
lines=$(mock_stat batch_lines_submitted); live=$(mock_stat requests)
check "after the crash, each request once ($lines in batches, $live live, $(mock_stat batches_created) batches, $(mock_stat batch_custom_ids_twice) custom_ids twice, $(mock_stat duplicate_ok) bodies twice) and live only the stages read last ($(live_stages))" \
	eval '[ "$((lines + live)):$(mock_stat batches_created):$(mock_stat batch_custom_ids_twice):$(mock_stat duplicate_ok)" = "$live_requests:1:0:0" ] &&
	      [ "$(live_stages)" = "$SECOND" ]'
stop_mock

# (5) a mode that is none of them: one line naming the key, exit 2
auto_cfg "$T/bad.json" 30
sed -i 's/"auto"/"sometimes"/' "$T/bad.json"
kg start -c "$T/bad.json" -i "$T/in" -s "$T/bad" -q 2>"$T/bad.err"; rc=$?
check "run.mode \"sometimes\": exit 2 (got $rc), the key named ($(tail -1 "$T/bad.err"))" \
	eval '[ $rc = 2 ] && grep -q "run.mode: \"sometimes\" is not \"live\", \"batch\" or \"auto\"" "$T/bad.err"'
check "nothing was made for it" [ ! -e "$T/bad/db" ]
finish
