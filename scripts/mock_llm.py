#!/usr/bin/python3
"""mock_llm.py: a local OpenAI-compatible chat-completions server for kgsup's tests, demo and
benchmarks. Standard library only; listens on 127.0.0.1 only; serves HTTPS with a self-signed
certificate it generates at start (openssl CLI), written to --dir/cert.pem for the client's
api.ca_file.

Answers are deterministic: for each "[chunk <id>]" section of the user prompt it returns the
capitalised words of the chunk as entities and links consecutive ones by a relation. A request
with response_format {"type": "json_schema", "json_schema": {"name": STAGE, "schema": S}} gets
JSON valid against S made from the user prompt's words, seeded from the SHA-256 of the body
(scripts/mock_schema.py); the chunk answer above when S is the knowledge graph's and that answer
fits it. It can add latency (also per stage: --stage-latency), fail one stage's requests whose
prompt holds a string (--fail-stage), inject errors (500, 429, malformed bodies, non-JSON
content, dropped connections, hangs, an entity with an empty type: --bad-entity, no usage:
--no-usage), enforce sliding-window RPM/TPM limits with Retry-After and x-ratelimit-* headers, check
the API key (from the environment variable named by --key-env) and the model name.

Limits announced in other units, in the same x-ratelimit-*-requests headers (issue 20): --rps N
is a server counting per second (N in any second, resets under a second); --daily N a daily
quota as Groq's (N requests until the day ends, --day-ends-s after the start, the reset that far
away; then a 429 with Retry-After until it does, and N again for the next day).

Limits per model (issue 21): --model-limit MODEL=RPM[:TPM] (repeatable, scripts/mock_window.py)
gives requests naming MODEL, chat or embeddings, a sliding window of their own over --window-s,
announced in the same headers; other models keep --rpm/--tpm. Each entry of requests_log names
its model.

GET /v1/models (any path ending in /models; only /v1/models with --strict-path) lists the one
model --model accepts, in OpenAI's shape; without --model (any model is accepted) it answers 404,
as a server without the endpoint does. /stats counts these requests apart (models_asked).
A certificate already in --dir is kept, so a mock restarted on the same --port and --dir is the
same server to a client that trusts it.

Rows (issue 19): a prompt holding "[row <id>] <text>" lines whose schema (response_format's, or
else the JSON schema written into the system or user prompt after a line naming "schema") has an
array of objects carrying --item-key (default "id") is answered with one object per row line, in
order, each made from the schema seeded by the SHA-256 of that row's text alone (one text gets
one answer in whatever batch it comes), its "sentiment" (when an enum of positive, neutral and
negative) picked from the text's words and its "nps_category" (promoter, passive, detractor)
following that. --omit-row ID leaves row ID out of the first answer (a 200) holding it;
--foreign-row adds to every row answer an object with an id its prompt did not hold.

GET /stats returns what it saw: requests, successes, successes per distinct request body,
entities it returned (GET /stats?bodies=1 adds the SHA-256 of each answered body, and
requests_log: for each answered request its stage, arrival and answer times, body digest,
status and user prompt; the first --log-limit of them; GET /stats?times=1 adds status_times:
each completion call's arrival, in seconds since the start, under the status of its answer),
and of rows: rows_asked (row lines in answered prompts), row_ids (how often each id was
asked), rows_omitted and rows_foreign; and day_ends_wall, the epoch time --daily's first day
ends. The port is written to --dir/port once it listens.

Embeddings (issue 21): POST /v1/embeddings (any path ending in /embeddings) answers deterministic
vectors, similar texts similar, in float or base64, with OpenAI's 400s; its options, recipe and
/stats fields are in scripts/mock_embed.py. --model-limit MODEL=RPM:TPM (repeatable) gives a
model its own sliding window and headers, for chat and embeddings alike (scripts/mock_window.py);
/stats model_limits says what each window admitted and refused.

Batch API (issue 23): POST /v1/files, GET /v1/files/ID[/content], POST /v1/batches, GET
/v1/batches[/ID], POST /v1/batches/ID/cancel (any path ending so), in OpenAI's shape; a batch's
lines are answered in a background thread by the code answering live calls (chat_answer,
mock_embed.answer), counted alike, outside the live limits. Its options (--batch-*), states,
files and /stats fields are in scripts/mock_batch.py and scripts/mock_files.py.
"""
import argparse
import collections
import hashlib
import http.server
import json
import os
import random
import re
import signal
import socketserver
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mock_schema  # noqa: E402  (the script's own directory, whatever the caller's cwd)
import mock_embed  # noqa: E402
import mock_batch  # noqa: E402
import mock_files  # noqa: E402
import mock_window  # noqa: E402

