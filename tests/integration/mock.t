#!/bin/bash
# mock.t: the mock's json_schema side, which the stage tests stand on: an answer valid against
# each example job's schema (a broken one is refused by the same check), the same request
# answered the same, another document answered differently and with its words, a stage slowed
# on its own (--stage-latency), one document's stage failed (--fail-stage), requests_log in
# /stats?bodies=1, and json_object requests still answered with the chunk extraction.
. "$(dirname "$0")/lib.sh"
plan 10

start_mock --latency-ms 20 --stage-latency themes=600 --fail-stage risks=doc-b.txt
/usr/bin/python3 - "$TOP" "$PORT" "$T/mock/cert.pem" >"$T/facts" 2>"$T/facts.err" <<'PY'
import glob, hashlib, json, os, ssl, sys, time, urllib.error, urllib.request
top, port, ca = sys.argv[1:4]
sys.path.insert(0, os.path.join(top, "scripts"))
import mock_schema
ctx = ssl.create_default_context(cafile=ca)
url = "https://127.0.0.1:%s" % port
facts = {}

def post(body):
    raw = json.dumps(body).encode()
    req = urllib.request.Request(url + "/v1/chat/completions", raw,
                                 {"Content-Type": "application/json"})
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, context=ctx) as r:
            out = json.loads(r.read())
            return 200, json.loads(out["choices"][0]["message"]["content"]), time.monotonic() - t0, raw
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), time.monotonic() - t0, raw

def ask(stage, schema, doc, text):
    user = "Transcript: %s\n\n<transcript>\n%s\n</transcript>\n" % (doc, text)
    return post({"model": "m", "messages": [{"role": "system", "content": "Answer."},
                                            {"role": "user", "content": user}],
                 "response_format": {"type": "json_schema", "json_schema": {
                     "name": stage, "strict": True, "schema": schema}}})

schemas = {os.path.basename(f)[:-5]: json.load(open(f))
           for f in sorted(glob.glob(os.path.join(top, "etc/jobs/schemas/*.json")))}
A = "Grace Hopper visited Harvard and talked about compilers with Howard Aiken."
B = "Ken Thompson argued with Dennis Ritchie about Multics at Bell Labs."
bad, answers = [], {}
for name, s in schemas.items():
    code, ans, _, _ = ask(name, s, "doc-a.txt", A)
    answers[name] = ans
    if code != 200 or mock_schema.errors(s, ans):
        bad.append("%s: %s %s" % (name, code, mock_schema.errors(s, ans) if code == 200 else ans))
facts["schemas"] = len(schemas)
facts["valid"] = "; ".join(bad) or "all"
def broken(change):
    ans = json.loads(json.dumps(answers["risks"]))
    change(ans["risks"][0])
    return mock_schema.errors(schemas["risks"], ans) or "accepted"
facts["broken_refused"] = [broken(lambda r: r.update(impact=9)),
                           broken(lambda r: r.update(extra="x")),
                           broken(lambda r: r.update(likelihood="huge")),
                           broken(lambda r: r.pop("risk")),
                           broken(lambda r: r.update(mitigation=3))]
again = ask("summary", schemas["summary"], "doc-a.txt", A)[1]
other = ask("summary", schemas["summary"], "doc-b.txt", B)[1]
facts["same"] = again == answers["summary"]
facts["differs"] = other != answers["summary"]
facts["words"] = all(w in set(B.replace(".", "").split()) | {"Transcript", "doc-b", "txt", "transcript"}
                     for w in other["summary"].split())
facts["slow_s"] = ask("themes", schemas["themes"], "doc-a.txt", A)[2]
facts["fast_s"] = ask("decisions", schemas["decisions"], "doc-b.txt", B)[2]
code, err, _, _ = ask("risks", schemas["risks"], "doc-b.txt", B)
facts["fail"] = "%s %s" % (code, err["error"]["message"])
facts["fail_other_doc"] = ask("risks", schemas["risks"], "doc-c.txt", A)[0]
code, kg, _, kgraw = post({"model": "m", "response_format": {"type": "json_object"},
                           "messages": [{"role": "user", "content": "[chunk c1]\n" + A}]})
facts["kg_entities"] = sorted(e["name"] for e in kg["entities"])
with urllib.request.urlopen(url + "/stats?bodies=1", context=ctx) as r:
    log = json.loads(r.read())["requests_log"]
last = log[-1]
facts["log_n"] = len(log)
facts["log_want"] = len(schemas) + 7  # one per schema, then the seven asks and posts after
facts["log_last"] = (last["stage"] == "" and last["body"] == hashlib.sha256(kgraw).hexdigest()
                     and last["user"] == "[chunk c1]\n" + A and last["user_bytes"] == len(A) + 11
                     and 0 < last["t_in"] <= last["t_out"] and last["status"] == 200)
facts["log_fail"] = [(e["stage"], e["status"]) for e in log if "doc-b.txt" in e["user"]
                     and e["stage"] == "risks"]
print(json.dumps(facts))
PY
diag "facts: $(cat "$T/facts") $(tail -3 "$T/facts.err")"
fact() { json_get "$T/facts" "$1"; }

check "every example schema ($(fact "j['schemas']")) gets a valid answer ($(fact "j['valid']"))" \
	[ "$(fact "j['valid'] == 'all' and j['schemas'] >= 8")" = True ]
check "the schema check refuses 5 broken answers ($(fact "j['broken_refused']"))" \
	[ "$(fact "sum(e.startswith('\$.risks[0]') for e in j['broken_refused'])")" = 5 ]
check "the same request gets the same answer" [ "$(fact "j['same']")" = True ]
check "another document gets another answer, made of its words" \
	[ "$(fact "j['differs'] and j['words']")" = True ]
check "--stage-latency slows that stage alone ($(fact "round(j['slow_s'], 3)") s against $(fact "round(j['fast_s'], 3)") s)" \
	[ "$(fact "j['slow_s'] >= 0.6 and j['fast_s'] < 0.5")" = True ]
check "--fail-stage answers 400 naming the stage ($(fact "j['fail']"))" \
	[ "$(fact "j['fail']")" = "400 mock: failing stage risks" ]
check "--fail-stage leaves the stage's other documents alone" [ "$(fact "j['fail_other_doc']")" = 200 ]
check "json_object requests still get the chunk extraction ($(fact "j['kg_entities']"))" \
	[ "$(fact "j['kg_entities']")" = "['Grace', 'Harvard', 'Hopper', 'Howard']" ]
check "requests_log records every answered request ($(fact "j['log_n']"))" \
	[ "$(fact "j['log_n']")" = "$(fact "j['log_want']")" ]
check "requests_log: stage, times, body digest, user prompt and its length, status" \
	[ "$(fact "j['log_last'] and j['log_fail'] == [['risks', 400]]")" = True ]
finish
