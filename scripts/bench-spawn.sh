#!/bin/bash
# bench-spawn.sh KGSUP [WORKERS...] [ROUNDS=N in the environment]: what starting a worker costs,
# exec'd (KGSUP_SPAWN=exec: vfork and exec of kgsup, the dynamic loader) against forked by the
# zygote (the default), in one go. For each worker count (default 64 and 256) and each way,
# alternately ROUNDS times (default 2), a run with -w N against the mock (answers after 3 s, so
# that every worker is up before much else happens) is watched until all N workers have said
# HELLO, then stopped. From the run's debug log: per worker, the wall time from the
# supervisor's spawn to its HELLO (the supervisor's "worker N: pid P forked|exec'd at T us"
# and the worker's "ready at T us, after C ms of CPU", both CLOCK_MONOTONIC) and the CPU the
# worker used until then (getrusage: since its fork, the exec and the loader included), the
# time from the first spawn to the last HELLO, and the zygote's own CPU (its forks, and the
# middle processes it reaped; not its own start) per worker it started. Prints medians side by side.
set -uo pipefail
export KGSUP=${1:?usage: bench-spawn.sh path/to/kgsup [workers...]}
shift
COUNTS=${*:-64 256}
ROUNDS=${ROUNDS:-2}
. "$(dirname "$0")/../tests/integration/lib.sh"
TICK=$(getconf CLK_TCK)

max=0
for w in $COUNTS; do [ "$w" -gt "$max" ] && max=$w; done
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files $((max / 4 + 2)) --words 1000 --seed 9 \
	>/dev/null
start_mock --latency-ms 3000
write_config "$T/cfg.json" '{"chunking": {"chunk_tokens": 100, "overlap_tokens": 0, "chunks_per_batch": 1},
	"run": {"stop_deadline_s": 1}}'

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(date -u +%F)"
echo "# kgsup: $KGSUP ($(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?'))"

# one_run N MODE ROUND: a line "N MODE wall_p50 wall_p90 cpu_p50 cpu_mean zygote_cpu all_up"
one_run() {
	local n=$1 mode=$2 s=$T/s-$1-$2-$3
	KGSUP_SPAWN=$mode "$KGSUP" start -c "$T/cfg.json" -i "$T/in" -s "$s" -w "$n" -v \
		--no-progress 2>"$s.log" &
	local sup=$! zcpu=-
	for _ in $(seq 1200); do
		[ "$(grep -c ' debug: ready at ' "$s.log")" -ge "$n" ] && break
		sleep 0.1
	done
	local z
	z=$(pgrep -P "$sup" -f "__zygote $s ")
	[ -n "$z" ] && zcpu=$(awk -v t="$TICK" '{ printf "%.0f", ($14 + $15 + $16 + $17) * 1000 / t }' "/proc/$z/stat")
	kill -TERM "$sup"; sleep 0.2; kill -TERM "$sup" 2>/dev/null
	wait "$sup"
	/usr/bin/python3 - "$s.log" "$n" "$mode" "$zcpu" <<'PY'
import re, statistics, sys
log, n, mode, zcpu = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
spawn, ready, zstart = {}, {}, 0.0
for line in open(log):
    m = re.search(r" zygote debug: ready after ([\d.]+) ms of CPU", line)
    if m:
        zstart += float(m[1])
    m = re.search(r" sup debug: worker (\d+): pid \d+ (?:forked|exec'd) at (\d+) us", line)
    if m:
        spawn.setdefault(int(m[1]), int(m[2]))
    m = re.search(r" w(\d+) debug: ready at (\d+) us, after ([\d.]+) ms of CPU", line)
    if m:
        ready.setdefault(int(m[1]), (int(m[2]), float(m[3])))
both = [i for i in ready if i in spawn]
if len(both) < n:
    print(f"# {mode}: only {len(both)} of {n} workers seen", file=sys.stderr)
wall = sorted((ready[i][0] - spawn[i]) / 1000 for i in both)
cpu = [ready[i][1] for i in both]
up = (max(ready[i][0] for i in both) - min(spawn.values())) / 1e6
zc = f"{(int(zcpu) - zstart) / len(both):.2f}" if zcpu != "-" and both else "-"
print(f"{n} {mode} {statistics.median(wall):.1f} {wall[int(len(wall) * 0.9)]:.1f} "
      f"{statistics.median(cpu):.2f} {statistics.mean(cpu):.2f} {zc} {up:.2f}")
PY
}

for w in $COUNTS; do
	for r in $(seq "$ROUNDS"); do
		for mode in exec zygote; do
			one_run "$w" "$mode" "$r"
		done
	done
done | tee "$T/rows"
/usr/bin/python3 - "$T/rows" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
print()
print("%-8s %-7s %14s %14s %14s %15s %16s %12s" % ("workers", "spawn", "wall ms p50", "wall ms p90",
      "CPU ms p50", "CPU ms mean", "zygote CPU ms/w", "all up s"))
for n in dict.fromkeys(r[0] for r in rows):
    for mode in ("exec", "zygote"):
        rs = [r for r in rows if r[0] == n and r[1] == mode]
        if not rs:
            continue
        med = lambda i: statistics.median(float(r[i]) for r in rs) if rs[0][i] != "-" else float("nan")
        print("%-8s %-7s %14.1f %14.1f %14.2f %15.2f %16.2f %12.2f" % (n, mode, med(2), med(3), med(4),
              med(5), med(6), med(7)))
PY
finish
