#!/bin/bash
# rows.t: feedback tables through a stage over rows, against the mock (one answer item per
# "[row <id>]" line, seeded by the row's text). Tables with every quoting case and a
# Windows-1252 file are read as written; rows whose texts are the same once normalised are
# asked once; an empty text is skipped; a row left out of an answer is asked again alone; an
# item of an id not asked is dropped; a duplicate id is an error naming both lines; a run
# killed with -9 resumes to every row answered; a table with 100 rows appended, in a run
# sharing the cache, sends one call; status counts it all, and each run's "finished:" line
# counts its rows as status does, failed ones too.
. "$(dirname "$0")/lib.sh"
plan 29

export MOCK_API_KEY=mock-key-$$
start_mock --omit-row R05 --foreign-row
mkdir -p "$T/in" "$T/job"
cp "$TOP/etc/jobs/schemas/feedback.json" "$TOP/etc/jobs/prompts/feedback-system.txt" \
	"$TOP/etc/jobs/prompts/feedback-user.txt" "$T/job/"
rows_job "$T/job/cfg.json" 4

# every RFC 4180 case: a BOM, CRLF, quoted commas, doubled quotes, a line break in quotes;
# R03 and R07 are R01's text in other case and spacing; R04's text is empty
printf '\xef\xbb\xbfresponse_id,score,comment,channel\r\n' >"$T/in/a.csv"
printf 'R01,9,"Great service, fast",email\r\n' >>"$T/in/a.csv"
printf 'R02,3,"Slow ""delivery""\r\nand rude staff",app\r\n' >>"$T/in/a.csv"
printf 'R03,10,"  great   SERVICE,  fast ",web\r\n' >>"$T/in/a.csv"
printf 'R04,5,"",phone\r\nR05,7,Okay I guess,web\r\nR06,8,"Price too high; ""value"" low",web\r\n' >>"$T/in/a.csv"
printf 'R07,9,"GREAT SERVICE, FAST",email\r\n' >>"$T/in/a.csv"
# a tab-separated table and a Windows-1252 one (0xe9 is é, 0x93/0x94 curly quotes)
printf 'id\tcomment\nT1\tThe app crashes on login\nT2\tLove the new design\n' >"$T/in/b.tsv"
printf 'id,comment\nW1,Caf\xe9 staff were \x93brilliant\x94\n' >"$T/in/c.csv"

kg start -c "$T/job/cfg.json" -i "$T/in" -s "$T/s" --no-progress 2>"$T/err"; rc=$?
check "a run over rows ends done (exit $rc)" [ $rc -eq 0 ]
check "it says which columns it chose" \
	grep -q 'a.csv: id column "response_id" (by its name), text column "comment"' "$T/err"
check "a Windows-1252 table is read with a warning naming it" grep -q 'c.csv.*Windows-1252' "$T/err"
curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats?bodies=1" >"$T/stats.json"
py() { /usr/bin/python3 -c "import json,sys; j=json.load(open('$T/stats.json')); $1"; }
prompts=$(py "print('\n'.join(e['user'] for e in j['requests_log']))")
check "quoted commas and doubled quotes arrive as written; a line break becomes a space" \
	grep -qF '[row R02] Slow "delivery" and rude staff' <<<"$prompts"
check "the Windows-1252 text arrives as UTF-8" grep -qF '[row W1] Café staff were “brilliant”' <<<"$prompts"
check "texts the same once normalised are asked once (R03, R07 never)" \
	[ "$(py "d=j['row_ids']; print(d.get('R01'), d.get('R03'), d.get('R07'))")" = "1 None None" ]
check "an empty text is never asked" [ "$(py "print(j['row_ids'].get('R04'))")" = None ]
check "a row left out of an answer is asked again, alone" \
	[ "$(py "import re; print(j['row_ids']['R05'], sum(1 for e in j['requests_log'] if re.findall(r'^\[row ([^]]*)\]', e['user'], re.M) == ['R05']))")" = "2 1" ]
kg status -s "$T/s" --json >"$T/st.json"
sj() { /usr/bin/python3 -c "import json; j=json.load(open('$T/st.json')); print($1)"; }
check "status counts rows: 10 rows, 7 answered, 2 duplicates, 1 skipped ($(sj "j['rows']['classify']"))" \
	[ "$(sj "' '.join(str(j['rows']['classify'][k]) for k in ('rows','answered','from_cache','duplicates','skipped','failed','pending'))")" = "10 7 0 2 1 0 0" ]
check "items of ids not asked are dropped and counted ($(sj "j['row_answers']['classify']"))" \
	[ "$(sj "j['row_answers']['classify']['dropped_items'] > 0 and j['row_answers']['classify']['asked_again'] == 1")" = True ]
