#!/bin/bash
# batchapi.t: runs through the OpenAI Batch API (start --batch-api) against the mock's Files and
# Batches endpoints. The graph is the live run's; the bodies are the live calls' to the byte;
# no answer is bought twice; failed and expired lines are finished live or in a later batch;
# a batch refused for the enqueued-token limit is submitted again; the cost is the discounted
# one; kill -9 after an upload, after a create (the provider has made the batch, kgsup never
# heard of it), while a batch runs and while downloading, then resume: no batch submitted
# twice, nothing lost; stop leaves batches at the provider and `batches --cancel` cancels them.
. "$(dirname "$0")/lib.sh"
plan 28

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 8 --words 1500 >/dev/null
# (two chunks a call: some answers are cut off at max_tokens and split, as live)
run_cfg() { write_config "$1" "{\"chunking\": {\"chunks_per_batch\": 2}, ${2:-\"batch\": {\"poll_s\": 0.1\}}}"; }

# the live run: the reference graph and cost
start_mock
run_cfg "$T/live.json"
kg start -c "$T/live.json" -i "$T/in" -s "$T/live" -q 2>"$T/live.err"
kg export -s "$T/live" -o "$T/live.jsonl" 2>/dev/null
live_cost=$(json_get "$T/live/report.json" "j['cost_usd']")
live_requests=$(mock_stat requests)
stop_mock
diag "live: $live_requests requests, \$$live_cost"

# same_graph DIR: the run's export is the live run's
same_graph() { kg export -s "$1" -o "$1.jsonl" 2>/dev/null && cmp -s "$T/live.jsonl" "$1.jsonl"; }
# stats: the mock's counters a check shows
stats() { mock_stat "$1"; }

# (1) a whole run through the Batch API, then the live run again on the same mock
start_mock
run_cfg "$T/b1.json"
kg plan -c "$T/b1.json" -i "$T/in" --batch-api --json >"$T/plan.json" 2>/dev/null
kg start -c "$T/b1.json" -i "$T/in" -s "$T/b1" --batch-api -q 2>"$T/b1.err"; rc=$?
check "a run through the Batch API: exit 0 (got $rc)" [ $rc -eq 0 ]
check "its graph is the live run's" same_graph "$T/b1"
check "no live call; every line answered ($(stats requests) live, $(stats batch_lines_ok) of $(stats batch_lines_submitted) lines)" \
	[ "$(stats requests):$(stats batch_lines_ok)" = "0:$(stats batch_lines_submitted)" ]
check "no answer bought twice ($(stats batch_custom_ids_twice) custom_ids in two batches, $(stats duplicate_ok) bodies twice)" \
	[ "$(stats batch_custom_ids_twice):$(stats duplicate_ok)" = 0:0 ]
cost=$(json_get "$T/b1/report.json" "j['cost_usd']")
saved=$(json_get "$T/b1/report.json" "j['batch_api']['saved_usd']")
check "report.json: the cost is the live one at pricing.batch_discount (\$$cost, saved \$$saved, live \$$live_cost)" \
	/usr/bin/python3 -c "import sys; c, s, l = map(float, sys.argv[1:]); sys.exit(not (l > 0 and abs(c - l / 2) < 1e-6 and abs(s - l / 2) < 1e-6))" "$cost" "$saved" "$live_cost"
check "plan --batch-api prices both ways ($(json_get "$T/plan.json" "j['cost_usd']['prompt'], j['batch_api_cost_usd']['prompt']"))" \
	[ "$(json_get "$T/plan.json" "abs(j['batch_api_cost_usd']['prompt'] - j['cost_usd']['prompt'] * 0.5) < 1e-6 and j['cost_usd']['prompt'] > 0")" = True ]
kg status -s "$T/b1" --json >"$T/st1.json" 2>/dev/null
kg batches -s "$T/b1" --json >"$T/bt1.json" 2>/dev/null
check "status and batches list the parts, one provider batch each, all collected ($(stats batches_created) made)" \
	[ "$(json_get "$T/bt1.json" "len(j['batch_api']['batches']) == $(stats batches_created) and all(p['state'] == 'collected' and p['status'] == 'completed' for p in j['batch_api']['batches'])"):$(json_get "$T/st1.json" "j['batch_api']['parts']")" = "True:$(stats batches_created)" ]
