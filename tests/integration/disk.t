#!/bin/bash
# disk.t: a full disk stops the run cleanly (exit 75, a message saying so, what was committed
# kept) and the run resumes once there is room. Needs to mount a tmpfs (root); skipped if not.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/tiny"
if ! mount -t tmpfs -o size=1200k tmpfs "$T/tiny" 2>/dev/null; then
	echo "1..0 # SKIP cannot mount a tmpfs here (needs root)"
	exit 0
fi
trap 'umount "$T/tiny" 2>/dev/null; cleanup' EXIT
plan 5

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 12 --words 1000
start_mock --per-chunk 200
write_config "$T/cfg.json" '{"chunking": {"chunks_per_batch": 1}, "api": {"max_tokens": 100000}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/tiny/state" -w 2 2>"$T/err"; rc=$?
check "full disk: exit 75 (got $rc)" [ $rc -eq 75 ]
check "with a message saying the store could not be written" grep -q "cannot write to the store.*the disk is full" "$T/err"
kg status -s "$T/tiny/state" --json >"$T/st.json"
check "status still reads the run: stopped, some batches done" \
	[ "$(json_get "$T/st.json" "j['state'] == 'stopped' and 0 < j['batches']['done'] < j['batches']['total']")" = True ]
mount -o remount,size=64m "$T/tiny"
kg resume -s "$T/tiny/state" -q 2>>"$T/err"; rc=$?
kg status -s "$T/tiny/state" --json >"$T/st.json"
check "with room again, resume finishes (exit $rc)" [ $rc -eq 0 ]
check "every batch done" [ "$(json_get "$T/st.json" "j['batches']['done'] == j['batches']['total']")" = True ]
finish
