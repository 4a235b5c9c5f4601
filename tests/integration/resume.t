#!/bin/bash
# resume.t: batches that failed for good stay failed on a plain resume (nothing is sent), and
# get another round with --retry-failed; resume uses the settings recorded by start.
. "$(dirname "$0")/lib.sh"
plan 6

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 8 --words 800
start_mock --p-400 0.3 --seed 8
write_config "$T/cfg.json" '{"chunking": {"chunks_per_batch": 1}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s" -q 2>"$T/err"; rc=$?
kg status -s "$T/s" --json >"$T/st.json"
failed=$(json_get "$T/st.json" "j['batches']['failed']")
check "some batches fail for good: exit 3 ($rc, $failed failed)" [ "$rc:$((failed > 0))" = "3:1" ]
port=$PORT
stop_mock

start_mock --port "$port"   # the same address the run recorded, without the faults
kg resume -s "$T/s" -q 2>"$T/err"; rc=$?
check "a plain resume leaves them failed: exit 3 (got $rc)" [ $rc -eq 3 ]
check "and sends nothing ($(mock_stat requests) requests)" [ "$(mock_stat requests)" = 0 ]
kg resume -s "$T/s" --retry-failed -q 2>"$T/err"; rc=$?
kg status -s "$T/s" --json >"$T/st.json"
check "--retry-failed: exit 0 (got $rc)" [ $rc -eq 0 ]
check "every batch done" [ "$(json_get "$T/st.json" "j['batches']['done'] == j['batches']['total'] and j['batches']['failed'] == 0")" = True ]
check "only the failed batches were sent ($(mock_stat requests) for $failed)" [ "$(mock_stat requests)" = "$failed" ]
finish