CHUNK_RE = re.compile(r"^\[chunk ([^\]\n]+)\]\n(.*?)(?=^\[chunk |\Z)", re.S | re.M)
WORD_RE = re.compile(r"\b[A-Z][a-z]{2,}\b")
# "[[Dr. Ada Lovelace|person]]" in a transcript: an entity named exactly so (graph tests)
MARK_RE = re.compile(r"\[\[([^|\]]+)\|([^\]]+)\]\]")
# "[row <id>] <text>": one row of a table per line (the id ends at the first "] ")
ROW_RE = re.compile(r"^\[row (.+?)\](?: (.*))?$", re.M)
# a schema written into a prompt: the JSON object opening on the line that names "schema" or on
# the next line holding anything
SCHEMA_AT_RE = re.compile(r"schema[^\n{]*(?:\n\s*)?(?=\{)", re.I)
POSITIVE = {"great", "love", "loved", "excellent", "fast", "helpful", "easy", "friendly", "amazing",
            "perfect", "quick", "smooth", "happy", "good", "best", "recommend", "thanks", "nice"}
NEGATIVE = {"slow", "broken", "rude", "bad", "terrible", "crash", "crashes", "crashed", "awful",
            "worst", "never", "refund", "cancel", "confusing", "expensive", "disappointed",
            "waiting", "useless", "poor", "late", "wrong", "error", "hate", "annoying"}
NPS_OF = {"positive": "promoter", "neutral": "passive", "negative": "detractor"}
STOP = {"The", "And", "But", "Then", "This", "That", "What", "When", "Where", "Yes", "Well",
        "They", "There", "She", "His", "Her", "Our", "You", "Your", "Its", "Also", "Okay", "Extract",
        "Each", "Sure", "Speaker", "Host", "Guest"}


def extract(user_text, per_chunk):
    """Deterministic entities and relations from the chunk sections of a prompt."""
    entities, relations = [], []
    for m in CHUNK_RE.finditer(user_text):
        cid, text = m.group(1), m.group(2)
        marked = MARK_RE.findall(text)
        if marked:
            marked = [(n.replace("\\n", "\n"), t) for n, t in marked]
            for n, t in marked:
                entities.append({"name": n, "type": t, "description": "%s (%s)" % (n, t),
                                 "chunks": [cid]})
            for (a, _), (b, _) in zip(marked, marked[1:]):
                relations.append({"source": a, "target": b, "type": "mentioned with",
                                  "description": "%s and %s come up together" % (a, b),
                                  "chunks": [cid]})
            continue
        names = []
        for w in WORD_RE.findall(text):
            if w not in STOP and w not in names:
                names.append(w)
            if len(names) >= per_chunk:
                break
        for n in names:
            entities.append({"name": n, "type": "concept",
                             "description": "%s, as mentioned in the transcript" % n,
                             "chunks": [cid]})
        for a, b in zip(names, names[1:]):
            relations.append({"source": a, "target": b, "type": "mentioned_with",
                              "description": "%s and %s come up together" % (a, b),
                              "chunks": [cid]})
    return {"entities": entities, "relations": relations}


def named_pairs(values, conv, option):
    """["NAME=VALUE", ...] of a repeatable option as [(NAME, conv(VALUE)), ...]."""
    out = []
    for v in values or []:
        name, sep, val = v.partition("=")
        if not sep or not name:
            sys.exit("mock_llm.py: %s wants NAME=VALUE, not %r" % (option, v))
        out.append((name, conv(val)))
    return out


def response_schema(req):
    """(stage name, schema) of a json_schema request; ("", None) for any other."""
    rf = req.get("response_format")
    if not isinstance(rf, dict) or rf.get("type") != "json_schema":
        return "", None
    js = rf.get("json_schema") or {}
    return str(js.get("name", "")), js.get("schema", {})