# the "finished:" line's rows (rows answered cached duplicates skipped failed to-do) and status's
fin_rows() { grep -o 'finished: rows: classify [0-9]* rows: .*' "$1" | grep -oE '[0-9]+' | tr '\n' ' '; }
st_rows() { kg status -s "$1" --json | /usr/bin/python3 -c "import json,sys; r=json.load(sys.stdin)['rows']['classify']; print(' '.join(str(r[k]) for k in ('rows','answered','from_cache','duplicates','skipped','failed','pending')), end=' ')"; }
# same_rows LOG STATE: the run's finished line (there) counts as status does
same_rows() { local f; f=$(fin_rows "$1"); [ -n "$f" ] && [ "$f" = "$(st_rows "$2")" ]; }
check "the finished line counts rows as status does ($(fin_rows "$T/err"))" same_rows "$T/err" "$T/s"
kg status -s "$T/s" >"$T/st.txt"
check "status in words" grep -q 'classify .*10 rows: 7 answered, 0 from the cache, 2 duplicates' "$T/st.txt"

# a row id seen twice is an error naming both lines (exit 2), nothing planned
printf 'id,comment\nX1,one\nX2,two\nX1,three\n' >"$T/dup.csv"
kg start -c "$T/job/cfg.json" -i "$T/dup.csv" -s "$T/dup" --no-progress 2>"$T/dup.err"; rc=$?
check "a duplicate id: exit 2 ($rc) naming both lines ($(tail -1 "$T/dup.err"))" \
	[ $rc -eq 2 -a -n "$(grep -F 'dup.csv:4: row id "X1" seen before at line 2' "$T/dup.err")" ]
printf 'id,comment\nX1,one\n' >"$T/nocol.csv"
write_nocol() { /usr/bin/python3 -c "
import json; c=json.load(open('$T/job/cfg.json')); c['input']={'text_column':'body'}; json.dump(c,open('$T/job/nocol.json','w'))"; }
write_nocol
kg start -c "$T/job/nocol.json" -i "$T/nocol.csv" -s "$T/nocol" --no-progress 2>"$T/nocol.err"; rc=$?
check "an unknown column: exit 2 ($rc) naming the key and the columns" \
	[ $rc -eq 2 -a -n "$(grep -F 'no column "body" (input.text_column); its columns: "id", "comment"' "$T/nocol.err")" ]
stop_mock

# kill -9 in the middle, then resume: every row answered, none lost
start_mock --latency-ms 150
/usr/bin/python3 "$TOP/scripts/gen_feedback.py" 600 "$T/big.csv" --seed 3 >/dev/null
rows_job "$T/job/cfg9.json" 10 '{"run": {"workers": 2}}'
"$KGSUP" start -c "$T/job/cfg9.json" -i "$T/big.csv" -s "$T/k" --no-progress 2>"$T/k.err" &
pid=$!
for _ in $(seq 100); do
	[ "$(kg status -s "$T/k" --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"]["classify"]["answered"] > 60)' 2>/dev/null)" = True ] && break
	sleep 0.1
done
kill -9 $pid; wait $pid 2>/dev/null
# its workers see it gone and leave (saving what they hold); the run is not live until they did
for _ in $(seq 100); do pgrep -f "__worker [0-9]* $T/k" >/dev/null || break; sleep 0.1; done
kg status -s "$T/k" --json >"$T/st.json"
check "killed in the middle: some rows answered, some to do ($(sj "j['rows']['classify']"))" \
	[ "$(sj "j['rows']['classify']['answered'] > 0 and j['rows']['classify']['pending'] > 0")" = True ]
kg resume -s "$T/k" --no-progress 2>"$T/k2.err"; rc=$?
kg status -s "$T/k" --json >"$T/st.json"
check "resumed: exit $rc, every row answered ($(sj "j['rows']['classify']"))" \
	[ $rc -eq 0 -a "$(sj "j['rows']['classify']['pending'] + j['rows']['classify']['failed']")" = 0 ]
check "the resumed run's finished line counts all rows as status does ($(fin_rows "$T/k2.err"))" \
	same_rows "$T/k2.err" "$T/k"
rows_answered=$(sj "sum(j['rows']['classify'][k] for k in ('answered','duplicates','skipped'))")
check "all 600 rows are answered, duplicates or skipped ($rows_answered)" [ "$rows_answered" = 600 ]
asked=$(mock_stat rows_asked)
texts=$(sj "j['row_answers']['classify']['texts']")
check "no text was asked more than the calls in flight at the kill allow ($asked asked, $texts texts)" \
	[ "$asked" -ge "$texts" -a "$asked" -le $((texts + 2 * 10)) ]
