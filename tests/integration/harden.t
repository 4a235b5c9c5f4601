#!/bin/bash
# harden.t: the state directory and the endpoint cannot be turned against the run (issue 16,
# findings 6-8): cache.path naming the run's own store is refused, plain http goes to loopback
# only (userinfo and 127.-prefixed names do not fool it), a refused second start keeps the live
# run's pid file, symlinks in the state directory are not followed, and LMDB's descriptors do
# not leak into the children.
. "$(dirname "$0")/lib.sh"
plan 13

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

# ---- 7: plain http only to loopback, the host read as a URL parser reads it. Test safety:
# kgsup runs in a network namespace of its own that has nothing but lo, with 192.0.2.2 added
# to that lo and a listener there that records what arrives; nothing can leave the machine
# (a DNS lookup of 127.evil.example finds no route either). ----
cat >"$T/listen.py" <<'PY'
import socket, sys
log, ready = sys.argv[1], sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.2", 18099))
s.listen(16)
open(ready, "w").write("1")
while True:
    c, _ = s.accept()
    c.settimeout(2)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            d = c.recv(65536)
            if not d:
                break
            data += d
    except OSError:
        pass
    open(log, "ab").write(data or b"(a connection)\n")
    try:
        c.sendall(b"HTTP/1.1 500 no\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    except OSError:
        pass
    c.close()
PY
# in_netns NAME BASE_URL: kgsup start with api.base_url BASE_URL inside a fresh network
# namespace; leaves $T/NAME.rc, $T/NAME.err and what the listener on 192.0.2.2 got in $T/NAME.got
in_netns() {
	write_config "$T/$1.json" "{\"api\": {\"base_url\": \"$2\"}, \"retry\": {\"max_attempts\": 1}, \"run\": {\"workers\": 1}}"
	: >"$T/$1.got"
	unshare -n bash -c '
		ip link set lo up && ip addr add 192.0.2.2/32 dev lo || exit 90
		[ "$(ip -o link | wc -l)" -eq 1 ] || exit 91 # nothing but lo: no way out
		/usr/bin/python3 "$1/listen.py" "$1/$2.got" "$1/$2.ready" & lp=$!
		for _ in $(seq 50); do [ -s "$1/$2.ready" ] && break; sleep 0.1; done
		timeout -k 2 60 "$3" start -c "$1/$2.json" -i "$1/in" -s "$1/$2" -q 2>"$1/$2.err"
		echo $? >"$1/$2.rc"
		kill $lp' _ "$T" "$1" "$KGSUP"
}
base_url_refused() { # NAME: exit 2, one line naming api.base_url, nothing arrived at 192.0.2.2
	[ "$(cat "$T/$1.rc")" = 2 ] && grep -q "api.base_url" "$T/$1.err" && [ ! -s "$T/$1.got" ]
}
if ! command -v ip >/dev/null || ! unshare -n true 2>/dev/null; then
	skip "http://localhost:x@192.0.2.2 (userinfo) is refused" "cannot make a network namespace here"
	skip "http://127.evil.example is refused" "cannot make a network namespace here"
else
	in_netns userinfo "http://localhost:x@192.0.2.2:18099/v1"
	check "http://localhost:x@192.0.2.2:18099/v1 (userinfo) refused, exit 2, nothing sent (rc $(cat "$T/userinfo.rc"): $(head -c 200 "$T/userinfo.err"); 192.0.2.2 got: $(grep -ci authorization "$T/userinfo.got") Authorization headers)" base_url_refused userinfo
	in_netns evil "http://127.evil.example:18099/v1"
	check "http://127.evil.example:18099/v1 refused, exit 2 (rc $(cat "$T/evil.rc"): $(head -c 200 "$T/evil.err"))" base_url_refused evil
fi

# ---- 8: the live run's pid file, symlinks in the state directory, LMDB's descriptors, the
# spool directory's fsync ----
stop_mock
start_mock --latency-ms 1500
write_config "$T/slow.json" '{"chunking": {"chunk_tokens": 100, "overlap_tokens": 0, "chunks_per_batch": 1}, "run": {"workers": 2}}'
kg start -c "$T/slow.json" -i "$T/in" -s "$T/live" --detach -q 2>/dev/null
pid=$(cat "$T/live/kgsup.pid" 2>/dev/null)
kg start -c "$T/slow.json" -i "$T/in" -s "$T/live" --detach -q 2>"$T/second.err"; rc=$?
check "a second start --detach on a live run is refused (exit $rc)" [ $rc -eq 2 ]
pid_file_kept() { [ -n "$pid" ] && kill -0 "$pid" && [ "$(cat "$T/live/kgsup.pid" 2>/dev/null)" = "$pid" ]; }
check "and the live run's pid file still names it ($pid; now: $(cat "$T/live/kgsup.pid" 2>&1))" pid_file_kept
# every child of the live supervisor (two workers, the broker) while calls are in flight
kids=
for _ in $(seq 100); do
	kids=$(pgrep -P "${pid:-0}" | tr '\n' ' ')
	[ "$(echo $kids | wc -w)" -ge 3 ] && [ "$(mock_stat requests)" -ge 1 ] && break
	sleep 0.1
done
mdb_fds() { ls -l "/proc/$1/fd" 2>/dev/null | grep -cE '(data|lock)\.mdb$'; }
leaked=0
for k in $kids; do leaked=$((leaked + $(mdb_fds "$k"))); done
no_leak() { [ "$(mdb_fds "${pid:-0}")" -ge 1 ] && [ "$(echo $kids | wc -w)" -ge 3 ] && [ $leaked -eq 0 ]; }
check "the supervisor holds the store ($(mdb_fds "${pid:-0}") descriptors), its $(echo $kids | wc -w) children none of data.mdb or lock.mdb (got $leaked)" no_leak
kg stop -s "$T/live" --now 2>/dev/null
for _ in $(seq 100); do kill -0 "${pid:-0}" 2>/dev/null || break; sleep 0.1; done

# symlinks planted in a state directory are not followed (nor their targets truncated, appended
# to or chmodded)
mkdir -p "$T/symlock" "$T/symspool" "$T/symlog" "$T/victim-dir"
echo precious >"$T/victim"
write_config "$T/cfg.json"
# refused NAME RC LINK: exit 2, one line naming the link, the victims untouched
link_refused() {
	[ "$2" -eq 2 ] && [ "$(wc -l <"$T/$1.err")" -eq 1 ] && grep -q "$3" "$T/$1.err" &&
		[ "$(cat "$T/victim")" = precious ] && [ "$(stat -c %a "$T/victim-dir")" = 755 ]
}
chmod 0755 "$T/victim-dir"
ln -s "$T/victim" "$T/symlock/lock"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/symlock" -q 2>"$T/symlock.err"; rc=$?
check "DIR/lock a symlink: refused, exit 2 naming it, its target untouched (rc $rc: $(head -c 200 "$T/symlock.err"))" \
	link_refused symlock $rc "$T/symlock/lock"
ln -s "$T/victim-dir" "$T/symspool/spool"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/symspool" -q 2>"$T/symspool.err"; rc=$?
check "DIR/spool a symlink: refused, exit 2 naming it, its target's mode unchanged (rc $rc: $(head -c 200 "$T/symspool.err"))" \
	link_refused symspool $rc "$T/symspool/spool"
ln -s "$T/victim" "$T/symlog/kgsup.log"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/symlog" -q --detach 2>"$T/symlog.err"; rc=$?
check "DIR/kgsup.log a symlink: start --detach refused, exit 2 naming it, its target untouched (rc $rc: $(head -c 200 "$T/symlog.err"))" \
	link_refused symlog $rc "$T/symlog/kgsup.log"

# a worker that spools its answer (the supervisor killed with calls in flight) fsyncs the spool
# directory after the rename, or the file may not survive a power cut
if ! command -v strace >/dev/null; then
	skip "the spool directory is fsynced after a rename" "no strace"
else
	stop_mock
	start_mock --latency-ms 1500
	write_config "$T/slow.json" '{"chunking": {"chunk_tokens": 100, "overlap_tokens": 0, "chunks_per_batch": 1}, "run": {"workers": 2}}'
	timeout -k 5 120 strace -ff -qq -e trace=openat,rename,fsync -o "$T/strace" \
		"$KGSUP" start -c "$T/slow.json" -i "$T/in" -s "$T/spooled" -q 2>/dev/null &
	tracer=$!
	for _ in $(seq 100); do [ "$(mock_stat requests)" -ge 1 ] && break; sleep 0.1; done
	kill -KILL "$(pgrep -P "$(pgrep -P $tracer)")" # the supervisor: strace's child
	{ wait $tracer; } 2>/dev/null
	# per process: the spool rename, then the spool directory opened and that descriptor fsynced
	dir_fsynced() {
		/usr/bin/python3 - "$T/spooled/spool" "$T"/strace.* <<'PY'
import re, sys
spool, logs = sys.argv[1], sys.argv[2:]
renamed = ok = 0
for log in logs: # one process each (strace -ff)
    seen_rename, dirfd, synced = False, None, False
    for line in open(log):
        if "rename(" in line and spool + "/" in line and line.rstrip().endswith("= 0"):
            seen_rename = True
        m = re.search(r'openat\(AT_FDCWD, "%s/?", [^)]*O_DIRECTORY[^)]*\) = (\d+)' % re.escape(spool), line)
        if m and seen_rename:
            dirfd = m.group(1)
        m = re.search(r"fsync\((\d+)\) += 0", line)
        if m and m.group(1) == dirfd:
            synced = True
    renamed += seen_rename
    ok += seen_rename and synced
print(renamed, ok)
sys.exit(0 if renamed and ok == renamed else 1)
PY
	}
	check "the spool directory is fsynced after a rename ($(ls "$T/spooled/spool" | wc -l) spooled; renames/fsyncs: $(dir_fsynced))" dir_fsynced
fi
finish