def answer_for(user, schema, digest, per_chunk):
    """(answer, the KG answer or None): the chunk extraction without a schema, or with a
    schema it fits (the KG stage's); otherwise JSON made from the schema, seeded by the body."""
    if schema is None:
        kg = extract(user, per_chunk)
        return kg, kg
    if isinstance(schema.get("properties"), dict) and "entities" in schema["properties"]:
        kg = extract(user, per_chunk)
        if mock_schema.errors(schema, kg) is None:
            return kg, kg
    rng = random.Random(int(digest, 16))
    answer = mock_schema.make(schema, rng, mock_schema.prompt_words(user))
    err = mock_schema.errors(schema, answer)
    if err:  # the mock's own bug: say so where the test's log shows it
        sys.stderr.write("mock: made an answer its schema refuses: %s\n" % err)
    return answer, None


def prompt_schema(messages):
    """The JSON schema written into the system prompt (else the user prompt) after a line
    naming "schema", or None."""
    dec = json.JSONDecoder()
    for role in ("system", "user"):
        for m in messages:
            text = m.get("content") if isinstance(m, dict) and m.get("role") == role else None
            if not isinstance(text, str):
                continue
            for at in SCHEMA_AT_RE.finditer(text):
                try:
                    s, _ = dec.raw_decode(text, at.end())
                except ValueError:
                    continue
                if isinstance(s, dict) and ("properties" in s or s.get("type") == "object"):
                    return s
    return None


def row_array(root, schema, key, path=(), depth=0):
    """(path of property names, items schema) of the first array of objects carrying key, at
    the top level first, then in nested objects; None if the schema has none."""
    s = mock_schema.resolve(root, schema)
    props = s.get("properties") if isinstance(s, dict) else None
    if not isinstance(props, dict) or depth > mock_schema.DEPTH_LIMIT:
        return None
    for name, sub in props.items():
        sub = mock_schema.resolve(root, sub)
        if isinstance(sub, dict) and "array" in mock_schema.types_of(sub):
            items = mock_schema.resolve(root, sub.get("items", {}))
            if isinstance(items, dict) and key in (items.get("properties") or {}):
                return path + (name,), items
    for name, sub in props.items():
        found = row_array(root, sub, key, path + (name,), depth + 1)
        if found:
            return found
    return None


def sentiment_of(text, enum):
    """positive, negative or neutral by the text's words, when the enum holds all three."""
    if not {"positive", "negative", "neutral"} <= set(enum):
        return None
    words = re.findall(r"[a-z']+", text.lower())
    score = sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


def row_object(root, items, key, rid, text):
    """One row's answer: made from the items schema, seeded by the SHA-256 of the text alone."""
    seed = int(hashlib.sha256(text.encode()).hexdigest(), 16)
    obj = mock_schema.Maker(root, random.Random(seed), mock_schema.prompt_words(text)).make(items)
    props = items.get("properties", {})
    id_types = mock_schema.types_of(mock_schema.resolve(root, props[key]))
    obj[key] = int(rid) if "string" not in id_types and rid.isdigit() else rid
    sent = mock_schema.resolve(root, props.get("sentiment", {}))
    feeling = sentiment_of(text, sent.get("enum") or []) if isinstance(sent, dict) else None
    if feeling:
        obj["sentiment"] = feeling
        nps = mock_schema.resolve(root, props.get("nps_category", {}))
        if isinstance(nps, dict) and set(NPS_OF.values()) <= set(nps.get("enum") or []):
            obj["nps_category"] = NPS_OF[feeling]
    return obj


