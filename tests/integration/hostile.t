#!/bin/bash
# hostile.t: inputs and answers meant to hurt: empty and binary files, invalid UTF-8, a symbolic
# link loop, a 200 MB transcript and a 50 MB line, an answer larger than api.max_response_bytes. Each gets a clear message and the
# documented exit code; nothing already done is lost.
. "$(dirname "$0")/lib.sh"
plan 25

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
print("met \u00ff\u00fe Charles Babbage \u00c3( in London" in text)
PY
)
check "a file that is not UTF-8 is read as Windows-1252, the rest of the line intact" [ "$fffd" = True ]
check "and a warning names it" grep -q "bad-utf8.txt: not valid UTF-8 (line 1): read as Windows-1252" "$T/err"

mkdir -p "$T/bin"
head -c 4096 /dev/urandom >"$T/bin/noise.txt"
printf '\0' >>"$T/bin/noise.txt"
kg start -c "$T/cfg.json" -i "$T/bin" -s "$T/s2" 2>"$T/err"; rc=$?
check "a binary file: exit 2 (got $rc)" [ $rc -eq 2 ]
check "naming it" grep -q "noise.txt: looks binary" "$T/err"
stop_mock

# answers of 100 MB, past api.max_response_bytes (16 MiB by default): cut off and refused
start_mock --answer-bytes 100000000
write_config "$T/cfg.json" '{"retry": {"max_attempts": 2}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s3" -q 2>"$T/err"; rc=$?
kg status -s "$T/s3" --json >"$T/st.json"
check "100 MB answers: the batches fail, exit 3 (got $rc)" [ $rc -eq 3 ]
check "with the reason" grep -q "larger than api.max_response_bytes" "$T/err"
check "and no answer was stored" [ "$(json_get "$T/st.json" "j['batches']['done']")" = 0 ]
stop_mock

# a server that sends header lines forever is cut off; the batch fails, the run ends
start_mock --headers-forever
write_config "$T/cfg.json" '{"retry": {"max_attempts": 2}, "chunking": {"chunks_per_batch": 100}}'
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s4" -q 2>"$T/err"; rc=$?
check "headers forever: the batch fails, exit 3 (got $rc)" [ $rc -eq 3 ]
check "with the reason" grep -q "response headers larger than" "$T/err"
check "report.json gives each failed batch its reason and counts the errors as transport" \
	[ "$(json_get "$T/s4/report.json" "all('headers larger' in f['error'] for f in j['batches']['failures']) and len(j['batches']['failures']) == j['batches']['failed'] > 0 and j['errors_by_cause']['transport'] == j['requests']['sent']")" = True ]
stop_mock

# the same text twice (a copied transcript) is planned once
start_mock
mkdir -p "$T/dup"
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/dup" --files 2 --words 400 --seed 3
first=$(ls "$T/dup" | head -1)
cp "$T/dup/$first" "$T/dup/zz-copy-of-$first"
write_config "$T/cfg.json"
kg start -c "$T/cfg.json" -i "$T/dup" -s "$T/s5" 2>"$T/err"; rc=$?
check "a duplicate file: exit $rc, skipped with a warning naming both" \
	grep -q "zz-copy-of-$first: skipped (the same text as .*/$first)" "$T/err"
kg status -s "$T/s5" --json >"$T/st5.json"
check "and it is no source of the run, nothing sent twice ($(mock_stat chunks_sent_twice))" \
	[ "$(json_get "$T/st5.json" "j['sources']")/$(mock_stat chunks_sent_twice)" = 2/0 ]

# an unreadable file stops the plan with its name (root reads anything: then a file that is
# a dangling link given explicitly)
mkdir -p "$T/unread"
echo "Some words here." >"$T/unread/a.txt"
if [ "$(id -u)" != 0 ]; then
	echo "More words." >"$T/unread/locked.txt"
	chmod 000 "$T/unread/locked.txt"
	kg start -c "$T/cfg.json" -i "$T/unread" -s "$T/s6" 2>"$T/err"; rc=$?
	check "an unreadable file: exit 2 (got $rc)" [ $rc -eq 2 ]
	check "naming it" grep -q "locked.txt" "$T/err"
