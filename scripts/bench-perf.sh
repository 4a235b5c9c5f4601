#!/bin/bash
# bench-perf.sh KGSUP: the performance suite (make bench). Prints a table per part:
#   overhead  nginx (HTTPS, keep-alive, one fixed chat completion) answering 20,000 tiny
#             batches: requests/s and CPU microseconds per request of kgsup's processes, of
#             wrk (POST of the same body: the server's ceiling) and of the usual Python asyncio
#             + aiohttp client (scripts/pyclient.py)
#   scaling   mock at 200 ms, 1..128 workers: throughput against workers / latency
#   memory    RSS and PSS (/proc/PID/smaps_rollup) of supervisor, broker and workers, 16 and 128
#   state     1,000,000 chunks: plan time, status time, resume's first request, LMDB size,
#             supervisor peak RSS against a run ten times smaller
#   thousand  nginx answering after 2 s, 1,024 workers (THOUSAND_WORKERS="1024 2048 4096"), 25
#             rounds: the rate once all are up, the whole run, when the last worker first sent,
#             worker PSS, supervisor and broker CPU (issue 24's targets); the system's CAs read
#             from their directory (THOUSAND_CAS="path bundle" adds the bundle file's rows)
#   seed      8,834 chunks in batches of 10 (884 calls), mock at 2.5 s, 20 and 200 workers
#             (SEED_WORKERS) against the Python client with a semaphore of as many: wall time
#             against the bound
# BENCH_PARTS="overhead scaling memory state thousand seed" picks parts (all of them by default).
# Everything runs on 127.0.0.1.
set -uo pipefail
KGSUP=${1:?usage: bench-perf.sh path/to/kgsup}
TOP=$(cd "$(dirname "$0")/.." && pwd)
/usr/bin/python3 "$TOP/scripts/pyclient.py" --ready || exit 2
D=$(mktemp -d /tmp/kgsup-perf-XXXXXX)
PIDS=()
NGINX_PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for f in "${NGINX_PIDS[@]}"; do [ -f "$f" ] && kill "$(cat "$f" 2>/dev/null)" 2>/dev/null; done
	rm -rf "$D"
}
trap cleanup EXIT
export OPENAI_API_KEY=bench-key
PARTS=${BENCH_PARTS:-overhead scaling memory state thousand seed}
PY=/usr/bin/python3
# what nginx answers: one fixed chat completion, a graph of one entity
ANSWER='{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"{\\"entities\\":[{\\"name\\":\\"Ada\\",\\"type\\":\\"person\\"}],\\"relations\\":[]}"}}],"usage":{"prompt_tokens":50,"completion_tokens":20,"total_tokens":70}}'
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(date -u +%F)"

# config FILE URL CA WORKERS CHUNK_TOKENS CHUNKS_PER_BATCH
config() {
	cat >"$1" <<JSON
{"api": {"base_url": "$2", "ca_file": "$3", "model": "m", "max_tokens": 256, "timeout_s": 30},
 "limits": {"requests_per_minute": 100000000, "tokens_per_minute": 1000000000000},
 "run": {"workers": $4},
 "chunking": {"chunk_tokens": $5, "overlap_tokens": 0, "chunks_per_batch": $6}}
JSON
}

# timed CMD...: runs it under /usr/bin/time; prints "wall_s cpu_s switches" (user+sys time
# and voluntary+involuntary context switches, its children included: for kgsup, the
# supervisor, the broker and every worker, with their threads)
timed() {
	/usr/bin/time -o "$D/time.out" -f '%e %U %S %w %c' "$@" >/dev/null 2>&1
	awk '{printf "%s %.3f %d\n", $1, $2 + $3, $4 + $5}' "$D/time.out"
}

# row LABEL REQUESTS WALL CPU SWITCHES: one line of the overhead table
row() {
	printf '%-40s %8d %8.0f %8.1f%% %11.0f %9.1f\n' "$1" "$2" "$(echo "$2 / $3" | bc -l)" \
		"$(echo "100 * $2 / $3 / $WRK_RPS" | bc -l)" "$(echo "$4 * 1000000 / $2" | bc -l)" \
		"$(echo "$5 / $2" | bc -l)"
}