made=$(stats batches_created)
kg resume -s "$T/b1" -q 2>>"$T/b1.err"; rc=$?
check "resume of the finished run: exit 0, nothing uploaded or made (rc $rc)" \
	[ "$rc:$(stats batches_created)" = "0:$made" ]
# the same requests live on this mock: every body the batches sent is one a live call sends
distinct=$(stats distinct_ok_bodies)
kg start -c "$T/b1.json" -i "$T/in" -s "$T/l1" -q 2>"$T/l1.err"
check "the lines' bodies are the live calls' to the byte ($(stats requests) live calls, $(stats duplicate_ok) answers of bodies answered before in a batch, $distinct -> $(stats distinct_ok_bodies) distinct)" \
	[ "$(stats distinct_ok_bodies):$(stats requests):$(($(stats duplicate_ok) > 0))" = "$distinct:$live_requests:1" ]
stop_mock

# (2) failed lines finished live (batch.fallback "live", the default)
start_mock --batch-fail-every 4
run_cfg "$T/b2.json"
kg start -c "$T/b2.json" -i "$T/in" -s "$T/b2" --batch-api -q 2>"$T/b2.err"; rc=$?
check "lines answered 500 in the batch: exit 0 (got $rc)" [ $rc -eq 0 ]
check "the failed lines were finished live, once each ($(stats batch_lines_failed) failed, $(stats requests) live calls, $(stats duplicate_ok) twice)" \
	[ "$(stats duplicate_ok):$(($(stats batch_lines_failed) > 0 && $(stats requests) == $(stats batch_lines_failed)))" = 0:1 ]
check "its graph is the live run's" same_graph "$T/b2"
stop_mock

# (3) expired lines asked again in a later batch (batch.fallback "batch")
start_mock --batch-expire-after 8
run_cfg "$T/b3.json" '"batch": {"poll_s": 0.1, "fallback": "batch"}'
kg start -c "$T/b3.json" -i "$T/in" -s "$T/b3" --batch-api -q 2>"$T/b3.err"; rc=$?
check "batches that expire: exit 0 (got $rc)" [ $rc -eq 0 ]
check "expired lines asked again in later batches, none live ($(stats batch_lines_expired) expired, $(stats batches_created) batches, $(stats requests) live)" \
	[ "$(stats requests):$(stats batch_custom_ids_twice):$(($(stats batch_lines_expired) > 0))" = "0:0:1" ]
check "its graph is the live run's" same_graph "$T/b3"
stop_mock

# (4) the provider's enqueued-token limit: a part at a time fits; each batch takes 3 s, so the next
# part is created while the one before is still enqueued even on a loaded machine
q=15000
start_mock --batch-queue-tokens $q --batch-delay-s 3
run_cfg "$T/b4.json" '"batch": {"poll_s": 0.1, "max_requests": 4}'
kg start -c "$T/b4.json" -i "$T/in" -s "$T/b4" --batch-api -q 2>"$T/b4.err"; rc=$?
kg status -s "$T/b4" --json >"$T/st4.json" 2>/dev/null
check "batches refused for the queue limit are submitted again: exit 0 ($rc; $(stats batch_queue_refused) refusals, kgsup counted $(json_get "$T/st4.json" "j['batch_api']['queue_refusals']"))" \
	[ "$rc:$(json_get "$T/st4.json" "j['batch_api']['queue_refusals'] > 0 and j['batch_api']['failed'] == 0"):$(($(stats batch_queue_refused) > 0))" = "0:True:1" ]