def rows_answer(schema, messages, user, rows, digest, args):
    """(answer, its list of row objects) for a prompt of row lines, or (None, None) when no
    schema with an array of objects carrying --item-key is found. The rest of the answer is made
    as any other, seeded by the body; --foreign-row adds an object of an id not asked."""
    root = schema if schema is not None else prompt_schema(messages)
    found = row_array(root, root, args.item_key) if isinstance(root, dict) else None
    if not found:
        return None, None
    path, items = found
    answer = mock_schema.make(root, random.Random(int(digest, 16)), mock_schema.prompt_words(user))
    node = answer
    for name in path[:-1]:
        node = node.get(name) if isinstance(node, dict) else None
    if not isinstance(node, dict):  # a nullable object made null: the rows cannot go there
        return None, None
    objs = [row_object(root, items, args.item_key, rid, text or "") for rid, text in rows]
    if args.foreign_row:
        asked = [rid for rid, _ in rows]
        if all(rid.isdigit() for rid in asked):  # numeric ids: one past the largest
            foreign = str(max(int(rid) for rid in asked) + 1)
        else:
            n = 1
            while "foreign-%d" % n in asked:
                n += 1
            foreign = "foreign-%d" % n
        objs.append(row_object(root, items, args.item_key, foreign, "foreign " + digest))
    node[path[-1]] = objs
    err = mock_schema.errors(root, answer)
    if err:  # the mock's own bug (or a maxItems below the rows asked): say so in its log
        sys.stderr.write("mock: made a rows answer its schema refuses: %s\n" % err)
    return answer, objs


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.rng = random.Random(args.seed)
        self.requests = 0
        self.models_asked = 0  # GET .../models
        self.ok = 0
        self.invalid = 0
        self.limited = 0
        self.limited_at = []
        self.status_times = collections.defaultdict(list)  # status -> completion calls' arrivals
        self.entity_records = 0
        self.status = collections.Counter()
        self.ok_per_body = collections.Counter()
        self.entities = set()
        self.bad_entities = []  # --bad-entity: the names sent with "type": "", in order
        self.window = mock_window.Window(args.rpm, args.tpm, args.window_s)  # --rpm/--tpm
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.t0 = time.monotonic()
        self.t0_wall = time.time()  # so a client can place its own clock on the times below
        self.times = []  # arrival time of each completion request, seconds since start
        self.chunk_sent = {}  # chunk id -> requests whose prompt held it
        self.rows_asked = 0  # row lines in answered prompts
        self.row_ids = collections.Counter()  # row id -> answered prompts that held it
        self.omit_left = set(args.omit_row or [])  # --omit-row ids not yet left out once
        self.rows_omitted = 0
        self.rows_foreign = 0
        self.requests_log = []  # one entry per answered completion request (send_json)
        self.requests_log_dropped = 0  # answered past --log-limit
        self.second = collections.deque()  # --rps: arrival times of the last second's requests
        self.day_ends = self.t0 + args.day_ends_s  # --daily: when the quota is whole again
        self.day_used = 0
        self.stage_latency = dict(named_pairs(args.stage_latency, float, "--stage-latency"))
        self.fail_stage = named_pairs(args.fail_stage, str, "--fail-stage")
        self.windows = mock_window.parse(args.model_limit, args.window_s)  # model -> its Window
        self.embed = mock_embed.Counters()

    def roll(self, rate):
        with self.lock:
            return rate > 0 and self.rng.random() < rate

    def admit(self, tokens):
        """Sliding-window limits: at most rpm*W/60 requests and tpm*W/60 tokens in any W
        seconds (--window-s). Headers speak per minute, like OpenAI's.
        Returns (ok, retry_after_s, headers)."""
        if not self.args.rpm and not self.args.tpm:
            return True, 0, {}
        return self.window.admit(tokens)

    def admit_per_second(self):
        """--rps N: at most N requests in any second, announced as such: limit N, the time
        until the oldest of the last second leaves as the reset. Returns (ok, retry_s, headers)."""
        n = self.args.rps
        now = time.monotonic()
        with self.lock:
            while self.second and now - self.second[0] >= 1.0:
                self.second.popleft()
            ok = len(self.second) < n
            if ok:
                self.second.append(now)
            reset = 1.0 - (now - self.second[0]) if self.second else 0.0
            return ok, 1, {"x-ratelimit-limit-requests": str(n),
                           "x-ratelimit-remaining-requests": str(n - len(self.second)),
                           "x-ratelimit-reset-requests": "%.3fs" % max(0.001, reset)}

    def admit_daily(self):
        """--daily N: N requests until the day ends, the time until then as the reset; used up,
        a 429 until it does, when the quota is whole again for another day."""
        now = time.monotonic()
        with self.lock:
            while now >= self.day_ends:
                self.day_ends += 86400
                self.day_used = 0
            ok = self.day_used < self.args.daily
            self.day_used += ok
            reset = self.day_ends - now
            return ok, max(1, int(reset + 0.999)), {
                "x-ratelimit-limit-requests": str(self.args.daily),
                "x-ratelimit-remaining-requests": str(self.args.daily - self.day_used),
                "x-ratelimit-reset-requests": go_duration(reset)}