# start_nginx NAME LOCATION_BODY: nginx (1 worker process, HTTPS on 127.0.0.1, keep-alive,
# the echo module loaded) in $D/NAME; sets NGINX_PORT
start_nginx() {
	local dir="$D/$1"
	mkdir -p "$dir"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext "subjectAltName=IP:127.0.0.1" -keyout "$dir/key.pem" \
		-out "$dir/cert.pem" >/dev/null 2>&1
	NGINX_PORT=$($PY -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
	local user_line=""
	[ "$(id -u)" = 0 ] && user_line="user root;"
	cat >"$dir/nginx.conf" <<CONF
$user_line
load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
worker_rlimit_nofile 20000;
events { worker_connections 10000; }
http {
	log_format arrival '\$msec \$request_time \$remote_port';
	access_log $dir/access.log arrival;
	client_body_temp_path $dir/body;
	keepalive_requests 10000000;
	keepalive_timeout 60s;
	server {
		listen 127.0.0.1:$NGINX_PORT ssl;
		ssl_certificate $dir/cert.pem;
		ssl_certificate_key $dir/key.pem;
		client_max_body_size 1m;
		# the check before a run lists the models: answered at once, as providers do, and
		# left out of the log of arrivals
		location = /v1/models {
			access_log off;
			default_type application/json;
			return 200 '{"object":"list","data":[{"id":"m","object":"model"}]}';
		}
		location / {
			default_type application/json;
			$2
		}
	}
}
CONF
	nginx -c "$dir/nginx.conf" -p "$dir" || { echo "nginx did not start"; return 1; }
	NGINX_PIDS+=("$dir/nginx.pid")
	sleep 0.3
}
stop_nginx() { kill "$(cat "$D/$1/nginx.pid" 2>/dev/null)" 2>/dev/null; sleep 0.2; }

start_mock() {
	rm -rf "$D/mock"
	$PY "$TOP/scripts/mock_llm.py" --dir "$D/mock" "$@" 2>"$D/mock.log" &
	MOCK=$!
	PIDS+=("$MOCK")
	for _ in $(seq 100); do [ -s "$D/mock/port" ] && break; sleep 0.1; done
	PORT=$(cat "$D/mock/port")
}
stop_mock() { kill "$MOCK" 2>/dev/null; wait "$MOCK" 2>/dev/null; }
mock_stats() { curl -s --cacert "$D/mock/cert.pem" "https://127.0.0.1:$PORT/stats"; }

# ---------------------------------------------------------------------------------------------
part_overhead() {
	echo
	echo "## overhead: nginx (1 worker process), 20,000 batches of one tiny chunk"
	mkdir -p "$D/ov"
	start_nginx nginx "access_log off; return 200 '$ANSWER';" || return
	local url="https://127.0.0.1:$NGINX_PORT/v1" ca="$D/nginx/cert.pem"
	# 20,000 batches: one chunk of ~16 tokens each
	$PY - "$D/ov/in" <<'PY'
import os, sys
d = sys.argv[1]; os.makedirs(d, exist_ok=True)
for f in range(20):
    with open(os.path.join(d, "t%02d.txt" % f), "w") as out:
        for i in range(1000):
            out.write("Speaker %d talks about item %d of file %d today.\n" % (i % 7, i, f))
PY
	config "$D/ov/cfg.json" "$url" "$ca" 16 16 1
	"$KGSUP" plan -c "$D/ov/cfg.json" -i "$D/ov/in" -o "$D/ov/req.jsonl" --json >"$D/ov/plan.json" 2>/dev/null
	local n
	n=$(wc -l <"$D/ov/req.jsonl")
	# wrk: the same body, POSTed over 16 keep-alive connections for 10 s
	head -1 "$D/ov/req.jsonl" >"$D/ov/body.json"
	cat >"$D/ov/post.lua" <<LUA
local f = io.open("$D/ov/body.json", "r")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-key"
LUA
	WRK_RPS=$(wrk -t2 -c16 -d10s -s "$D/ov/post.lua" "$url/chat/completions" 2>&1 | awk '/Requests\/sec/ {print $2}')
	WRK_RPS=${WRK_RPS:-1}
	printf '%-40s %8s %8s %9s %11s %9s\n' client requests req/s "of wrk" "CPU us/req" "switch/req"
	printf '%-40s %8s %8.0f %8.1f%% %11s %9s\n' "wrk (the server's ceiling), 16 conn" "10 s" "$WRK_RPS" 100 - -
	# the shape's floor: blocking libcurl calls in N processes and nothing else
	local floor="$D/ov/floor_client"
	cc -O2 -o "$floor" "$TOP/scripts/floor_client.c" -lcurl || return
	local w bin label out
	for w in 8 16; do
		out=$("$floor" "$url/chat/completions" "$ca" "$D/ov/body.json" "$w" "$n") || { echo "floor client failed"; continue; }
		read -r fn frps fcpu fsw <<<"$out"
		printf '%-40s %8d %8.0f %8.1f%% %11.0f %9.1f\n' "libcurl alone (the floor), $w processes" "$fn" "$frps" \
			"$(echo "100 * $frps / $WRK_RPS" | bc -l)" "$fcpu" "$fsw"
	done
	# KGSUP_BASE=path/to/another/kgsup adds its rows, run alternately with these (before/after)
	for w in 8 16 32; do
		for bin in "$KGSUP" ${KGSUP_BASE:+"$KGSUP_BASE"}; do
			label="kgsup, $w workers"
			[ "$bin" != "$KGSUP" ] && label="base kgsup, $w workers"
			rm -rf "$D/ov/state"
			read -r wall cpu sw < <(timed "$bin" start -c "$D/ov/cfg.json" -i "$D/ov/in" -s "$D/ov/state" -w "$w" -q)
			row "$label" "$n" "$wall" "$cpu" "$sw"
		done
	done
	read -r wall cpu sw < <(timed $PY "$TOP/scripts/pyclient.py" "$url" "$ca" \
		"$D/ov/req.jsonl" --rpm 100000000 --tpm 1000000000000)
	row "python asyncio+aiohttp, 20 at once" "$n" "$wall" "$cpu" "$sw"
	stop_nginx nginx
}

# ---------------------------------------------------------------------------------------------
# corpus DIR CHUNKS: about CHUNKS chunks of 16 tokens (one short line each)
corpus() {
	$PY - "$1" "$2" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2]); os.makedirs(d, exist_ok=True)
