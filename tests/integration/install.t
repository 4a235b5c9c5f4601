#!/bin/bash
# install.t: what `make install` leaves, as a new user meets it. The installed example config
# works from any directory (built-in templates), and so do the installed example jobs (their
# files are relative to the job's own file); README and BENCHMARKS are under share/doc/kgsup;
# the systemd unit runs the kgsup of the PREFIX it was installed with; --help names the key's
# variable, the installed example and the manual; an empty key is said to be empty.
. "$(dirname "$0")/lib.sh"
plan 8

ROOT=$T/root P=/opt/kgtest
env -u MAKEFLAGS -u MAKELEVEL make -s -C "$TOP" install DESTDIR="$ROOT" PREFIX=$P >"$T/make.out" 2>&1
check "make install into a DESTDIR (exit $?)" [ -x "$ROOT$P/bin/kgsup" ]
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 2 --words 300 --formats txt >/dev/null
cd "$T" || exit 1   # not the source tree
"$ROOT$P/bin/kgsup" plan -c "$ROOT$P/share/kgsup/kgsup.json.example" -i "$T/in" --json >"$T/plan.json" 2>"$T/plan.err"
check "the installed example config plans from another directory (exit $?: $(head -c 200 "$T/plan.err"))" \
	grep -q '"batches"' "$T/plan.json"
"$ROOT$P/bin/kgsup" plan -c "$ROOT$P/share/kgsup/jobs/analyzers.json" -i "$T/in" --json >"$T/plan2.json" 2>"$T/plan2.err"
check "so does the installed analyzers job ($(head -c 200 "$T/plan2.err"))" grep -q '"batches":16' "$T/plan2.json"
check "README and BENCHMARKS under share/doc/kgsup" \
	[ -f "$ROOT$P/share/doc/kgsup/README.md" -a -f "$ROOT$P/share/doc/kgsup/BENCHMARKS.md" ]
check "the systemd unit runs the installed kgsup" grep -q "^ExecStart=$P/bin/kgsup start" "$ROOT$P/share/kgsup/kgsup.service"
"$ROOT$P/bin/kgsup" --help >"$T/help"
check "--help names the key's variable, the installed example and the manual" \
	[ "$(grep -c "OPENAI_API_KEY\|$ROOT$P/share/kgsup/kgsup.json.example\|man kgsup" "$T/help")" -ge 2 ]
check "and the example it names exists" \
	[ -f "$(sed -n 's/^an example config with every key: \(.*\); the manual.*/\1/p' "$T/help")" ]
OPENAI_API_KEY= "$ROOT$P/bin/kgsup" start -i "$T/in" -s "$T/s" 2>"$T/key.err"
check "an empty key is said to be empty ($(cat "$T/key.err"))" grep -q "OPENAI_API_KEY is empty" "$T/key.err"
finish
