#!/bin/bash
# vectors_out.t: a run's embedding vectors out of kgsup. The run is written by the helper
# vecrun (as the embedding stages leave a store: the stage "cv" over chunks at 8 dimensions,
# "ev" over entities at 4, one chunk and one entity not embedded yet), with vectors from a
# deterministic embedding function that a small server on 127.0.0.1 also answers /v1/embeddings
# with. Checked: export -f vectors gives every stored vector with the exact float32 values, in
# chunk then entity order, leaving out and counting the missing; -f npy refuses the mixed
# dimensions naming the stages, and with --stage writes a .npy that numpy loads with the right
# shape and values, and ids.tsv; search finds the chunk whose text is the query first with
# cosine 1.000, makes one call per stage's model and none the second time (the query's vector
# kept in DIR/search/), asks for base64 or float as api.embeddings_base64 says, and says by
# its exit code when the server cannot be reached (2) or refuses the key (4).
. "$(dirname "$0")/lib.sh"
plan 23

VECRUN=$(dirname "$KGSUP")/tests/vecrun
export MOCK_API_KEY=sk-embed-$$-secret

# the embedding function, shared by the items and the server: words hashed into buckets with
# weights, rounded to float32
cat >"$T/emb.py" <<'PY'
import re, struct
def fnv(w):
    h = 2166136261
    for b in w.encode():
        h = ((h ^ b) * 16777619) & 0xffffffff
    return h
def embed(text, dims):
    v = [0.0] * dims
    for w in re.findall(r"\w+", text.lower()):
        h = fnv(w)
        v[h % dims] += (1 if h & 256 else -1) * (1 + (h >> 9 & 1023) / 997.0)
    return list(struct.unpack("<%df" % dims, struct.pack("<%df" % dims, *v)))
PY

/usr/bin/python3 - "$T" >"$T/items.jsonl" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
from emb import embed
chunks = [("talks/budget.vtt", "The budget for next year was cut by ten percent.\nAda objected.", 61000, 125000),
          ("talks/budget.vtt", "Charles Babbage showed the analytical engine to the committee.", 125000, 190500),
          ("notes/misc.txt", "Nothing about money here, only the weather and some birds.", None, None),
          ("notes/misc.txt", "A chunk the stage has not embedded yet.", None, None)]
for i, (src, text, a, z) in enumerate(chunks):
    o = {"source": src, "text": text, "vector": None if i == 3 else embed(text, 8)}
    if a is not None:
        o.update(start_ms=a, end_ms=z)
    print(json.dumps(o))
ents = [("Ada Lovelace", "person", "mathematician"), ("Charles Babbage", "person", "engineer"),
        ("Analytical Engine", "product", "not embedded yet")]
for i, (n, t, d) in enumerate(ents):
    text = "%s (%s): %s" % (n, t, d)
    print(json.dumps({"entity": n, "type": t, "description": d,
                      "vector": None if i == 2 else embed(text, 4)}))
PY

# the server: /v1/embeddings answers embed(input, dimensions) in the encoding asked; it counts
# calls and keeps the encodings asked in DIR/asked; 401 for another key
cat >"$T/server.py" <<'PY'
import base64, http.server, json, os, struct, sys
sys.path.insert(0, os.path.dirname(sys.argv[0]))
from emb import embed
d, key = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/v1/embeddings" or self.headers.get("Authorization") != "Bearer " + key:
            out, code = {"error": {"message": "Incorrect API key provided"}}, 401
        else:
            with open(os.path.join(d, "asked"), "a") as f:
                f.write(body.get("encoding_format", "float") + " " + body["model"] + "\n")
            data = []
            for i, text in enumerate(body["input"]):
                v = embed(text, body["dimensions"])
                e = (base64.b64encode(struct.pack("<%df" % len(v), *v)).decode()
                     if body.get("encoding_format") == "base64" else v)
                data.append({"object": "embedding", "index": i, "embedding": e})
            out, code = {"object": "list", "data": data, "model": body["model"]}, 200
        b = json.dumps(out).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(os.path.join(d, "port.tmp"), "w").write(str(s.server_port))
os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
s.serve_forever()
PY
mkdir -p "$T/srv"
/usr/bin/python3 "$T/server.py" "$T/srv" "$MOCK_API_KEY" 2>"$T/server.log" &
MOCK_PID=$!
for _ in $(seq 100); do [ -s "$T/srv/port" ] && break; sleep 0.1; done
URL=http://127.0.0.1:$(cat "$T/srv/port")/v1
calls() { [ -f "$T/srv/asked" ] && wc -l <"$T/srv/asked" || echo 0; }

