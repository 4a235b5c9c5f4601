#!/bin/bash
# batchop.t: `kgsup __batchop OP DIR`, the Batch API role, against the mock's Files and Batches
# endpoints: a JSONL uploaded comes back byte for byte; a batch created over it completes and
# its output file, downloaded, answers every line; list pages with after; cancel stops a batch.
# Then what the supervisor reads from its exit code and its one line: a wrong key (refused, the
# server's message), a port nobody listens on, bad arguments naming the key; and against a few
# lines of plain-HTTP stub, a Retry-After honoured and a download cut off or stopped midway,
# which leaves no file.
. "$(dirname "$0")/lib.sh"
plan 25

export MOCK_API_KEY=mock-key-$$
export OPENAI_API_KEY=$MOCK_API_KEY
# the mock's batches take 2 s, so a cancel right after a create finds it still running
start_mock --batch-delay-s 2
mkdir -p "$T/st/run"
write_config "$T/st/run/config.json" '{"retry": {"max_attempts": 3, "backoff_base_ms": 50}}'

# op NAME JSON: the role, its answer in $T/out, its line in $T/err, its exit code in rc
op() { echo "$2" | kg __batchop "$1" "$T/st" >"$T/out" 2>"$T/err"; rc=$?; }
# field EXPR: a Python expression over the answer (as j)
field() { json_get "$T/out" "$1"; }

# a chat batch of 5 lines
/usr/bin/python3 - "$T/in.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(5):
        body = {"model": "mock-1", "messages": [{"role": "system", "content": "Extract."},
                {"role": "user", "content": "[chunk c%d]\nAlice Smith met Bob Jones in Paris %d." % (i, i)}]}
        f.write(json.dumps({"custom_id": "row-%d" % i, "method": "POST",
                            "url": "/v1/chat/completions", "body": body}) + "\n")
PY

# --- 1. upload: the file as the server stored it
op upload '{"path": "'"$T/in.jsonl"'"}'
got=$(field '"%s %s %s" % (j["filename"], j["bytes"], j["purpose"])')
check "upload answers the file object (rc $rc: $got)" \
	[ $rc = 0 -a "$got" = "in.jsonl $(stat -c %s "$T/in.jsonl") batch" ]
fid=$(field 'j["id"]')
op download '{"file_id": "'"$fid"'", "path": "'"$T/back.jsonl"'"}'
check "the uploaded file downloads byte for byte (rc $rc, $(cat "$T/out"))" \
	eval '[ $rc = 0 ] && cmp -s "$T/in.jsonl" "$T/back.jsonl" && [ "$(field "j[\"bytes\"]")" = "$(stat -c %s "$T/in.jsonl")" ]'

# --- 2. create, get until completed, download the output
op create '{"input_file_id": "'"$fid"'", "endpoint": "/v1/chat/completions", "completion_window": "24h", "metadata": {"run": "t1"}}'
got=$(field '"%s %s" % (j["status"], j["metadata"]["run"])')
check "create answers the batch, validating, with its metadata (rc $rc: $got)" \
	[ $rc = 0 -a "$got" = "validating t1" ]
bid=$(field 'j["id"]')
for _ in $(seq 100); do
	op get '{"id": "'"$bid"'"}'
	[ $rc = 0 ] && [ "$(field 'j["status"]')" = completed ] && break
	sleep 0.1
done
got=$(field '"%s %s" % (j["status"], j["request_counts"]["completed"])')
check "get follows it to completed, 5 lines answered (rc $rc: $got)" \
	[ $rc = 0 -a "$got" = "completed 5" ]
out=$(field 'j["output_file_id"]')
op download '{"file_id": "'"$out"'", "path": "'"$T/out.jsonl"'"}'
check "download writes the output file, its bytes said (rc $rc, $(cat "$T/out"))" \
	eval '[ $rc = 0 ] && [ "$(field "j[\"bytes\"]")" = "$(stat -c %s "$T/out.jsonl")" ]'
