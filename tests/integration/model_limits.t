#!/bin/bash
# model_limits.t: limits per model (limits.models). Providers limit each model apart: a job whose
# stages use two models runs each at its own model's limits, the slow one's pace (and a 429 on
# it) does not hold back the other, and status shows each model's limits.
. "$(dirname "$0")/lib.sh"
plan 11

export MOCK_API_KEY=mock-key-$$
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 8 --words 150 --formats txt >/dev/null
mkdir -p "$T/job"
printf 'You summarise.\n' >"$T/job/sys.txt"
printf 'A: {{document_name}}\n<doc>\n{{document}}\n</doc>\n' >"$T/job/a.txt"
printf 'B: {{document_name}}\n<doc>\n{{document}}\n</doc>\n' >"$T/job/b.txt"
# cfg FILE LIMITS: two documents stages, one on model-a, one on model-b
cfg() {
	cat >"$1" <<J
{"api": {"base_url": "$MOCK_URL", "ca_file": "$T/mock/cert.pem", "api_key_env": "MOCK_API_KEY"},
 "limits": $2,
 "retry": {"max_attempts": 10, "backoff_base_ms": 50, "backoff_cap_ms": 500},
 "stages": [
  {"name": "slow", "over": "documents", "model": "model-a",
   "prompt": {"system": "sys.txt", "user": "a.txt"}},
  {"name": "fast", "over": "documents", "model": "model-b",
   "prompt": {"system": "sys.txt", "user": "b.txt"}}
 ]}
J
}
# times FILE MODEL: "requests span 429s" of a model's requests at the mock
times() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
log = [e for e in json.load(open(sys.argv[1]))["requests_log"] if e["model"] == sys.argv[2]]
t = sorted(e["t_in"] for e in log)
print(len(log), round(t[-1] - t[0], 2) if t else -1, sum(e["status"] == 429 for e in log))
PY
}
# all8 N EXPR: N is 8 (one request a document) and the Python expression holds
all8() { [ "$1" = 8 ] && /usr/bin/python3 -c "import sys; sys.exit(not ($2))"; }
stats() {
	curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats?bodies=1" >"$1"
	grep -q requests_log "$1" || diag "no stats from the mock on port '$PORT': $(tail -3 "$T/mock.log")"
}

# 1. model-a may make 60 requests a minute, model-b 600, at the mock (over 5 s windows) and in
# the config; the run's own limit is model-a's, so a broker that ignored the models would
# hold model-b to it
start_mock --latency-ms 20 --window-s 5 --model-limit model-a=60 --model-limit model-b=600
cfg "$T/job/cfg1.json" '{"requests_per_minute": 60, "tokens_per_minute": 100000000,
  "models": {"model-a": {"requests_per_minute": 60}, "model-b": {"requests_per_minute": 600}}}'
kg start -c "$T/job/cfg1.json" -i "$T/in" -s "$T/s1" -w 16 --no-progress 2>"$T/err1"; rc=$?
check "the job on two models runs (exit $rc)" [ $rc -eq 0 ]
stats "$T/log1.json"
read -r na sa ra <<<"$(times "$T/log1.json" model-a)"
read -r nb sb rb <<<"$(times "$T/log1.json" model-b)"
diag "model-a: $na requests over $sa s, $ra 429s; model-b: $nb over $sb s, $rb 429s"
check "model-a is paced at its 60 a minute: its 8 requests take at least 6 s ($sa s)" \
	all8 "$na" "$sa >= 6"
check "model-b is not held to model-a's pace: its 8 requests take under 3 s ($sb s)" \
	all8 "$nb" "$sb < 3"
check "no 429 on either model ($ra, $rb)" [ "$ra:$rb" = 0:0 ]
kg status -s "$T/s1" >"$T/st1.txt"
kg status -s "$T/s1" --json >"$T/st1.json"
check "status shows each model's limits" \
	grep -q 'model-a: requests 60 a minute.*model-b: requests 600 a minute' <(tr '\n' ' ' <"$T/st1.txt")
check "status --json has them under limits.models" \
	[ "$(json_get "$T/st1.json" "j['limits']['models']['model-b']['requests_per_minute']['configured']")" = 600 ]
stop_mock

# 2. model-a is configured far above what the mock allows it (2 requests in any 3 s), and the
# server's headers are ignored: model-a's requests meet 429s with Retry-After, model-b's are
# unlimited. The pause after each 429 must hold back model-a's asks, not model-b's.
start_mock --latency-ms 20 --window-s 3 --model-limit model-a=40
cfg "$T/job/cfg2.json" '{"requests_per_minute": 100000, "tokens_per_minute": 100000000,
  "trust_announced": false,
  "models": {"model-a": {"requests_per_minute": 6000}, "model-b": {"requests_per_minute": 6000}}}'
kg start -c "$T/job/cfg2.json" -i "$T/in" -s "$T/s2" -w 16 --no-progress 2>"$T/err2"; rc=$?
check "the job runs through model-a's 429s (exit $rc)" [ $rc -eq 0 ]
stats "$T/log2.json"
read -r na sa ra <<<"$(times "$T/log2.json" model-a)"
read -r nb sb rb <<<"$(times "$T/log2.json" model-b)"
diag "model-a: $na requests over $sa s, $ra 429s; model-b: $nb over $sb s, $rb 429s"
check "model-a met 429s ($ra)" [ "$ra" -ge 1 ]
check "model-b's 8 requests were not held by model-a's pauses: they took under 1.5 s ($sb s)" \
	all8 "$nb" "$sb < 1.5"
check "the warning of the lowered rate names model-a" \
	grep -q 'broker warn: model-a: rate lowered after an HTTP 429' "$T/err2"
check "model-b's rate is never lowered" [ "$(grep -c 'model-b: rate lowered' "$T/err2")" = 0 ]
stop_mock
finish
