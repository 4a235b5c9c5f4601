#!/bin/bash
# hostile.t: inputs and answers meant to hurt: empty and binary files, invalid UTF-8, a symbolic
# link loop, an answer larger than api.max_response_bytes. Each gets a clear message and the
# documented exit code; nothing already done is lost.
. "$(dirname "$0")/lib.sh"
plan 9

mkdir -p "$T/in/sub"
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 3 --words 400
: >"$T/in/empty.txt"
printf 'Ada Lovelace met \xff\xfe Charles Babbage \xc3\x28 in London.\n' >"$T/in/bad-utf8.txt"
ln -s .. "$T/in/sub/loop"
start_mock
write_config "$T/cfg.json"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s1" -q 2>"$T/err"; rc=$?
check "empty file, invalid UTF-8 and a symlink loop: the run completes (exit $rc)" [ $rc -eq 0 ]
check "the loop is reported and skipped" grep -q "symbolic link loop" "$T/err"
check "every request had a valid JSON body (no 400 from the server)" [ "$(mock_stat ok)" = "$(mock_stat requests)" ]
kg plan -c "$T/cfg.json" -i "$T/in" -o "$T/req.jsonl" >/dev/null 2>&1
fffd=$(/usr/bin/python3 - "$T/req.jsonl" <<'PY'
import json, sys
bodies = [json.loads(l) for l in open(sys.argv[1], "rb")]  # every body must be valid JSON
text = " ".join(m["content"] for b in bodies for m in b["messages"])
print("met \ufffd\ufffd Charles Babbage \ufffd( in London" in text)
PY
)
check "the invalid bytes were sent as U+FFFD, the rest of the line intact" [ "$fffd" = True ]

mkdir -p "$T/bin"
head -c 4096 /dev/urandom >"$T/bin/noise.txt"
printf '\0' >>"$T/bin/noise.txt"
kg start -c "$T/cfg.json" -i "$T/bin" -s "$T/s2" 2>"$T/err"; rc=$?
check "a binary file: exit 2 (got $rc)" [ $rc -eq 2 ]
check "naming it" grep -q "noise.txt: looks binary" "$T/err"
stop_mock

start_mock --answer-bytes 300000
write_config "$T/cfg.json" '{"api": {"max_response_bytes": 100000, "max_tokens": 200000}, "retry": {"max_attempts": 2}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s3" -q 2>"$T/err"; rc=$?
kg status -s "$T/s3" --json >"$T/st.json"
check "answers over api.max_response_bytes: the batches fail, exit 3 (got $rc)" [ $rc -eq 3 ]
check "with the reason" grep -q "larger than api.max_response_bytes" "$T/err"
check "and no answer was stored" [ "$(json_get "$T/st.json" "j['batches']['done']")" = 0 ]
finish
