#!/bin/bash
# zygote.t: workers forked by the zygote (the default) do what exec'd ones do (KGSUP_SPAWN=exec):
# the same export; they are the supervisor's children, look alike in ps, and all of them (the
# zygote too) exit on their own when the supervisor is SIGKILLed. The zygote starts while the
# server is checked, before the plan. A zygote killed in the middle
# of a run is restarted (workers started meanwhile are exec'd) and the run finishes. A -w that
# the hard RLIMIT_NOFILE cannot hold stops at once with a line that names the limit; one the
# soft limit cannot hold raises it, and the workers get the original back.
. "$(dirname "$0")/lib.sh"
plan 20

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 10 --words 900 --seed 7
extra='{"chunking": {"chunk_tokens": 150, "overlap_tokens": 0, "chunks_per_batch": 1}}'
start_mock --latency-ms 300
write_config "$T/cfg.json" "$extra"

# the same run both ways
KGSUP_SPAWN=exec kg start -c "$T/cfg.json" -i "$T/in" -s "$T/exec" -w 6 -v 2>"$T/exec.err"; rc_exec=$?
"$KGSUP" start -c "$T/cfg.json" -i "$T/in" -s "$T/zyg" -w 6 -v 2>"$T/zyg.err" &
sup=$!
for _ in $(seq 100); do [ "$(pgrep -c -f -- "kgsup __worker [0-9]* $T/zyg ")" -ge 6 ] && break; sleep 0.1; done
children=$(pgrep -c -P $sup -f -- "^kgsup __worker [0-9]+ $T/zyg [A-Za-z0-9]{6}")
zygotes=$(pgrep -c -P $sup -f -- "__zygote $T/zyg ")
wait $sup; rc_zyg=$?
check "both runs exit 0 (exec $rc_exec, zygote $rc_zyg)" [ "$rc_exec:$rc_zyg" = 0:0 ]
forked=$(grep -c "debug: worker [0-9]*: pid [0-9]* forked at" "$T/zyg.err")
execd=$(grep -c "debug: worker [0-9]*: pid [0-9]* exec'd at" "$T/zyg.err")
check "the zygote forked every worker ($forked forked, $execd exec'd)" [ "$forked:$execd" = 6:0 ]
# (its exec and loading are not on the way to the first batches)
check "the zygote was ready before the plan was made: it loads while the server is checked" \
	eval '[ "$(grep -n -m1 "debug: zygote ready" "$T/zyg.err" | cut -d: -f1)" -lt "$(grep -n -m1 "info: planned" "$T/zyg.err" | cut -d: -f1)" ]'