per = 1000
for f in range((n + per - 1) // per):
    with open(os.path.join(d, "t%05d.txt" % f), "w") as out:
        for i in range(min(per, n - f * per)):
            out.write("Speaker %d talks about item %d of file %d today.\n" % (i % 7, i, f))
PY
}

# nginx_arrivals ACCESS_LOG: the log as the mock's /stats JSON: arrival = when the answer was
# logged less the request's time; the port tells the workers apart (one kept-alive connection
# each)
nginx_arrivals() {
	awk 'BEGIN {printf "{\"times\": ["} {printf "%s%.3f", (NR > 1 ? "," : ""), $1 - $2}
		END {printf "], \"ports\": ["} ' "$1"
	awk '{printf "%s%s", (NR > 1 ? "," : ""), $3} END {print "]}"}' "$1"
}

# rates STATS WORKERS LATENCY_S T0 T1 SERVER: one row of the scaling table from the arrivals
rates() {
	$PY - "$@" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); w = int(sys.argv[2]); lat = float(sys.argv[3])
t0, t1 = float(sys.argv[4]), float(sys.argv[5])
t = sorted(s["times"]); n = len(t); wall = t1 - t0; ideal = w / lat
# steady state: the arrival rate between the 10th and 90th percentile of requests
a, b = t[n // 10], t[n * 9 // 10]
steady = (n * 8 // 10) / (b - a) if b > a else 0
# all up (nginx only, whose log has each worker's connection): from the moment the last worker
# sent its first request to the 90th percentile; '-' when fewer connections than workers came
up, all_up = "-", "-"
if "ports" in s and len(set(s["ports"])) >= w:
    first = {}
    for time, port in zip(s["times"], s["ports"]):
        first[port] = min(first.get(port, time), time)
    r = max(first.values())
    up = "%.2f" % (r - t0)
    k = sum(1 for x in t if r <= x < b)
    if b - r > 1:
        all_up = "%.1f%%" % (100 * k / (b - r) / ideal)
print("%8d %6s %8d %9.2f %10.1f %10.1f %8.1f%% %9.1f%% %7s %9s" % (w, sys.argv[6], n, wall,
      n / wall, ideal, 100 * n / wall / ideal, 100 * steady / ideal, up, all_up), end="")
PY
}

# The mock is Python: over TLS it spends ~2.5 ms of CPU a request, which on a small machine
# caps the server before kgsup (128 workers at 200 ms = 640 requests/s). So each row is run
# against the mock over https, over plain http to the loopback (which kgsup allows), where the
# mock costs less, and against nginx over https (echo_sleep: 200 ms, then a fixed answer),
# which costs least; SCALING_WORKERS and SCALING_SERVERS pick the rows.
part_scaling() {
	echo
	echo "## scaling: server at 200 ms, 25 rounds of batches per worker"
	printf '%8s %6s %8s %9s %10s %10s %9s %10s %7s %9s\n' workers server batches wall_s "req/s" ideal \
		"whole %" "steady %" "all up" "after %"
	local w server url ca
	for w in ${SCALING_WORKERS:-1 2 4 8 16 32 64 128}; do
	for server in ${SCALING_SERVERS:-https http nginx}; do
		local n=$((w * 25))
		rm -rf "$D/sc"
		corpus "$D/sc/in" "$n"
		case $server in
		http) start_mock --latency-ms 200 --plain; url="http://127.0.0.1:$PORT/v1"; ca="$D/mock/cert.pem" ;;
		https) start_mock --latency-ms 200; url="https://127.0.0.1:$PORT/v1"; ca="$D/mock/cert.pem" ;;
		nginx) start_nginx ngx "echo_sleep 0.2; echo '$ANSWER';" || continue
			url="https://127.0.0.1:$NGINX_PORT/v1"; ca="$D/ngx/cert.pem" ;;
		esac
		config "$D/sc/cfg.json" "$url" "$ca" "$w" 16 1
		local t0 t1
		t0=$(date +%s.%N)
		"$KGSUP" start -c "$D/sc/cfg.json" -i "$D/sc/in" -s "$D/sc/state" -w "$w" -q 2>/dev/null
		t1=$(date +%s.%N)
		case $server in
		http) curl -s "http://127.0.0.1:$PORT/stats" >"$D/sc/stats.json"; stop_mock ;;
		https) mock_stats >"$D/sc/stats.json"; stop_mock ;;
		nginx) stop_nginx ngx
			nginx_arrivals "$D/ngx/access.log" >"$D/sc/stats.json"
			rm -rf "$D/ngx" ;;
		esac
		rates "$D/sc/stats.json" "$w" 0.2 "$t0" "$t1" "$server"
		echo
	done
	done
}

