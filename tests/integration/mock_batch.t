#!/bin/bash
# mock_batch.t: the mock's Files and Batches endpoints (scripts/mock_batch.py, mock_files.py),
# which kgsup's Batch API path is tested against, asked with curl over HTTPS: an upload kept on
# disk as sent (chunked too); a batch polled to completed and its output downloaded, each line
# under its custom_id and answered as a live call of the same body bytes is (chat, json_schema,
# embeddings), counted alike (duplicate_ok, embed_inputs_twice), not as a live request;
# --batch-shuffle; validation failures; listing pages; --batch-fail-every and
# --batch-expire-after into the error file; --batch-fail-validation-every; --batch-delay-s
# (paced, part done midway); cancel; --batch-queue-tokens refusing, then room freed; /stats.
. "$(dirname "$0")/lib.sh"
plan 25
export MOCK_API_KEY=sk-batch-$$
AUTH="Authorization: Bearer $MOCK_API_KEY"

# api METHOD PATH [curl args...]: the answer to $T/out; prints the status
api() {
	local m=$1 p=$2
	shift 2
	curl -s --cacert "$T/mock/cert.pem" -o "$T/out" -w '%{http_code}' -X "$m" -H "$AUTH" "$@" \
		"https://127.0.0.1:$PORT$p"
}
# field EXPR: a Python expression over the last answer (as j); a list of them prints as a tuple
field() { json_get "$T/out" "($1)"; }
# upload FILE [curl args...]: prints the new file's id
upload() {
	local f=$1
	shift
	api POST /v1/files -F purpose=batch -F "file=@$f" "$@" >/dev/null && field "j['id']"
}
# create FILE_ID [ENDPOINT]: prints the new batch's id
create() {
	api POST /v1/batches -H 'Content-Type: application/json' -d "{\"input_file_id\": \"$1\",
		\"endpoint\": \"${2:-/v1/chat/completions}\", \"completion_window\": \"24h\",
		\"metadata\": {\"job\": \"mock_batch.t\"}}" >/dev/null && field "j['id']"
}
# look ID: asks for the batch, its status appended to $T/ID.seen when another than the last
# seen; prints the status
look() {
	local s
	api GET "/v1/batches/$1" >/dev/null
	s=$(field "j['status']")
	[ "$(tail -1 "$T/$1.seen" 2>/dev/null)" = "$s" ] || echo "$s" >>"$T/$1.seen"
	echo "$s"
}
# wait_batch ID [STATUS]: polls until the batch ends (or shows STATUS), 20 s at most; the last
# answer kept as $T/ID.json
wait_batch() {
	for _ in $(seq 200); do
		case $(look "$1") in completed | failed | expired | cancelled | "${2:-none}") break ;; esac
		sleep 0.1
	done
	cp "$T/out" "$T/$1.json"
}
# fetch FILE_ID NAME: the file's content as $T/NAME.jsonl
fetch() { api GET "/v1/files/$1/content" >/dev/null && cp "$T/out" "$T/$2.jsonl"; }
# py EXPR: a Python expression over the kept answers (j: NAME -> JSON), the JSONL files (l:
# NAME -> list of the lines' JSON) and the bodies written by gen (body: custom_id -> bytes)
py() {
	/usr/bin/python3 - "$T" "$1" <<'PY'
import glob, json, os, sys
d, expr = sys.argv[1:3]
j = {os.path.basename(p)[:-5]: json.load(open(p)) for p in glob.glob(os.path.join(d, "*.json"))}
def parsed(x):
    try:
        return json.loads(x)
    except ValueError:  # bad.jsonl's line
        return None
l = {os.path.basename(p)[:-6]: [parsed(x) for x in open(p, "rb")]
     for p in glob.glob(os.path.join(d, "*.jsonl"))}
body = {os.path.basename(p)[:-5]: open(p, "rb").read() for p in glob.glob(os.path.join(d, "bodies", "*.body"))}
def by_id(name):
    return {x["custom_id"]: x for x in l[name]}
def tokens(name):  # --batch-queue-tokens' count: the bodies' bytes / 4, rounded up
    return sum((len(body[x["custom_id"]]) + 3) // 4 for x in l[name])
print(eval(expr))
PY
}
# gen NAME N PREFIX [embed]: $T/NAME.jsonl of N chat (or embeddings) lines, custom_ids
# PREFIX-0.., each line's chunk named after its custom_id; every 5th chat line asks a
# json_schema (its answer seeded by the body's bytes); bodies compact, with UTF-8 as is, each
# also written to $T/bodies/ID.body
gen() {
	mkdir -p "$T/bodies"
	/usr/bin/python3 - "$T" "$@" <<'PY'
import json, sys
d, name, n, prefix = sys.argv[1:5]
embed = sys.argv[5:] == ["embed"]
names = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Niklaus", "Frances", "Leslie"]
schema = {"type": "object", "properties": {"summary": {"type": "string"}, "score": {"type": "integer"}},
          "required": ["summary", "score"], "additionalProperties": False}
with open("%s/%s.jsonl" % (d, name), "wb") as out:
    for i in range(int(n)):
        cid = "%s-%d" % (prefix, i)
        text = "%s met %s at the café near %s" % (names[i % 9], names[(i * 4 + 1) % 9], names[(i * 7 + 2) % 9])
        if embed:
            body = {"model": "emb-1", "input": [text + " " + cid]}
        else:
            body = {"model": "mock-1", "messages": [{"role": "system", "content": "Extract the graph."},
                    {"role": "user", "content": "[chunk %s]\n%s" % (cid, text)}]}
            if i % 5 == 4:
                body["response_format"] = {"type": "json_schema", "json_schema": {"name": "summary", "schema": schema}}
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        open("%s/bodies/%s.body" % (d, cid), "wb").write(raw)
        url = "/v1/embeddings" if embed else "/v1/chat/completions"
        out.write(b'{"custom_id":"%s","method":"POST","body":%s,"url":"%s"}\n' % (cid.encode(), raw, url.encode()))
PY
}

start_mock --batch-shuffle
gen chat 40 c
FID=$(upload "$T/chat.jsonl")
cp "$T/out" "$T/upload.json"
ondisk=$(ls "$T"/mock/batch-*/"$FID" 2>/dev/null)
check "upload: the file object ($(py "j['upload']"))" \
	[ "$(py "(j['upload']['object'], j['upload']['purpose'], j['upload']['filename'], j['upload']['bytes'], j['upload']['id'].startswith('file-'))")" = "('file', 'batch', 'chat.jsonl', $(stat -c %s "$T/chat.jsonl"), True)" ]
api GET "/v1/files/$FID/content" >/dev/null
check "upload: kept on disk in the mock's batch dir as sent, and served back" \
	[ "$(cmp -s "$ondisk" "$T/chat.jsonl" && cmp -s "$T/out" "$T/chat.jsonl" && echo same)" = same ]
CFID=$(upload "$T/chat.jsonl" -H 'Transfer-Encoding: chunked')
api GET "/v1/files/$CFID/content" >/dev/null
cp "$T/out" "$T/chunked"
codes=$(curl -s --cacert "$T/mock/cert.pem" -o /dev/null -w '%{http_code}' -F purpose=batch \
	-F "file=@$T/chat.jsonl" "https://127.0.0.1:$PORT/v1/files")
codes="$codes $(api POST /v1/files -F purpose=fine-tune -F "file=@$T/chat.jsonl")"
codes="$codes $(api POST /v1/files -F purpose=batch) $(api GET /v1/files/file-nosuch/content)"
check "upload: chunked alike; no key 401, another purpose 400, no file 400, unknown id 404 ($codes)" \
	[ "$(cmp -s "$T/chunked" "$T/chat.jsonl" && echo same) $codes" = "same 401 400 400 404" ]

BID=$(create "$FID")
cp "$T/out" "$T/created.json"
wait_batch "$BID"
check "create: a batch object, validating ($(py "{k: j['created'][k] for k in ('object', 'status', 'endpoint', 'input_file_id', 'metadata')}"))" \
	[ "$(py "(j['created']['object'], j['created']['status'], j['created']['endpoint'], j['created']['input_file_id'], j['created']['metadata'], j['created']['output_file_id'])")" = "('batch', 'validating', '/v1/chat/completions', '$FID', {'job': 'mock_batch.t'}, None)" ]
check "polled to completed: request_counts, an output file and no error file ($(py "j['$BID']['status'], j['$BID']['request_counts'], j['$BID']['error_file_id']"))" \
	[ "$(py "(j['$BID']['status'], j['$BID']['request_counts'], j['$BID']['error_file_id'], bool(j['$BID']['completed_at']))")" = "('completed', {'total': 40, 'completed': 40, 'failed': 0}, None, True)" ]
fetch "$(json_get "$T/$BID.json" "j['output_file_id']")" out1
check "output: one line per custom_id, 200, batch_req_ ids, the answer of that line's own chunk" \
	[ "$(py "sorted(by_id('out1')) == sorted(by_id('chat')) and all(x['id'].startswith('batch_req_') and x['error'] is None and x['response']['status_code'] == 200 and x['response']['request_id'] for x in l['out1']) and all(all(e['chunks'] == [c] for e in json.loads(x['response']['body']['choices'][0]['message']['content'])['entities']) for c, x in by_id('out1').items() if int(c[2:]) % 5 != 4)")" = True ]
check "--batch-shuffle: the output is not in input order" \
	[ "$(py "[x['custom_id'] for x in l['out1']] != [x['custom_id'] for x in l['chat']]")" = True ]
live=
for c in c-3 c-4 c-9; do
	api POST /v1/chat/completions -H 'Content-Type: application/json' --data-binary "@$T/bodies/$c.body" >/dev/null
	cp "$T/out" "$T/live-$c.json"
	live="$live$(py "j['live-$c'] == by_id('out1')['$c']['response']['body']")"
done
check "a line is answered as a live call of the same body is (plain, json_schema; $live)" \
	[ "$live" = TrueTrueTrue ]
check "/stats: lines counted as answers, the 3 bought twice in duplicate_ok, not as live requests ($(api GET /stats >/dev/null; field "j['requests'], j['ok'], j['duplicate_ok'], j['max_ok_per_body'], j['batch_lines_ok']"))" \
	[ "$(field "j['requests'], j['ok'], j['duplicate_ok'], j['max_ok_per_body'], j['batch_lines_ok'], j['rate_limited']")" = "(3, 43, 3, 2, 40, 0)" ]

gen emb 6 e embed
EID=$(create "$(upload "$T/emb.jsonl")" /v1/embeddings)
wait_batch "$EID"
fetch "$(json_get "$T/$EID.json" "j['output_file_id']")" eout
api POST /v1/embeddings -H 'Content-Type: application/json' --data-binary "@$T/bodies/e-2.body" >/dev/null
cp "$T/out" "$T/live-e.json"
api GET /stats >/dev/null
check "embeddings batch: the live call's vectors; embed_inputs_twice catches it ($(field "j['embed_requests'], j['embed_ok'], j['embed_inputs_twice']"))" \
	[ "$(py "j['$EID']['status'], len(l['eout']), j['live-e'] == by_id('eout')['e-2']['response']['body']") $(field "j['embed_requests'], j['embed_ok'], j['embed_inputs_twice']")" = "('completed', 6, True) (1, 7, 1)" ]

# a bad file: line 2 not JSON, 3 a custom_id again, 4 GET, 5 another url, 6 no body object
/usr/bin/python3 - "$T/chat.jsonl" >"$T/bad.jsonl" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()[:7]
one = lambda i, **kw: json.dumps(dict(json.loads(lines[i]), **kw))
print(lines[0]); print(lines[1][:-3]); print(one(2, custom_id="c-0")); print(one(3, method="GET"))
print(one(4, url="/v1/embeddings")); print(one(5, body=[1])); print(lines[6])
PY
VID=$(create "$(upload "$T/bad.jsonl")")
wait_batch "$VID"
check "validation: failed, errors by line ($(py "[(e['line'], e['code']) for e in j['$VID']['errors']['data']]"))" \
	[ "$(py "j['$VID']['status'], j['$VID']['output_file_id'], [(e['line'], e['code'], e['param'], bool(e['message'])) for e in j['$VID']['errors']['data']]")" = "('failed', None, [(2, 'invalid_json_line', None, True), (3, 'duplicate_custom_id', None, True), (4, 'invalid_method', None, True), (5, 'mismatched_endpoint', None, True), (6, 'invalid_body', None, True)])" ]
codes="$(api POST /v1/batches -d '{"input_file_id": "file-nosuch", "endpoint": "/v1/chat/completions", "completion_window": "24h"}') \
$(api POST /v1/batches -d "{\"input_file_id\": \"$FID\", \"endpoint\": \"/v1/responses\", \"completion_window\": \"24h\"}") \
$(api POST /v1/batches -d "{\"input_file_id\": \"$FID\", \"endpoint\": \"/v1/chat/completions\", \"completion_window\": \"1h\"}") \
$(api GET /v1/batches/batch_nosuch)"
check "create: unknown file, endpoint or window 400; unknown batch 404 ($codes)" [ "$codes" = "400 400 400 404" ]

# listing: newest first, in pages
X1=$(create "$FID")
X2=$(create "$FID")
all="$X2 $X1 $VID $EID $BID"
pages= more= after=
while :; do
	api GET "/v1/batches?limit=2${after:+&after=$after}" >/dev/null
	pages="$pages $(field "' '.join(x['id'] for x in j['data'])")"
	more="$more$(field "j['has_more']")"
	after=$(field "j['last_id']")
	[ "$(field "j['has_more']")" = True ] || break
done
check "list: newest first, limit 2 and after, has_more until the last page ($more)" \
	[ "$(echo $pages) $more" = "$all TrueTrueFalse" ]
api GET /v1/batches >/dev/null
check "list: by default all 5, first_id and last_id; limit 101 a 400" \
	[ "$(field "len(j['data']), j['first_id'], j['last_id'], j['object']") $(api GET '/v1/batches?limit=101')" = "(5, '$X2', '$BID', 'list') 400" ]
wait_batch "$X1" && wait_batch "$X2"
api GET /stats >/dev/null
check "/stats: files, batches, statuses, lines, custom_ids in two batches ($(field "[j[k] for k in ('files_uploaded', 'batches_created', 'batch_statuses', 'batch_lines_submitted', 'batch_lines_ok', 'batch_custom_ids_twice')]"))" \
	[ "$(field "[j[k] for k in ('files_uploaded', 'batches_created', 'batch_statuses', 'batch_lines_submitted', 'batch_lines_ok', 'batch_lines_failed', 'batch_custom_ids_twice')]")" = "[4, 5, {'completed': 4, 'failed': 1}, 126, 126, 0, 40]" ]
dir=$(ls -d "$T"/mock/batch-*)
stop_mock
check "the mock's batch dir is removed when it stops" [ -n "$dir" -a ! -e "$dir" ]

# --batch-fail-every 4 --batch-expire-after 30: of 40 lines the first 30 are answered, every
# 4th of them a 500; the other 10 expire; the third batch fails validation
start_mock --batch-fail-every 4 --batch-expire-after 30 --batch-fail-validation-every 3
FID=$(upload "$T/chat.jsonl")
BID=$(create "$FID")
wait_batch "$BID"
fetch "$(json_get "$T/$BID.json" "j['output_file_id']")" out2
fetch "$(json_get "$T/$BID.json" "j['error_file_id']")" err2
check "expired: request_counts, 23 lines answered in the output, in input order ($(py "j['$BID']['status'], j['$BID']['request_counts']"))" \
	[ "$(py "j['$BID']['status'], j['$BID']['request_counts'], bool(j['$BID']['expired_at']), [x['custom_id'] for x in l['out2']] == [x['custom_id'] for x in l['chat'][:30] if int(x['custom_id'][2:]) % 4 != 3]")" = "('expired', {'total': 40, 'completed': 23, 'failed': 17}, True, True)" ]
check "--batch-fail-every 4: lines 4, 8 .. 28 in the error file, 500 with an error body" \
	[ "$(py "[(x['custom_id'], x['response']['status_code'], bool(x['response']['body']['error']['message']), x['error']) for x in l['err2'][:7]] == [('c-%d' % i, 500, True, None) for i in range(3, 30, 4)]")" = True ]
check "--batch-expire-after 30: lines 31-40 in the error file as batch_expired" \
	[ "$(py "[(x['custom_id'], x['response'], x['error']['code'], x['id'][:10]) for x in l['err2'][7:]] == [('c-%d' % i, None, 'batch_expired', 'batch_req_') for i in range(30, 40)]")" = True ]
B2=$(create "$FID")
wait_batch "$B2"
B3=$(create "$FID")
wait_batch "$B3"
api GET /stats >/dev/null
check "--batch-fail-validation-every 3: the third batch fails validation; /stats counts ($(field "[j[k] for k in ('batch_lines_ok', 'batch_lines_failed', 'batch_lines_expired', 'batch_custom_ids_twice', 'batch_statuses')]"))" \
	[ "$(json_get "$T/$B3.json" "(j['status'], j['errors']['data'][0]['code'])") $(field "[j[k] for k in ('batch_lines_ok', 'batch_lines_failed', 'batch_lines_expired', 'batch_custom_ids_twice', 'batch_statuses', 'batch_lines_submitted')]")" = "('failed', 'invalid_request') [45, 15, 20, 30, {'expired': 2, 'failed': 1}, 80]" ]
stop_mock

# --batch-delay-s 6 and --batch-queue-tokens: A (20 lines) fits, B (40) too, A and B do not
gen qa 20 qa
gen qb 40 qb
gen qc 20 qc
QT=$(py "tokens('qa') + tokens('qb') - 1")
start_mock --batch-delay-s 6 --batch-queue-tokens "$QT"
t0=$(date +%s.%N)
A=$(create "$(upload "$T/qa.jsonl")")
wait_batch "$A" in_progress
QB=$(upload "$T/qb.jsonl")
B=$(create "$QB")
wait_batch "$B"
check "--batch-queue-tokens $QT: B refused while A is enqueued, token_limit_exceeded, no line answered" \
	[ "$(py "j['$B']['status'], j['$B']['request_counts'], j['$B']['output_file_id'], j['$B']['errors']['data'][0]['code'], j['$B']['errors']['data'][0]['message']")" = "('failed', {'total': 0, 'completed': 0, 'failed': 0}, None, 'token_limit_exceeded', 'Enqueued token limit reached for mock-1 in organization org-mock. Limit: $QT enqueued tokens. Please try again once some in_progress batches have been completed.')" ]
C=$(create "$(upload "$T/qc.jsonl")")
sleep 1
look "$A" >/dev/null
mid=$(field "j['status'], 0 < j['request_counts']['completed'] < 20")
api POST "/v1/batches/$C/cancel" >/dev/null
cancel=$(field "j['status']")
wait_batch "$C"
fetch "$(json_get "$T/$C.json" "j['output_file_id']")" cout
fetch "$(json_get "$T/$C.json" "j['error_file_id']")" cerr
check "cancel: cancelling, then cancelled; the lines done in the output, the rest batch_cancelled ($cancel; $(py "j['$C']['request_counts']"))" \
	[ "$cancel $(py "j['$C']['status'], 0 < len(l['cout']) < 20, j['$C']['request_counts'] == dict(total=20, completed=len(l['cout']), failed=20 - len(l['cout'])), sorted(x['custom_id'] for x in l['cout'] + l['cerr']) == sorted(by_id('qc')), {(x['response'], x['error']['code']) for x in l['cerr']}")" = "cancelling ('cancelled', True, True, True, {(None, 'batch_cancelled')})" ]
wait_batch "$A"
seen=$(echo $(cat "$T/$A.seen"))
check "--batch-delay-s 6: A part done midway ($mid), then completed; statuses seen in order ($seen)" \
	[ "$mid $(py "j['$A']['status']") $(/usr/bin/python3 -c "import sys; s = sys.argv[1:]; o = ['validating', 'in_progress', 'finalizing', 'completed']; print(s == sorted(s, key=o.index) and s[-1] == 'completed' and 'in_progress' in s)" $seen)" = "('in_progress', True) completed True" ]
B=$(create "$QB")
gen qd 1 qd
QD=$(upload "$T/qd.jsonl")
t0=$(date +%s.%N)
D=$(create "$QD")
wait_batch "$D"
took=$(echo "$(date +%s.%N) - $t0" | bc)
check "--batch-delay-s 6: a batch of one line (answered at once) completes no earlier ($took s)" \
	[ "$(py "j['$D']['status']") $(echo "$took >= 6 && $took < 14" | bc)" = "completed 1" ]
wait_batch "$B"
api GET /stats >/dev/null
check "--batch-queue-tokens: B again once A has ended, completed; batch_queue_refused 1" \
	[ "$(py "j['$B']['status'], j['$B']['request_counts']") $(field "j['batch_queue_refused'], j['batch_lines_cancelled'], sorted(j['batch_statuses'].items())")" = "('completed', {'total': 40, 'completed': 40, 'failed': 0}) (1, $(py "20 - len(l['cout'])"), [('cancelled', 1), ('completed', 3), ('failed', 1)])" ]
finish
