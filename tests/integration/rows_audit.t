#!/bin/bash
# rows_audit.t: tables and answers a user may really have, found in an audit of runs over rows.
# Several tables whose columns come in another order are exported under the right headers, and
# a later table without a column the first one kept has empty cells for it. Two columns of one
# name are both kept. Lines of empty cells (Excel's CSV) are no rows, as in an .xlsx sheet. A
# cell past Excel's last column, or a csv row wider than a sheet, is refused. Ids answered as
# numbers ("007" as 7) are their rows'. A score column the table lacks is named by its key. A
# huge text is cut to what fits a call's max_input_tokens, with a warning.
. "$(dirname "$0")/lib.sh"
plan 11

export MOCK_API_KEY=mock-key-$$
start_mock
mkdir -p "$T/job"
cp "$TOP/etc/jobs/schemas/feedback.json" "$TOP/etc/jobs/prompts/feedback-system.txt" \
	"$TOP/etc/jobs/prompts/feedback-user.txt" "$T/job/"
rows_job "$T/job/cfg.json" 4
# csv_col FILE ID COLUMN: the cell of row ID under the header COLUMN of an export
csv_col() {
	/usr/bin/python3 - "$@" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
print(" ".join(r[sys.argv[3]] for r in rows if r[next(iter(r))] == sys.argv[2]))
PY
}

# two tables of one survey, their columns in another order (no input.keep_columns)
mkdir -p "$T/order"
printf 'id,comment,score,channel\nA1,the app is great,9,web\n' >"$T/order/a.csv"
printf 'id,channel,comment,score\nB1,email,the staff were rude,2\n' >"$T/order/b.csv"
kg start -c "$T/job/cfg.json" -i "$T/order" -s "$T/order.s" -q --no-progress 2>"$T/order.err"
kg export -s "$T/order.s" -f csv -o "$T/order.csv" 2>/dev/null
check "tables with columns in another order: each cell under its header (B1: score $(csv_col "$T/order.csv" B1 score), channel $(csv_col "$T/order.csv" B1 channel))" \
	[ "$(csv_col "$T/order.csv" B1 score) $(csv_col "$T/order.csv" B1 channel)" = "2 email" ]
# a later table without a column the first one has kept: empty cells for it
printf 'id,comment,score\nC1,what a nice shop,8\n' >"$T/order/c.csv"
kg start -c "$T/job/cfg.json" -i "$T/order" -s "$T/order2.s" -q --no-progress 2>"$T/order2.err"; rc=$?
kg export -s "$T/order2.s" -f csv -o "$T/order2.csv" 2>/dev/null
check "a later table without a column of the first: exit $rc, its cells empty (C1: score $(csv_col "$T/order2.csv" C1 score), channel '$(csv_col "$T/order2.csv" C1 channel)')" \
	[ $rc -eq 0 -a "$(csv_col "$T/order2.csv" C1 score)/$(csv_col "$T/order2.csv" C1 channel)" = "8/" ]

# a header that names two columns: both kept, each under its header
printf 'id,note,comment,note\nD1,first note,the parcel came late,second note\n' >"$T/twice.csv"
kg start -c "$T/job/cfg.json" -i "$T/twice.csv" -s "$T/twice.s" -q --no-progress 2>"$T/twice.err"
kg export -s "$T/twice.s" -f csv -o "$T/twice.csv.out" 2>/dev/null
check "two columns of one name: both kept ($(sed -n 2p "$T/twice.csv.out" | cut -d, -f1-3))" \
	[ "$(sed -n 2p "$T/twice.csv.out" | cut -d, -f1-3)" = '"D1","first note","second note"' ]

# a table Excel saved as CSV, with lines of empty cells at its end: they are no rows
printf 'id,comment,score\r\nE1,good value,9\r\n,,\r\nE2,too slow,3\r\n,,\r\n,,\r\n' >"$T/trail.csv"
kg start -c "$T/job/cfg.json" -i "$T/trail.csv" -s "$T/trail.s" -q --no-progress 2>"$T/trail.err"; rc=$?
kg status -s "$T/trail.s" --json >"$T/trail.json" 2>/dev/null
check "lines of empty cells are no rows: exit $rc, $(json_get "$T/trail.json" "j['rows']['classify']['rows']" 2>/dev/null) rows ($(tail -1 "$T/trail.err"))" \
	[ $rc -eq 0 -a "$(json_get "$T/trail.json" "j['rows']['classify']['rows']" 2>/dev/null)" = 2 ]
printf 'id,comment\n,\nE1,one\nE1,two\n' >"$T/trail2.csv"
kg start -c "$T/job/cfg.json" -i "$T/trail2.csv" -s "$T/trail2.s" -q --no-progress 2>"$T/trail2.err"
check "lines after one of empty cells keep their numbers ($(tail -1 "$T/trail2.err"))" \
	grep -qF 'trail2.csv:4: row id "E1" seen before at line 3' "$T/trail2.err"

# an .xlsx file whose cell says it is in column ZZZZZ (Excel's last is XFD): refused, not a
# row of 12 million cells to build for every row
/usr/bin/python3 - "$T/far.xlsx" <<'PY'
import sys, zipfile
ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
rows = '<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>comment</t></is></c></row>'
rows += "".join('<row r="%d"><c r="A%d"><v>%d</v></c><c r="B%d" t="inlineStr"><is><t>text %d</t></is></c>'
                '<c r="ZZZZZ%d"><v>1</v></c></row>' % ((i,) * 6) for i in range(2, 40))