answered=$(/usr/bin/python3 - "$T/out.jsonl" <<'PY'
import json, sys
ids = sorted(json.loads(l)["custom_id"] for l in open(sys.argv[1])
             if json.loads(l)["response"]["status_code"] == 200
             and "Alice" in json.loads(l)["response"]["body"]["choices"][0]["message"]["content"])
print(",".join(ids))
PY
)
check "every line is answered, 200 with its chunk's entities ($answered)" \
	[ "$answered" = row-0,row-1,row-2,row-3,row-4 ]
check "no temporary file is left" eval '[ -z "$(ls "$T" | grep "\.tmp$")" ]'

# --- 3. cancel a second batch while it runs; list and after: newest first, after skips up to
# the id given
op create '{"input_file_id": "'"$fid"'", "endpoint": "/v1/chat/completions", "completion_window": "24h"}'
bid2=$(field 'j["id"]')
op cancel '{"id": "'"$bid2"'"}'
check "cancel answers it cancelling (rc $rc, $(field 'j["status"]' 2>&1))" \
	eval '[ $rc = 0 ] && [ "$(field "j[\"status\"]")" = cancelling ]'
op list '{"limit": 1}'
check "list limit 1 gives the newest batch (rc $rc)" \
	eval '[ $rc = 0 ] && [ "$(field "[b[\"id\"] for b in j[\"data\"]]")" = "['"'$bid2'"']" ]'
op list '{"after": "'"$bid2"'"}'
check "list after it gives the older one next (rc $rc)" \
	eval '[ $rc = 0 ] && [ "$(field "[b[\"id\"] for b in j[\"data\"]]")" = "['"'$bid'"']" ]'
for _ in $(seq 50); do
	op get '{"id": "'"$bid2"'"}'
	[ "$(field 'j["status"]')" = cancelled ] && break
	sleep 0.1
done
check "the cancelled batch ends cancelled ($(field 'j["status"]' 2>&1))" [ "$(field 'j["status"]')" = cancelled ]

# --- 4. the server refuses: a wrong key, an unknown file
OPENAI_API_KEY=sk-wrong op get '{"id": "'"$bid"'"}'
check "a wrong key: refused, rc 4 (rc $rc)" [ $rc = 4 ]
check "its one line names the call and says the server's message" \
	eval '[ $(wc -l <"$T/err") = 1 ] && grep -q "GET $MOCK_URL/batches/$bid: HTTP 401: Incorrect API key provided" "$T/err"'
check "the key is in no output" eval '! grep -q "$MOCK_API_KEY" "$T/out" "$T/err"'
op download '{"file_id": "file-nosuch", "path": "'"$T/nosuch.jsonl"'"}'
check "an unknown file: rc 4, HTTP 404, no file (rc $rc)" \
	eval '[ $rc = 4 ] && grep -q "HTTP 404" "$T/err" && [ ! -e "$T/nosuch.jsonl" -a ! -e "$T/nosuch.jsonl.tmp" ]'

# --- 5. usage: bad arguments name their key; no server at the port; no key
op get '{"id": "../files/x"}'
check "an id that is no id: rc 2, the key named (rc $rc: $(cat "$T/err"))" \
	eval '[ $rc = 2 ] && grep -q "get: id: not an id" "$T/err"'
op list '{"limit": "5"}'
check "a limit that is no number: rc 2, the key named (rc $rc)" \
	eval '[ $rc = 2 ] && grep -q "list: limit: not an integer" "$T/err"'
op create '{"input_file_id": "'"$fid"'", "endpoint": "/v1/chat/completions"}'
check "create without completion_window: rc 2, the key named (rc $rc)" \
	eval '[ $rc = 2 ] && grep -q "create: completion_window: missing" "$T/err"'
op cancel '{"id": "'"$bid"'", "ids": []}'
check "an argument the op does not take: rc 2, named (rc $rc)" \
	eval '[ $rc = 2 ] && grep -q "cancel: ids: not an argument of cancel" "$T/err"'
