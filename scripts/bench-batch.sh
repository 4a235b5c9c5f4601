#!/bin/bash
# bench-batch.sh KGSUP: BENCH_REQUESTS (100,000) requests through OpenAI's Batch API (issue 23):
# `kgsup start --batch-api` beside the script a Python user writes (scripts/pybatch.py: urllib
# and json, the JSONL written from the requests in a list, a multipart upload built in memory,
# create, poll, the output file downloaded whole, every line parsed into a dict), each against a
# fresh mock (plain HTTP on 127.0.0.1) whose batches take no time of their own
# (--batch-delay-s 0: a batch's lines are answered as fast as the mock's Python can), both
# polling every 0.1 s, both cutting files of at most 50,000 lines (the API's limit).
# The corpus: BENCH_FILES .txt files of one sentence-unit a line (201 to 399 bytes: scripts/
# gen_corpus.py's sentences joined with "; "), cut with chunking.chunk_tokens 100, no overlap,
# one chunk a request (chunks_per_batch 1): a line is a chunk is a request, so the run has
# exactly BENCH_REQUESTS requests (checked with `kgsup plan` before anything is timed); both
# sides send the same bodies (pybatch.py sends those of `kgsup plan -o`).
# What is measured, per side:
# - kgsup: the phases from the supervisor's log (-v: its timestamps to the millisecond): write
#   (from the run's start, after the plan, to the last part written), upload, create, download
#   and commit (__batchop collect: the lines checked as live answers and committed), each the
#   sum over parts of its operation's start to its end; own s: the wall time less the time
#   kgsup only waited for the provider (from the last part submitted to a part's download, when
#   no part was downloading or being collected), so the check of the server and the plan of the
#   corpus count as kgsup's own;
# - Python: its phases as it times them (write includes reading the requests), commit is the
#   parse of the lines into the dict and its file; own s is its total less its wait;
# - wait s: the provider's time as each side saw it (the mock answering the lines, at most a
#   poll more); wall s: start to exit;
# - memory, sampled every BENCH_SAMPLE_S (0.1) from /proc: the supervisor's (or Python's) peak
#   RSS (VmHWM, which counts the store's mapped file: LMDB's pages read), the most anonymous
#   memory seen (RssAnon: its heap), and the largest peak of the __batchop children (upload,
#   create, get, download, collect: short-lived, so the peak sampled may miss their last
#   tenth of a second);
# - CPU s: user + system of the side and all its children (/usr/bin/time), not the mock's.
# Both sides must have every answer: the lines the mock answered 200, kgsup's `export -f
# results` lines and pybatch.py's dict, and the entities in them, are compared.
# Environment: BENCH_REQUESTS (100000), BENCH_FILES (1000), BENCH_SAMPLE_S (0.1), BENCH_KEEP=1
# keeps the directory, BENCH_PYTHON=0 leaves out the Python side, BENCH_KGSUP=0 the kgsup side.
set -uo pipefail
KGSUP=${1:?usage: bench-batch.sh path/to/kgsup}
TOP=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
N=${BENCH_REQUESTS:-100000}
FILES=${BENCH_FILES:-1000}
SAMPLE=${BENCH_SAMPLE_S:-0.1}
POLL=0.1
. "$TOP/scripts/bench-lib.sh" batch
STATUS=0
MOCK_ARGS=(--batch-delay-s 0)

# corpus DIR: N lines in FILES .txt files, each line one unit of 201 to 399 bytes (no ". "
# inside: the text reader cuts units at sentence ends), so that with chunk_tokens 100 (400
# bytes) each line is a chunk of its own
corpus() {
	$PY - "$1" "$N" "$FILES" "$TOP/scripts" <<'PY'
import os, random, sys
out, n, files, scripts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, scripts)
sys.dont_write_bytecode = True
import gen_corpus
r = random.Random(23)
os.makedirs(out, exist_ok=True)
per = (n + files - 1) // files
for f in range((n + per - 1) // per):
    with open(os.path.join(out, "interview-%05d.txt" % f), "w") as fh:
        for i in range(f * per, min(n, (f + 1) * per)):
            line = "%s (%d): %s" % (("Host", "Guest")[i % 2], i, gen_corpus.sentence(r)[:-1])
            while len(line) <= 200:
                line += "; " + gen_corpus.sentence(r)[:-1]
            fh.write(line[:398] + ".\n")
PY
}

