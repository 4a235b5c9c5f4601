# bench-lib.sh: what the benchmarks of jobs against the mock share (sourced by bench-stages.sh
# and bench-rows.sh, which set PY and TOP first): a temporary directory D, removed on exit with
# the mock and the processes named in BG (a benchmark's own, started in the background); the
# key both sides send; a fresh mock on plain HTTP, its /stats; a job's config pointed at it;
# free_port_pair (scripts/ports.sh).
# usage: . bench-lib.sh NAME   (D is /tmp/kgsup-NAME-XXXXXX)
D=$(mktemp -d "/tmp/kgsup-$1-XXXXXX")
MOCK=
BG=
trap '[ -n "$BG" ] && kill $BG 2>/dev/null; [ -n "$MOCK" ] && kill $MOCK 2>/dev/null
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$D"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/ports.sh"
# the mock requires this key (MOCK_API_KEY) and both sides send it (OPENAI_API_KEY)
export OPENAI_API_KEY=bench-key MOCK_API_KEY=bench-key

# start_mock [mock options...]: a fresh mock on 127.0.0.1, plain HTTP; sets MOCK and PORT
start_mock() {
	rm -rf "$D/mock"
	$PY "$TOP/scripts/mock_llm.py" --dir "$D/mock" --plain "$@" 2>"$D/mock.log" &
	MOCK=$!
	for _ in $(seq 100); do [ -s "$D/mock/port" ] && break; sleep 0.1; done
	PORT=$(cat "$D/mock/port")
}
stop_mock() { kill $MOCK; wait $MOCK 2>/dev/null; MOCK=; }
# stats [?times=1]: the mock's /stats (with that query)
stats() { curl -s "http://127.0.0.1:$PORT/stats${1:-}"; }
now() { date +%s.%N; }

# job_config JOB OUT PORT WORKERS RPM [WINDOW_S]: the job pointed at the mock, its stage files by
# absolute path (the copy lives elsewhere), RPM requests a minute (counted by the provider over
# WINDOW_S seconds when given: limits.window_s), tokens out of the way, the cache in the state
# directory (fresh for each run)
job_config() {
	$PY - "$@" <<'PY'
import json, os, sys
src, dst, port, workers, rpm = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
window = sys.argv[6:]
cfg = json.load(open(src))
base = os.path.dirname(src)
cfg["api"].update(base_url="http://127.0.0.1:%s/v1" % port, ca_file=None, timeout_s=60)
cfg["limits"].update(requests_per_minute=rpm, tokens_per_minute=1000000000)
if window:
    cfg["limits"]["window_s"] = float(window[0])
cfg["run"]["workers"] = workers
cfg.setdefault("cache", {})["path"] = None
for s in cfg["stages"]:
    if "schema" in s:
        s["schema"] = os.path.join(base, s["schema"])
    for k in s.get("prompt", {}):
        s["prompt"][k] = os.path.join(base, s["prompt"][k])
json.dump(cfg, open(dst, "w"), indent=1)
PY
}