def go_duration(s):
    """Seconds as providers write a reset: "6h12m3.5s", "2m0.25s", "0.713s"."""
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return ("%dh" % h if h else "") + ("%dm" % m if h or m else "") + "%.3fs" % sec


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-llm/1"
    # headers and body go out in separate writes: without TCP_NODELAY, Nagle holds the body
    # until the client's delayed ACK, adding 40 ms to every answer on a kept-alive connection
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        if self.server.state.args.verbose:
            sys.stderr.write("mock: " + fmt % args + "\n")

    def send_json(self, code, obj, headers=None, raw=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        self.call_done(self.server.state)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        st = self.server.state
        with st.lock:
            st.status[code] += 1
            if self.arrived is not None:  # a completion call: its arrival, under its status
                if len(st.status_times[code]) < 1000000:
                    st.status_times[code].append(round(self.arrived - st.t0, 4))
                self.arrived = None
            if self.log_entry is not None:
                self.log_entry.update(t_out=round(time.monotonic() - st.t0, 4), status=code)
                if len(st.requests_log) < st.args.log_limit:
                    st.requests_log.append(self.log_entry)
                else:
                    st.requests_log_dropped += 1
                self.log_entry = None

    def do_GET(self):
        st = self.server.state
        if self.path in ("/stats", "/stats?bodies=1", "/stats?times=1"):
            with st.lock:
                obj = {"requests": st.requests, "models_asked": st.models_asked,
                       "ok": st.ok, "invalid": st.invalid,
                       "rate_limited": st.limited, "rate_limited_at": st.limited_at[:1000],
                       "status": {str(k): v for k, v in st.status.items()},
                       "distinct_ok_bodies": len(st.ok_per_body),
                       "max_ok_per_body": max(st.ok_per_body.values(), default=0),
                       "duplicate_ok": sum(v - 1 for v in st.ok_per_body.values()),
                       "prompt_tokens": st.prompt_tokens,
                       "completion_tokens": st.completion_tokens,
                       "max_in_flight": st.max_in_flight,
                       "times": st.times,
                       "t0_wall": st.t0_wall,
                       "day_ends_wall": st.t0_wall + st.args.day_ends_s,
                       "chunks_sent": sum(st.chunk_sent.values()),
                       "chunks_sent_twice": sum(1 for v in st.chunk_sent.values() if v > 1),
                       "rows_asked": st.rows_asked, "row_ids": dict(st.row_ids),
                       "rows_omitted": st.rows_omitted, "rows_foreign": st.rows_foreign,
                       "entity_records": st.entity_records,
                       "entities": sorted(st.entities), "bad_entities": st.bad_entities,
                       "model_limits": mock_window.stats(st.windows)}
                obj.update(mock_embed.stats(st, self.path.endswith("bodies=1")))
                obj.update(st.batches.stats())
                if self.path.endswith("times=1"):  # each completion call's arrival by status
                    obj["status_times"] = {str(k): v for k, v in st.status_times.items()}
                if self.path.endswith("bodies=1"):  # SHA-256 (hex) of each answered body
                    obj["ok_bodies"] = sorted(st.ok_per_body)
                    obj["requests_log"] = list(st.requests_log)
                    obj["requests_log_dropped"] = st.requests_log_dropped
            body = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path.endswith("/models"):
            return self.models(st)
        if st.batches.route(self, "GET"):
            return
        self.send_json(404, {"error": {"message": "not found"}})

    def do_DELETE(self):
        if not self.server.state.batches.route(self, "DELETE"):
            self.send_json(404, {"error": {"message": "not found"}})

    def models(self, st):
        """GET .../models, counted in models_asked only (status counts completion answers)."""
        with st.lock:
            st.models_asked += 1
        a = st.args
        if (a.strict_path and self.path != "/v1/models") or not a.model:
            code, obj = 404, ({"detail": "Not Found"} if a.strict_path
                              else {"error": {"message": "not found"}})
        else:
            code, obj = 200, {"object": "list", "data": [
                {"id": a.model, "object": "model", "created": 0, "owned_by": "mock"}]}
        mock_files.send(self, code, obj)

    log_entry = None  # the request being answered, recorded once its answer is sent
    arrived = None  # a completion call's arrival (monotonic), until its answer is sent

    def do_POST(self):
        st = self.server.state
        if self.path.endswith("/embeddings"):
            return mock_embed.handle(self, st)
        if st.batches.route(self, "POST"):
            return
        self.log_entry = None
        self.arrived = None
        with st.lock:
            st.in_flight += 1
            st.max_in_flight = max(st.max_in_flight, st.in_flight)
        self.in_flight = True
        try:
            self.handle_completion(st)
        finally:
            self.call_done(st)

    def call_done(self, st):
        """The call is no longer in flight: from the moment its answer starts to go out (a
        client may send its next call as soon as it has read it, before this thread gets back
        here), or when it ends without one."""
        if getattr(self, "in_flight", False):
            self.in_flight = False
            with st.lock:
                st.in_flight -= 1

    def handle_completion(self, st):
        a = st.args
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        self.arrived = time.monotonic()
        with st.lock:
            st.requests += 1
            self.nth = st.requests
            if len(st.times) < 100000:
                st.times.append(round(time.monotonic() - st.t0, 4))
        if a.strict_path and self.path != "/v1/chat/completions":
            return self.send_json(404, {"detail": "Not Found"})
        if not self.path.endswith("/chat/completions"):
            return self.send_json(404, {"error": {"message": "unknown path " + self.path}})
        expected = os.environ.get(a.key_env, "")
        if expected and self.headers.get("Authorization") != "Bearer " + expected:
            return self.send_json(401, {"error": {"message": "Incorrect API key provided",
                                                  "code": "invalid_api_key"}})
        out = chat_answer(st, raw, self)
        if out is not None:
            self.send_json(*out)

    def gate(self, st, req, raw):
        """A live call's refusals before it is answered: --error-status, the live limits
        (--rpm/--tpm, --rps, --daily, --model-limit) and the injected 429s. Returns (None, the
        headers to answer with) or (the refusal as send_json's arguments, None)."""
        a = st.args
        if a.error_status and self.nth > a.error_after:
            return (a.error_status, None, None, a.error_body.encode()), None
        tokens = len(raw) // 4 + int(req.get("max_tokens") or 0)
        admit = st.admit_per_second if a.rps else st.admit_daily if a.daily else st.admit
        win = st.windows.get(req.get("model"))  # --model-limit: the model's own window instead
        ok, retry, hdr = win.admit(tokens) if win else admit() if a.rps or a.daily else admit(tokens)
        if not ok:
            with st.lock:
                st.limited += 1
                st.limited_at.append(round(time.monotonic() - st.t0, 4))
            hdr["Retry-After"] = str(retry)
            return (429, {"error": {"message": "Rate limit reached"}}, hdr), None
        if self.nth <= a.first_429:
            return (429, {"error": {"message": "Rate limit reached"}},
                    {"Retry-After": str(a.retry_after)}), None
        if st.roll(a.p_429):
            return (429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "1"}), None
        return None, hdr

    def deliver(self, st, stage):
        """A live call's latency, counted from its arrival (a server of 500 ms answers 500 ms
        after a request came in, not after this script has worked out its answer: the
        benchmarks' bound counts the latency alone), and the faults of the connection: endless
        headers, a hang, a drop. False when the call was dealt with here."""
        a = st.args
        latency_ms = st.stage_latency.get(stage, a.latency_ms)
        if latency_ms:
            time.sleep(max(0.0, self.arrived + latency_ms / 1000.0 - time.monotonic()))
        if a.headers_forever:
            # a status line, then header lines until the client gives up
            try:
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                i = 0
                while True:
                    self.wfile.write(b"X-Pad-%d: %s\r\n" % (i, b"x" * 1000))
                    i += 1
            except OSError:
                self.close_connection = True
                return False
        if st.roll(a.p_hang):
            time.sleep(3600)
            return False
        if st.roll(a.p_drop):
            self.close_connection = True
            self.connection.shutdown(2)
            return False
        return True