check "KGSUP_SPAWN=exec exec'd every worker" \
	[ "$(grep -c "debug: worker [0-9]*: pid [0-9]* exec'd at" "$T/exec.err")" = 6 ]
check "during the run, one zygote and 6 workers, each a child of the supervisor with the command line kgsup __worker SLOT DIR SESSION ($zygotes, $children)" \
	[ "$zygotes:$children" = 1:6 ]
kg export -s "$T/exec" -o "$T/exec.jsonl" 2>/dev/null
kg export -s "$T/zyg" -o "$T/zyg.jsonl" 2>/dev/null
check "the same export either way" cmp -s "$T/exec.jsonl" "$T/zyg.jsonl"
check "the export is not empty ($(wc -l <"$T/zyg.jsonl") lines)" [ -s "$T/zyg.jsonl" ]
check "no warning or error in the zygote run's log" bash -c "! grep -E ' (warn|error): ' '$T/zyg.err' | grep -v 'does not list its models'"
stop_mock

# the supervisor SIGKILLed: workers, broker and zygote exit on their own
start_mock --latency-ms 2000
write_config "$T/cfg.json" "$extra"
"$KGSUP" start -c "$T/cfg.json" -i "$T/in" -s "$T/k" -w 8 -q 2>"$T/k.err" &
sup=$!
for _ in $(seq 100); do [ "$(mock_stat requests)" -ge 8 ] && break; sleep 0.1; done
before=$(pgrep -c -f -- "kgsup __(worker|broker|zygote) .*$T/k ")
kill -KILL $sup; wait $sup 2>/dev/null
for _ in $(seq 50); do pgrep -f -- "$T/k " >/dev/null || break; sleep 0.1; done
left=$(pgrep -a -f -- "$T/k ")
check "supervisor SIGKILLed with $before children (8 workers, broker, zygote): none left after 5 s" \
	[ "$before:$left" = "10:" ]
[ -n "$left" ] && diag "left: $left"
stop_mock

# the zygote SIGKILLed in the middle of a run: a worker that dies while it is down is exec'd,
# one that dies once it is back is forked again
start_mock --latency-ms 400
write_config "$T/cfg.json" "$extra"
"$KGSUP" start -c "$T/cfg.json" -i "$T/in" -s "$T/z" -w 4 -v 2>"$T/z.err" &
sup=$!
for _ in $(seq 100); do [ "$(mock_stat requests)" -ge 4 ] && break; sleep 0.1; done
z1=$(pgrep -f -- "__zygote $T/z ")
pkill -KILL -f -- "kgsup __worker 0 $T/z " # due again in a second, the zygote later
sleep 0.6
kill -KILL "$z1"
z2=
for _ in $(seq 50); do
	z2=$(pgrep -f -- "__zygote $T/z ")
	[ -n "$z2" ] && [ "$z2" != "$z1" ] && break
	sleep 0.1
done
pkill -KILL -f -- "kgsup __worker 1 $T/z "
for _ in $(seq 50); do [ "$(grep -c "debug: worker 1: pid" "$T/z.err")" -ge 2 ] && break; sleep 0.1; done
workers_after=$(pgrep -c -P $sup -f -- "__worker [0-9]* $T/z ")
wait $sup; rc=$?
restarted() { [ -n "$z2" ] && [ "$z2" != "$z1" ]; }
check "the killed zygote ($z1) is restarted ($z2)" restarted
check "the log says it died" grep -q "zygote killed by signal 9; workers are exec'd until it is restarted" "$T/z.err"
second() { grep "debug: worker $1: pid" "$T/z.err" | sed -n 2p | grep -o "forked\|exec'd"; }
check "a worker killed before is started again while the zygote is down: exec'd ($(second 0))" \
	[ "$(second 0)" = "exec'd" ]
check "a worker killed after it is back: forked again ($(second 1)); 4 workers ($workers_after)" \
	[ "$(second 1):$workers_after" = forked:4 ]
kg status -s "$T/z" --json >"$T/z.json"
check "and the run finishes: exit $rc, every batch done" \
	[ "$rc:$(json_get "$T/z.json" "j['batches']['done'] == j['batches']['total']")" = 0:True ]
stop_mock

# RLIMIT_NOFILE: a hard limit too low for -w stops the run at once, naming it
start_mock
write_config "$T/cfg.json" "$extra"
bash -c "ulimit -n 64; ulimit -Hn 64; exec '$KGSUP' start -c '$T/cfg.json' -i '$T/in' -s '$T/n' -w 100" \
	>"$T/n.out" 2>"$T/n.err"; rc=$?
check "-w 100 under a hard limit of 64 open files: exit 2 (got $rc)" [ $rc -eq 2 ]
check "one line naming RLIMIT_NOFILE, the number needed and the hard limit: $(head -c 200 "$T/n.err")" \
	bash -c "[ \$(wc -l <'$T/n.err') = 1 ] && grep -q 'RLIMIT_NOFILE' '$T/n.err' &&
		grep -q ' 464 open files' '$T/n.err' && grep -q 'hard limit is 64' '$T/n.err'"
check "nothing was started: no state directory" [ ! -e "$T/n" ]

# a soft limit too low, a hard one high enough: raised; workers get the original back
stop_mock
start_mock --latency-ms 1000
write_config "$T/cfg.json" "$extra"
bash -c "ulimit -Sn 128; exec '$KGSUP' start -c '$T/cfg.json' -i '$T/in' -s '$T/r' -w 24 -q" 2>"$T/r.err" &
sup=$!
for _ in $(seq 100); do [ "$(pgrep -c -P $sup -f -- "__worker [0-9]* $T/r ")" -ge 24 ] && break; sleep 0.1; done
soft() { awk '/^Max open files/ { print $4 }' "/proc/$1/limits" 2>/dev/null; }
sup_soft=$(soft $sup)
w_soft=$(for p in $(pgrep -P $sup -f -- "__worker [0-9]* $T/r "); do soft "$p"; done | sort -u | tr '\n' ' ')
b_soft=$(soft "$(pgrep -P $sup -f -- "__broker $T/r ")")
wait $sup; rc=$?
check "-w 24 under a soft limit of 128: the run finishes (exit $rc)" [ $rc -eq 0 ]
check "the supervisor raised its soft limit ($sup_soft) and the broker has it ($b_soft)" \
	[ "${sup_soft:-0}" -gt 128 -a "$b_soft" = "$sup_soft" ]
check "every worker has the original 128 ($w_soft)" [ "$w_soft" = "128 " ]
finish
