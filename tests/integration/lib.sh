# lib.sh: helpers for kgsup's integration tests (TAP, run by prove). Every test gets its own
# temporary directory, starts the mock LLM on 127.0.0.1 itself and stops it on exit.
set -u
KGSUP=${KGSUP:?set KGSUP to the kgsup binary}
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d /tmp/kgsup-it-XXXXXX)
MOCK_PID=
TESTNO=0
FAILED=0
export OPENAI_API_KEY=sk-test-$$-secret
unset MOCK_API_KEY

cleanup() {
	[ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
	pkill -KILL -f "kgsup-it-${T##*-}" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

plan() { echo "1..$1"; }
ok() { TESTNO=$((TESTNO + 1)); echo "ok $TESTNO - $1"; }
not_ok() { TESTNO=$((TESTNO + 1)); FAILED=$((FAILED + 1)); echo "not ok $TESTNO - $1"; }
# check DESCRIPTION COMMAND...: one TAP line from a command's success
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
diag() { echo "# $*"; }
# skip DESCRIPTION REASON: a check that cannot mean anything in this build
skip() { ok "$1 # SKIP $2"; }
# under_asan: kgsup is built with AddressSanitizer (its shadow memory and quarantine make the
# heap much larger than kgsup's own)
under_asan() { ldd "$KGSUP" 2>/dev/null | grep -q libasan; }

# kg ARGS...: runs kgsup (under valgrind when KGSUP_VALGRIND=1, children included)
kg() {
	if [ "${KGSUP_VALGRIND:-}" = 1 ]; then
		valgrind -q --trace-children=yes --error-exitcode=99 --leak-check=full \
			--errors-for-leak-kinds=definite --log-file="$T/valgrind.%p.log" "$KGSUP" "$@"
	else
		"$KGSUP" "$@"
	fi
}

# start_mock [mock options...]: starts the mock and sets PORT and MOCK_URL
start_mock() {
	local d=$T/mock
	rm -rf "$d"; mkdir -p "$d"
	/usr/bin/python3 "$TOP/scripts/mock_llm.py" --dir "$d" "$@" 2>"$T/mock.log" &
	MOCK_PID=$!
	for _ in $(seq 100); do [ -s "$d/port" ] && break; sleep 0.1; done
	PORT=$(cat "$d/port")
	MOCK_URL=https://127.0.0.1:$PORT/v1
}

stop_mock() { [ -n "$MOCK_PID" ] && kill "$MOCK_PID" && wait "$MOCK_PID" 2>/dev/null; MOCK_PID=; }

# free_port_pair: a loopback port P with P+1 free too (a shared broker takes reports on P+1)
. "$TOP/scripts/ports.sh"

# start_broker: `kgsup broker` on 127.0.0.1:$BP with CURVE ($T/broker.key), the clients'
# keys allowed from $T/allow, its limits from $T/bcfg.json, its log in $T/broker.log; sets BPID
start_broker() {
	"$KGSUP" broker --listen "tcp://127.0.0.1:$BP" -c "$T/bcfg.json" --key "$T/broker.key" \
		--allow "$T/allow" 2>>"$T/broker.log" &
	BPID=$!
	for _ in $(seq 50); do grep -q "pid $BPID serving" "$T/broker.log" && break; sleep 0.1; done
}

# mock_stat FIELD: a number from the mock's /stats
mock_stat() {
	curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats" |
		/usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}

# write_config FILE [extra JSON merged over the defaults used by the tests]
write_config() {
	/usr/bin/python3 - "$1" "${2:-{\}}" "$MOCK_URL" "$T/mock/cert.pem" <<'PY'
import json, sys
path, extra, url, ca = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
cfg = {"api": {"base_url": url, "ca_file": ca, "model": "mock-1", "timeout_s": 10,
               "connect_timeout_s": 5},
       "limits": {"requests_per_minute": 1000000, "tokens_per_minute": 1000000000},
       "retry": {"max_attempts": 6, "backoff_base_ms": 50, "backoff_cap_ms": 1000},
       "run": {"workers": 4}}
for sec, kv in extra.items():
    cfg.setdefault(sec, {}).update(kv)
json.dump(cfg, open(path, "w"), indent=1)
PY
}

# rows_job OUT PER_CALL EXTRA: a config for the feedback tests' one rows stage (its schema and
# prompts beside OUT), PER_CALL rows a call, with EXTRA merged over its top-level sections
rows_job() {
	write_config "$1" '{"api": {"structured_outputs": true, "max_tokens": 16384, "api_key_env": "MOCK_API_KEY"}}'
	/usr/bin/python3 - "$1" "$2" "${3:-{\}}" <<'PY'
import json, sys
path, per_call, extra = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
cfg = json.load(open(path))
cfg["stages"] = [{"name": "classify", "over": "rows", "per_call": per_call,
                  "schema": "feedback.json",
                  "prompt": {"system": "feedback-system.txt", "user": "feedback-user.txt"}}]
for sec, kv in extra.items():
    cfg.setdefault(sec, {}).update(kv)
json.dump(cfg, open(path, "w"), indent=1)
PY
}

# job_config OUT JOB EXTRA: the job's config (etc/jobs/JOB or a file) with absolute paths for
# its stages' files, pointed at the mock, with EXTRA merged over its top-level sections
job_config() {
	/usr/bin/python3 - "$1" "$2" "${3:-{\}}" "$MOCK_URL" "$T/mock/cert.pem" <<'PY'
import json, os, sys
out, job, extra, url, ca = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4], sys.argv[5]
cfg = json.load(open(job))
base = os.path.dirname(os.path.abspath(job))
for st in cfg["stages"]:
    if "schema" in st:
        st["schema"] = os.path.join(base, st["schema"])
    for k in st.get("prompt", {}):
        st["prompt"][k] = os.path.join(base, st["prompt"][k])
cfg["api"].update({"base_url": url, "ca_file": ca, "api_key_env": "MOCK_API_KEY",
                   "timeout_s": 10, "connect_timeout_s": 5})
cfg["limits"] = {"requests_per_minute": 100000, "tokens_per_minute": 100000000}
cfg["retry"] = {"max_attempts": 4, "backoff_base_ms": 50, "backoff_cap_ms": 500}
cfg["run"] = {"workers": 4}
for sec, kv in extra.items():
    if isinstance(kv, dict):
        cfg.setdefault(sec, {}).update(kv)
    else:
        cfg[sec] = kv
json.dump(cfg, open(out, "w"), indent=1)
PY
}

# json_get FILE EXPR: evaluates a Python expression over the JSON in FILE (as j)
json_get() { /usr/bin/python3 -c "import json,sys; j=json.load(open('$1')); print($2)"; }

# finish: the script's exit status; under valgrind, any process's report fails the script
finish() {
	if [ "${KGSUP_VALGRIND:-}" = 1 ] && [ -n "$(find "$T" -name 'valgrind.*.log' -size +0)" ]; then
		find "$T" -name 'valgrind.*.log' -size +0 -exec sed 's/^/# /' {} +
		return 1
	fi
	[ "$FAILED" -eq 0 ]
}
