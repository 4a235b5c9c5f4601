#!/bin/bash
# slurm.t: the shipped Slurm examples under a real Slurm. A one-node cluster of Debian's
# slurm-wlm and munge is set up for the test alone: its slurm.conf, state, spool and munge key
# under $T, the munge socket in a directory of its own, slurmctld and slurmd on loopback ports
# (proctrack/linuxproc, task/none: no cgroups). etc/slurm/kgsup-broker.sbatch, run by hand
# first, writes a host the shards can connect to for each kind of listening address and leaves
# a later broker job's broker.host alone; then it runs the shared broker as a job, and
# etc/slurm/kgsup.sbatch runs a 4-task array against the mock, each task a shard asking that
# broker; the shards' merged export equals one machine's run of the corpus byte for byte and
# nothing was bought twice. Needs root and the packages (`make check` installs them where it
# can); says SKIP and why where they are missing or a daemon does not start.
. "$(dirname "$0")/../integration/lib.sh"

skip_all() { echo "1..0 # SKIP $*"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip_all "needs root (slurmd starts each job as its user)"
for c in munged slurmctld slurmd sbatch squeue scontrol scancel sinfo unshare; do
	command -v $c >/dev/null ||
		skip_all "$c is missing (Debian's slurm-wlm and munge; make check installs them where it can)"
done

# nothing of a Slurm job this may run in reaches the private cluster's commands or jobs
unset $(compgen -v SLURM_)
S=$T/slurm
mkdir -p "$S/state" "$S/spool" "$T/jobs" "$T/states"
# munged wants its socket's directory, and every one above it, searchable by all: a directory
# of its own in /tmp, so that $T stays its owner's alone (the daemons and the jobs run as root
# and need nothing else opened)
M=$(mktemp -d /tmp/kgsup-munge-XXXXXX) && chmod 711 "$M" || exit 1
head -c 1024 /dev/urandom >"$S/munge.key" && chmod 600 "$S/munge.key"
export SLURM_CONF=$S/slurm.conf
read -r CTLD_PORT SLURMD_PORT < <(/usr/bin/python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
# CPUs: the 4 tasks of 4 CPUs each (the script's --cpus-per-task) and the broker's one at once,
# whatever the machine has (config_overrides: the node is not drained for having fewer)
cat >"$SLURM_CONF" <<EOF
ClusterName=kgsuptest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$M/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
PlugStackConfig=$S/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=5
MinJobAge=600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=24 State=UNKNOWN
PartitionName=kgsup Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
: >"$S/plugstack.conf"

# within SECONDS WHAT CMD...: CMD every 0.1 s until it succeeds, or fails with WHAT said not to
# have happened when SECONDS have passed
within() {
	local s=$1 what=$2 deadline=$((SECONDS + $1))
	shift 2
	until "$@"; do
		[ $SECONDS -lt $deadline ] || { diag "$what: not within $s s"; return 1; }
		sleep 0.1
	done
}
gone() { ! kill -0 "$1" 2>/dev/null; }
no_jobs() { [ -z "$(squeue -h -j "${JOBS// /,}" 2>/dev/null)" ]; }

# stopping: the jobs first (scancel, then up to 20 s for them to end), then slurmd, slurmctld
# and munged, each by its pid
MUNGED_PID= CTLD_PID= SLURMD_PID= JOBS=
stop_pid() { # PID: SIGTERM, up to 10 s, then SIGKILL
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null
	within 10 "process $1 ending on SIGTERM (killed)" gone "$1" || kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
stop_slurm() {
	if [ -n "$JOBS" ] && [ -n "$CTLD_PID" ]; then
		scancel $JOBS 2>/dev/null
		within 20 "jobs $JOBS ending on scancel" no_jobs
	fi
	stop_pid "$SLURMD_PID"; stop_pid "$CTLD_PID"; stop_pid "$MUNGED_PID"
	SLURMD_PID= CTLD_PID= MUNGED_PID=
	[ -z "$M" ] || rm -rf "$M"
}
trap 'stop_slurm; cleanup' EXIT
# a script stopped by a signal (prove interrupted, a timeout) stops its daemons too: bash runs
# the EXIT trap only when it exits by itself
trap 'exit 130' INT
trap 'exit 143' TERM
# not_started NAME LOG: a daemon that did not start skips the script, with its log's end
not_started() {
	diag "$1 did not start; the end of $2:"
	tail -n 15 "$2" 2>/dev/null | sed 's/^/#   /'
	skip_all "$1 did not start here (its log above)"
}
# IN_LOCALHOST CMD...: CMD in a UTS namespace of its own named localhost: NoCtldInAddrAny and
# NoInAddrAny bind the daemons to the address their host name resolves to, which is loopback
# then on any machine. unshare and sh exec it, so that $! is the daemon's pid. Where there is
# no such namespace (a container without CAP_SYS_ADMIN), the host's own name will do if it
# resolves to loopback only (Debian's 127.0.1.1)
IN_LOCALHOST=(unshare --uts sh -c 'hostname localhost && exec "$@"' sh)
if ! "${IN_LOCALHOST[@]}" true 2>"$S/unshare.err"; then
	resolved=$(getent ahostsv4 "$(hostname)" | awk '{ print $1 }' | sort -u | tr '\n' ' ')
	echo "$resolved" | tr ' ' '\n' | grep -v '^$' | grep -qv '^127\.' || [ -z "$resolved" ] &&
		skip_all "the daemons could listen beyond loopback: no UTS namespace ($(head -n 1 "$S/unshare.err")) and $(hostname) resolves to ${resolved:-nothing}"
	IN_LOCALHOST=()
fi

munged -F --socket="$M/munge.sock" --key-file="$S/munge.key" --pid-file="$S/munged.pid" \
	--log-file="$S/munged.log" --seed-file="$S/munged.seed" 2>>"$S/munged.log" &
MUNGED_PID=$!
# each daemon: until it answers, it has died, or the deadline
within 10 "munged's socket" eval '[ -S "$M/munge.sock" ] || gone $MUNGED_PID'
[ -S "$M/munge.sock" ] || not_started munged "$S/munged.log"
"${IN_LOCALHOST[@]}" slurmctld -D -i -f "$SLURM_CONF" >"$S/slurmctld.log" 2>&1 &
CTLD_PID=$!
ctld_up() { scontrol ping 2>/dev/null | grep -q UP; }
within 30 "slurmctld answering scontrol ping" eval 'ctld_up || gone $CTLD_PID'
ctld_up || not_started slurmctld "$S/slurmctld.log"
"${IN_LOCALHOST[@]}" slurmd -D -N localhost -f "$SLURM_CONF" >"$S/slurmd.log" 2>&1 &
SLURMD_PID=$!
node_idle() { [ "$(sinfo -h -n localhost -o %t 2>/dev/null)" = idle ]; }
within 30 "slurmd's node idle" eval 'node_idle || gone $SLURMD_PID'
node=$(sinfo -h -n localhost -o %t 2>/dev/null)
[ "$node" = idle ] || not_started "slurmd (its node ${node:-unknown to slurmctld}, not idle)" "$S/slurmd.log"

plan 13

# listening PID...: the addresses the processes listen on (TCP, from /proc)
listening() { /usr/bin/python3 - "$@" <<'PY'
import os, sys
inodes = set()
for pid in sys.argv[1:]:
    for fd in os.listdir("/proc/%s/fd" % pid):
        try:
            link = os.readlink("/proc/%s/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
for name in ("tcp", "tcp6"):
    for row in open("/proc/net/" + name).read().splitlines()[1:]:
        c = row.split()
        if c[3] != "0A" or c[9] not in inodes:  # 0A: LISTEN
            continue
        a, port = c[1].split(":")
        if name == "tcp":
            addr = ".".join(str(int(a[i:i + 2], 16)) for i in (6, 4, 2, 0))
        else:
            addr = "::1" if a == "0" * 24 + "01000000" else "v6:" + a
        print("%s:%d" % (addr, int(port, 16)))
PY
}
addrs=$(listening $CTLD_PID $SLURMD_PID $MUNGED_PID | sort | tr '\n' ' ')
on_loopback() { # each one's port on 127.0.0.1, nothing on another address
	case " $addrs" in *" 127.0.0.1:$CTLD_PORT "*) ;; *) return 1 ;; esac
	case " $addrs" in *" 127.0.0.1:$SLURMD_PORT "*) ;; *) return 1 ;; esac
	! echo "$addrs" | tr ' ' '\n' | grep -v '^$' | grep -vq '^127\.\|^::1:'
}
check "slurmctld and slurmd listen on loopback only, munged on no TCP port at all ($addrs)" on_loopback

# the corpus, run whole by one supervisor (its own broker) for the export to compare with
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" --files 16 --words 300 --seed 22 "$T/in" >/dev/null
start_mock --latency-ms 50
CHUNKING='"chunking": {"chunk_tokens": 60, "overlap_tokens": 0, "chunks_per_batch": 3}'
write_config "$T/cfg.json" "{$CHUNKING}"
kg start -c "$T/cfg.json" -i "$T/in" -s "$T/whole" -q 2>"$T/whole.err"; rc=$?
kg export -s "$T/whole" -f jsonl -o "$T/whole.jsonl" 2>/dev/null
kg export -s "$T/whole" -f results -o "$T/whole.results" 2>/dev/null
wtotal=$(kg status -s "$T/whole" --json | json_get /dev/stdin 'j["batches"]["total"]')
check "the whole run finishes (exit $rc, $wtotal requests)" sh -c "[ $rc -eq 0 ] && [ -s '$T/whole.jsonl' ]"

# the broker's keys and config, as kgsup-broker.sbatch's comment makes them; the shards' config
# names the broker at @BROKER_HOST@, which kgsup.sbatch fills in from broker.host
mkdir -p "$T/keys/allow"
(cd "$T/keys" && kg keygen broker >/dev/null && kg keygen shard >/dev/null && cp shard.pub allow/)
BP=$(free_port_pair)
write_config "$T/bcfg.json"
write_config "$T/shard.json" "{$CHUNKING, \"limits\": {\"broker\": \"tcp://@BROKER_HOST@:$BP\",
	\"broker_public_key\": \"$T/keys/broker.pub\", \"client_key\": \"$T/keys/shard.key\"}}"

# kgsup-broker.sbatch run by hand (no Slurm), with a kgsup that records its arguments and
# waits: the host it writes to broker.host for each kind of listening address, and what it
# leaves of a later broker job's broker.host when it ends
printf '#!/bin/sh\necho "$*" >>"%s"\necho "pid $$ serving $3" >&2\nexec sleep 60\n' "$T/fake.log" >"$T/fake-kgsup"
printf '#!/bin/sh\necho "kgsup: broker: $3: Address already in use" >&2\nexit 2\n' >"$T/taken-kgsup"
chmod +x "$T/fake-kgsup" "$T/taken-kgsup"
by_hand() { # DIR ADDR: the script on DIR listening on ADDR, in the background (pid: $by_pid),
	# once its broker serves and it has written broker.host
	KGSUP=$T/fake-kgsup KGSUP_CONFIG=/dev/null KGSUP_STATES=$1 KGSUP_BROKER_ADDR=$2 \
		KGSUP_BROKER_PORT=7700 bash "$TOP/etc/slurm/kgsup-broker.sbatch" >>"$T/by-hand.out" 2>&1 &
	by_pid=$!
	within 10 "kgsup-broker.sbatch with KGSUP_BROKER_ADDR=$2 writing broker.host" \
		eval "[ '$1/broker.host' -ef '$1/broker.host.$by_pid' ]"
}
end_by_hand() { kill -TERM "$1" && wait "$1"; } # PID: as scancel ends it
node_name=$(hostname -f 2>/dev/null || hostname)
lo=127.0.0.1 # the address ZeroMQ binds for the interface lo, which `ip` says
command -v ip >/dev/null || lo=$node_name
hosts= want=
for addr in '*' 0.0.0.0 '[::]' lo 10.20.30.40; do
	by_hand "$T/bh" "$addr"
	hosts="$hosts$addr=$(cat "$T/bh/broker.host" 2>/dev/null) "
	end_by_hand $by_pid
	want="${want}tcp://$addr:7700 "
done
listened=$(awk '{ print $3 }' "$T/fake.log" | tr '\n' ' ')
check "broker.host is the node's name for the wildcards, lo's address for lo, an address as it is ($hosts), and the broker listens where told ($listened)" \
	eval '[ "$hosts" = "*=$node_name 0.0.0.0=$node_name [::]=$node_name lo=$lo 10.20.30.40=10.20.30.40 " ] &&
		[ "$listened" = "$want" ]'
by_hand "$T/own" 127.0.0.1
first=$by_pid
by_hand "$T/own" 127.0.0.1
end_by_hand $first
left=$(cat "$T/own/broker.host" 2>/dev/null || echo nothing)
end_by_hand $by_pid
check "a broker job that ends after a later one wrote broker.host leaves it (it held $left), and the later one takes it away ($(ls -A "$T/own" | wc -l) files left)" \
	eval '[ "$left" = 127.0.0.1 ] && [ -z "$(ls -A "$T/own")" ]'
# a second broker job whose broker cannot start (its port taken): it fails, and the running
# broker's broker.host stays
by_hand "$T/taken" 127.0.0.1
KGSUP=$T/taken-kgsup KGSUP_CONFIG=/dev/null KGSUP_STATES=$T/taken KGSUP_BROKER_ADDR=127.0.0.1 \
	KGSUP_BROKER_PORT=7700 bash "$TOP/etc/slurm/kgsup-broker.sbatch" >"$T/taken.out" 2>&1
rc=$?
kept=$([ "$T/taken/broker.host" -ef "$T/taken/broker.host.$by_pid" ] && echo kept || echo gone)
end_by_hand $by_pid
check "a broker job whose broker cannot start exits $rc (2), saying so, and the running one's broker.host is $kept" \
	eval '[ $rc = 2 ] && [ $kept = kept ] && grep -q "the broker did not start (exit 2): broker.host left as it was" "$T/taken.out"'

# submitted as a user would: the variables in the environment (sbatch's --export=ALL), from
# the directory the jobs' logs go to; the broker listens on the interface lo, which the shards
# know by its address
cd "$T/jobs" || exit 1
export KGSUP KGSUP_STATES=$T/states KGSUP_KEYS=$T/keys KGSUP_BROKER_ADDR=lo \
	KGSUP_BROKER_PORT=$BP
started=$(date +%s)
b=$(KGSUP_CONFIG=$T/bcfg.json sbatch --parsable "$TOP/etc/slurm/kgsup-broker.sbatch" 2>"$T/sbatch.err")
JOBS=$b
a=$(KGSUP_CONFIG=$T/shard.json KGSUP_INPUT=$T/in KGSUP_LOCAL=$T/node KGSUP_WORKERS=4 \
	sbatch --parsable --array=0-3 --dependency=after:$b "$TOP/etc/slurm/kgsup.sbatch" 2>>"$T/sbatch.err")
JOBS="$b $a"
check "sbatch took the broker job ($b) and the 4-task array ($a)" [ -n "$b" -a -n "$a" ]
[ -n "$b" ] && [ -n "$a" ] || sed 's/^/# /' "$T/sbatch.err"

# the array's tasks: 'ID STATE EXITCODE' each, from slurmctld
tasks() { scontrol -o show job "$a" 2>/dev/null | grep -o 'ArrayTaskId=[0-9]* .*JobState=[A-Z_]* .*ExitCode=[0-9:]*' |
	sed 's/ArrayTaskId=\([0-9]*\) .*JobState=\([A-Z_]*\) .*ExitCode=\([0-9:]*\)/\1 \2 \3/' | sort -n; }
ENDED=' COMPLETED \| FAILED \| CANCELLED \| TIMEOUT \| NODE_FAIL \| OUT_OF_MEMORY \| PREEMPTED \| BOOT_FAIL \| DEADLINE '
all_ended() { [ "$(tasks | grep -c "$ENDED")" -eq 4 ]; }
# (as long as slurmctld keeps it: MinJobAge)
if [ -n "$a" ] && ! within 120 "the array's 4 tasks ending" all_ended; then
	diag "not ended: $(tasks | grep -v "$ENDED" | tr '\n' ',')"
	diag "the broker job: $(scontrol -o show job "$b" 2>/dev/null | grep -o 'JobState=[A-Z_]* Reason=[^ ]*')"
fi
took=$(($(date +%s) - started))
states=$(tasks | tr '\n' ',')
check "the 4 tasks completed, each exit 0, in ${took}s (${states%,})" \
	[ "$states" = "0 COMPLETED 0:0,1 COMPLETED 0:0,2 COMPLETED 0:0,3 COMPLETED 0:0," ]
[ "$states" = "0 COMPLETED 0:0,1 COMPLETED 0:0,2 COMPLETED 0:0,3 COMPLETED 0:0," ] ||
	for f in "$T"/jobs/*.log; do diag "$f:"; tail -n 5 "$f" | sed 's/^/#   /'; done

# each task ran its own shard: the shard of its array index, documents of its own, its state
# copied out as the script says
shards=
for i in 0 1 2 3; do
	shards="$shards$(kg status -s "$T/states/shard-$i" --json 2>/dev/null |
		json_get /dev/stdin '"%d/%d:%d" % (j["shard"]["index"], j["shard"]["count"], j["batches"]["done"])' 2>/dev/null) "
done
check "task i ran shard i/4, each with requests of its own ($shards)" \
	sh -c "echo '$shards' | grep -Eq '^0/4:[1-9][0-9]* 1/4:[1-9][0-9]* 2/4:[1-9][0-9]* 3/4:[1-9][0-9]* \$'"
S4=$(for i in 0 1 2 3; do echo -s "$T/states/shard-$i"; done)
kg status $S4 --json >"$T/sum.json" 2>/dev/null
kg status -s "$T/whole" --json >"$T/whole.json"
sums() { /usr/bin/python3 - "$T/whole.json" "$T/sum.json" <<'PY'
import json, sys
try:
    w, s = (json.load(open(p)) for p in sys.argv[1:])
    for k in ("chunks", "sources"):
        assert w[k] == s[k], (k, w[k], s[k])
    for k in ("total", "done"):
        assert w["batches"][k] == s["batches"][k], (k, w["batches"][k], s["batches"][k])
    assert s["state"] == "done" and s["shard"] == {"count": 4, "given": [0, 1, 2, 3]}, s
except Exception as e:  # said as a TAP comment, not a traceback
    print("# the sum of the shards: %r" % (e,))
    sys.exit(1)
PY
}
check "the shards' sources, chunks and requests sum to the whole run's, all done" sums

# the broker job served them: its clients and grants, asked before it is cancelled
kg status --broker "tcp://127.0.0.1:$BP" --key "$T/keys/shard.key" \
	--broker-public-key "$T/keys/broker.pub" --json >"$T/broker.json" 2>"$T/broker.err"
served=$(json_get "$T/broker.json" '"%d clients, %d granted" % (len(j["clients"]), j["granted"])' 2>/dev/null)
check "the broker job granted the 4 shards their $wtotal requests ($served)" \
	[ "$served" = "4 clients, $wtotal granted" ]
scancel "$b"
within 10 "the broker job taking broker.host away" eval '[ ! -e "$T/states/broker.host" ]'
check "the broker job, cancelled, took its broker.host away" [ ! -e "$T/states/broker.host" ]

# nothing bought twice: the whole run and the shards each bought every request once
check "every request bought once by the whole run and once by the shards ($(mock_stat ok) answers, $(mock_stat distinct_ok_bodies) distinct, at most $(mock_stat max_ok_per_body) of one)" \
	sh -c "[ $(mock_stat ok) -eq $((2 * wtotal)) ] && [ $(mock_stat distinct_ok_bodies) -eq $wtotal ] && [ $(mock_stat max_ok_per_body) -eq 2 ]"
same() { # FORMAT: the shards' merged export equals the whole run's
	kg export $S4 -f "$1" -o "$T/merged.$1" 2>"$T/merge.err" && cmp -s "$T/whole.$1" "$T/merged.$1"
}
check "export -s of the 4 shard directories equals the whole run's byte for byte, jsonl ($(wc -l <"$T/whole.jsonl") lines) and results" \
	eval 'same jsonl && same results'
stop_mock
finish