def chat_answer(st, raw, live=None):
    """send_json's arguments (status, body, headers, raw bytes) for the body of a chat
    completion request: parsed, answered with the faults that shape an answer (--model,
    --fail-stage, --p-400, --p-500, --p-nonjson, --bad-entity, --fence, max_tokens, rows'
    --omit-row and --foreign-row, --no-usage, --answer-bytes) and counted (ok, invalid,
    ok_per_body, tokens, entities, chunks, rows). live is the Handler of a live call, which adds
    what belongs to the connection: the log entry, its refusals (Handler.gate), latency and the
    connection's faults (Handler.deliver), --p-malformed; None for a line of a batch
    (scripts/mock_batch.py), answered by this same code. None: the live call was dealt with."""
    a = st.args
    try:
        req = json.loads(raw)
        messages = req["messages"]
        user = next(m["content"] for m in messages if m["role"] == "user")
    except (ValueError, KeyError, StopIteration, TypeError):
        return 400, {"error": {"message": "malformed request"}}, None, None
    digest = hashlib.sha256(raw).hexdigest()
    stage, schema = response_schema(req)
    if live:
        live.log_entry = {"stage": stage, "model": req.get("model"),
                          "t_in": round(live.arrived - st.t0, 4), "body": digest,
                          "user_bytes": len(user.encode()), "user": user}
    if a.model and req.get("model") != a.model:
        return 404, {"error": {"message": "The model `%s` does not exist" % req.get("model"),
                               "code": "model_not_found"}}, None, None
    hdr = {}
    if live:
        refused, hdr = live.gate(st, req, raw)
        if refused:
            return refused
    # the answer is worked out before the live call's latency, which counts from its arrival
    rows = ROW_RE.findall(user)
    answer, row_objs = rows_answer(schema, messages, user, rows, digest, a) if rows else (None, None)
    if row_objs is None:
        answer, kg = answer_for(user, schema, digest, a.per_chunk)
    else:
        kg = None
    if a.bad_entity and kg and len(kg["entities"]) > 1:  # a model nearly right
        kg = answer = dict(kg, entities=[dict(kg["entities"][0], type="")] + kg["entities"][1:])
    if live and not live.deliver(st, stage):
        return None
    if any(name == stage and sub in user for name, sub in st.fail_stage):
        return 400, {"error": {"message": "mock: failing stage " + stage}}, None, None
    if st.roll(a.p_400):
        return 400, {"error": {"message": "context too long (injected)"}}, None, None
    if st.roll(a.p_500):
        return 500, {"error": {"message": "internal error"}}, None, None
    if live and st.roll(a.p_malformed):
        return 200, None, hdr, b'{"choices": [{"message": {"content"'
    with st.lock:
        for cid in CHUNK_RE.findall(user):
            st.chunk_sent[cid[0]] = st.chunk_sent.get(cid[0], 0) + 1
        st.rows_asked += len(rows)
        st.row_ids.update(rid for rid, _ in rows)
        if row_objs is not None:
            # --omit-row: the first answer holding the row leaves it out
            asked = {rid for rid, _ in rows}
            drop = st.omit_left & asked
            st.omit_left -= drop
            st.rows_omitted += len(drop)
            st.rows_foreign += a.foreign_row
            row_objs[:] = [o for o in row_objs if str(o[a.item_key]) not in drop]
    valid = not st.roll(a.p_nonjson)
    if not valid:
        content = "Sure! Here are the entities you asked for: " + ", ".join(
            e["name"] for e in kg["entities"]) if kg else "Sure! Here it is: " + str(answer)
    else:
        content = json.dumps(answer)
        if a.fence:
            content = "Here is the graph:\n```json\n" + content + "\n```\n"
    prompt_tokens = len(raw) // 4
    completion_tokens = max(1, len(content) // 4)
    finish = "stop"
    limit = int(req.get("max_tokens") or 0)
    if limit and completion_tokens > limit:
        # like a real model: the answer is cut off at max_tokens
        content = content[:limit * 4]
        completion_tokens = limit
        finish = "length"
        valid = False
    if a.answer_bytes and valid:
        # a server gone wrong: an answer far larger than max_tokens allows
        content += " " * a.answer_bytes
    with st.lock:
        # tokens are billed for every 200; "ok" counts only answers a client can use
        st.prompt_tokens += prompt_tokens
        st.completion_tokens += completion_tokens
        if valid:
            st.ok += 1
            st.ok_per_body[digest] += 1
            for e in (kg or {}).get("entities", []):
                if not e["type"]:  # --bad-entity's: kept apart, not one of the entities
                    st.bad_entities.append(e["name"])
                    continue
                st.entity_records += 1
                st.entities.add(e["name"])
        else:
            st.invalid += 1
    body = {"id": "chatcmpl-mock", "object": "chat.completion", "model": req.get("model"),
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}
    if a.no_usage:  # as many local servers: no usage at all
        del body["usage"]
    return 200, body, hdr, None


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def finish_request(self, request, client_address):
        # the TLS handshake happens in the connection's own thread, not in accept()
        if self.tls:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)