# ---------------------------------------------------------------------------------------------
# pss_table SUPERVISOR_PID: RSS and PSS (kB) of the supervisor, the broker and the workers
pss_of() { awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} END {print r, p}' "/proc/$1/smaps_rollup" 2>/dev/null; }

part_memory() {
	echo
	echo "## memory: RSS and PSS of each process in the middle of a run (kB)"
	printf '%8s %-10s %6s %10s %10s\n' workers process count "RSS each" "PSS each"
	local w
	for w in 16 128; do
		rm -rf "$D/mem"
		corpus "$D/mem/in" $((w * 40))
		start_mock --latency-ms 200
		config "$D/mem/cfg.json" "https://127.0.0.1:$PORT/v1" "$D/mock/cert.pem" "$w" 16 1
		"$KGSUP" start -c "$D/mem/cfg.json" -i "$D/mem/in" -s "$D/mem/state" -w "$w" -q 2>/dev/null &
		local sup=$!
		# wait until every worker is up and has sent something
		for _ in $(seq 100); do
			[ "$(pgrep -c -P "$sup" -f '__worker')" -ge "$w" ] && break
			sleep 0.1
		done
		sleep 2
		{
			echo "supervisor $(pss_of "$sup")"
			for p in $(pgrep -P "$sup" -f '__broker'); do echo "broker $(pss_of "$p")"; done
			for p in $(pgrep -P "$sup" -f '__worker'); do echo "worker $(pss_of "$p")"; done
		} >"$D/mem/pss.txt"
		wait "$sup"
		stop_mock
		awk -v w="$w" '{n[$1]++; r[$1]+=$2; p[$1]+=$3}
			END {for (k in n) printf "%8d %-10s %6d %10.0f %10.0f\n", w, k, n[k], r[k]/n[k], p[k]/n[k]}' \
			"$D/mem/pss.txt" | sort -k2
	done
}