stop_mock

# a table answered before, with 100 rows appended, in a run sharing the cache: one call
start_mock
rows_job "$T/job/shared.json" 120 "{\"cache\": {\"path\": \"$T/cache\"}}"
/usr/bin/python3 "$TOP/scripts/gen_feedback.py" 500 "$T/t500.csv" --seed 5 >/dev/null
kg start -c "$T/job/shared.json" -i "$T/t500.csv" -s "$T/r1" --no-progress 2>"$T/r1.err"; rc=$?
before=$(mock_stat requests)
check "the first run of 500 rows ends done (exit $rc) in $before calls" [ $rc -eq 0 -a "$before" -ge 4 ]
/usr/bin/python3 "$TOP/scripts/gen_feedback.py" 600 "$T/t600.csv" --seed 5 >/dev/null
head -c "$(stat -c %s "$T/t500.csv")" "$T/t600.csv" | cmp -s - "$T/t500.csv"
check "the 600-row table is the 500-row one with 100 rows appended" [ $? -eq 0 ]
kg start -c "$T/job/shared.json" -i "$T/t600.csv" -s "$T/r2" --no-progress 2>"$T/r2.err"; rc=$?
after=$(mock_stat requests)
check "the table with 100 rows appended: exit $rc, one call ($((after - before)))" \
	[ $rc -eq 0 -a $((after - before)) -eq 1 ]
kg status -s "$T/r2" --json >"$T/st.json"
check "status says the rest came from the cache ($(sj "j['rows']['classify']"))" \
	[ "$(sj "j['rows']['classify']['from_cache'] > 0 and j['rows']['classify']['pending'] == 0")" = True ]
check "rows from the cache: the finished line counts them as status does ($(fin_rows "$T/r2.err"))" \
	same_rows "$T/r2.err" "$T/r2"
kg start -c "$T/job/shared.json" -i "$T/t600.csv" -s "$T/r3" --no-progress 2>"$T/r3.err"; rc=$?
check "the same table again in a new run: exit $rc, no call ($(( $(mock_stat requests) - after )))" \
	[ $rc -eq 0 -a "$(mock_stat requests)" -eq "$after" ]
# a stop while a large table is planned ends it at once, keeping nothing (exit 75)
awk 'BEGIN{print "id,comment"; for (i = 1; i <= 400000; i++) printf "B%d,comment number %d, said twice\n", i, i}' >"$T/large.csv"
"$KGSUP" start -c "$T/job/shared.json" -i "$T/large.csv" -s "$T/large" --no-progress 2>"$T/large.err" &
pid=$!
sleep 1
kill -INT $pid
t0=$(date +%s%N)
wait $pid; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "Ctrl-C while planning: exit 75 ($rc) within 2 s ($ms ms), saying nothing is kept" \
	[ $rc -eq 75 -a $ms -lt 2000 -a -n "$(grep -F 'stopped while planning (nothing of this plan is kept' "$T/large.err")" ]
stop_mock

# a failed batch: its rows, those sharing its texts too, are failed until retried
start_mock --fail-stage classify=FAILME
printf 'id,comment\nF1,alpha good\nF2,beta fine\nF3,ALPHA  good\nF4,\nF5,FAILME one\nF6,gamma\nF7,FAILME  ONE\nF8,delta\nF9,FAILME one\n' >"$T/f.csv"
rows_job "$T/job/f.json" 2
kg start -c "$T/job/f.json" -i "$T/f.csv" -s "$T/f" --no-progress 2>"$T/f.err"
check "a failed batch's 4 rows: the finished line counts them as status does ($(fin_rows "$T/f.err"))" \
	[ "$(fin_rows "$T/f.err")" = "9 3 0 1 1 4 0 " -a "$(st_rows "$T/f")" = "9 3 0 1 1 4 0 " ]
stop_mock
start_mock --port "$PORT" # (the run's recorded address)
kg resume --retry-failed -s "$T/f" --no-progress 2>"$T/f2.err"
check "retried, none failed ($(fin_rows "$T/f2.err"))" \
	[ "$(fin_rows "$T/f2.err")" = "9 5 0 3 1 0 0 " -a "$(st_rows "$T/f")" = "9 5 0 3 1 0 0 " ]
kg plan -c "$T/job/shared.json" -i "$T/t600.csv" >"$T/plan.txt" 2>/dev/null
check "plan counts the rows, their texts, skipped and duplicates" \
	grep -qE '^rows +600 in 1 tables: [0-9]+ distinct texts to ask' "$T/plan.txt"
finish