"$VECRUN" "$T/s" "$URL" emb-c 8 emb-e 4 <"$T/items.jsonl"; rc=$?
check "the helper writes the run (exit $rc)" [ $rc -eq 0 ]

# py SCRIPT ARGS...: a Python check; its one line of output is the verdict
py() { /usr/bin/python3 - "$@"; }

kg export -s "$T/s" -f vectors -o "$T/v.jsonl" 2>"$T/v.err"; rc=$?
check "export -f vectors: exit 0 (got $rc)" [ $rc -eq 0 ]
verdict=$(py "$T" <<'PY'
import json, struct, sys
sys.path.insert(0, sys.argv[1])
from emb import embed
rows = [json.loads(l) for l in open(sys.argv[1] + "/v.jsonl")]
items = [json.loads(l) for l in open(sys.argv[1] + "/items.jsonl")]
want = [(("c", i["text"], i["source"]), i["vector"]) for i in items if "text" in i and i["vector"]] + \
       [(("e", i["entity"], None), i["vector"]) for i in items if "entity" in i and i["vector"]]
f32 = lambda xs: list(struct.unpack("<%df" % len(xs), struct.pack("<%df" % len(xs), *xs)))
got = [((r["kind"][0], r.get("text", r.get("name")), r["document"] if r["kind"] == "chunk" else None),
        f32(r["vector"])) for r in rows]
models = [(r["kind"], r["model"]) for r in rows]
if got != want:
    print("differ: %r" % [(g[0], w[0]) for g, w in zip(got, want) if g != w][:2] or len(got))
elif models != [("chunk", "emb-c")] * 3 + [("entity", "emb-e")] * 2:
    print("models: %r" % models)
else:
    print("ok")
PY
)
check "export -f vectors: the stored vectors exactly, chunks then entities, with text/name, document, model ($verdict)" [ "$verdict" = ok ]
check "export -f vectors: the 2 items without a vector are counted on stderr" grep -q "2 items have no vector (" "$T/v.err"
[ -s "$T/v.err" ] && sed 's/^/# /' "$T/v.err"

kg export -s "$T/s" -f npy -o "$T/npy" 2>"$T/npy.err"; rc=$?
check "export -f npy with stages of 8 and 4 dimensions: exit 2 (got $rc)" [ $rc -eq 2 ]
check "... naming the stages and their dimensions" grep -q "cv: 8, ev: 4.*--stage" "$T/npy.err"
check "... and writing nothing" [ ! -e "$T/npy/vectors.npy" ]

kg export -s "$T/s" -f npy --stage cv -o "$T/npy" 2>"$T/npy.err"; rc=$?
check "export -f npy --stage cv: exit 0 (got $rc)" [ $rc -eq 0 ]
verdict=$(py "$T" <<'PY'
import json, sys
import numpy as np
d = sys.argv[1]
a = np.load(d + "/npy/vectors.npy")
rows = [json.loads(l) for l in open(d + "/v.jsonl") if '"chunk"' in l]
want = np.array([r["vector"] for r in rows], dtype=np.float32)
ids = [l.rstrip("\n").split("\t") for l in open(d + "/npy/ids.tsv")]
if a.dtype != np.float32 or a.shape != (3, 8):
    print("dtype %s shape %s" % (a.dtype, a.shape))
elif not np.array_equal(a, want):
    print("values differ")
elif ids[0] != ["row", "id", "kind", "document"] or [r[1] for r in ids[1:]] != [r["id"] for r in rows]:
    print("ids.tsv: %r" % ids)
elif [r[3] for r in ids[1:]] != ["talks/budget.vtt", "talks/budget.vtt", "notes/misc.txt"]:
    print("documents: %r" % ids)
else:
    print("ok")
PY
)
check "numpy loads vectors.npy: float32, shape (3, 8), the exported values; ids.tsv row/id/kind/document ($verdict)" [ "$verdict" = ok ]
kg export -s "$T/s" -f npy --stage ev -o "$T/npy-e" 2>/dev/null
verdict=$(py "$T" <<'PY'
import sys, numpy as np
a = np.load(sys.argv[1] + "/npy-e/vectors.npy")
print("ok" if a.shape == (2, 4) and a.dtype == np.float32 else "shape %s" % (a.shape,))
PY
)
check "export -f npy --stage ev: the 2 entity vectors of 4 dimensions ($verdict)" [ "$verdict" = ok ]
kg export -s "$T/s" -f npy --stage kg -o "$T/npy-x" 2>"$T/x.err"; rc=$?
check "--stage naming a stage that is not an embedding stage: exit 2 naming them (got $rc)" \
	eval '[ $rc -eq 2 ] && grep -q "kg: not an embedding stage.*cv, ev" "$T/x.err"'