# ---------------------------------------------------------------------------------------------
# state_run CHUNKS: plan (by start), status, resume's first request, db size, and the
# supervisor's peak RSS with its anonymous (heap) part: the file part is LMDB's map, page cache
# that the kernel can drop, the anonymous part is what the supervisor holds
state_run() {
	local n=$1 s="$D/st/state-$1"
	rm -rf "$D/st/in"
	corpus "$D/st/in" "$n"
	start_mock --latency-ms 1000
	config "$D/st/cfg.json" "https://127.0.0.1:$PORT/v1" "$D/mock/cert.pem" 2 16 10
	"$KGSUP" start -c "$D/st/cfg.json" -i "$D/st/in" -s "$s" -w 2 2>"$D/st/start.err" &
	local sup=$!
	for _ in $(seq 6000); do grep -q "run: " "$D/st/start.err" && break; sleep 0.1; done
	local hwm anon
	hwm=$(awk '/VmHWM/ {print $2}' "/proc/$sup/status")
	anon=$(awk '/RssAnon/ {print $2}' "/proc/$sup/status")
	kill -TERM "$sup"
	wait "$sup"
	local plan_ms
	plan_ms=$(sed -n 's/.*planned .* in \([0-9]*\) ms.*/\1/p' "$D/st/start.err")
	local best=999
	for _ in 1 2 3 4 5; do
		local a b
		a=$(date +%s%N)
		"$KGSUP" status -s "$s" --json >/dev/null
		b=$(date +%s%N)
		best=$($PY -c "print(min($best, ($b - $a) / 1e9))")
	done
	local t0 sent_before
	sent_before=$(mock_stats | $PY -c "import json,sys; print(len(json.load(sys.stdin)['times']))")
	t0=$($PY -c "import time; print(time.time())")
	"$KGSUP" resume -s "$s" -w 2 -q 2>/dev/null &
	local res=$!
	local first=""
	for _ in $(seq 300); do
		first=$(mock_stats | $PY -c "
import json, sys
s = json.load(sys.stdin); t = s['times'][$sent_before:]
print('%.2f' % (s['t0_wall'] + t[0] - $t0) if t else '')")
		[ -n "$first" ] && break
		sleep 0.05
	done
	kill -TERM "$res"
	wait "$res" 2>/dev/null
	stop_mock
	printf '%10d %10.1f %10.3f %12s %10s %12d %12d\n' "$n" "$(echo "${plan_ms:-0} / 1000" | bc -l)" \
		"$best" "${first:-none}" "$(du -sh "$s/db" | cut -f1)" "$hwm" "$anon"
}

part_state() {
	echo
	echo "## state: a run of many chunks (16 tokens each, 10 a batch)"
	mkdir -p "$D/st"
	printf '%10s %10s %10s %12s %10s %12s %12s\n' chunks plan_s status_s "resume 1st s" "db size" \
		"sup peak kB" "sup anon kB"
	state_run 100000
	state_run 1000000
}

# ---------------------------------------------------------------------------------------------
# cpu_ticks PID: user + system clock ticks of the process (all its threads); 0 if it is gone
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

part_thousand() {
	echo
	echo "## thousand: nginx at 2 s (echo_sleep, HTTPS), 25 rounds of batches per worker; CAs:"
	echo "## path: the system's directory and the test CA, hashed (what the default reads now);"
	echo "## bundle: the system's bundle and the test CA in one file (what every worker parsed"
	echo "## before); PSS: a worker's, in the middle of the run; CPU: cores the supervisor and the"
	echo "## broker used over 10 s once all workers were forked ('-': the run ended first)"
	printf '%8s %6s %8s %9s %10s %10s %9s %10s %7s %9s %8s %7s %7s %4s\n' workers CAs batches \
		wall_s "req/s" ideal "whole %" "steady %" "all up" "after %" "PSS kB" "sup" "broker" rc
	local w hz ca
	hz=$(getconf CLK_TCK)
	for w in ${THOUSAND_WORKERS:-1024}; do
	for ca in ${THOUSAND_CAS:-path}; do
		local n=$((w * 25))
		rm -rf "$D/th"
		corpus "$D/th/in" "$n"
		start_nginx ngx "echo_sleep 2; echo '$ANSWER';" || continue
		mkdir -p "$D/th/cas"
		cp /etc/ssl/certs/*.pem "$D/ngx/cert.pem" "$D/th/cas/" 2>/dev/null
		openssl rehash "$D/th/cas" 2>/dev/null
		cat /etc/ssl/certs/ca-certificates.crt "$D/ngx/cert.pem" >"$D/th/bundle.pem"
		config "$D/th/cfg.json" "https://127.0.0.1:$NGINX_PORT/v1" "$D/th/bundle.pem" "$w" 16 1
		[ "$ca" = path ] && sed -i "s#\"ca_file\": \"$D/th/bundle.pem\"#\"ca_path\": \"$D/th/cas\"#" \
			"$D/th/cfg.json"
		local t0 t1 sup broker rc
		t0=$(date +%s.%N)
		"$KGSUP" start -c "$D/th/cfg.json" -i "$D/th/in" -s "$D/th/state" -w "$w" -q \
			2>"$D/th/err" &
		sup=$!
		for _ in $(seq 1200); do
			[ "$(pgrep -c -P "$sup" -f '__worker')" -ge "$w" ] && break
			kill -0 "$sup" 2>/dev/null || break
			sleep 1
		done
		sleep 2
		broker=$(pgrep -P "$sup" -f '__broker' | head -1)
		local a b s1 s2 b1 b2
		a=$(date +%s.%N)
		s1=$(cpu_ticks "$sup")
		b1=$(cpu_ticks ${broker:-0})
		sleep 10
		b=$(date +%s.%N)
		s2=$(cpu_ticks "$sup")
		b2=$(cpu_ticks ${broker:-0})
		local pss
		pss=$(for p in $(pgrep -P "$sup" -f '__worker'); do pss_of "$p"; done |
			awk '{p += $2; k++} END {printf "%.0f", k ? p / k : 0}')
		wait "$sup"
		rc=$?
		t1=$(date +%s.%N)
		stop_nginx ngx
		nginx_arrivals "$D/ngx/access.log" >"$D/th/stats.json"
		rm -rf "$D/ngx"
		rates "$D/th/stats.json" "$w" 2 "$t0" "$t1" "$ca"
		if [ "$s2" = 0 ]; then
			printf ' %8s %7s %7s %4d\n' - - - "$rc"
		else
			printf ' %8s %7.2f %7.2f %4d\n' "$pss" \
				"$(echo "($s2 - $s1) / $hz / ($b - $a)" | bc -l)" \
				"$(echo "($b2 - $b1) / $hz / ($b - $a)" | bc -l)" "$rc"
		fi
		[ "$rc" = 0 ] || tail -3 "$D/th/err"
	done
	done
}

# ---------------------------------------------------------------------------------------------
part_seed() {
	echo
	echo "## seed: 8,834 chunks in batches of 10, mock at 2.5 s (HTTPS); bound: ceil(calls /"
	echo "## at once) rounds of 2.5 s"
	printf '%-40s %6s %9s %9s %8s\n' client calls wall_s bound_s "over"
	rm -rf "$D/sd"
	corpus "$D/sd/in" 8834
	start_mock --latency-ms 2500
	local url="https://127.0.0.1:$PORT/v1" ca="$D/mock/cert.pem" w n
	config "$D/sd/cfg.json" "$url" "$ca" 20 16 10
	"$KGSUP" plan -c "$D/sd/cfg.json" -i "$D/sd/in" -o "$D/sd/req.jsonl" >/dev/null 2>&1
	n=$(wc -l <"$D/sd/req.jsonl")
	for w in ${SEED_WORKERS:-20 200}; do
		local bound
		bound=$(echo "($n + $w - 1) / $w * 2.5" | bc)
		rm -rf "$D/sd/state"
		read -r wall _ < <(timed "$KGSUP" start -c "$D/sd/cfg.json" -i "$D/sd/in" -s "$D/sd/state" -w "$w" -q)
		printf '%-40s %6d %9.2f %9.2f %7.1f%%\n' "kgsup, $w workers" "$n" "$wall" "$bound" \
			"$(echo "100 * ($wall - $bound) / $bound" | bc -l)"
		read -r wall _ < <(timed $PY "$TOP/scripts/pyclient.py" "$url" "$ca" "$D/sd/req.jsonl" \
			--rpm 100000000 --tpm 1000000000000 --concurrency "$w")
		printf '%-40s %6d %9.2f %9.2f %7.1f%%\n' "python asyncio+aiohttp, $w at once" "$n" "$wall" \
			"$bound" "$(echo "100 * ($wall - $bound) / $bound" | bc -l)"
	done
	stop_mock
}

for part in $PARTS; do "part_$part"; done
