#!/bin/bash
# progress.t: on a terminal (a tmux pane) the run draws a one-line progress bar that updates
# and is cleared at the end; piped, the same run writes plain log lines with no control
# characters.
. "$(dirname "$0")/lib.sh"
plan 5

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 6 --words 600 --seed 8
start_mock --latency-ms 120
write_config "$T/cfg.json" '{"chunking": {"chunk_tokens": 100, "overlap_tokens": 0, "chunks_per_batch": 1}, "run": {"workers": 2}}'

# a private tmux server, started from here, so the pane inherits this environment (the key)
TM="tmux -L kgsup-test-$$"
$TM new-session -d -x 160 -y 20 "$KGSUP start -c $T/cfg.json -i $T/in -s $T/state; echo EXIT=\$? >$T/exit; sleep 120"
bars=0 distinct=""
for _ in $(seq 200); do
	[ -s "$T/exit" ] && break
	line=$($TM capture-pane -p 2>/dev/null | grep -E '^\[[#.]{20}\] [0-9]+/[0-9]+ +[0-9]+% .* ETA ' | tail -1)
	if [ -n "$line" ]; then
		bars=$((bars + 1))
		[ "$bars" = 3 ] && diag "$line"
		distinct=$(printf '%s\n%s' "$distinct" "$(echo "$line" | awk '{print $2}')" | sort -u)
	fi
	sleep 0.2
done
sleep 0.3
final=$($TM capture-pane -p 2>/dev/null)
$TM kill-server 2>/dev/null
check "the run in the terminal finishes ($(cat "$T/exit" 2>/dev/null))" grep -q "EXIT=0" "$T/exit"
check "a progress bar was on screen while it ran ($bars captures)" [ "$bars" -ge 3 ]
check "and it moved ($(echo "$distinct" | grep -c /) different counts)" [ "$(echo "$distinct" | grep -c /)" -ge 2 ]
nobar() { echo "$final" | grep -q "finished: " && ! echo "$final" | grep -q "ETA "; }
check "at the end the bar is gone and the summary line is there" nobar

kg start -c "$T/cfg.json" -i "$T/in" -s "$T/state2" 2>"$T/piped.err" </dev/null
check "piped output has no control characters" \
	[ "$(LC_ALL=C tr -d '\n' <"$T/piped.err" | LC_ALL=C tr -d '[:print:]' | wc -c)" = 0 ]
finish
