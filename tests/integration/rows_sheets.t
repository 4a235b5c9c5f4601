#!/bin/bash
# rows_sheets.t: tables as spreadsheets write them, and exports as spreadsheets open them. A
# CSV with semicolons (Excel's where the decimal mark is a comma) is read as the same table
# with commas, and so is one whose first line, "sep=;", names them (Excel's own); a TSV with quotes in fields not quoted is read without quoting; cells a spreadsheet would run as formulas ("=HYPERLINK(...)" in anyone's
# comment) are written to the csv after a quote, numbers as they are, and to the xlsx as plain
# strings; ids that repeat are refused naming input.id_column "#", which numbers the rows;
# a table of more columns than kept says how many it left out, and a keep_columns
# list past the limit is refused naming the key.
. "$(dirname "$0")/lib.sh"
plan 14

export MOCK_API_KEY=mock-key-$$
start_mock
mkdir -p "$T/job"
cp "$TOP/etc/jobs/schemas/feedback.json" "$TOP/etc/jobs/prompts/feedback-system.txt" \
	"$TOP/etc/jobs/prompts/feedback-user.txt" "$T/job/"
rows_job "$T/job/cfg.json" 20

# (1) the same survey with commas and with semicolons (quoted semicolons and commas in texts)
/usr/bin/python3 - "$T" <<'PY'
import csv, sys
t = sys.argv[1]
rows = [["response_id", "score", "comment", "channel"]]
for i in range(60):
    rows.append(["S%02d" % i, str(i % 11), "Visit %d: slow; staff, though, were \"kind\"" % i if i % 3
                 else "Fine, %d" % i, ["web", "app", "=HYPERLINK(\"http://127.0.0.1/x\",\"click\")",
                                       "+33 6 12", "-5", "@here", "-0.5"][i % 7]])
