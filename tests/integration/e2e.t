#!/bin/bash
# e2e.t: a whole run over every input format against the mock: exit 0, every batch done, one
# successful request per batch, every entity the mock returned in the export, and a second
# start on the finished run buys nothing.
. "$(dirname "$0")/lib.sh"
plan 15

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 25 --words 1200
start_mock --latency-ms 5
write_config "$T/cfg.json"

kg start -c "$T/cfg.json" -i "$T/in" -s "$T/state" -w 4 -q 2>"$T/start.err"
rc=$?
check "start exits 0 (got $rc)" [ $rc -eq 0 ]

kg status -s "$T/state" --json >"$T/status.json"
total=$(json_get "$T/status.json" "j['batches']['total']")
diag "batches: $total, status: $(cat "$T/status.json")"
check "status: state done" [ "$(json_get "$T/status.json" "j['state']")" = done ]
check "status: every batch done" [ "$(json_get "$T/status.json" "j['batches']['done']")" = "$total" ]
kg plan -c "$T/cfg.json" -i "$T/in" --json >"$T/plan.json" 2>/dev/null
# (a batch whose answer was cut off at max_tokens became two: no plan can foresee that)
ran=$(json_get "$T/status.json" "j['batches']['total'] - j['batches']['split']")
check "plan foretold the batches start ran ($(json_get "$T/plan.json" "j['batches']") planned, $ran run before splits)" \
	[ "$(json_get "$T/plan.json" "j['batches']")" = "$ran" ]
okreq=$(mock_stat ok); distinct=$(mock_stat distinct_ok_bodies)
check "mock saw one successful request per batch ($okreq ok, $distinct distinct, $total batches)" \
	[ "$okreq:$distinct" = "$total:$total" ]
kg status -s "$T/state" --prometheus >"$T/prom.txt"
check "status --prometheus: done batches equal the total" \
	grep -qx "kgsup_batches{state=\"done\"} $total" "$T/prom.txt"
check "status --prometheus: sent requests as the mock counted them" \
	grep -qx "kgsup_requests_total{outcome=\"sent\"} $(mock_stat requests)" "$T/prom.txt"
check "status counts what the mock counted (tokens)" \
	[ "$(json_get "$T/status.json" "j['tokens']['prompt']")" = "$(mock_stat prompt_tokens)" ]
# the report: its totals are the sums the mock counted, its cost those tokens at the prices
want=$(/usr/bin/python3 -c "
p, c = $(mock_stat prompt_tokens), $(mock_stat completion_tokens)
print('%d %d %.6f %d' % (p, c, p * 0.15 / 1e6 + c * 0.60 / 1e6, $(mock_stat ok)))")
check "report.json: tokens, cost and calls are what the mock counted ($want)" \
	[ "$(json_get "$T/state/report.json" "'%d %d %.6f %d' % (j['tokens']['prompt'], j['tokens']['completion'], j['cost_usd'], j['latency_ms']['calls'])")" = "$want" ]
# the mock answers after 5 ms: no call is faster (the percentiles come from a histogram whose
# buckets are at most 1/16 of their values wide), and on the loopback the median is not 1 s
check "report.json: latency percentiles in order, the median between 5 ms and 1 s, throughput above zero" \
	[ "$(json_get "$T/state/report.json" "4.8 <= j['latency_ms']['p50'] <= j['latency_ms']['p95'] <= j['latency_ms']['p99'] and j['latency_ms']['p50'] < 1000 and j['throughput']['batches_per_s'] > 0")" = True ]

kg export -s "$T/state" -f jsonl -o "$T/graph.jsonl" 2>"$T/export.err"
check "export exits 0 and says what it wrote" grep -q "exported [1-9][0-9]* entities" "$T/export.err"
curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats" >"$T/stats.json"
missing=$(/usr/bin/python3 - "$T/stats.json" "$T/graph.jsonl" "$T/export.err" <<'PY'
import json, re, sys
stats = json.load(open(sys.argv[1]))
ents = [json.loads(l) for l in open(sys.argv[2]) if json.loads(l)["kind"] == "entity"]
merged_from = int(re.search(r"merged from (\d+)", open(sys.argv[3]).read()).group(1))
# every name the mock returned is an entity's name or alias; one entity per name (the mock's
# names differ by more than case); every record the mock returned was read
names = {e["name"] for e in ents} | {a for e in ents for a in e["aliases"]}
print(len(set(stats["entities"]) - names) + abs(len(ents) - len({n.casefold() for n in stats["entities"]}))
      + abs(merged_from - stats["entity_records"]))
PY
)
check "export holds every entity the mock returned (missing: $missing)" [ "$missing" = 0 ]

# chunk ids (and so the requests and their cache keys) do not depend on where the input lies
mkdir -p "$T/elsewhere/deeper" && cp -r "$T/in" "$T/elsewhere/deeper/"
kg plan -c "$T/cfg.json" -i "$T/in" -o "$T/here.req" >/dev/null 2>&1
(cd "$T/elsewhere" && "$KGSUP" plan -c "$T/cfg.json" -i deeper/in/ -o "$T/there.req" >/dev/null 2>&1)
same_requests() { [ -s "$T/here.req" ] && cmp -s "$T/here.req" "$T/there.req"; }
check "the same corpus elsewhere plans byte-identical requests" same_requests

before=$(mock_stat requests)
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/state" -w 4 -q 2>>"$T/start.err"
rc=$?
check "a second start of the finished run exits 0 (got $rc)" [ $rc -eq 0 ]
check "and sends no request ($(($(mock_stat requests) - before)) sent)" [ "$(mock_stat requests)" = "$before" ]
finish
