#!/bin/bash
# nearly.t: answers nearly right. A KG answer with one entity of empty type is kept without it:
# the run buys each batch once, the graph has the valid entities, status, report.json and the
# invalid export count and hold the dropped ones. Answers without usage: tokens are estimated
# (bytes / 4, as plan does), marked so in status and report.json, with one warning.
. "$(dirname "$0")/lib.sh"
plan 14

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 16 --words 1200 >/dev/null
start_mock --bad-entity
# room for every answer: a batch cut off at max_tokens would be split, bought again in halves
write_config "$T/cfg.json" '{"api": {"max_tokens": 16000}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/state" -w 4 -q 2>"$T/start.err"
rc=$?
check "an answer with a bad entity: start exits 0 (got $rc)" [ $rc -eq 0 ]
kg status -s "$T/state" --json >"$T/status.json"
kg status -s "$T/state" >"$T/status.txt"
curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats" >"$T/stats.json"
total=$(json_get "$T/status.json" "j['batches']['total']")
bad=$(json_get "$T/stats.json" "len(j['bad_entities'])")
diag "batches $total, bad entities sent $bad; $(grep -E 'dropped|invalid' "$T/status.txt")"
check "each batch bought once ($(mock_stat requests) requests, $total batches, all done)" \
	[ "$(mock_stat requests):$(json_get "$T/status.json" "j['batches']['done']")" = "$total:$total" ]
check "status --json counts the dropped items ($bad sent)" \
	[ "$(json_get "$T/status.json" "j['requests']['items_dropped']")" = "$bad" -a "$bad" -gt 0 ]
check "status says so" grep -qx "dropped    $bad invalid entities or relations left out of answers kept" "$T/status.txt"
check "report.json counts them" [ "$(json_get "$T/state/report.json" "j['items_dropped']")" = "$bad" ]
kg export -s "$T/state" -f invalid -o "$T/invalid.jsonl" 2>/dev/null
kept=$(/usr/bin/python3 - "$T/invalid.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
items = [i for r in recs if "left out" in r["reason"] for i in json.loads(r["content"])]
print(len([i for i in items if i["item"]["type"] == "" and i["reason"].endswith(
    ".type: has 0 characters, fewer than the minimum 1")]))
PY
)
check "the invalid export has each dropped entity with its reason ($kept)" [ "$kept" = "$bad" ]
kg export -s "$T/state" -f jsonl -o "$T/graph.jsonl" 2>/dev/null
wrong=$(/usr/bin/python3 - "$T/stats.json" "$T/graph.jsonl" <<'PY'
import json, sys
stats = json.load(open(sys.argv[1]))
ents = [json.loads(l) for l in open(sys.argv[2]) if json.loads(l)["kind"] == "entity"]
names = {e["name"] for e in ents} | {a for e in ents for a in e["aliases"]}
only_bad = set(stats["bad_entities"]) - set(stats["entities"])
print(len(set(stats["entities"]) - names) + len(only_bad & names))
PY
)
check "the graph has every valid entity and none sent only with an empty type (wrong: $wrong)" \
	[ "$wrong" = 0 ]
stop_mock

start_mock --no-usage
write_config "$T/cfg.json" '{"api": {"max_tokens": 16000}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/state2" -w 1 2>"$T/start2.err"
rc=$?
check "answers without usage: start exits 0 (got $rc)" [ $rc -eq 0 ]
kg status -s "$T/state2" --json >"$T/status2.json"
kg status -s "$T/state2" >"$T/status2.txt"
ok2=$(mock_stat ok)  # every answer is valid: none is cut off
diag "$(grep tokens "$T/status2.txt")"
check "status --json: prompt tokens estimated as the body bytes / 4 ($(mock_stat prompt_tokens))" \
	[ "$(json_get "$T/status2.json" "j['tokens']['prompt']")" = "$(mock_stat prompt_tokens)" ]
check "status --json: completion tokens estimated, above zero" \
	[ "$(json_get "$T/status2.json" "j['tokens']['completion'] > 0")" = True ]
check "status --json: every request counted as estimated ($ok2)" \
	[ "$(json_get "$T/status2.json" "j['tokens']['estimated_requests']")" = "$ok2" ]
check "status says the tokens are estimated" \
	grep -q "^tokens .* completion ($ok2 requests estimated: the server sent no usage)$" "$T/status2.txt"
check "report.json too" [ "$(json_get "$T/state2/report.json" "j['tokens']['estimated_requests']")" = "$ok2" ]
n=$(grep -c "sends no usage" "$T/start2.err")
check "one warning for $ok2 requests (got $n)" [ "$n" = 1 -a "$ok2" -gt 1 ]
finish