b4_ok() { same_graph "$T/b4" && [ "$(stats batch_custom_ids_twice)" = 0 ]; }
check "its graph is the live run's, no line bought twice" b4_ok
stop_mock
start_mock --batch-queue-tokens $q --batch-delay-s 3
run_cfg "$T/b5.json" "\"batch\": {\"poll_s\": 0.1, \"max_requests\": 4}, \"limits\": {\"batch_queue_tokens\": $q}"
kg start -c "$T/b5.json" -i "$T/in" -s "$T/b5" --batch-api -q 2>"$T/b5.err"; rc=$?
check "with limits.batch_queue_tokens set, kgsup holds parts back instead: none refused ($rc; $(stats batch_queue_refused) refusals)" \
	[ "$rc:$(stats batch_queue_refused)" = 0:0 ]
stop_mock

# (5) kill -9 at each step, then resume
start_mock --batch-stall-s 1.5 --batch-delay-s 1
run_cfg "$T/b6.json" '"batch": {"poll_s": 0.1, "max_requests": 3}'
S=$T/b6
KILLS=
# crash_when COUNTER|LOG: starts (or resumes) the run and kills -9 the supervisor once the
# mock's COUNTER has grown (the answer to that upload or create is then held: kgsup never hears
# it) or once the log shows LOG
crash_when() {
	local before=0 from
	from=$(cat "$S.err" 2>/dev/null | wc -l)
	case $1 in files_uploaded | batches_created) before=$(stats "$1") ;; esac
	if [ -d "$S/db" ]; then "$KGSUP" resume -s "$S" --no-progress 2>>"$S.err" &
	else "$KGSUP" start -c "$T/b6.json" -i "$T/in" -s "$S" --batch-api --no-progress 2>>"$S.err" & fi
	local pid=$! seen=
	for _ in $(seq 400); do
		case $1 in
		files_uploaded | batches_created) [ "$(stats "$1")" -gt "$before" ] && seen=1 && break ;;
		*) tail -n +$((from + 1)) "$S.err" | grep -q "$1" && seen=1 && break ;;
		esac
		sleep 0.05
	done
	# (counted only when the run was killed at that point, not when it had ended or went past)
	kill -KILL $pid 2>/dev/null && [ -n "$seen" ] && KILLS="$KILLS ${1// /_}"
	wait $pid 2>/dev/null
	for _ in $(seq 100); do pgrep -f -- "kgsup __[a-z]* .*$S" >/dev/null || break; sleep 0.1; done
}
crash_when "requests written"
crash_when files_uploaded
crash_when batches_created
crash_when "submitted as batch"
crash_when "downloaded"
crash_when batches_created
kg resume -s "$S" --no-progress 2>>"$S.err"; rc=$?
kg batches -s "$S" --json >"$T/bt6.json" 2>/dev/null
check "killed -9 after a file was written, after an upload, a create, while a batch ran, after a download, resumed each time (killed at:$KILLS): exit 0 (got $rc)" \
	[ "$rc:$(for k in requests_written files_uploaded batches_created submitted_as_batch downloaded; do case " $KILLS " in *" $k "*) ;; *) echo "$k "; esac; done)" = 0: ]
check "its graph is the live run's" same_graph "$S"
check "no batch submitted twice: the batches made are the parts' ($(stats batches_created) made, $(json_get "$T/bt6.json" "len(j['batch_api']['batches'])") parts, $(stats files_uploaded) uploads)" \
	[ "$(stats batches_created)" = "$(json_get "$T/bt6.json" "len(set(p['batch_id'] for p in j['batch_api']['batches']))")" ]
check "no answer bought twice ($(stats batch_custom_ids_twice) custom_ids in two batches, $(stats requests) live)" \
	[ "$(stats batch_custom_ids_twice):$(stats requests)" = 0:0 ]
check "the batch made while kgsup was dead was found by listing (the log says so)" \
	grep -q "found its batch" "$S.err"
stop_mock

# (6) stop leaves the batches at the provider; batches --cancel cancels them
start_mock --batch-delay-s 30
run_cfg "$T/b7.json"
"$KGSUP" start -c "$T/b7.json" -i "$T/in" -s "$T/b7" --batch-api -q 2>"$T/b7.err" &
pid=$!
for _ in $(seq 200); do [ "$(stats batches_created)" -gt 0 ] && break; sleep 0.05; done
sleep 0.5
kg stop -s "$T/b7" 2>/dev/null; wait $pid; rc=$?
kg batches -s "$T/b7" --json >"$T/bt7.json" 2>/dev/null
check "stop: the run stops (exit $rc) and its batches stay at the provider, listed" \
	[ "$rc:$(json_get "$T/bt7.json" "len(j['batch_api']['batches']) > 0 and all(p['state'] == 'submitted' for p in j['batch_api']['batches'])")" = 75:True ]
