#!/bin/bash
# stages.t: the analyzers job (etc/jobs/analyzers.json: four stage-A analyzers over documents,
# four stage-B ones needing all of them) against the mock, which records when each request came
# in and when its answer went out (requests_log). Stage B of a document goes only after its
# stage-A answers, and per document, not behind a barrier; every stage-B context is the
# document's own answers, JSON, within top_n and the budget; a failed need blocks only its
# document and --retry-failed sends just that; kill -9 mid-pipeline and resume buys nothing
# twice beyond the calls in flight; a changed synthesis prompt resends only synthesis; config
# errors name the file and line or key; a config without stages sends the requests of before.
. "$(dirname "$0")/lib.sh"
plan 32

export MOCK_API_KEY=mock-key-$$   # the configs' api_key_env: the mock refuses any other key
CHECK=$TOP/tests/integration/stages_check.py
DOCS=7
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files $DOCS --words 400 --formats txt,md,vtt,srt
# mk_config DST [--budget N] [--user STAGE=FILE]: the analyzers job at the running mock
mk_config() { /usr/bin/python3 "$CHECK" config "$TOP/etc/jobs/analyzers.json" "$1" "$MOCK_URL" "$T/mock/cert.pem" "${@:2}"; }
# mock_log FILE: the mock's /stats with its requests_log
mock_log() { curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats?bodies=1" >"$1"; }
# field NAME=VALUE... LINE: the value of NAME in a "a=1 b=2" line
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# --- 1. ordering: risks is slow (300 ms) for every document, 2 workers. Stage-A batches go
# first (they unblock others), so the workers take turns at the slow calls; with an odd number
# of documents one worker is still on the last document's risks call for most of 300 ms while
# the other is free: per document, stage B of the first documents goes then; behind a barrier
# it would wait for that call
start_mock --latency-ms 5 --stage-latency risks=300
mk_config "$T/cfg.json"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s1" -w 2 --no-progress 2>"$T/s1.err"; rc=$?
check "analyzers job: exit 0 (got $rc)" [ $rc -eq 0 ]
mock_log "$T/log1.json"
order=$(/usr/bin/python3 "$CHECK" order "$T/log1.json")
diag "$order"
check "every document's stage A and B reached the mock ($(field b_requests "$order") stage-B calls, $(field docs "$order") documents)" \
	[ "$(field b_requests "$order"):$(field docs "$order")" = "$((DOCS * 4)):$DOCS" ]
check "no stage-B request came in before its document's last stage-A answer went out" \
	[ "$(field violations "$order")" = 0 ]
lead=$(field b_lead "$order")
check "per document, not a barrier: stage B went out ${lead}s before stage A's last answer" \
	[ "$(/usr/bin/python3 -c "print($lead > 0.1)")" = True ]

# --- 2. the context: measured at the mock, against the answers the mock gave
ctx=$(/usr/bin/python3 "$CHECK" contexts "$T/log1.json" 8000 5)
diag "budget 8000: $ctx"
check "every stage-B context is JSON with the four stage-A keys, arrays of at most 5, within 8000 tokens, its document's answers" \
	[ "$(field contexts "$ctx"):$(field bad "$ctx")" = "$((DOCS * 4)):0" ]
check "and exactly the answers cut to top_n ($(field shortened "$ctx") of them shorter than the answers)" \
	[ "$(field exact "$ctx"):$(($(field shortened "$ctx") > 0))" = "$((DOCS * 4)):1" ]
stop_mock

start_mock --latency-ms 1
mk_config "$T/cfg200.json" --budget 200
kg start -c "$T/cfg200.json" -i "$T/in" -s "$T/s200" -w 4 --no-progress 2>"$T/s200.err"; rc=$?
check "budget 200: exit 0 (got $rc)" [ $rc -eq 0 ]
mock_log "$T/log200.json"
ctx200=$(/usr/bin/python3 "$CHECK" contexts "$T/log200.json" 200 5)
diag "budget 200: $ctx200"
check "budget 200: every context JSON, the four keys, its document's answers, within 200 tokens" \
	[ "$(field contexts "$ctx200"):$(field bad "$ctx200")" = "$((DOCS * 4)):0" ]
check "budget 200: contexts smaller than with 8000 ($(field total "$ctx200") < $(field total "$ctx") bytes)" \
	[ "$(field total "$ctx200")" -lt "$(field total "$ctx")" ]
stop_mock

# --- 3. a failing need blocks only its document
BAD=interview-00003
start_mock --latency-ms 1 --fail-stage risks=$BAD
port=$PORT
mk_config "$T/cfg3.json"
kg start -c "$T/cfg3.json" -i "$T/in" -s "$T/s3" -w 4 --no-progress 2>"$T/s3.err"; rc=$?
check "a failing risks call: exit 3 (got $rc)" [ $rc -eq 3 ]
mock_log "$T/log3.json"
/usr/bin/python3 "$CHECK" calls "$T/log3.json" >"$T/calls3"
check "its document's stage-B calls never reached the mock" \
	[ "$(grep -Ec "^(synthesis|follow_ups|risk_review|themes) $BAD" "$T/calls3")" = 0 ]
check "every other document's stage B did, answered" \
	[ "$(grep -Ec "^(synthesis|follow_ups|risk_review|themes) .* 200$" "$T/calls3")" = "$(((DOCS - 1) * 4))" ]
kg status -s "$T/s3" --json >"$T/st3.json"
diag "status: $(cat "$T/st3.json")"
check "status --json: 1 failed, the 4 batches it blocked counted under batches.blocked" \
	[ "$(json_get "$T/st3.json" "(j['batches']['failed'], j['batches'].get('blocked'))")" = "(1, 4)" ]
stop_mock
start_mock --port "$port" --latency-ms 1
kg resume -s "$T/s3" --retry-failed -q 2>"$T/s3r.err"; rc=$?
check "resume --retry-failed without the failure: exit 0 (got $rc)" [ $rc -eq 0 ]
mock_log "$T/log3r.json"
/usr/bin/python3 "$CHECK" calls "$T/log3r.json" | sed 's/\.[a-z]* / /' >"$T/calls3r"
printf '%s\n' "action_items" "follow_ups" "risk_review" "risks" "synthesis" "themes" |
	grep -v action_items | sed "s/$/ $BAD 200/" >"$T/want3r"
check "and sends exactly the failed call and the four it blocked ($(tr '\n' ';' <"$T/calls3r"))" \
	cmp -s "$T/calls3r" "$T/want3r"
order=$(/usr/bin/python3 "$CHECK" order "$T/log3r.json")
check "the blocked ones after the retried one's answer ($order)" [ "$(field violations "$order")" = 0 ]
stop_mock

# --- 4. kill -9 mid-pipeline, then resume
W=4
start_mock --latency-ms 150
mk_config "$T/cfg4.json"
"$KGSUP" start -c "$T/cfg4.json" -i "$T/in" -s "$T/s4" -w $W --no-progress 2>"$T/s4.err" &
sup=$!
for _ in $(seq 200); do [ "$(mock_stat ok)" -ge $((DOCS * 2)) ] && break; sleep 0.05; done
kill -KILL $sup; wait $sup 2>/dev/null
sent=$(mock_stat ok)
check "killed mid stage A ($sent of $((DOCS * 4)) stage-A calls answered)" [ "$sent" -lt $((DOCS * 4)) ]
kg resume -s "$T/s4" -q 2>"$T/s4r.err"; rc=$?
check "resume after kill -9: exit 0 (got $rc)" [ $rc -eq 0 ]
kg status -s "$T/s4" --json >"$T/st4.json"
check "every batch done" [ "$(json_get "$T/st4.json" "j['batches']['done'] == j['batches']['total'] == $((DOCS * 8))")" = True ]
dup=$(mock_stat duplicate_ok)
check "nothing bought twice beyond the $W calls in flight ($dup duplicates, $(mock_stat distinct_ok_bodies) distinct)" \
	[ "$((dup <= W)):$(mock_stat distinct_ok_bodies)" = "1:$((DOCS * 8))" ]
stop_mock

# --- 5. a changed synthesis prompt: start --fresh resends only synthesis
start_mock --latency-ms 1
port=$PORT
mk_config "$T/cfg5.json"
kg start -c "$T/cfg5.json" -i "$T/in" -s "$T/s5" -w 4 --no-progress 2>"$T/s5.err"; rc=$?
check "first run: exit 0 (got $rc)" [ $rc -eq 0 ]
stop_mock
start_mock --port "$port" --latency-ms 1
cp "$TOP/etc/jobs/prompts/synthesis-user.txt" "$T/synthesis-user.txt"
echo "Keep it short." >>"$T/synthesis-user.txt"
mk_config "$T/cfg5b.json" --user synthesis="$T/synthesis-user.txt"
kg start -c "$T/cfg5b.json" -i "$T/in" -s "$T/s5" -w 4 --fresh --no-progress 2>>"$T/s5.err"; rc=$?
check "start --fresh with the synthesis prompt changed: exit 0 (got $rc)" [ $rc -eq 0 ]
mock_log "$T/log5.json"
/usr/bin/python3 "$CHECK" calls "$T/log5.json" >"$T/calls5"
check "the mock saw only synthesis calls, one per document ($(cut -d' ' -f1 "$T/calls5" | sort | uniq -c | tr '\n' ';'))" \
	[ "$(grep -c "^synthesis .* 200$" "$T/calls5"):$(wc -l <"$T/calls5"):$(cut -d' ' -f2 "$T/calls5" | sort -u | wc -l)" = "$DOCS:$DOCS:$DOCS" ]
check "their prompts are the new one" \
	[ "$(json_get "$T/log5.json" "sum('Keep it short.' in e['user'] for e in j['requests_log'])")" = $DOCS ]
stop_mock

# --- 6. config errors: exit 2, one line naming the file and the line or key
mk_bad() { # NAME PYTHON-STATEMENT-over-c: a broken copy of cfg5.json
	/usr/bin/python3 -c "import json; c = json.load(open('$T/cfg5.json')); $2; json.dump(c, open('$T/$1.json', 'w'))"
}
# bad_config NAME PATTERN: plan and start both refuse it with one line matching PATTERN
bad_config() {
	kg plan -c "$T/$1.json" -i "$T/in" -o "$T/$1.req" >"$T/$1.out" 2>"$T/$1.err"; local p=$?
	kg start -c "$T/$1.json" -i "$T/in" -s "$T/s-$1" -w 2 --no-progress 2>"$T/$1.err2"; local s=$?
	diag "$1: $(head -c 300 "$T/$1.err2")"
	[ "$p:$s" = 2:2 ] && [ "$(wc -l <"$T/$1.err2")" = 1 ] && grep -q -- "$2" "$T/$1.err2" && [ ! -e "$T/s-$1/db" ]
}
cp "$TOP/etc/jobs/prompts/synthesis-user.txt" "$T/synth-foo.txt"
printf 'Also:\nsee {{foo}} here\n' >>"$T/synth-foo.txt"
foo_line=$(grep -n '{{foo}}' "$T/synth-foo.txt" | cut -d: -f1)
mk_bad ph "c['stages'][4]['prompt']['user'] = '$T/synth-foo.txt'"
check "an unknown placeholder names the template and its line ($foo_line)" bad_config ph "$T/synth-foo.txt:$foo_line: .*{{foo}}"
mk_bad later "c['stages'][1]['needs'] = ['synthesis']"
check "a stage needing a later one names stages[1].needs" bad_config later "later.json: stages\[1\]\.needs: .*synthesis"
mk_bad unknown "c['stages'][5]['needs'] = ['summary', 'nosuch']"
check "a stage needing an unknown one names stages[5].needs" bad_config unknown "unknown.json: stages\[5\]\.needs: .*nosuch"
mk_bad rows "c['stages'][2]['over'] = 'rows'"
check "a stage over rows among stages over documents is refused by name (stages[2].over)" \
	bad_config rows 'rows.json: stages\[2\]\.over: a job.s stages go over rows all or none'
/usr/bin/python3 -c "
import json; s = json.load(open('$TOP/etc/jobs/schemas/risks.json'))
s['\$defs']['risk']['properties']['risk']['pattern'] = '^[A-Z]'
json.dump(s, open('$T/risks-pattern.json', 'w'))"
mk_bad schema "c['stages'][2]['schema'] = '$T/risks-pattern.json'"
check "a schema keyword outside the subset names the file, the JSON pointer and the keyword" \
	bad_config schema "$T/risks-pattern.json: /\$defs/risk/properties/risk: .*pattern"

# --- 7. a config without stages sends the requests of before stages (commit 3862e1f): the
# SHA-256 of each planned body, against a fixture recorded from that build (stages-legacy.sha256;
# STAGES_LEGACY_KGSUP=/path/to/old/kgsup records it again)
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/legacy-in" --files 5 --words 900
FIX=$TOP/tests/integration/stages-legacy.sha256
legacy_cfg() { # DST [chunks_per_batch]: etc/kgsup.json, less the keys 0.2 did not know with OLD
	/usr/bin/python3 -c "
import json, sys
c = json.load(open('$TOP/etc/kgsup.json'))
if sys.argv[2] == 'old':
    del c['api']['structured_outputs'], c['api']['max_input_tokens'], c['pricing']['models']
if sys.argv[3]:
    c['chunking'].update(chunks_per_batch=int(sys.argv[3]), chunk_tokens=300, overlap_tokens=30)
    c['api'].update(model='gpt-4o', temperature=0.2, max_tokens=1000)
json.dump(c, open(sys.argv[1], 'w'))" "$1" "$2" "${3:-}"
}
legacy_sums() { # BINARY new|old: the bodies' SHA-256, two configs
	local v
	for v in "" 3; do
		legacy_cfg "$T/legacy$v.json" "$2" $v
		(cd "$TOP" && "$1" plan -c "$T/legacy$v.json" -i "$T/legacy-in" -o "$T/legacy$v.req" >/dev/null) &&
			/usr/bin/python3 -c "
import hashlib, sys
for l in open(sys.argv[1], 'rb'):
    print(sys.argv[2], hashlib.sha256(l.rstrip(b'\n')).hexdigest())" "$T/legacy$v.req" "${v:-default}"
	done
}
if [ -n "${STAGES_LEGACY_KGSUP:-}" ]; then
	legacy_sums "$STAGES_LEGACY_KGSUP" old >"$FIX"
	diag "recorded $FIX from $STAGES_LEGACY_KGSUP"
fi
legacy_sums "$KGSUP" new >"$T/legacy-new.sha256"
legacy_sums "$KGSUP" old >"$T/legacy-oldcfg.sha256"
check "no stages: the planned bodies are those of the build before stages ($(wc -l <"$FIX") bodies)" \
	cmp -s "$T/legacy-new.sha256" "$FIX"
check "the same with the config file of before (no structured_outputs, max_input_tokens, pricing.models)" \
	cmp -s "$T/legacy-oldcfg.sha256" "$FIX"
start_mock --latency-ms 1
legacy_cfg "$T/legacy-run.json" new 3
/usr/bin/python3 -c "
import json; c = json.load(open('$T/legacy-run.json'))
c['api'].update(base_url='$MOCK_URL', ca_file='$T/mock/cert.pem', api_key_env='MOCK_API_KEY')
c['limits'].update(requests_per_minute=100000, tokens_per_minute=100000000)
json.dump(c, open('$T/legacy-run.json', 'w'))"
(cd "$TOP" && "$KGSUP" start -c "$T/legacy-run.json" -i "$T/legacy-in" -s "$T/slegacy" -w 4 --no-progress 2>"$T/slegacy.err"); rc=$?
mock_log "$T/loglegacy.json"
sent=$(json_get "$T/loglegacy.json" "' '.join(sorted(j['ok_bodies']))")
want=$(sed -n 's/^3 //p' "$FIX" | sort | tr '\n' ' ' | sed 's/ $//')
check "and a run sends exactly those bodies (exit $rc)" [ "$rc:$sent" = "0:$want" ]
finish