for name, delim in (("comma", ","), ("semi", ";")):
    with open("%s/%s.csv" % (t, name), "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=delim).writerows(rows)
PY
kg start -c "$T/job/cfg.json" -i "$T/comma.csv" -s "$T/c" --no-progress 2>"$T/c.err"; rc1=$?
kg start -c "$T/job/cfg.json" -i "$T/semi.csv" -s "$T/s" --no-progress 2>"$T/s.err"; rc2=$?
kg export -s "$T/c" -f csv -o "$T/c.out.csv" 2>/dev/null
kg export -s "$T/s" -f csv -o "$T/s.out.csv" 2>/dev/null
check "a CSV with semicolons: both runs end done (exit $rc1, $rc2), the log says so" \
	eval '[ "$rc1:$rc2" = 0:0 ] && grep -q "semi.csv: fields separated by semicolons" "$T/s.err" && ! grep -q "separated by semicolons" "$T/c.err"'
check "it is read as the same table: the two exports are the same bytes" \
	eval '[ -s "$T/c.out.csv" ] && cmp -s "$T/c.out.csv" "$T/s.out.csv"'
check "the same columns chosen in both (score, channel kept; comment the text)" \
	grep -q 'semi.csv: id column "response_id" (by its name), text column "comment"' "$T/s.err"
{ printf 'sep=;\r\n'; cat "$T/semi.csv"; } >"$T/sepl.csv"
kg start -c "$T/job/cfg.json" -i "$T/sepl.csv" -s "$T/sl" --no-progress 2>"$T/sl.err"; rc=$?
check "a first line \"sep=;\": exit $rc, said, no row, the same export" \
	eval '[ $rc = 0 ] && grep -q "sepl.csv: fields separated by .;. (its first line" "$T/sl.err" &&
	      kg export -s "$T/sl" -f csv 2>/dev/null | cmp -s - "$T/c.out.csv"'

# (2) cells a spreadsheet would run: after a quote in the csv; numbers and plain words as they are
chan() { /usr/bin/python3 -c "import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='', encoding='utf-8')))
print('|'.join(sorted({r['channel'] for r in rows})))" "$1"; }
want="'+33 6 12|'=HYPERLINK(\"http://127.0.0.1/x\",\"click\")|'@here|-0.5|-5|app|web"
check "the csv guards formulas ($(chan "$T/c.out.csv"))" [ "$(chan "$T/c.out.csv")" = "$want" ]
kg export -s "$T/c" -f xlsx -o "$T/c.xlsx" 2>/dev/null
check "the xlsx holds them as they were, as strings, no formula" \
	/usr/bin/python3 -c "import openpyxl, sys
ws = openpyxl.load_workbook(sys.argv[1]).active
head = [c.value for c in ws[1]]; k = head.index('channel')
cells = [r[k] for r in ws.iter_rows(min_row=2)]
vals = {c.value for c in cells}
sys.exit(not (vals >= {'=HYPERLINK(\"http://127.0.0.1/x\",\"click\")', '+33 6 12', '@here', 'web'} and
              all(c.data_type != 'f' for c in cells)))" "$T/c.xlsx"

# (3) a TSV whose quotes are text (psql's, paste's): read without quoting, with a warning
printf 'id\tcomment\nQ1\tthe 27" screen is too small\nQ2\t"Great" app, really\n' >"$T/q.tsv"
kg start -c "$T/job/cfg.json" -i "$T/q.tsv" -s "$T/q" --no-progress 2>"$T/q.err"; rc=$?
prompts=$(curl -s --cacert "$T/mock/cert.pem" "https://127.0.0.1:$PORT/stats?bodies=1" |
	/usr/bin/python3 -c "import json, sys; print('\n'.join(e['user'] for e in json.load(sys.stdin)['requests_log']))")
check "a TSV with quotes in fields not quoted: exit $rc, a warning, its quotes arrive as text" \
	eval '[ $rc = 0 ] && grep -q "q.tsv:2: a quote in a field not in quotes: the table is read without quoting" "$T/q.err" &&
	      grep -qF "[row Q1] the 27\" screen is too small" <<<"$prompts" && grep -qF "[row Q2] \"Great\" app, really" <<<"$prompts"'

# (4) a column named id whose values repeat: refused with the way out, then rows numbered
printf 'id,comment\nA,first text here\nB,second text here\nA,third text here\n' >"$T/rep.csv"
kg start -c "$T/job/cfg.json" -i "$T/rep.csv" -s "$T/rep" --no-progress 2>"$T/rep.err"; rc=$?
check "ids that repeat: exit 2 (got $rc), both lines and input.id_column \"#\" named" \
	eval '[ $rc = 2 ] && tail -1 "$T/rep.err" | grep -qF "rep.csv:4: row id \"A\" seen before at line 2 (input.id_column \"#\" numbers the rows instead)"'
rows_job "$T/job/num.json" 20 '{"input": {"id_column": "#"}}'
kg start -c "$T/job/num.json" -i "$T/rep.csv" -s "$T/num" --no-progress 2>"$T/num.err"; rc=$?
check "input.id_column \"#\": exit $rc, said, rows numbered 1-3 with their id column kept" \
	eval '[ $rc = 0 ] && grep -q "rep.csv: rows numbered from 1 (input.id_column \"#\")" "$T/num.err" &&
	      [ "$(kg export -s "$T/num" -f csv 2>/dev/null | tr -d "\r\"" | cut -d, -f1-2 | tr "\n" " ")" = "row,id 1,A 2,B 3,A " ]'

# (5) more columns than kept: the first 64 besides the id and the text, and a warning
/usr/bin/python3 - "$T" <<'PY'
import csv, sys
t = sys.argv[1]
with open(t + "/wide.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["id", "comment"] + ["c%02d" % i for i in range(70)])
    for i in range(5):
        w.writerow(["W%d" % i, "Wide row number %d is fine" % i] + [str(i * 100 + k) for k in range(70)])
PY
rows_job "$T/job/wide.json" 20 '{"input": {"text_column": "comment"}}'
kg start -c "$T/job/wide.json" -i "$T/wide.csv" -s "$T/w" --no-progress 2>"$T/w.err"; rc=$?
check "a table of 70 more columns: exit $rc, the 6 left out said" \
	eval '[ $rc = 0 ] && grep -q "wide.csv: 6 columns past the first 64 kept are left out of the exports (input.keep_columns names the ones to keep)" "$T/w.err"'
kg export -s "$T/w" -f csv -o "$T/w.out.csv" 2>/dev/null
check "the export has the id, the first 64 of them, then the answer" \
	eval '[ "$(head -1 "$T/w.out.csv" | tr -d "\r\"" | cut -d, -f1-3,65-66)" = "id,c00,c01,c63,sentiment" ]'
names=$(/usr/bin/python3 -c "import json; print(json.dumps(['c%02d' % i for i in range(65)]))")
rows_job "$T/job/wide65.json" 20 "{\"input\": {\"text_column\": \"comment\", \"keep_columns\": $names}}"
kg start -c "$T/job/wide65.json" -i "$T/wide.csv" -s "$T/w65" --no-progress 2>"$T/w65.err"; rc=$?
check "keep_columns of 65 names: exit 2 (got $rc), the key named ($(tail -1 "$T/w65.err"))" \
	eval '[ $rc = 2 ] && tail -1 "$T/w65.err" | grep -q "wide65.json: input.keep_columns\[64\]: expected a column name (at most 64)"'
rows_job "$T/job/wide64.json" 20 "{\"input\": {\"text_column\": \"comment\", \"keep_columns\": $(/usr/bin/python3 -c "import json; print(json.dumps(['c%02d' % i for i in range(64)]))")}}"
/usr/bin/python3 -c "import json, sys; c = json.load(open(sys.argv[1])); c['report'] = {'score_column': 'c69'}; json.dump(c, open(sys.argv[1], 'w'))" "$T/job/wide64.json"
kg start -c "$T/job/wide64.json" -i "$T/wide.csv" -s "$T/w64" --no-progress 2>"$T/w64.err"; rc=$?
check "64 names and a score column besides: exit 2 (got $rc), both keys named ($(tail -1 "$T/w64.err"))" \
	eval '[ $rc = 2 ] && tail -1 "$T/w64.err" | grep -q "wide64.json: input.keep_columns: 64 columns and report.score_column; at most 64 are kept"'
/usr/bin/python3 -c "import json, sys; c = json.load(open(sys.argv[1])); c['report'] = {'score_column': 'c00'}; json.dump(c, open(sys.argv[1], 'w'))" "$T/job/wide64.json"
kg start -c "$T/job/wide64.json" -i "$T/wide.csv" -s "$T/w64" --no-progress 2>>"$T/w64.err"; rc=$?
check "started again with the score among the 64: exit $rc, 64 kept columns" \
	eval '[ $rc = 0 ] && kg export -s "$T/w64" -f csv 2>/dev/null | head -1 | tr -d "\r\"" | grep -q "^id,c00,.*,c63,sentiment,"'
stop_mock
finish