kg batches -s "$T/b7" --cancel >"$T/cancel.out" 2>&1; rc=$?
check "batches --cancel cancels them (exit $rc; $(stats batch_statuses))" \
	[ "$rc:$(curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin)['batch_statuses']; print(sorted(d) == ['cancelled'] or sorted(d) == ['cancelling'] or set(d) <= {'cancelled', 'cancelling'})")" = 0:True ]
stop_mock

# (7) a job of stages on two models (risks and the stages that read the first four on another):
# a stage's lines go out once the stages it reads have
# answered (its bodies hold their answers), and each part holds one model's lines (the provider
# refuses a file naming two)
stages_cfg() {
	job_config "$1" "$TOP/etc/jobs/analyzers.json" '{"batch": {"poll_s": 0.1}}'
	/usr/bin/python3 -c "import json, sys
c = json.load(open(sys.argv[1]))
c['api']['api_key_env'] = 'OPENAI_API_KEY'  # as write_config's: this mock takes any key
for st in c['stages']:
    if st.get('needs') or st['name'] == 'risks':
        st['model'] = 'gpt-4o'
json.dump(c, open(sys.argv[1], 'w'))" "$1"
}
mkdir -p "$T/in3" && cp $(ls "$T"/in/* | head -3) "$T/in3/"
start_mock
stages_cfg "$T/s.json"
kg start -c "$T/s.json" -i "$T/in3" -s "$T/sl" -q 2>"$T/sl.err"
kg export -s "$T/sl" -f tree -o "$T/sl.tree" 2>/dev/null
stop_mock
start_mock
stages_cfg "$T/s.json"
kg start -c "$T/s.json" -i "$T/in3" -s "$T/sb" --batch-api -q 2>"$T/sb.err"; rc=$?
kg export -s "$T/sb" -f tree -o "$T/sb.tree" 2>/dev/null
# (the trees of both runs hold the same files, byte for byte; metadata.json names the run)
stages_ok() { [ "$rc" = 0 ] && [ -n "$(ls "$T/sl.tree")" ] && diff -r -x metadata.json "$T/sl.tree" "$T/sb.tree" >/dev/null; }
check "stages on two models through the Batch API: exit $rc, every stage's answers the live run's" stages_ok
statuses=$(curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats" |
	/usr/bin/python3 -c "import json, sys; print(' '.join(sorted(json.load(sys.stdin)['batch_statuses'])))")
check "no file refused, no live call (batches: $statuses; $(stats batches_created) made, $(stats requests) live)" \
	[ "$(stats requests):$statuses" = "0:completed" ]
stop_mock

# (8) the binary replaced under a live run (an upgrade: a new file moved over the old one): the
# run's later Batch API ops still start, from the path it was started as
start_mock --batch-delay-s 2
run_cfg "$T/b8.json"
cp "$KGSUP" "$T/kgsup-old"
"$T/kgsup-old" start -c "$T/b8.json" -i "$T/in3" -s "$T/b8" --batch-api -q 2>"$T/b8.err" &
pid=$!
for _ in $(seq 200); do [ "$(stats batches_created)" -gt 0 ] && break; sleep 0.05; done
cp "$KGSUP" "$T/kgsup-new" && mv "$T/kgsup-new" "$T/kgsup-old"
# (a run that cannot start its ops tries again forever: a minute, then it is killed)
for _ in $(seq 600); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -KILL $pid 2>/dev/null
wait $pid; rc=$?
check "the binary replaced while its batch ran: the run finishes (exit $rc; $(grep -c 'cannot start' "$T/b8.err") ops could not start)" \
	[ "$rc:$(grep -c 'cannot start' "$T/b8.err")" = 0:0 ]
stop_mock
finish