# config FILE PORT: one chunk a request, the Batch API polled every POLL s, limits out of the way
config() {
	$PY - "$1" "$2" "$POLL" <<'PY'
import json, sys
out, port, poll = sys.argv[1], sys.argv[2], float(sys.argv[3])
cfg = {"api": {"base_url": "http://127.0.0.1:%s/v1" % port, "ca_file": None, "model": "mock-1",
               "timeout_s": 600},
       "limits": {"requests_per_minute": 1000000, "tokens_per_minute": 1000000000},
       "chunking": {"chunk_tokens": 100, "overlap_tokens": 0, "chunks_per_batch": 1},
       "cache": {"path": None},
       "batch": {"poll_s": poll}}
json.dump(cfg, open(out, "w"), indent=1)
PY
}

# sample ROOT OUT: the peaks of ROOT's process tree, every SAMPLE s until ROOT exits, as JSON:
# role -> {VmHWM, RssAnon} in kB (the roles: supervisor, batchop OP, python, __worker, ...)
sample() {
	$PY - "$1" "$2" "$SAMPLE" <<'PY'
import json, os, sys, time
root, out, period = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
peak = {}

def tree(pid):
    yield pid
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                for c in f.read().split():
                    yield from tree(int(c))
    except OSError:
        return

def look(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0")]
        with open("/proc/%d/status" % pid) as f:
            st = {k: int(v.split()[0]) for k, _, v in (l.partition(":") for l in f)
                  if k in ("VmHWM", "RssAnon")}
    except (OSError, ValueError):
        return
    if any(a.endswith("pybatch.py") for a in argv):
        role = "python"
    elif len(argv) > 2 and argv[1] == "__batchop":
        role = "batchop " + argv[2]
    elif len(argv) > 1 and argv[0].endswith("kgsup") and argv[1] in ("start", "resume"):
        role = "supervisor"
    elif len(argv) > 1 and argv[1].startswith("__"):
        role = argv[1]
    else:
        return
    p = peak.setdefault(role, {"VmHWM": 0, "RssAnon": 0})
    for k in p:
        p[k] = max(p[k], st.get(k, 0))

while os.path.exists("/proc/%d" % root):
    for pid in list(tree(root)):
        look(pid)
    time.sleep(period)
json.dump(peak, open(out, "w"))
PY
}

# timed SIDE CMD...: CMD under /usr/bin/time (CPU of it and its children) and the sampler; sets
# T0 and T1 (wall clock, s) and RC
timed() {
	local side=$1
	shift
	T0=$(now)
	/usr/bin/time -f '%U %S' -o "$D/$side.time" "$@" &
	local pid=$!
	sample "$pid" "$D/$side.mem" &
	local spid=$!
	wait $pid
	RC=$?
	T1=$(now)
	wait $spid
}

# kgsup_row T0 T1 LOG: the kgsup line of the table, from the supervisor's log, the samples and
# the mock's /stats; also checks and says the answers are all there
kgsup_row() {
	stats >"$D/kgsup.stats"
	"$KGSUP" export -s "$D/state" -f results -o "$D/results.jsonl" 2>"$D/export.err" ||
		echo "# kgsup export -f results failed: $(tail -1 "$D/export.err")"
	$PY - "$1" "$2" "$3" "$D" "$N" <<'PY'
import datetime, json, re, sys
t0, t1, log, d, n = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
ev = {}  # (part, what) -> time
run = written = None
line_re = re.compile(r"^(\S+Z) sup \w+: (.*)$")
for line in open(log, errors="replace"):
    m = line_re.match(line)
    if not m:
        continue
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    msg = m.group(2)
    if msg.startswith("run: "):
        run = t
    m = re.match(r"part (\d+): (.*)$", msg)
    if not m:
        continue
    part, what = int(m.group(1)), m.group(2)
    if re.match(r"\d+ requests written", what):
        written = t
    for key in ("upload", "uploaded", "create", "download", "downloaded", "collect", "collected"):
        if what == key:
            ev.setdefault((part, key), t)  # the first: an operation tried again counts whole
    if what.startswith("submitted as batch"):
        ev[(part, "created")] = t
parts = sorted({p for p, _ in ev})
def span(a, b):
    return sum(ev[(p, b)] - ev[(p, a)] for p in parts if (p, a) in ev and (p, b) in ev)
write = written - run if run and written else 0
# kgsup's own time: all but the stretches where it only waited for the provider: from the
# last part submitted, the times no part was downloading or being collected
busy = [(ev[(p, "download")], ev[(p, "collected")]) for p in parts
        if (p, "download") in ev and (p, "collected") in ev]
submitted = max((ev[(p, "created")] for p in parts if (p, "created") in ev), default=t0)
busy.sort()
wait, at = 0.0, submitted
for a, b in busy:
    if a > at:
        wait += a - at
    at = max(at, b)
own = (t1 - t0) - wait
mem = json.load(open(d + "/kgsup.mem"))
sup = mem.get("supervisor", {"VmHWM": 0, "RssAnon": 0})
ops = {k: v for k, v in mem.items() if k.startswith("batchop ")}
op_peak = max(ops.items(), key=lambda kv: kv[1]["VmHWM"]) if ops else ("-", {"VmHWM": 0})
u, s_ = map(float, open(d + "/kgsup.time").read().split()[-2:])
st = json.load(open(d + "/kgsup.stats"))
results = ents = 0
for line in open(d + "/results.jsonl"):
    results += 1
    ents += len(json.loads(line).get("answer", {}).get("entities", []))
print("%-7s %7d %7d %7.2f %7.2f %6.2f %7.2f %7.2f %7.2f %7.2f %7.2f %7.1f %7.1f %8.1f %6.1f" % (
    "kgsup", n, results, write, span("upload", "uploaded"), span("create", "created"),
    span("download", "downloaded"), span("collect", "collected"), own, wait, t1 - t0,
    sup["VmHWM"] / 1024, sup["RssAnon"] / 1024, op_peak[1]["VmHWM"] / 1024, u + s_))
print("# kgsup: %d parts; the mock answered %d of %d lines 200 (%d entities); export -f results:"
      " %d answers, %d entities; largest __batchop: %s (%.1f MB); other children's peaks: %s"
      % (len(parts), st["batch_lines_ok"], st["batch_lines_submitted"], st["entity_records"],
         results, ents, op_peak[0], op_peak[1]["VmHWM"] / 1024,
         ", ".join("%s %.1f MB" % (k, v["VmHWM"] / 1024) for k, v in sorted(mem.items())
                   if k != "supervisor" and not k.startswith("batchop "))))
open(d + "/kgsup.count", "w").write("%d %d\n" % (results, ents))
sys.exit(0 if results == n and st["batch_lines_ok"] == n else 1)
PY
}

# python_row T0 T1: the Python line of the table, from pybatch.py's figures, the samples and
# the mock's /stats
python_row() {
	stats >"$D/python.stats"
	$PY - "$1" "$2" "$D" "$N" <<'PY'
import json, sys
t0, t1, d, n = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
r = json.loads(open(d + "/py.out").read())
mem = json.load(open(d + "/python.mem")).get("python", {"VmHWM": 0, "RssAnon": 0})
u, s_ = map(float, open(d + "/python.time").read().split()[-2:])
st = json.load(open(d + "/python.stats"))
own = (t1 - t0) - r["wait_s"]
print("%-7s %7d %7d %7.2f %7.2f %6.2f %7.2f %7.2f %7.2f %7.2f %7.2f %7.1f %7.1f %8s %6.1f" % (
    "python", n, r["answered"], r["write_s"], r["upload_s"], r["create_s"], r["download_s"],
    r["parse_s"], own, r["wait_s"], t1 - t0, mem["VmHWM"] / 1024, mem["RssAnon"] / 1024, "-",
    u + s_))
print("# python: %d files; the mock answered %d of %d lines 200 (%d entities); pybatch.py kept"
      " %d answers, %d entities (its own ru_maxrss: %.1f MB)" % (
          r["files"], st["batch_lines_ok"], st["batch_lines_submitted"], st["entity_records"],
          r["answered"], r["entities"], r["peak_rss_mb"]))
open(d + "/python.count", "w").write("%d %d\n" % (r["answered"], r["entities"]))
sys.exit(0 if r["answered"] == n and st["batch_lines_ok"] == n else 1)
PY
}

echo "# $N requests through the Batch API (one chunk each), the mock's batches at --batch-delay-s 0," \
	"polled every $POLL s; $(nproc) cores, $(date -u +%F)"
corpus "$D/in"
config "$D/plan.json" 1
planned=$("$KGSUP" plan -c "$D/plan.json" -i "$D/in" --batch-api --json 2>"$D/plan.err" |
	$PY -c "import json, sys; print(json.load(sys.stdin)['batches'])")
if [ "$planned" != "$N" ]; then
	echo "# kgsup plan makes ${planned:-no} requests of this corpus, not $N: $(tail -1 "$D/plan.err")"
	exit 1
fi
printf '%-7s %7s %7s %7s %7s %6s %7s %7s %7s %7s %7s %7s %7s %8s %6s\n' side requests answers \
	write_s upload_s create_s downld_s commit_s own_s wait_s wall_s peak_MB anon_MB batchop_MB cpu_s

if [ "${BENCH_KGSUP:-1}" != 0 ]; then
	start_mock "${MOCK_ARGS[@]}"
	config "$D/kgsup.json" "$PORT"
	timed kgsup "$KGSUP" start -c "$D/kgsup.json" -i "$D/in" -s "$D/state" --batch-api -v \
		--no-progress 2>"$D/kgsup.log"
	if [ $RC -eq 0 ]; then
		kgsup_row "$T0" "$T1" "$D/kgsup.log" || STATUS=1
	else
		printf '%-7s failed (exit %d): %s\n' kgsup "$RC" "$(grep -v ' debug: ' "$D/kgsup.log" | tail -1)"
		STATUS=1
	fi
	stop_mock
fi

if [ "${BENCH_PYTHON:-1}" != 0 ]; then
	# the bodies kgsup sends, made before the clock starts
	"$KGSUP" plan -c "$D/plan.json" -i "$D/in" -o "$D/requests.jsonl" >/dev/null 2>"$D/plan.err"
	start_mock "${MOCK_ARGS[@]}"
	timed python $PY "$TOP/scripts/pybatch.py" "http://127.0.0.1:$PORT/v1" "$D/requests.jsonl" \
		"$D/py" --poll-s "$POLL" >"$D/py.out" 2>"$D/py.err"
	if [ $RC -eq 0 ] && [ -s "$D/py.out" ]; then
		python_row "$T0" "$T1" || STATUS=1
	else
		echo "# pybatch.py exited $RC: $(cat "$D/py.out") $(tail -1 "$D/py.err")"
		STATUS=1
	fi
	stop_mock
fi

if [ -s "$D/kgsup.count" ] && [ -s "$D/python.count" ]; then
	read -r ka ke <"$D/kgsup.count"
	read -r pa pe <"$D/python.count"
	if [ "$ka:$ke" = "$pa:$pe" ]; then
		echo "# both sides have every answer: $ka answers, $ke entities each"
	else
		echo "# the sides differ: kgsup $ka answers ($ke entities), Python $pa ($pe entities)"
		STATUS=1
	fi
fi
exit $STATUS
