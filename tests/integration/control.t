#!/bin/bash
# control.t: the control socket is served without waiting on anyone. A client of the run's
# owner that connects to DIR/sock/control and never says a word (reconnecting whenever it is
# dropped) through a whole run delays neither commits nor dispatch: the run takes about as long
# as without it, finishes, and `kgsup scale` is still answered meanwhile.
. "$(dirname "$0")/lib.sh"
plan 7

# two corpora of the same size, so the second run buys nothing the first one did
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in-alone" --files 6 --words 800 --seed 5
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in-held" --files 6 --words 800 --seed 6
start_mock --latency-ms 40
write_config "$T/cfg.json" '{"chunking": {"chunk_tokens": 100, "overlap_tokens": 0, "chunks_per_batch": 1}}'

# silent_client SOCKET LOG: holds a connection to SOCKET open, saying nothing; a line in LOG
# for each connection made
cat >"$T/silent.py" <<'PY'
import os, socket, sys, time
path, log = sys.argv[1], sys.argv[2]
while True:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError:
        s.close()
        time.sleep(0.005)
        continue
    with open(log, "a") as f:
        f.write("connected\n")
    try:
        while s.recv(100):
            pass
    except OSError:
        pass
    s.close()
PY

# timed_run DIR: runs kgsup start on $T/in-NAME into DIR = $T/NAME (60 s at most); sets rc and ms
timed_run() {
	local t0
	t0=$(date +%s%N)
	timeout 60 "$KGSUP" start -c "$T/cfg.json" -i "$T/in-${1##*/}" -s "$1" -w 2 -q 2>"$1.err"; rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
}

timed_run "$T/alone"
alone_ms=$ms
check "a run alone finishes (exit $rc, ${ms} ms)" [ $rc -eq 0 ]

mkdir -p "$T/held/sock"
/usr/bin/python3 "$T/silent.py" "$T/held/sock/control" "$T/silent.log" &
client=$!
# kgsup scale while the silent client holds its connection, from the moment the socket is up
(
	for _ in $(seq 300); do
		[ -S "$T/held/sock/control" ] && [ -s "$T/silent.log" ] && break
		sleep 0.02
	done
	sleep 0.3
	t0=$(date +%s%N)
	"$KGSUP" scale 3 -s "$T/held" 2>"$T/scale.err"
	echo "$? $((($(date +%s%N) - t0) / 1000000))" >"$T/scale.rc"
) &
scaler=$!
timed_run "$T/held"
kill "$client"
wait "$client" "$scaler" 2>/dev/null
check "with a silent client connected, the run finishes (exit $rc)" [ $rc -eq 0 ]
check "the silent client was connected ($(wc -l <"$T/silent.log" 2>/dev/null) connections)" \
	[ -s "$T/silent.log" ]
limit=$((alone_ms * 3 / 2 + 2000))
check "and takes about as long: ${ms} ms against ${alone_ms} ms alone (at most ${limit})" \
	[ "$ms" -le "$limit" ]
read -r src sms <"$T/scale.rc"
check "kgsup scale was answered meanwhile (exit $src, ${sms} ms): $(head -c 120 "$T/scale.err")" \
	[ "$src" -eq 0 ]
check "every batch done, none failed" \
	[ "$(kg status -s "$T/held" --json | /usr/bin/python3 -c "import json,sys; b=json.load(sys.stdin)['batches']; print(b['done'] == b['total'] and b['failed'] == 0)")" = True ]
check "no answer bought twice ($(mock_stat duplicate_ok) duplicates)" [ "$(mock_stat duplicate_ok)" = 0 ]
finish