z = zipfile.ZipFile(sys.argv[1], "w")
z.writestr("xl/workbook.xml", '<workbook %s xmlns:r="%s"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>' % (ns, rel))
z.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
           '<Relationship Id="rId1" Type="%s/worksheet" Target="worksheets/sheet1.xml"/></Relationships>' % rel)
z.writestr("xl/worksheets/sheet1.xml", "<worksheet %s><sheetData>%s</sheetData></worksheet>" % (ns, rows))
PY
t0=$(date +%s%N)
kg plan -c "$T/job/cfg.json" -i "$T/far.xlsx" >/dev/null 2>"$T/far.err"; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "a cell past column XFD: exit 2 ($rc) in $ms ms, naming the row ($(tail -1 "$T/far.err"))" \
	[ $rc -eq 2 -a -n "$(grep -F 'far.xlsx:2: a cell beyond column XFD' "$T/far.err")" ]

# the same in a csv: a header of 20,000 columns is refused
awk 'BEGIN { printf "id,comment"; for (i = 0; i < 20000; i++) printf ","; print ""; print "F1,some text" }' >"$T/wide.csv"
kg plan -c "$T/job/cfg.json" -i "$T/wide.csv" >/dev/null 2>"$T/wide.err"; rc=$?
check "a csv row of more than 16384 columns: exit 2 ($rc) ($(tail -1 "$T/wide.err"))" \
	[ $rc -eq 2 -a -n "$(grep -F 'wide.csv:1: a row of more than 16384 columns' "$T/wide.err")" ]

# ids the schema says are numbers come back as numbers: "007" as 7, a 20-digit id rounded as a
# double; each is its row's
/usr/bin/python3 - "$T/job/feedback.json" "$T/job/numeric.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["properties"]["rows"]["items"]["properties"]["id"] = {"type": "integer"}
json.dump(s, open(sys.argv[2], "w"))
PY
rows_job "$T/job/numeric.cfg.json" 4
/usr/bin/python3 - "$T/job/numeric.cfg.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["stages"][0]["schema"] = "numeric.json"
json.dump(c, open(sys.argv[1], "w"))
PY
printf 'id,comment\n007,the coffee was cold\n12345678901234567890,lovely staff\n42,fine overall\n' >"$T/numeric.csv"
kg start -c "$T/job/numeric.cfg.json" -i "$T/numeric.csv" -s "$T/numeric.s" -q --no-progress 2>"$T/numeric.err"; rc=$?
kg status -s "$T/numeric.s" --json >"$T/numeric.json" 2>/dev/null
check "ids answered as numbers: exit $rc, $(json_get "$T/numeric.json" "j['rows']['classify']['answered']" 2>/dev/null) of 3 answered ($(tail -1 "$T/numeric.err"))" \
	[ $rc -eq 0 -a "$(json_get "$T/numeric.json" "j['rows']['classify']['answered']" 2>/dev/null)" = 3 ]

# report.score_column naming a column the table does not have: the error names that key
rows_job "$T/job/score.json" 4 '{"report": {"score_column": "nps"}}'
kg start -c "$T/job/score.json" -i "$T/numeric.csv" -s "$T/score.s" -q --no-progress 2>"$T/score.err"; rc=$?
check "a score column the table lacks: exit 2 ($rc) naming report.score_column ($(tail -1 "$T/score.err"))" \
	[ $rc -eq 2 -a -n "$(grep -F 'no column "nps" (report.score_column)' "$T/score.err")" ]

# a comment of 400 KB (a log pasted in) among short ones: every call fits the stage's
# max_input_tokens (here 2,000 tokens for 4 rows: 2,000 bytes a text), the text cut, said once
rows_job "$T/job/small.json" 4
/usr/bin/python3 - "$T/job/small.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["stages"][0]["max_input_tokens"] = 2000
json.dump(c, open(sys.argv[1], "w"))
PY
/usr/bin/python3 - "$T/huge.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("id,comment\n")
    for i in range(1, 8):
        f.write("H%d,short comment number %d\n" % (i, i))
        if i == 3:
            f.write('HUGE,"%s"\n' % ("d\u00e9j\u00e0 vu " * 40000))
PY
before=$(mock_stat requests)
kg start -c "$T/job/small.json" -i "$T/huge.csv" -s "$T/huge.s" -q --no-progress 2>"$T/huge.err"; rc=$?
curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats?bodies=1" >"$T/huge.stats"
longest=$(/usr/bin/python3 -c "
import json, re, sys
j = json.load(open('$T/huge.stats'))
print(max(len(l.encode()) for e in j['requests_log'][$before:] for l in re.findall(r'^\[row [^]]*\] .*', e['user'], re.M)))")
check "a huge text: exit $rc, its row line in the prompt $longest bytes (at most 2,000 of text)" \
	[ $rc -eq 0 -a "$longest" -le 2020 ]
check "the cut is said once, naming the table and line ($(grep -c 'cut' "$T/huge.err") lines)" \
	[ "$(grep -c 'huge.csv: 1 texts cut to 2000 bytes, the first at line 5' "$T/huge.err")" = 1 ]

finish