def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    if os.path.exists(cert) and os.path.exists(key):  # a restart: the same server to clients
        return cert, key
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", key, "-out", cert], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", required=True, help="where cert.pem and port are written")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--plain", action="store_true", help="plain HTTP instead of HTTPS")
    p.add_argument("--latency-ms", type=float, default=0)
    p.add_argument("--stage-latency", action="append", metavar="NAME=MS",
                   help="latency of the requests of json_schema name NAME (repeatable)")
    p.add_argument("--log-limit", type=int, default=10000,
                   help="requests_log keeps the first N answered requests (each holds its prompt)")
    p.add_argument("--fail-stage", action="append", metavar="NAME=SUBSTRING",
                   help="answer 400 to stage NAME's requests whose user prompt holds SUBSTRING")
    p.add_argument("--rpm", type=int, default=0)
    p.add_argument("--tpm", type=int, default=0)
    p.add_argument("--window-s", type=float, default=60, help="length of the sliding window")
    p.add_argument("--model-limit", action="append", metavar="MODEL=RPM:TPM",
                   help="MODEL's own sliding window and headers instead of --rpm/--tpm (repeatable)")
    p.add_argument("--rps", type=int, default=0,
                   help="a per-second limit: N requests in any second, announced with resets under a second")
    p.add_argument("--daily", type=int, default=0,
                   help="a daily request quota of N, announced with the reset --day-ends-s away")
    p.add_argument("--day-ends-s", type=float, default=86400 - time.time() % 86400,
                   help="when --daily's day ends, seconds after the start (default: UTC midnight)")
    p.add_argument("--p-429", type=float, default=0)
    p.add_argument("--first-429", type=int, default=0, help="answer the first N requests 429")
    p.add_argument("--retry-after", type=int, default=2, help="Retry-After of those, seconds")
    p.add_argument("--p-500", type=float, default=0)
    p.add_argument("--p-400", type=float, default=0)
    p.add_argument("--p-drop", type=float, default=0)
    p.add_argument("--p-malformed", type=float, default=0)
    p.add_argument("--p-nonjson", type=float, default=0)
    p.add_argument("--p-hang", type=float, default=0)
    p.add_argument("--headers-forever", action="store_true",
                   help="answer every completion request with endless header lines")
    p.add_argument("--fence", action="store_true", help="wrap answers in a ```json fence")
    p.add_argument("--answer-bytes", type=int, default=0, help="pad every answer by this much (past max_tokens)")
    p.add_argument("--bad-entity", action="store_true",
                   help='the first entity of each KG answer (of two or more) has "type": ""')
    p.add_argument("--no-usage", action="store_true", help="answers without usage")
    p.add_argument("--per-chunk", type=int, default=4, help="entities per chunk")
    p.add_argument("--error-status", type=int, default=0,
                   help="answer chat requests with this status and --error-body")
    p.add_argument("--error-body", default="", help="the body of those answers, as given")
    p.add_argument("--error-after", type=int, default=0,
                   help="answer the first N requests as usual before those errors")
    p.add_argument("--strict-path", action="store_true",
                   help="serve /v1/chat/completions only (404 {\"detail\": \"Not Found\"} elsewhere)")
    p.add_argument("--model", default="", help="the only model name accepted")
    p.add_argument("--key-env", default="MOCK_API_KEY",
                   help="environment variable holding the key to require (unset: any)")
    p.add_argument("--item-key", default="id",
                   help="the field of a row answer's objects holding the row id")
    p.add_argument("--omit-row", action="append", metavar="ID",
                   help="leave row ID out of the first answer whose prompt holds it (repeatable)")
    p.add_argument("--foreign-row", action="store_true",
                   help="add to every row answer an object with an id its prompt did not hold")
    mock_embed.add_options(p)
    mock_batch.add_options(p)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    if sum(map(bool, (args.rpm or args.tpm, args.rps, args.daily))) > 1:
        p.error("--rpm/--tpm, --rps and --daily announce in the same headers: one at a time")
    try:
        mock_window.parse(args.model_limit, args.window_s)
    except ValueError as e:
        p.error(str(e))
    os.makedirs(args.dir, exist_ok=True)
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.state = State(args)
    # a batch's lines are answered by the code answering live calls, without the connection
    srv.state.batches = mock_batch.Batches(srv.state, {
        "/v1/chat/completions": lambda raw: chat_answer(srv.state, raw)[:2],
        "/v1/embeddings": lambda raw: mock_embed.answer(srv.state, raw, srv.state.embed.requests)[:2]})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # atexit's cleanups run (--batch-dir)
    srv.tls = None
    if not args.plain:
        cert, key = make_cert(args.dir)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.tls = ctx
    tmp = os.path.join(args.dir, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, os.path.join(args.dir, "port"))
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
