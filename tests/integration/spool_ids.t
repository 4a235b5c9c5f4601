#!/bin/bash
# spool_ids.t: what orphaned workers spool names the request it answers and the session that
# sent it (issue 16, finding 1). The supervisor is SIGKILLed with calls in flight; its workers
# finish them and spool the results: each file's request key must be the SHA-256 of a body the
# server answered, and its session id the killed session's, one per session, never zero. A
# resumed session, killed the same way, spools under another id; the last resume finishes.
. "$(dirname "$0")/lib.sh"
plan 7

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 8 --words 800
start_mock --latency-ms 1500
write_config "$T/cfg.json" '{"chunking": {"chunks_per_batch": 1}}'
S=$T/state
alive() { pgrep -f -- "kgsup __(worker|broker) .*$S" >/dev/null; }

# kill_mid_call COMMAND...: runs kgsup, SIGKILLs it once two more calls are out, and waits for
# its orphaned workers to spool and exit
kill_mid_call() {
	local before sup
	before=$(mock_stat requests)
	"$KGSUP" "$@" -q 2>>"$T/run.err" &
	sup=$!
	for _ in $(seq 200); do [ "$(mock_stat requests)" -ge $((before + 2)) ] && break; sleep 0.1; done
	kill -KILL $sup; wait $sup 2>/dev/null
	for _ in $(seq 100); do alive || break; sleep 0.1; done
}

# spool_ids DIR...: "KEY SESSION STATUS" per spool file. A spool file is a RESULT frame:
# version, type 3, then slot, batch, seq (u32 each), the 32-byte key, the session (u64), the
# status (u32; 0 an answer, 3 a batch handed back unsent), little-endian
spool_ids() {
	/usr/bin/python3 - "$@" <<'PY'
import glob, sys
for d in sys.argv[1:]:
    for f in sorted(glob.glob(d + "/*.res")):
        b = open(f, "rb").read()
        assert b[1] == 3, f
        print(b[14:46].hex(), int.from_bytes(b[46:54], "little"), int.from_bytes(b[54:58], "little"))
PY
}

# one_id IDS: exactly one session id, and not zero (compared as strings: a u64 can exceed bash's
# arithmetic)
one_id() { [ -n "$1" ] && [ "$(echo "$1" | wc -l)" = 1 ] && [ "$1" != 0 ]; }

kill_mid_call start -c "$T/cfg.json" -i "$T/in" -s "$S"
mkdir -p "$T/first"
cp "$S"/spool/*.res "$T/first/" 2>/dev/null
spool_ids "$T/first" >"$T/ids1"
n=$(awk '$3 == 0' "$T/ids1" | wc -l)
check "the killed session's workers spooled their answers ($n files of $(wc -l <"$T/ids1"))" [ "$n" -ge 1 ]
curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats?bodies=1" |
	/usr/bin/python3 -c "import json,sys; print('\n'.join(json.load(sys.stdin)['ok_bodies']))" >"$T/bodies"
check "each answer carries the SHA-256 of a request body the server answered" \
	[ "$(awk '$3 == 0 { print $1 }' "$T/ids1" | grep -cvxFf "$T/bodies")" = 0 ]
s1=$(cut -d' ' -f2 "$T/ids1" | sort -u)
check "and one session id, not zero ($s1)" one_id "$s1"

kill_mid_call resume -s "$S"
mkdir -p "$T/second"
for f in "$S"/spool/*.res; do [ -e "$T/first/${f##*/}" ] || cp "$f" "$T/second/"; done
spool_ids "$T/second" >"$T/ids2"
s2=$(cut -d' ' -f2 "$T/ids2" | sort -u)
check "a resumed session spools under one id of its own ($s2)" eval 'one_id "$s2" && [ "$s2" != "$s1" ]'

stop_mock
start_mock --port "$PORT"
kg resume -s "$S" -q 2>>"$T/run.err"; rc=$?
check "the last resume finishes: exit 0 (got $rc)" [ $rc -eq 0 ]
kg status -s "$S" --json >"$T/st.json"
check "every batch done" [ "$(json_get "$T/st.json" "j['batches']['done'] == j['batches']['total']")" = True ]
check "the spool is empty" [ -z "$(ls "$S/spool" 2>/dev/null)" ]
finish