env -u OPENAI_API_KEY "$KGSUP" __batchop get "$T/st" <<<'{"id": "'"$bid"'"}' >"$T/out" 2>"$T/err"
rc=$?
check "no key: rc 2 (rc $rc)" eval '[ $rc = 2 ] && grep -q OPENAI_API_KEY "$T/err"'
cp "$T/st/run/config.json" "$T/mockcfg.json"
dead=$(free_port_pair)
sed -i "s#127.0.0.1:$PORT#127.0.0.1:$dead#" "$T/st/run/config.json"
op get '{"id": "'"$bid"'"}'
check "a port nobody listens on: rc 2, cannot connect (rc $rc: $(cat "$T/err"))" \
	eval '[ $rc = 2 ] && grep -q "cannot connect: Connection refused" "$T/err"'

# --- 6. a stub over plain HTTP: a 429 with Retry-After, downloads cut off and stalled
/usr/bin/python3 - "$T/stub.port" >"$T/stub.log" 2>&1 <<'PY' &
import http.server, sys, time
seen = {}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        n = seen[self.path] = seen.get(self.path, 0) + 1
        if self.path.endswith("/busy") and n == 1 or self.path.endswith("/always"):
            body = b'{"error": {"message": "Rate limit reached"}}'
            self.send_response(429); self.send_header("Retry-After", "1")
        elif self.path.endswith("/busy"):
            body = b'{"id": "busy", "status": "completed"}'
            self.send_response(200)
        else:  # a file's content: cut after 5000 of its 100000 bytes, or trickled
            self.send_response(200); self.send_header("Content-Length", "100000"); self.end_headers()
            for _ in range(5 if "cut" in self.path else 100):
                self.wfile.write(b"x" * 1000); self.wfile.flush()
                time.sleep(0 if "cut" in self.path else 0.1)
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
STUB=$!
for _ in $(seq 50); do [ -s "$T/stub.port" ] && break; sleep 0.1; done
write_config "$T/st/run/config.json" '{"api": {"base_url": "http://127.0.0.1:'"$(cat "$T/stub.port")"'/v1"}, "retry": {"max_attempts": 2, "backoff_base_ms": 50}}'
t0=$(date +%s%N)
op get '{"id": "busy"}'
ms=$((($(date +%s%N) - t0) / 1000000))
check "a 429 with Retry-After 1 is waited out, then answered (rc $rc, ${ms} ms)" \
	eval '[ $rc = 0 ] && [ $ms -ge 1000 ] && [ "$(field "j[\"status\"]")" = completed ]'
op get '{"id": "always"}'
check "429s past retry.max_attempts: rc 3, HTTP 429 said (rc $rc)" \
	eval '[ $rc = 3 ] && grep -q "GET http://127.0.0.1:[0-9]*/v1/batches/always: HTTP 429: Rate limit reached" "$T/err"'
op download '{"file_id": "file-cut", "path": "'"$T/cut.jsonl"'"}'
check "a download cut off every time: rc 3, no file left (rc $rc)" \
	eval '[ $rc = 3 ] && [ ! -e "$T/cut.jsonl" -a ! -e "$T/cut.jsonl.tmp" ]'
echo '{"file_id": "file-slow", "path": "'"$T/slow.jsonl"'"}' >"$T/slow.json"
"$KGSUP" __batchop download "$T/st" <"$T/slow.json" >"$T/out" 2>"$T/err" &
role=$!
for _ in $(seq 50); do [ -s "$T/slow.jsonl.tmp" ] && break; sleep 0.05; done
kill -TERM $role
wait $role
rc=$?
check "a download stopped by SIGTERM midway: rc 75, no file left (rc $rc)" \
	eval '[ $rc = 75 ] && [ ! -e "$T/slow.jsonl" -a ! -e "$T/slow.jsonl.tmp" ]'
kill $STUB 2>/dev/null
wait $STUB 2>/dev/null

finish
