#!/bin/bash
# mock_embed.t: the mock's /v1/embeddings, which the embedding stages' tests stand on, asked with
# curl over HTTPS: the float and base64 encodings carry the same float32 values; the same text
# gets the same vector in any batch, similar texts similar vectors, different texts not;
# "dimensions"; usage; OpenAI's 400s; a model's own limits (--model-limit) leave another model's
# window alone; --embed-429-every; --no-base64; --strict-path; the /stats counters.
. "$(dirname "$0")/lib.sh"
plan 17

# emb BODY [PATH]: POSTs BODY to the mock; the answer to $T/out, its headers to $T/hdr; prints
# the status
emb() {
	curl -s --cacert "$T/mock/cert.pem" -o "$T/out" -D "$T/hdr" -w '%{http_code}' \
		-H 'Content-Type: application/json' -d "$1" "https://127.0.0.1:$PORT${2:-/v1/embeddings}"
}
# keep NAME: the last answer kept as $T/NAME.json
keep() { cp "$T/out" "$T/$1.json"; }
# py EXPR: a Python expression over the kept answers (a dict of NAME -> JSON, as j) and the
# helpers below
py() {
	/usr/bin/python3 - "$T" "$1" <<'PY'
import array, base64, glob, json, math, os, sys
d, expr = sys.argv[1:3]
j = {os.path.basename(p)[:-5]: json.load(open(p)) for p in glob.glob(os.path.join(d, "*.json"))}
def vecs(name):  # the answer's vectors as float32 lists, whichever the encoding
    out = []
    for e in j[name]["data"]:
        v = e["embedding"]
        out.append(array.array("f", base64.b64decode(v)).tolist() if isinstance(v, str)
                   else array.array("f", v).tolist())
    return out
def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
print(eval(expr))
PY
}
header() { tr -d '\r' <"$T/hdr" | sed -n "s/^$1: //Ip"; }
stat() { curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats${2:-}" |
	/usr/bin/python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

start_mock --embed-max-tokens 100 --model-limit emb-lim=120:0 --model-limit chat-lim=600:0 \
	--window-s 1
TEXTS='["Ada Lovelace", "Ada Lovelace.", "Charles Babbage", "Grace Hopper worked on compilers at the Navy", "Ünïcode café ☕"]'
emb "{\"model\": \"m-emb\", \"input\": $TEXTS}" >/dev/null && keep float
emb "{\"model\": \"m-emb\", \"input\": $TEXTS, \"encoding_format\": \"base64\"}" >/dev/null && keep b64
check "float: one vector of 1536 values per input, in order ($(py "[(e['index'], len(e['embedding'])) for e in j['float']['data']]"))" \
	[ "$(py "[(e['object'], e['index'], len(e['embedding'])) for e in j['float']['data']] == [('embedding', i, 1536) for i in range(5)] and j['float']['object'] == 'list' and j['float']['model'] == 'm-emb'")" = True ]
check "base64: strings of little-endian float32" \
	[ "$(py "all(isinstance(e['embedding'], str) and len(base64.b64decode(e['embedding'])) == 4 * 1536 for e in j['b64']['data'])")" = True ]
check "float and base64 carry the same float32 values, bit for bit" \
	[ "$(py "vecs('float') == vecs('b64') and j['float']['data'][0]['embedding'] == vecs('b64')[0]")" = True ]
check "vectors are unit length ($(py "[round(math.sqrt(sum(x * x for x in v)), 6) for v in vecs('float')]"))" \
	[ "$(py "all(abs(sum(x * x for x in v) - 1) < 1e-5 for v in vecs('float'))")" = True ]
check "similar texts, similar vectors: Ada Lovelace / Ada Lovelace. ($(py "round(cos(*vecs('float')[:2]), 4)"))" \
	[ "$(py "cos(*vecs('float')[:2]) >= 0.99")" = True ]
check "different texts, not: Ada Lovelace / Charles Babbage ($(py "round(cos(vecs('float')[0], vecs('float')[2]), 4)"))" \
	[ "$(py "cos(vecs('float')[0], vecs('float')[2]) < 0.5 and cos(vecs('float')[0], vecs('float')[3]) < 0.5")" = True ]
emb '{"model": "m-emb", "input": "Charles Babbage", "dimensions": 256}' >/dev/null && keep dims
emb '{"model": "m-emb", "input": ["Grace Hopper worked on compilers at the Navy", "Charles Babbage"]}' >/dev/null && keep again
check "the same text, the same vector in another batch; dimensions 256 gives 256 values" \
	[ "$(py "vecs('again') == [vecs('float')[3], vecs('float')[2]] and len(vecs('dims')[0]) == 256 and abs(sum(x * x for x in vecs('dims')[0]) - 1) < 1e-5")" = True ]
check "usage: tokens as UTF-8 bytes / 4 rounded up, per input ($(py "j['float']['usage']"))" \
	[ "$(py "j['float']['usage'] == {'prompt_tokens': sum((len(t.encode()) + 3) // 4 for t in json.loads('''$TEXTS''')), 'total_tokens': j['float']['usage']['prompt_tokens']}")" = True ]

# OpenAI's 400s
bad=
for body in '{"model": "m-emb", "input": []}' '{"model": "m-emb", "input": ""}' \
	'{"model": "m-emb", "input": ["a", ""]}' '{"model": "m-emb", "input": ["a", 3]}' \
	"{\"model\": \"m-emb\", \"input\": [$(printf '"x",%.0s' $(seq 2048))\"x\"]}" \
	"{\"model\": \"m-emb\", \"input\": [\"$(printf 'word %.0s' $(seq 81))\"]}" \
	'{"model": "m-emb", "input": "a", "encoding_format": "hex"}' \
	'{"model": "m-emb", "input": "a", "dimensions": 0}' '{"input": "a"}' 'not json'; do
	code=$(emb "$body")
	[ "$code" = 400 ] && [ "$(/usr/bin/python3 -c "import json; e=json.load(open('$T/out'))['error']; print(e['type'], bool(e['message']))")" = "invalid_request_error True" ] ||
		bad="$bad ${body:0:40}=$code"
done
emb "{\"model\": \"m-emb\", \"input\": [\"$(printf 'word %.0s' $(seq 80))\"]}" >/dev/null
check "400 invalid_request_error: empty input, an empty string, a number, 2049 inputs, over --embed-max-tokens, bad encoding or dimensions, no model, not JSON (${bad:-all 10}); at the limit, 200" \
	[ "${bad:-none}:$(head -1 "$T/hdr" | cut -d' ' -f2)" = none:200 ]

# --model-limit: emb-lim 2 requests in the window of 1 s, chat-lim 10, others unlimited
codes=
for i in 1 2 3; do codes="$codes $(emb '{"model": "emb-lim", "input": "x"}')"; done
lim_hdr=$(header x-ratelimit-limit-requests)/$(header retry-after)
chat=$(emb '{"model": "chat-lim", "messages": [{"role": "user", "content": "[chunk c1]\nAda Lovelace"}]}' /v1/chat/completions)
chat_hdr=$(header x-ratelimit-limit-requests)/$(header x-ratelimit-remaining-requests)
other=$(emb '{"model": "m-emb", "input": "x"}')/$(header x-ratelimit-limit-requests)
check "--model-limit: the third embedding call in the window is a 429 with its model's headers ($codes; $lim_hdr)" \
	[ "$codes $lim_hdr" = " 200 200 429 120/1" ]
check "--model-limit: another model's window is untouched (chat $chat, limit/remaining $chat_hdr; unnamed $other)" \
	[ "$chat $chat_hdr $other" = "200 600/9 200/" ]
check "/stats model_limits ($(stat "j['model_limits']"))" \
	[ "$(stat "j['model_limits'] == {'emb-lim': dict(rpm=120, tpm=0, admitted=2, limited=1), 'chat-lim': dict(rpm=600, tpm=0, admitted=1, limited=0)}")" = True ]
# 19 embedding requests so far: 4 of the texts above, 10 refused, 1 at the token limit, 3 of
# emb-lim (one refused), 1 of m-emb; 17 inputs answered. Embedded more than once (by model,
# dimensions and text): the 5 texts (Grace Hopper's and Charles Babbage's three times) and emb-lim's "x"
check "/stats: embed_requests, embed_ok, embed_inputs, embed_400, embed_429 ($(stat "[j[k] for k in ('embed_requests', 'embed_ok', 'embed_inputs', 'embed_400', 'embed_429')]"))" \
	[ "$(stat "[j[k] for k in ('embed_requests', 'embed_ok', 'embed_inputs', 'embed_400', 'embed_429')]")" = "[19, 8, 17, 10, 1]" ]
check "/stats: texts embedded twice ($(stat "j['embed_inputs_twice'], j['embed_max_per_input'], j['embed_distinct_inputs']")) and, with bodies=1, by digest" \
	[ "$(stat "(j['embed_inputs_twice'], j['embed_max_per_input'], j['embed_distinct_inputs'], sorted(j['embed_inputs_by_digest'].values()).count(3))" "?bodies=1")" = "(6, 3, 9, 2)" ]

# --embed-429-every, --no-base64, --strict-path
stop_mock
start_mock --embed-429-every 3 --no-base64 --strict-path
codes=
for i in 1 2 3 4; do codes="$codes $(emb '{"model": "e", "input": "Ada Lovelace", "encoding_format": "base64"}')"; done
keep nob64
chat=$(emb '{"model": "c", "messages": [{"role": "user", "content": "hi"}]}' /v1/chat/completions)
check "--embed-429-every 3: the third embedding call is a 429, chat untouched ($codes; chat $chat; embed_429 $(stat "j['embed_429']"))" \
	[ "$codes $chat $(stat "j['embed_429']")" = " 200 200 429 200 200 1" ]
check "--no-base64: base64 asked, floats sent, the same values" \
	[ "$(py "isinstance(j['nob64']['data'][0]['embedding'], list) and vecs('nob64')[0] == vecs('float')[0]")" = True ]
check "--strict-path: /embeddings without /v1 is a 404" [ "$(emb '{"model": "e", "input": "x"}' /embeddings)" = 404 ]
finish
