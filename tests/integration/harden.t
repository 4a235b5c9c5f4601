#!/bin/bash
# harden.t: the state directory and the endpoint cannot be turned against the run (issue 16,
# findings 6-8): cache.path naming the run's own store is refused, plain http goes to loopback
# only (userinfo and 127.-prefixed names do not fool it), a refused second start keeps the live
# run's pid file, symlinks in the state directory are not followed, and LMDB's descriptors do
# not leak into the children.
. "$(dirname "$0")/lib.sh"
plan 4

/usr/bin/python3 "$TOP/scripts/gen_corpus.py" "$T/in" --files 2 --words 300 --seed 16
start_mock
write_config "$T/cfg.json"

# ---- 6: cache.path resolving to the run's own DIR/db (it used to deadlock: the same LMDB
# environment opened twice in one process; SIGTERM could not end it) ----
# self_cache NAME CACHE_PATH [DIR]: start with cache.path CACHE_PATH in state dir $T/NAME
self_cache() {
	write_config "$T/$1.json" "{\"cache\": {\"path\": \"$2\"}}"
	mkdir -p "$T/$1/db"
	(cd "$T" && timeout -k 2 20 "$KGSUP" start -c "$T/$1.json" -i "$T/in" -s "$T/$1" -q \
		2>"$T/$1.err"); echo $?
}
refused() { # refused NAME RC: exit 2 and one line naming the key
	[ "$2" -eq 2 ] && [ "$(wc -l <"$T/$1.err")" -eq 1 ] && grep -q "cache.path" "$T/$1.err"
}
rc=$(self_cache same "$T/same/db")
check "cache.path = DIR/db: refused with exit 2 naming cache.path (got $rc: $(head -c 200 "$T/same.err"))" refused same "$rc"
ln -s "$T/link/db" "$T/db-link"
rc=$(self_cache link "$T/db-link")
check "cache.path a symlink to DIR/db: refused (got $rc: $(head -c 200 "$T/link.err"))" refused link "$rc"
rc=$(self_cache rel "rel/./db/")
check "cache.path a relative path to DIR/db: refused (got $rc: $(head -c 200 "$T/rel.err"))" refused rel "$rc"
rc=$(self_cache other "$T/other-cache")
check "another cache.path still works (got $rc: $(head -c 200 "$T/other.err"))" [ "$rc" -eq 0 ]