Q="Charles Babbage showed the analytical engine to the committee."
kg search -s "$T/s" "$Q" >"$T/q1.out" 2>"$T/q1.err"; rc=$?
check "search: exit 0 (got $rc)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/# /' "$T/q1.err"
sed 's/^/# /' "$T/q1.out"
check "search: the chunk whose text is the query first, cosine 1.000, its document and cue times" \
	eval 'grep -m1 "^  [01]\." "$T/q1.out" | grep -q "^  1.000  talks/budget.vtt  00:02:05-00:03:10$"'
check "search: the chunk's first line under it" \
	eval 'grep -A1 -m1 "^  1.000" "$T/q1.out" | grep -q "^         Charles Babbage showed the analytical"'
check "search: entities too, nearest first (Charles Babbage)" \
	py "$T/q1.out" <<<'import sys; t = open(sys.argv[1]).read().split("entities")[1]; sys.exit("Charles Babbage (person)" not in t.splitlines()[1])'
check "search: one call per stage's model, base64 ($(calls) calls)" \
	[ "$(sort "$T/srv/asked" | tr '\n' ' ')" = "base64 emb-c base64 emb-e " ]

kg search -s "$T/s" --json -k 2 "$Q" >"$T/q2.json" 2>"$T/q2.err"; rc=$?
check "search again: no call, the query's vectors kept in DIR/search ($(calls) calls in all)" \
	eval '[ $rc -eq 0 ] && [ "$(calls)" -eq 2 ] && [ -d "$T/s/search" ]'
verdict=$(py "$T/q2.json" "$Q" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
kinds = [h["kind"] for h in a]
if kinds != ["chunk", "chunk", "entity", "entity"]:
    print("kinds %r" % kinds)
elif a[0]["text"] != sys.argv[2] or abs(a[0]["score"] - 1) > 1e-5 or a[0]["start_ms"] != 125000:
    print("first %r" % a[0])
elif not a[0]["score"] >= a[1]["score"]:
    print("order")
else:
    print("ok")
PY
)
check "search --json -k 2: 2 chunks then 2 entities, the query's own chunk first with its text and cue ($verdict)" [ "$verdict" = ok ]

VECRUN_FLOAT=1 "$VECRUN" "$T/s2" "$URL" emb-c 8 - 0 <"$T/items.jsonl"
kg search -s "$T/s2" $'The budget for next year was cut by ten percent.\nAda objected.' \
	>"$T/q3.out" 2>"$T/q3.err"; rc=$?
check "api.embeddings_base64 false: the call asks for float and the answer is used (exit $rc)" \
	eval '[ $rc -eq 0 ] && [ "$(tail -1 "$T/srv/asked")" = "float emb-c" ] &&
	grep -m1 "^  [01]\." "$T/q3.out" | grep -q "^  1.000  talks/budget.vtt  00:01:01"'

MOCK_API_KEY=sk-wrong kg search -s "$T/s" "a query not asked before" >/dev/null 2>"$T/q4.err"; rc=$?
check "search with a key the server refuses: exit 4 (got $rc), its message said" \
	eval '[ $rc -eq 4 ] && grep -q "HTTP 401: Incorrect API key" "$T/q4.err"'
stop_mock
kg search -s "$T/s" "another query not asked before" >/dev/null 2>"$T/q5.err"; rc=$?
check "search with the server gone: exit 2 (got $rc), cannot connect" \
	eval '[ $rc -eq 2 ] && grep -q "cannot connect" "$T/q5.err"'
kg search -s "$T/s" "$Q" >"$T/q6.out" 2>/dev/null; rc=$?
check "a query asked before still answers with the server gone, the same (exit $rc)" \
	eval '[ $rc -eq 0 ] && cmp -s "$T/q1.out" "$T/q6.out"' 
kg search -s "$T/nothing" "x" >/dev/null 2>"$T/q7.err"; rc=$?
check "search in a directory without a run: exit 2 (got $rc)" [ $rc -eq 2 ]
finish
