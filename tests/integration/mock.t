#!/bin/bash
# mock.t: the mock's json_schema side, which the stage tests stand on: an answer valid against
# each example job's schema (a broken one is refused by the same check), the same request
# answered the same, another document answered differently and with its words, a stage slowed
# on its own (--stage-latency), one document's stage failed (--fail-stage), requests_log in
# /stats?bodies=1, each call's arrival by status in /stats?times=1, and json_object requests
# still answered with the chunk extraction. Rows: one answer per [row <id>] line, seeded by the
# row's text, found through --item-key in the request's schema or the one written in the
# prompt; --omit-row, --foreign-row; /stats of rows.
. "$(dirname "$0")/lib.sh"
plan 24

# client.py: what both blocks below import: post() a request to the mock started last, stats()
cat >"$T/client.py" <<'PY'
import json, os, ssl, sys, time, urllib.error, urllib.request
top, port, ca = sys.argv[1:4]
sys.path.insert(0, os.path.join(top, "scripts"))
ctx = ssl.create_default_context(cafile=ca)
url = "https://127.0.0.1:%s" % port

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

def stats(path="/stats"):
    with urllib.request.urlopen(url + path, context=ctx) as r:
        return json.loads(r.read())
PY
# client BLOCK: runs a Python block (stdin) with client.py's names, its facts to $T/facts
client() {
	PYTHONPATH=$T /usr/bin/python3 - "$TOP" "$PORT" "$T/mock/cert.pem" >"$T/facts" 2>"$T/facts.err"
	diag "facts: $(cat "$T/facts") $(tail -3 "$T/facts.err")"
}
fact() { json_get "$T/facts" "$1"; }

start_mock --latency-ms 20 --stage-latency themes=600 --fail-stage risks=doc-b.txt
client <<'PY'
import glob, hashlib, json, os
from client import post, stats, top
import mock_schema
facts = {}

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
log = stats("/stats?bodies=1")["requests_log"]
last = log[-1]
facts["log_n"] = len(log)
facts["log_want"] = len(schemas) + 7  # one per schema, then the seven asks and posts after
facts["log_last"] = (last["stage"] == "" and last["body"] == hashlib.sha256(kgraw).hexdigest()
                     and last["user"] == "[chunk c1]\n" + A and last["user_bytes"] == len(A) + 11
                     and 0 < last["t_in"] <= last["t_out"] and last["status"] == 200)
facts["log_fail"] = [(e["stage"], e["status"]) for e in log if "doc-b.txt" in e["user"]
                     and e["stage"] == "risks"]
st = stats("/stats?times=1")
tm = st["status_times"]
facts["times"] = {k: len(v) for k, v in tm.items()}
facts["times_ok"] = (facts["times"] == st["status"] and tm["400"][0] == [e["t_in"] for e in log
                     if e["status"] == 400][0] and tm["200"] == sorted(tm["200"]) and tm["200"][0] > 0)
print(json.dumps(facts))
PY

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
check "/stats?times=1: each call's arrival under its status, as status counts them ($(fact "j['times']"))" \
	[ "$(fact "j['times_ok']")" = True ]

# rows: the feedback job's schema and prompts, as kgsup renders them
client <<'PY'
import json, os
from client import post, stats, top
import mock_schema
jobs = os.path.join(top, "etc/jobs")
schema = json.load(open(os.path.join(jobs, "schemas/feedback.json")))
system = open(os.path.join(jobs, "prompts/feedback-system.txt")).read()
user = open(os.path.join(jobs, "prompts/feedback-user.txt")).read()
facts = {}

def ask(rows, structured=True, schema_in_prompt=True):
    lines = "\n".join("[row %s] %s" % r for r in rows)
    rf = ({"type": "json_schema", "json_schema": {"name": "classify", "strict": True,
                                                   "schema": schema}}
          if structured else {"type": "json_object"})
    sys_text = system.replace("{{schema}}", json.dumps(schema, indent=1) if schema_in_prompt else "")
    code, ans, _, _ = post({"model": "m", "max_tokens": 16384, "response_format": rf,
                            "messages": [{"role": "system", "content": sys_text},
                                         {"role": "user", "content": user.replace("{{rows}}", lines)}]})
    return ans

def bare(obj):  # an answer without its id
    return {k: v for k, v in obj.items() if k != "id"}

T = ["Great service, fast delivery and friendly staff", "The app crashes all the time, terrible",
     'Support said "we will call back"] and never did', "Invoice arrived; nothing else to add",
     "Loved it"]
