#!/bin/bash
# inputs.t: a folder of transcripts with bad ones among them. A binary file, an unreadable one
# and a loop of symbolic links are skipped with a warning naming each and why, counted in status,
# and the rest runs (exit 0); --strict refuses the run as before. A transcript in UTF-16 (with its
# byte order mark) or in Windows-1252 is read as the same text as its UTF-8 copy.
. "$(dirname "$0")/lib.sh"
plan 9

mkdir -p "$T/in/sub" "$T/u8" "$T/u16"
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 3 --words 300 --formats txt >/dev/null
head -c 2048 /dev/urandom | tr -d '\377\376' >"$T/in/noise.txt"; printf '\0' >>"$T/in/noise.txt"
echo "Ada Lovelace met Charles Babbage." >"$T/in/locked.txt"; chmod 000 "$T/in/locked.txt"
ln -s ../sub/loop "$T/in/sub/loop"
start_mock
write_config "$T/cfg.json"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s" -w 2 --no-progress 2>"$T/err"; rc=$?
if [ "$(id -u)" = 0 ]; then unreadable=0; else unreadable=1; fi  # root reads a mode-000 file
check "bad inputs among good ones: the run completes (exit $rc)" [ $rc -eq 0 ]
check "the binary file is named and skipped" grep -q "noise.txt: looks binary.*skipped" "$T/err"
check "the loop is named and skipped" grep -q "sub/loop: a loop of symbolic links.*skipped" "$T/err"
kg status -s "$T/s" --json >"$T/st.json"
want=$((2 + unreadable))
check "status counts the skipped inputs ($(json_get "$T/st.json" "j['skipped_inputs']") of $want)" \
	[ "$(json_get "$T/st.json" "j['skipped_inputs']")" = "$want" ]
check "the good transcripts ran ($(json_get "$T/st.json" "j['sources']") sources)" \
	[ "$(json_get "$T/st.json" "j['sources']")" = $((3 + 1 - unreadable)) ]
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/s2" -w 2 --strict --no-progress 2>"$T/err2"; rc=$?
check "--strict refuses the run (exit $rc), naming the file" \
	[ $rc -eq 2 -a "$(grep -c 'looks binary\|loop of symbolic links\|Permission denied' "$T/err2")" -ge 1 ]
chmod 600 "$T/in/locked.txt"

# the same transcript in UTF-8, UTF-16 LE with its mark, and Windows-1252: the same requests
printf 'Zoë Ångström met José in Köln.\nThe café was “busy”.\n' >"$T/u8/t.txt"
/usr/bin/python3 - "$T" <<'PY'
import sys
t = open(sys.argv[1] + "/u8/t.txt", encoding="utf-8").read()
open(sys.argv[1] + "/u16/t.txt", "wb").write(b"\xff\xfe" + t.encode("utf-16-le"))
import os; os.makedirs(sys.argv[1] + "/w", exist_ok=True)
open(sys.argv[1] + "/w/t.txt", "wb").write(t.encode("cp1252"))
PY
kg plan -c "$T/cfg.json" -i "$T/u8" -o "$T/r8.jsonl" >/dev/null 2>&1
kg plan -c "$T/cfg.json" -i "$T/u16" -o "$T/r16.jsonl" >/dev/null 2>"$T/e16"
kg plan -c "$T/cfg.json" -i "$T/w" -o "$T/rw.jsonl" >/dev/null 2>"$T/ew"
check "UTF-16 with its byte order mark plans the requests of its UTF-8 copy" cmp -s "$T/r8.jsonl" "$T/r16.jsonl"
check "Windows-1252 plans the requests of its UTF-8 copy" cmp -s "$T/r8.jsonl" "$T/rw.jsonl"
check "with a warning naming the file" grep -q "t.txt: not valid UTF-8 (line 1): read as Windows-1252" "$T/ew"
finish
