"""mock_embed.py: the mock's POST /v1/embeddings (any path ending in /embeddings; only
/v1/embeddings with --strict-path), in OpenAI's shape, imported by scripts/mock_llm.py.

Vectors are deterministic and similar texts get similar vectors, so entity resolution and search
can be tested: the text is lower-cased, its punctuation dropped and its white space collapsed;
each character trigram of " text " (weight 1) and each word (weight 2) is hashed (BLAKE2b) to a
dimension and a sign; the sum is L2-normalised and rounded to float32, so the float and the
base64 (little-endian float32) encodings carry bit-identical values. Texts that normalise alike
("Ada Lovelace", "Ada Lovelace.") get the same vector; texts sharing no trigram are near
orthogonal. "dimensions" (1 up to --embed-dims, the model's size) hashes into that many.

Refused as OpenAI does, 400 with {"error": {"message", "type": "invalid_request_error"}}: a
body that is not JSON, no model, an empty input (or an empty string in it), more than 2048
inputs, an item not a string, an input over --embed-max-tokens (tokens counted as UTF-8 bytes /
4, rounded up, as usage counts them), a bad encoding_format or dimensions. --no-base64 is a
server without base64, as several local servers are: encoding_format is ignored and floats are
sent. Limits: the model's own --model-limit window, else the mock's global --rpm/--tpm;
--embed-429-every N answers every Nth embeddings request 429 (Retry-After 1) on top of them.
--embed-latency-ms delays each answer from the request's arrival; --embed-dims-after N:D gives
vectors of D dimensions from the Nth request on (where "dimensions" is not asked). The API key is checked as for
chat; --embed-model, when given, is the only embedding model accepted.

/stats: embed_requests (every POST to .../embeddings), embed_ok, embed_inputs (inputs in 200
answers), embed_tokens, embed_400, embed_429, embed_status, embed_models (inputs by model),
embed_distinct_inputs, embed_inputs_twice (distinct texts embedded more than once, per model and
dimensions), embed_max_per_input; with ?bodies=1 also embed_inputs_by_digest (SHA-256 of model,
dimensions and text -> how often embedded).
"""
import array
import base64
import collections
import functools
import hashlib
import json
import os
import re
import time

MAX_INPUTS = 2048
PUNCT_RE = re.compile(r"[^\w\s]+")


def add_options(p):
    """The embedding options, on mock_llm.py's parser."""
    p.add_argument("--embed-dims", type=int, default=1536,
                   help="the embedding model's size: vectors without \"dimensions\" (text-embedding-3-small's)")
    p.add_argument("--embed-max-tokens", type=int, default=8192,
                   help="an input over this many tokens (bytes / 4) is refused with a 400")
    p.add_argument("--embed-model", default="", help="the only embedding model accepted (default any)")
    p.add_argument("--no-base64", action="store_true",
                   help="ignore encoding_format and send floats, as a server without base64")
    p.add_argument("--embed-429-every", type=int, default=0, metavar="N",
                   help="answer every Nth embeddings request 429 (Retry-After 1)")
    p.add_argument("--embed-latency-ms", type=float, default=0, help="latency of embedding answers")
    p.add_argument("--embed-dims-after", default="", metavar="N:D",
                   help="from the Nth embeddings request on, vectors without \"dimensions\" have D"
                        " (a proxy switching models)")


class Counters:
    """What /stats says of embeddings; guarded by the mock's State.lock."""

    def __init__(self):
        self.requests = 0
        self.ok = 0
        self.inputs = 0
        self.tokens = 0
        self.bad = 0
        self.limited = 0
        self.status = collections.Counter()
        self.models = collections.Counter()
        self.by_digest = collections.Counter()


