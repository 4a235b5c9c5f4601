#!/bin/bash
# rows_out.t: what comes out of a run over rows. The feedback job on a generated survey table
# (every CSV quoting case, blank comments, repeated ones): export -f csv writes a line per
# input row in input order, the same bytes to a file as to standard output, empty answer
# cells where the comment is blank; export -f xlsx, read back by openpyxl, holds the same
# cells with scores as numbers, a bold header and panes frozen at B2; kgsup report --json
# gives the counts, shares and NPS that Python works out from the csv itself, and report.json
# ends with the same "rows" object.
. "$(dirname "$0")/lib.sh"
plan 12

export MOCK_API_KEY=sk-mock-$$-secret
mkdir -p "$T/in"
/usr/bin/python3 "$TOP/scripts/gen_feedback.py" 400 "$T/in/survey.csv" --seed 7
start_mock
# the job as shipped: score and channel kept (input.keep_columns)
job_config "$T/feedback.json" "$TOP/etc/jobs/feedback.json"
kg start -c "$T/feedback.json" -i "$T/in/survey.csv" -s "$T/s" -q 2>"$T/start.err"; rc=$?
check "the feedback job finishes (exit $rc)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/# /' "$T/start.err"

kg export -s "$T/s" -f csv -o "$T/out.csv" 2>"$T/export.err"; rc=$?
check "export -f csv -o FILE (exit $rc)" [ $rc -eq 0 ]
kg export -s "$T/s" -f csv >"$T/stdout.csv" 2>/dev/null
check "export -f csv to standard output: the same bytes" cmp -s "$T/out.csv" "$T/stdout.csv"
kg export -s "$T/s" -f xlsx -o "$T/out.xlsx" 2>"$T/export.err"; rc=$?
check "export -f xlsx -o FILE (exit $rc)" [ $rc -eq 0 ]
kg export -s "$T/s" -f xlsx >/dev/null 2>&1; rc=$?
check "export -f xlsx without -o is refused (exit $rc)" [ $rc -eq 2 ]
check "no temporary file left beside the outputs" [ -z "$(find "$T" -maxdepth 1 -name '*.tmp.*')" ]

# py CHECK: runs a check below over the table, the exports and the reports; its output is a diag
py() {
	/usr/bin/python3 - "$1" "$T" <<'PY'
import csv, json, sys
what, t = sys.argv[1], sys.argv[2]
table = list(csv.DictReader(open(t + "/in/survey.csv", newline="", encoding="utf-8-sig")))
out = list(csv.reader(open(t + "/out.csv", newline="", encoding="utf-8")))
head, lines = out[0], out[1:]
col = {name: i for i, name in enumerate(head)}

def fail(msg):
    print("# " + msg)
    sys.exit(1)

if what == "csv":
    want = ["response_id", "score", "channel", "sentiment", "topics", "nps_category", "summary"]
    if head != want:
        fail("header %s" % head)
    if [l[0] for l in lines] != [r["response_id"] for r in table]:
        fail("not every row in input order")
    for l, r in zip(lines, table):
        if [l[1], l[2]] != [r["score"], r["channel"]]:
            fail("%s: kept cells %s" % (l[0], l[1:3]))
        blank = not r["comment"].strip()
        if blank != (l[col["sentiment"]] == "") or (blank and any(l[3:])):
            fail("%s: answer cells %s for comment %r" % (l[0], l[3:], r["comment"]))
elif what == "xlsx":
    import openpyxl
    ws = openpyxl.load_workbook(t + "/out.xlsx").active
    cells = [["" if c.value is None else str(c.value) for c in row] for row in ws.iter_rows()]
    cells = [row + [""] * (len(head) - len(row)) for row in cells]
    if cells != out:
        bad = [(i, a, b) for i, (a, b) in enumerate(zip(cells, out)) if a != b][:2]
        fail("xlsx and csv differ: %s" % bad)
    if not all(isinstance(ws.cell(i, 2).value, int) for i in range(2, ws.max_row + 1)):
        fail("a score is not a number")
    if ws.freeze_panes != "B2" or not all(c.font.b for c in ws[1]):
        fail("panes %s, header bold %s" % (ws.freeze_panes, [c.font.b for c in ws[1]]))
    if not all(ws.column_dimensions[c].width for c in "ABCDEFG"):
        fail("column widths not set")
elif what == "report":
    rep = json.load(open(t + "/report-out.json"))
    st = rep["stages"][0]
    answered = [l for l in lines if l[col["sentiment"]]]
    if st["rows_answered"] != len(answered) or rep["rows"] != len(lines):
        fail("rows %d answered %d" % (rep["rows"], st["rows_answered"]))
    for f in st["fields"]:
        for v in f["values"]:
            n = sum(1 for l in answered if l[col[f["field"]]] == v["value"])
            if v["count"] != n or abs(v["share"] - n / len(answered)) > 1e-9:
                fail("%s=%s: %s, counted %d" % (f["field"], v["value"], v, n))
    scores = [int(l[1]) for l in lines if l[1].strip().isdigit() and int(l[1]) <= 10]
    p, d = sum(s >= 9 for s in scores), sum(s <= 6 for s in scores)
    nps = 100.0 * (p - d) / len(scores)
    got = rep["nps"]
    if abs(got["nps"] - nps) > 1e-6 or abs(got["nps_0_100"] - (nps + 100) / 2) > 1e-6 \
            or got["promoters"] != p or got["detractors"] != d \
            or got["unscored"] != len(lines) - len(scores):
        fail("nps %s, worked out %.4f from %d scores" % (got, nps, len(scores)))
    print("# NPS %.2f over %d scores; %d of %d rows answered" % (nps, len(scores), len(answered),
                                                                 len(lines)))
elif what == "report.json":
    if json.load(open(t + "/s/report.json")).get("rows") != json.load(open(t + "/report-out.json")):
        fail("report.json's rows differ from kgsup report --json")
PY
}

check "the csv: every input row in order, its kept cells, answer cells empty for blank comments" py csv
check "the xlsx read back: the csv's cells, scores as numbers, bold header, frozen panes, widths" py xlsx
kg report -s "$T/s" --json >"$T/report-out.json" 2>"$T/report.err"; rc=$?
check "report --json (exit $rc)" [ $rc -eq 0 ]
check "report: counts, shares and NPS as worked out from the csv" py report
check "report.json ends with the same rows object" py report.json
kg report -s "$T/s" >"$T/report.txt" 2>&1
said() { grep -q '^nps .* from column "score"' "$1" && grep -q '^  sentiment .*positive [0-9]* ([0-9.]*%)' "$1"; }
check "report for people: the NPS, and the count and share of each sentiment" said "$T/report.txt"
finish