a = ask([("r1", T[0]), ("r2", T[1]), ("r3", T[2]), ("r4", T[3])])
b = ask([("x9", T[2]), ("r5", T[4]), ("x8", T[0])])
c = ask([("j1", T[1]), ("j2", T[4])], structured=False)
d = ask([("k1", T[0])], structured=False, schema_in_prompt=False)
facts["ids"] = [o["id"] for o in a["rows"]] + ["|"] + [o["id"] for o in b["rows"]]
facts["valid"] = [mock_schema.errors(schema, x) for x in (a, b, c)]
facts["same_text_same"] = bare(b["rows"][0]) == bare(a["rows"][2]) and bare(b["rows"][2]) == bare(a["rows"][0])
facts["texts_differ"] = len({json.dumps(bare(o), sort_keys=True) for o in a["rows"]}) == 4
words = set(T[1].replace(",", "").split())
facts["words"] = all(w in words for t in [a["rows"][1]["summary"]] + a["rows"][1]["topics"] for w in t.split())
facts["sentiment"] = [(o["sentiment"], o["nps_category"]) for o in a["rows"][:2]]
facts["in_prompt"] = [o["id"] for o in c["rows"]]
facts["in_prompt_same"] = bare(c["rows"][0]) == bare(a["rows"][1])
facts["no_schema"] = sorted(d)
st = stats()
facts["rows_asked"], facts["row_ids"] = st["rows_asked"], st["row_ids"]
print(json.dumps(facts))
PY
check "rows: one object per [row] line, in order, with its id ($(fact "j['ids']"))" \
	[ "$(fact "' '.join(j['ids'])")" = "r1 r2 r3 r4 | x9 r5 x8" ]
check "rows: the answers fit the job's schema ($(fact "j['valid']"))" [ "$(fact "j['valid']")" = "[None, None, None]" ]
check "rows: one text gets one answer in any batch, another text another" \
	[ "$(fact "j['same_text_same'] and j['texts_differ']")" = True ]
check "rows: a row's answer is made of its own words" [ "$(fact "j['words']")" = True ]
check "rows: sentiment and NPS category follow the words ($(fact "j['sentiment']"))" \
	[ "$(fact "j['sentiment']")" = "[['positive', 'promoter'], ['negative', 'detractor']]" ]
check "rows: json_object with the schema written in the system prompt ($(fact "j['in_prompt']"))" \
	[ "$(fact "j['in_prompt'] == ['j1', 'j2'] and j['in_prompt_same']")" = True ]
check "rows: no schema anywhere, the chunk extraction as before ($(fact "j['no_schema']"))" \
	[ "$(fact "j['no_schema']")" = "['entities', 'relations']" ]
check "rows: /stats counts the row lines ($(fact "j['rows_asked']")) and each id ($(fact "j['row_ids']"))" \
	[ "$(fact "j['rows_asked'] == 10 and j['row_ids'] == dict(r1=1, r2=1, r3=1, r4=1, x9=1, r5=1, x8=1, j1=1, j2=1, k1=1)")" = True ]

# --omit-row, --foreign-row, --item-key: rows under another key, in a nested object, numeric ids
stop_mock
start_mock --omit-row 2 --omit-row 7 --foreign-row --item-key rid
client <<'PY'
import json, os
from client import post, stats, top
import mock_schema
item = {"type": "object", "properties": {"rid": {"type": "integer"},
                                         "label": {"type": "string", "enum": ["a", "b"]}},
        "required": ["rid", "label"], "additionalProperties": False}
nested = {"type": "object", "properties": {"result": {
    "type": "object", "properties": {"answers": {"type": "array", "items": item}},
    "required": ["answers"], "additionalProperties": False}},
    "required": ["result"], "additionalProperties": False}
feedback = json.load(open(os.path.join(top, "etc/jobs/schemas/feedback.json")))
facts = {}

def ask(schema, ids):
    lines = "\n".join("[row %s] comment number %s" % (i, i) for i in ids)
    return post({"model": "m", "response_format": {"type": "json_schema", "json_schema": {
        "name": "classify", "schema": schema}}, "messages": [{"role": "user", "content": lines}]})[1]

first = ask(nested, ["1", "2", "3"])
again = ask(nested, ["2", "4"])
facts["first"] = [o["rid"] for o in first["result"]["answers"]]
facts["again"] = [o["rid"] for o in again["result"]["answers"]]
facts["valid"] = [mock_schema.errors(nested, x) for x in (first, again)]
facts["by_key"] = [o["id"] for o in ask(feedback, ["5", "6"])["rows"]] != ["5", "6"]
st = stats()
facts["omitted"], facts["foreign"] = st["rows_omitted"], st["rows_foreign"]
print(json.dumps(facts))
PY
check "--omit-row: left out of the first answer holding it, and it alone ($(fact "j['first']"))" \
	[ "$(fact "j['first'][:2]")" = "[1, 3]" ]
check "--omit-row: in the next answer holding it ($(fact "j['again']"))" \
	[ "$(fact "j['again'][:2]")" = "[2, 4]" ]
check "--foreign-row: each row answer adds one id not asked; integer ids stay integers" \
	[ "$(fact "j['first'][2:] == [4] and j['again'][2:] == [5] and j['valid'] == [None, None]")" = True ]
check "--item-key: a schema without that key is answered as any other" [ "$(fact "j['by_key']")" = True ]
check "/stats: rows_omitted ($(fact "j['omitted']")) and rows_foreign ($(fact "j['foreign']"))" \
	[ "$(fact "(j['omitted'], j['foreign'])")" = "(1, 2)" ]
finish