def tokens_of(text):
    """Tokens of one input, as the mock counts them: UTF-8 bytes / 4, rounded up, at least 1."""
    return max(1, (len(text.encode()) + 3) // 4)


def normalise(text):
    return " ".join(PUNCT_RE.sub("", text.lower()).split())


@functools.lru_cache(maxsize=1 << 18)
def slot(feature, dims):
    """(dimension, sign) of a feature."""
    h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
    return (h >> 1) % dims, 1.0 if h & 1 else -1.0


def vector(text, dims):
    """The text's vector as float32 values (an array('f'))."""
    norm = normalise(text) or text.lower() or "\0"
    padded = " %s " % norm
    acc = collections.defaultdict(float)
    for i in range(len(padded) - 2):
        d, s = slot("3:" + padded[i:i + 3], dims)
        acc[d] += s
    for w in norm.split():
        d, s = slot("w:" + w, dims)
        acc[d] += 2 * s
    length = sum(v * v for v in acc.values()) ** 0.5 or 1.0
    out = array.array("f", bytes(4 * dims))
    for d, v in acc.items():
        out[d] = v / length
    return out


def refuse(message, param=None):
    return 400, {"error": {"message": message, "type": "invalid_request_error", "param": param,
                           "code": None}}


def check(req, a, nth=0):
    """(inputs, dims, encoding) of a valid request, or (status, error body) as OpenAI answers."""
    if not isinstance(req, dict):
        return refuse("We could not parse the JSON body of your request.")
    if not req.get("model"):
        return refuse("you must provide a model parameter")
    inputs = req.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs:
        return refuse("'$.input' is invalid: it must be a non-empty string or array of strings.",
                      "input")
    if len(inputs) > MAX_INPUTS:
        return refuse("Invalid 'input': maximum array length is %d, got %d." % (MAX_INPUTS, len(inputs)),
                      "input")
    for i, x in enumerate(inputs):
        if not isinstance(x, str):
            return refuse("Invalid type for 'input[%d]': expected a string, but got %s instead."
                          % (i, type(x).__name__), "input")
        if not x:
            return refuse("'$.input[%d]' is invalid: an input must not be empty." % i, "input")
        n = tokens_of(x)
        if n > a.embed_max_tokens:
            return refuse("This model's maximum context length is %d tokens, however you requested"
                          " %d tokens (%d in your prompt; 0 for the completion). Please reduce your"
                          " prompt; or completion length." % (a.embed_max_tokens, n, n))
    enc = req.get("encoding_format", "float")
    if enc not in ("float", "base64"):
        return refuse("Invalid value for 'encoding_format': %r; expected 'float' or 'base64'."
                      % (enc,), "encoding_format")
    dims = req.get("dimensions", a.embed_dims)
    if a.embed_dims_after and "dimensions" not in req:
        after, other = map(int, a.embed_dims_after.split(":"))
        dims = other if nth >= after else dims
    if not isinstance(dims, int) or isinstance(dims, bool) or not 1 <= dims <= a.embed_dims:
        return refuse("Invalid value for 'dimensions' = %s. Must be between 1 and %d."
                      % (json.dumps(dims), a.embed_dims), "dimensions")
    return inputs, dims, "float" if a.no_base64 else enc


def send(handler, code, obj, headers=None):
    """Writes one answer, counted in embed_status (not in the chat answers' status)."""
    body = json.dumps(obj).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(body)
    st = handler.server.state
    with st.lock:
        st.embed.status[code] += 1
        st.embed.bad += code == 400


def handle(handler, st):
    """POST .../embeddings."""
    a, c = st.args, st.embed
    raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    arrived = time.monotonic()
    with st.lock:
        c.requests += 1
        nth = c.requests
    if a.strict_path and handler.path != "/v1/embeddings":
        return send(handler, 404, {"detail": "Not Found"})
    expected = os.environ.get(a.key_env, "")
    if expected and handler.headers.get("Authorization") != "Bearer " + expected:
        return send(handler, 401, {"error": {"message": "Incorrect API key provided",
                                             "type": "invalid_request_error", "code": "invalid_api_key"}})
    send(handler, *answer(st, raw, nth, Live(st, arrived, nth)))


class Live:
    """What a live call adds to its answer: the live limits (the model's --model-limit window,
    else --rpm/--tpm), --embed-429-every, --embed-latency-ms."""

    def __init__(self, st, arrived, nth):
        self.st, self.arrived, self.nth = st, arrived, nth

    def limit(self, model, ntok):
        """(None, headers to answer with) or (the 429 as (status, body, headers), None)."""
        st, a = self.st, self.st.args
        win = st.windows.get(model)
        ok, retry, hdr = win.admit(ntok) if win else st.admit(ntok)
        if ok and a.embed_429_every and self.nth % a.embed_429_every == 0:
            ok, retry = False, 1
        if ok:
            return None, hdr
        with st.lock:
            st.embed.limited += 1
        hdr["Retry-After"] = str(retry)
        return (429, {"error": {"message": "Rate limit reached for %s" % model,
                                "type": "requests", "code": "rate_limit_exceeded"}}, hdr), None

    def wait(self):
        if self.st.args.embed_latency_ms:
            time.sleep(max(0.0, self.arrived + self.st.args.embed_latency_ms / 1000.0 - time.monotonic()))


def answer(st, raw, nth, live=None):
    """(status, body, headers) for the body of an embeddings request, counted in the embed_*
    stats of answers (200s); live (a Live) for a live call, None for a line of a batch
    (scripts/mock_batch.py), answered by this same code. nth: the embeddings request it is
    (--embed-dims-after)."""
    a, c = st.args, st.embed
    try:
        req = json.loads(raw)
    except ValueError:
        req = None
    checked = check(req, a, nth)
    if checked[0] == 400:
        return checked + ({},)
    inputs, dims, enc = checked
    model = req["model"]
    if a.embed_model and model != a.embed_model:
        return 404, {"error": {"message": "The model `%s` does not exist" % model,
                               "type": "invalid_request_error", "code": "model_not_found"}}, {}
    ntok = sum(tokens_of(x) for x in inputs)
    hdr = {}
    if live:
        refused, hdr = live.limit(model, ntok)
        if refused:
            return refused
    data = []
    for i, x in enumerate(inputs):
        v = vector(x, dims)
        emb = base64.b64encode(v.tobytes()).decode() if enc == "base64" else v.tolist()
        data.append({"object": "embedding", "index": i, "embedding": emb})
    if live:
        live.wait()
    with st.lock:
        c.ok += 1
        c.inputs += len(inputs)
        c.tokens += ntok
        c.models[model] += len(inputs)
        for x in inputs:
            c.by_digest[hashlib.sha256(("%s\0%d\0%s" % (model, dims, x)).encode()).hexdigest()] += 1
    return 200, {"object": "list", "data": data, "model": model,
                 "usage": {"prompt_tokens": ntok, "total_tokens": ntok}}, hdr


def stats(st, bodies):
    """The embedding fields of /stats (under st.lock)."""
    c = st.embed
    out = {"embed_requests": c.requests, "embed_ok": c.ok, "embed_inputs": c.inputs,
           "embed_tokens": c.tokens, "embed_400": c.bad, "embed_429": c.limited,
           "embed_status": {str(k): v for k, v in c.status.items()},
           "embed_models": dict(c.models), "embed_distinct_inputs": len(c.by_digest),
           "embed_inputs_twice": sum(1 for v in c.by_digest.values() if v > 1),
           "embed_max_per_input": max(c.by_digest.values(), default=0)}
    if bodies:
        out["embed_inputs_by_digest"] = dict(c.by_digest)
    return out
