#!/bin/bash
# cli.t: the command line. An option a command does not take, or one no command takes, is one
# line naming the option and the command, exit 2, and nothing runs; every command's --help
# shows its usage and exits 0; no command or an unknown one is exit 2 naming it.
. "$(dirname "$0")/lib.sh"
plan 32

# refused CMD OPTION ARGS...: exit 2 and one line "kgsup: CMD: option OPTION is not one of CMD's"
refused() {
	local cmd=$1 opt=$2
	shift 2
	kg "$cmd" "$@" 2>"$T/err" >"$T/out"; rc=$?
	check "$cmd $*: exit 2 (got $rc)" [ $rc -eq 2 ]
	check "$cmd $*: one line naming $opt and $cmd: $(head -c 160 "$T/err")" \
		eval "[ \$(wc -l <'$T/err') -eq 1 ] && grep -qF -- 'kgsup: $cmd: option $opt is not one of $cmd'\"'\"'s (see kgsup $cmd --help)' '$T/err'"
}

# a state directory with nothing in it: a command that ran would complain about it, not the option
mkdir -p "$T/d"
# nothing listens on port 9: were a refused start to run, it would send nothing anywhere
printf '{"api": {"base_url": "http://127.0.0.1:9/v1"}}' >"$T/cfg.json"
refused stop --fresh -s "$T/d" --fresh -f csv
refused stop -f -s "$T/d" -f csv
refused status --now -s "$T/d" --now
refused export --json -s "$T/d" --json
refused scale -w 3 -s "$T/d" -w 2
refused plan -s -i "$T/d" -s "$T/d"
refused resume --fresh -s "$T/d" --fresh
refused start --prometheus -c "$T/cfg.json" -i "$T/d" -s "$T/d2" --prometheus
check "the refused start made no state directory" [ ! -e "$T/d2" ]

kg start --bogus 2>"$T/err"; rc=$?
check "start --bogus: exit 2 (got $rc)" [ $rc -eq 2 ]
check "naming --bogus and start: $(head -c 160 "$T/err")" \
	grep -qF "kgsup: start: unknown option --bogus (see kgsup start --help)" "$T/err"
kg export -s "$T/d" -x 2>"$T/err"; rc=$?
check "export -x: exit 2 (got $rc), naming -x and export: $(head -c 160 "$T/err")" \
	eval "[ $rc -eq 2 ] && grep -qF 'kgsup: export: unknown option -x' '$T/err'"
kg stop -s 2>"$T/err"; rc=$?
check "stop -s with no value: exit 2 (got $rc), naming -s: $(head -c 160 "$T/err")" \
	eval "[ $rc -eq 2 ] && grep -qF 'kgsup: stop: option -s needs a value' '$T/err'"

# every command's --help: exit 0, its usage line on standard output, nothing on standard error
for cmd in plan start resume status export stop scale; do
	kg "$cmd" --help >"$T/out" 2>"$T/err"; rc=$?
	check "$cmd --help: exit 0 (got $rc) with its usage: $(head -n 1 "$T/out")" \
		eval "[ $rc -eq 0 ] && head -n 1 '$T/out' | grep -q '^kgsup $cmd ' && [ ! -s '$T/err' ]"
done

kg >"$T/out" 2>"$T/err"; rc=$?
check "no command: exit 2 (got $rc) with the list of commands on stderr" \
	eval "[ $rc -eq 2 ] && grep -q '^  start ' '$T/err' && grep -q '^  scale ' '$T/err'"
check "and the internal roles are not in it" bash -c "! grep -q __ '$T/err'"
kg frobnicate -s "$T/d" 2>"$T/err"; rc=$?
check "unknown command: exit 2 (got $rc) naming it: $(head -c 160 "$T/err")" \
	eval "[ $rc -eq 2 ] && grep -qF \"kgsup: unknown command 'frobnicate'\" '$T/err'"
kg --help >"$T/out" 2>&1; rc=$?
check "kgsup --help: exit 0 (got $rc) listing the commands" \
	eval "[ $rc -eq 0 ] && grep -q '^  export ' '$T/out'"
finish