else
	ln -s "$T/nowhere.txt" "$T/unread/gone.txt"
	kg start -c "$T/cfg.json" -i "$T/unread/gone.txt" -s "$T/s6" 2>"$T/err"; rc=$?
	check "an input that cannot be read: exit 2 (got $rc)" [ $rc -eq 2 ]
	check "naming it" grep -q "gone.txt" "$T/err"
fi

# a 200 MB transcript and a single line of 50 MB are read in parts, never whole: the
# supervisor's own memory stays far below their size, and every byte is planned and sent
stop_mock
start_mock
mkdir -p "$T/huge"
/usr/bin/python3 - "$T/huge" <<'PY'
import sys
line = b"Ada Lovelace wrote to a friend about the engine and its punched cards. " * 3 + b"\n"
with open(sys.argv[1] + "/talk.txt", "wb") as f:
    for i in range(200 * 2**20 // (1 << 20)):
        f.write(b"%08d " % i + line * ((1 << 20) // len(line)))
with open(sys.argv[1] + "/one-line.txt", "wb") as f:
    f.write(b"word " * (50 * 2**20 // 5) + b"\n")
PY
write_config "$T/hcfg.json" '{"chunking": {"chunk_tokens": 50000, "overlap_tokens": 0, "chunks_per_batch": 10}}'
/usr/bin/python3 "$TOP/tests/integration/peak_rss.py" "$T/peak" \
	"$KGSUP" start -c "$T/hcfg.json" -i "$T/huge" -s "$T/s8" -q 2>"$T/err"; rc=$?
peak=$(cat "$T/peak")
check "a 200 MB transcript and a 50 MB line: the run finishes (exit $rc)" [ $rc -eq 0 ]
if under_asan; then
	skip "the supervisor's heap stays under 64 MB" "AddressSanitizer's shadow and quarantine"
else
	check "the supervisor's heap peaked at $peak kB: under 64 MB for 250 MB of input" [ "$peak" -lt 65536 ]
fi
kg status -s "$T/s8" --json >"$T/st8.json"
check "every batch done, none failed" \
	[ "$(json_get "$T/st8.json" "j['batches']['done'] == j['batches']['total'] > 100 and j['batches']['failed'] == 0")" = True ]
check "the mock got every chunk once ($(mock_stat chunks_sent) sent, $(mock_stat chunks_sent_twice) twice)" \
	[ "$(mock_stat chunks_sent)/$(mock_stat chunks_sent_twice)" = "$(json_get "$T/st8.json" "j['chunks']")/0" ]
bytes=$(kg export -s "$T/s8" -f jsonl 2>/dev/null | wc -c)
check "and the answers export ($bytes bytes)" [ "$bytes" -gt 0 ]
rm -rf "$T/huge" "$T/s8"

# the key from a file: refused unless only its owner can read it; never in the state directory
printf 'sk-from-file-%s\n' $$ >"$T/key"
chmod 644 "$T/key"
write_config "$T/kcfg.json" "{\"api\": {\"api_key_file\": \"$T/key\"}}"
kg start -c "$T/kcfg.json" -i "$T/unread/a.txt" -s "$T/s7" 2>"$T/err"; rc=$?
check "a key file readable by others: exit 2 (got $rc) saying chmod 600" \
	sh -c "[ $rc -eq 2 ] && grep -q 'chmod 600' '$T/err'"
chmod 600 "$T/key"
(unset OPENAI_API_KEY; "$KGSUP" start -c "$T/kcfg.json" -i "$T/unread/a.txt" -s "$T/s7" -q 2>"$T/err"); rc=$?
check "a 0600 key file, no environment variable: the run finishes (exit $rc)" [ $rc -eq 0 ]
check "the key is nowhere in the state directory or the output" \
	[ -z "$(grep -rl "sk-from-file-$$" "$T/s7" "$T/err" 2>/dev/null)" ]
finish
