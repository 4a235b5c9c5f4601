#!/bin/bash
# k8s_local.t: etc/k8s/ without a cluster. The manifests are read as YAML and their containers'
# own scripts run here as written, each mountPath mapped to a directory of its own (the
# ConfigMap and Secret files laid out as Kubernetes lays them out, the keys made by `kgsup
# keygen`), the broker's Service a forwarder on 127.0.0.1 of the ports it lists, the broker's
# listen address 127.0.0.1 and a free port, kgsup the build under test: the broker Deployment,
# the Indexed Job's pods 0-3 at once against the mock with a limit, the export Job. Every pod
# exits 0; the merged export equals one machine's run byte for byte; a pod sent SIGTERM mid-run
# exits 75 (the Job retries it) with its state in /collect, and the index run again copies it
# back and finishes, buying nothing twice. Every object is held to the Kubernetes API's models
# first (k8s_schema.mjs). Kubernetes itself (scheduling, PVCs, the image, PID 1, runAsUser) is
# not tried here; see README "Several machines".
. "$(dirname "$0")/lib.sh"
plan 15

K8S=$TOP/etc/k8s
if ! /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
	for _ in $(seq 15); do skip "etc/k8s run locally" "python3-yaml is not installed"; done
	exit 0
fi

# pod.py: `pod SPEC` lays out a pod's volumes under SPEC's root and writes its container's argv
# and env (NUL-separated), every mountPath in them (and in ConfigMap files) mapped to its
# directory; `service YAML` prints the Service's "port containerPort" pairs.
cat >"$T/pod.py" <<'PY'
import json, os, re, sys, yaml

def docs(path):
    return [d for d in yaml.safe_load_all(open(path)) if d]

def one(path, kind):
    return next(d for d in docs(path) if d["kind"] == kind)

def mapper(mounts):
    """text -> text with each mountPath (a whole path component) replaced by its directory"""
    pats = [(re.compile(r"(?<![\w./-])" + re.escape(m) + r"(?![\w.-])"), d)
            for m, d in sorted(mounts.items(), key=lambda x: -len(x[0]))]
    def f(s):
        for p, d in pats:
            s = p.sub(lambda _: d, s)
        return s
    return f

def project(dirpath, files, mode, f):
    """a ConfigMap's or Secret's volume as the kubelet writes it: ..data/KEY, KEY -> ..data/KEY"""
    os.makedirs(os.path.join(dirpath, "..data"))
    for k, v in files.items():
        p = os.path.join(dirpath, "..data", k)
        with open(p, "w") as o:
            o.write(f(v))
        os.chmod(p, mode)
        os.symlink(os.path.join("..data", k), os.path.join(dirpath, k))

def pod(spec):
    d = one(spec["yaml"], spec["kind"])
    ps = d["spec"]["template"]["spec"]
    c = ps["containers"][0]
    vols = {v["name"]: v for v in ps["volumes"]}
    root = spec["root"]
    mounts = {}
    for m in c["volumeMounts"]:
        v = vols[m["name"]]
        if "persistentVolumeClaim" in v:
            mounts[m["mountPath"]] = spec["claims"][v["persistentVolumeClaim"]["claimName"]]
        else:
            mounts[m["mountPath"]] = os.path.join(root, "vol", m["name"])
    f = mapper(mounts)
    for m in c["volumeMounts"]:
        v, dirpath = vols[m["name"]], mounts[m["mountPath"]]
        if "configMap" in v:
            project(dirpath, spec["configmaps"][v["configMap"]["name"]],
                    v["configMap"].get("defaultMode", 0o644),
                    lambda s: f(s).replace(*spec["service"]))
        elif "secret" in v:
            project(dirpath, spec["secrets"][v["secret"]["secretName"]],
                    v["secret"].get("defaultMode", 0o644), lambda s: s)
        elif "emptyDir" in v or "ephemeral" in v:
            os.makedirs(dirpath)
    argv = [f(a) for a in c.get("command", []) + c.get("args", [])]
    for old, new in spec.get("subst", []):
        argv = [a.replace(old, new) for a in argv]
    env = []
    for e in c.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        env.append(e["name"] + "=" + (spec["secrets"][ref["name"]][ref["key"]] if ref else e["value"]))
    for name, items in (("argv", argv), ("env", env)):
        with open(os.path.join(root, name), "w") as o:
            o.write("".join(x + "\0" for x in items))

def service(path):
    svc = one(path, "Service")
    ports = {p["name"]: p["containerPort"]
             for p in one(path, "Deployment")["spec"]["template"]["spec"]["containers"][0]["ports"]}
    for p in svc["spec"]["ports"]:
        t = p.get("targetPort", p["port"])
        print(p["port"], ports[t] if isinstance(t, str) else t)

if sys.argv[1] == "pod":
    pod(json.load(open(sys.argv[2])))
else:
    service(sys.argv[2])
PY

# the image the manifests name is the one etc/k8s/Dockerfile's comment builds: this version's
version=$(sed -n 's/^VERSION *:= *//p' "$TOP/GNUmakefile")
tags=$(grep -ho 'registry.example.com/kgsup:[^ ]*' "$K8S"/*.yaml "$K8S/Dockerfile")
check "every manifest and the Dockerfile name the image kgsup:$version ($(echo $tags | wc -w) names: $(echo "$tags" | sort -u | tr '\n' ' '))" \
	eval '[ "$(echo "$tags" | wc -l)" -ge 4 ] && [ "$(echo "$tags" | sort -u)" = "registry.example.com/kgsup:$version" ]'

# The manifests against the Kubernetes API's own models (k8s_schema.mjs: unknown fields, types,
# required fields, enums), and a Job with a misspelt field against them too, so that the check
# is seen to catch one. The packages are scripts/install-npm.sh's (k8s-client, k8s-models).
NPM_DIR=${KGSUP_NPM_DIR:-$TOP/build/npm}
k8s_models() { [ -f "$NPM_DIR/node_modules/@kubernetes/client-node/dist/gen/models/all.js" ] &&
	[ -f "$NPM_DIR/node_modules/kubernetes-models/batch/v1/Job.js" ]; }
k8s_models || KGSUP_NPM_DIR=$NPM_DIR sh "$TOP/scripts/install-npm.sh" k8s-client k8s-models
/usr/bin/python3 - "$K8S" "$T/docs.json" "$T/misspelt.json" <<'PY'
import glob, json, os, sys, yaml
docs = [[os.path.basename(f), d] for f in sorted(glob.glob(sys.argv[1] + "/*.yaml"))
        for d in yaml.safe_load_all(open(f)) if d]
json.dump(docs, open(sys.argv[2], "w"))
job = next(d for f, d in docs if d["kind"] == "Job" and "podFailurePolicy" in d["spec"])
job["spec"]["podFailurPolicy"] = job["spec"].pop("podFailurePolicy")
json.dump([["job.yaml, misspelt", job]], open(sys.argv[3], "w"))
PY
if k8s_models; then
	node "$TOP/tests/integration/k8s_schema.mjs" "$NPM_DIR" "$T/docs.json" >"$T/schema.out" 2>&1; rc=$?
	check "the manifests' $(grep -o '"kind"' "$T/docs.json" | wc -l) objects hold to the Kubernetes API's models (exit $rc: $(head -c 300 "$T/schema.out"))" \
		[ $rc -eq 0 ]
	node "$TOP/tests/integration/k8s_schema.mjs" "$NPM_DIR" "$T/misspelt.json" >"$T/misspelt.out" 2>&1; rc=$?
	check "a Job with spec.podFailurPolicy fails that check, the field named (exit $rc: $(head -c 200 "$T/misspelt.out"))" \
		eval '[ $rc -eq 1 ] && grep -q "Job kgsup: spec.podFailurPolicy: unknown field" "$T/misspelt.out"'
elif timeout 60 npm ping --fetch-retries=1 --fetch-retry-mintimeout=1000 \
	--fetch-retry-maxtimeout=5000 >/dev/null 2>&1; then
	not_ok "the manifests hold to the Kubernetes API's models: the npm packages do not load from $NPM_DIR"
	not_ok "a misspelt field fails that check: the npm packages do not load from $NPM_DIR"
else
	skip "the manifests hold to the Kubernetes API's models" "npm cannot reach its registry"
	skip "a misspelt field fails that check" "npm cannot reach its registry"
fi

# the mock admits 40 requests in any 2 s (1,200 a minute), 100 ms a call
start_mock --rpm 1200 --window-s 2 --latency-ms 100
mkdir -p "$T/pv/input" "$T/pv/collect" "$T/bin" "$T/keygen"
/usr/bin/python3 "$TOP/scripts/gen_corpus.py" --files 12 --words 300 --seed 7 "$T/pv/input" >/dev/null
ln -s "$KGSUP" "$T/bin/kgsup"
# the keys and the Secrets, as broker.yaml's comment makes them
(cd "$T/keygen" && "$KGSUP" keygen broker >/dev/null && "$KGSUP" keygen shard >/dev/null)
BP=$(free_port_pair) # the broker's pod: its container ports 7700, 7701
SP=$(free_port_pair) # the Service's ports
# the ConfigMap's config, pointed at the mock (its URL and CA), the mock's limit as the tier's,
# 4 workers and small chunks for a small corpus; the rest as shipped. The Service's name and
# port resolve to the forwarder.
/usr/bin/python3 - "$K8S/config.yaml" "$MOCK_URL" "$T/mock/cert.pem" "$T" "$SP" <<'PY'
import json, sys, yaml
path, url, ca, t, sp = sys.argv[1:]
cm = next(d for d in yaml.safe_load_all(open(path)) if d and d["kind"] == "ConfigMap")
cfg = json.loads(cm["data"]["kgsup.json"])
cfg["api"].update(base_url=url, ca_file=ca, timeout_s=10, connect_timeout_s=5)
cfg["limits"].update(requests_per_minute=1200)
cfg["run"]["workers"] = 4
cfg["chunking"] = {"chunk_tokens": 60, "overlap_tokens": 0, "chunks_per_batch": 2}
keys = {}
for k in ("broker.key", "broker.pub", "shard.key", "shard.pub"):
    keys[k] = open(f"{t}/keygen/{k}").read()
broker = cfg["limits"]["broker"]
host = broker[len("tcp://"):].rsplit(":", 1)
spec = {"configmaps": {cm["metadata"]["name"]: {"kgsup.json": json.dumps(cfg, indent=1)}},
        "secrets": {"kgsup-keys": keys, "kgsup-api": {"OPENAI_API_KEY": "sk-k8s-test"}},
        "claims": {"kgsup-input": f"{t}/pv/input", "kgsup-collect": f"{t}/pv/collect"},
        "service": [broker, f"tcp://127.0.0.1:{int(sp) + int(host[1]) - 7700}"]}
json.dump(spec, open(f"{t}/spec.json", "w"))
# one machine's run: the same config without the shared broker
for k in ("broker", "broker_public_key", "client_key"):
    del cfg["limits"][k]
json.dump(cfg, open(f"{t}/single.json", "w"), indent=1)
PY

# prepare_pod NAME YAML KIND [SUBST_FROM SUBST_TO]: the pod's directories under $T/pods/NAME
prepare_pod() {
	local root=$T/pods/$1
	mkdir -p "$root/cwd"
	/usr/bin/python3 - "$T/spec.json" "$root" "$2" "$3" "${4:-}" "${5:-}" >"$root/spec.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec.update(root=sys.argv[2], yaml=sys.argv[3], kind=sys.argv[4])
spec["subst"] = [[sys.argv[5], sys.argv[6]]] if sys.argv[5] else []
print(json.dumps(spec))
PY
	/usr/bin/python3 "$T/pod.py" pod "$root/spec.json"
}
# start_pod NAME [VAR=VALUE...]: its container's command, in a clean environment, in the
# background (POD is its pid: the shell the manifest starts, as the runtime would signal it)
start_pod() {
	local root=$T/pods/$1 argv envs; shift
	mapfile -d '' argv <"$root/argv"
	mapfile -d '' envs <"$root/env"
	(cd "$root/cwd" && exec env -i PATH="$T/bin:/usr/bin:/bin" HOME="$root/cwd" "${envs[@]}" "$@" \
		"${argv[@]}") >"$root/log" 2>&1 &
	POD=$!
}
# wait_pod PID: its exit status, or 124 after 60 s (then killed)
wait_pod() {
	for _ in $(seq 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$1" 2>/dev/null && { kill -KILL "$1"; wait "$1" 2>/dev/null; return 124; }
	wait "$1"
}

# one machine's run of the corpus and its export, for the comparison
kg start -c "$T/single.json" -i "$T/pv/input" -s "$T/single" -q 2>"$T/single.err"
mkdir -p "$T/single-export"
kg export -s "$T/single" -f jsonl -o "$T/single-export/graph.jsonl" 2>/dev/null
kg export -s "$T/single" -f csv -o "$T/single-export/neo4j" 2>/dev/null
kg export -s "$T/single" -f results -o "$T/single-export/results.jsonl" 2>/dev/null
single_ok=$(mock_stat ok)
wtotal=$(kg status -s "$T/single" --json | json_get /dev/stdin 'j["batches"]["total"]')

# the broker's pod, and its Service: a forwarder of the ports the Service lists
prepare_pod broker "$K8S/broker.yaml" Deployment tcp://0.0.0.0:7700 "tcp://127.0.0.1:$BP"
start_pod broker
broker=$POD
/usr/bin/python3 "$T/pod.py" service "$K8S/broker.yaml" | while read -r port target; do
	echo "127.0.0.1:$((SP + port - 7700)) 127.0.0.1:$((BP + target - 7700))"
done >"$T/service.ports"
/usr/bin/python3 - "$T/service.ports" 2>"$T/service.log" <<'PY' &
import asyncio, sys
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data); await w.drain()
    finally:
        w.close()
def forward(to):
    async def conn(r, w):
        try:
            tr, tw = await asyncio.open_connection(*to)
        except OSError:
            w.close(); return
        await asyncio.gather(pipe(r, tw), pipe(tr, w), return_exceptions=True)
    return conn
async def main():
    for line in open(sys.argv[1]):
        a, b = (x.rsplit(":", 1) for x in line.split())
        await asyncio.start_server(forward((b[0], int(b[1]))), a[0], int(a[1]))
    await asyncio.Event().wait()
asyncio.run(main())
PY
svc=$!
for _ in $(seq 50); do grep -q "serving" "$T/pods/broker/log" && break; sleep 0.1; done

# the Job's four pods at once; the one with the most batches is sent SIGTERM once it has a few
for i in 0 1 2 3; do prepare_pod job-$i "$K8S/job.yaml" Job; done
pids=()
for i in 0 1 2 3; do
	start_pod job-$i JOB_COMPLETION_INDEX=$i
	pids+=($POD)
done
# planned I: shard I's batches, from its pod's log (0 before it has planned)
planned() {
	local n
	n=$(sed -n "s/.* shard $1\/4: .* \([0-9]*\) of the [0-9]* batches$/\1/p" "$T/pods/job-$1/log")
	echo "${n:-0}"
}
for _ in $(seq 100); do
	n=0
	for i in 0 1 2 3; do [ "$(planned $i)" -gt 0 ] && n=$((n + 1)); done
	[ $n = 4 ] && break
	sleep 0.05
done
v=0
for i in 1 2 3; do [ "$(planned $i)" -gt "$(planned $v)" ] && v=$i; done
# batches FIELD: shard v's batches done (0 before)
batches() {
	local n
	n=$(kg status -s "$T/pods/job-$v/vol/state/shard-$v" --json 2>/dev/null |
		json_get /dev/stdin "j['batches']['$1']" 2>/dev/null)
	echo "${n:-0}"
}
vtotal=$(planned $v)
for _ in $(seq 200); do [ "$(batches done)" -ge 6 ] && break; sleep 0.05; done
vdone=$(batches done)
kill -TERM "${pids[$v]}"
rcs=()
for i in 0 1 2 3; do wait_pod "${pids[$i]}"; rcs+=($?); done
others=$(for i in 0 1 2 3; do [ $i = $v ] || echo -n "${rcs[$i]}"; done)
check "the Indexed Job's pods but $v exit 0 (exits ${rcs[*]})" [ "$others" = 000 ]
check "pod $v, sent SIGTERM with $vdone of its $vtotal batches done, exits 75 (stopped: the Job runs the index again) (${rcs[$v]})" \
	[ "${rcs[$v]}" = 75 ]
kg status -s "$T/pv/collect/shard-$v" --json >"$T/collected.json" 2>/dev/null
collected=$(json_get "$T/collected.json" 'j["state"]' 2>/dev/null)
cdone=$(json_get "$T/collected.json" 'j["batches"]["done"]' 2>/dev/null)
check "its state directory reached /collect/shard-$v ($collected), and nothing else is left there" \
	eval '[ "$collected" = stopped ] && [ "$(cd "$T/pv/collect" && echo *)" = "shard-0 shard-1 shard-2 shard-3" ]'

# index $v again: a new pod (a new ephemeral volume) copies the shard back and goes on
prepare_pod job-$v-retry "$K8S/job.yaml" Job
start_pod job-$v-retry JOB_COMPLETION_INDEX=$v
wait_pod $POD; rc=$?
check "the retried pod of index $v exits 0 ($rc)" [ $rc -eq 0 ]
check "it went on from the copy: it began with the ${cdone:-?} batches done there, and /collect/shard-$v is done" \
	eval '[ "${cdone:-0}" -ge 6 ] && grep -q " $cdone done already" "$T/pods/job-$v-retry/log" &&
		[ "$(kg status -s "$T/pv/collect/shard-$v" --json 2>/dev/null | json_get /dev/stdin "j[\"state\"]")" = done ]'
shard_ok=$(($(mock_stat ok) - single_ok))
# (a graceful stop lets the calls in flight finish and keeps their answers: none is bought again)
check "the shards bought one machine's $wtotal requests, none twice ($shard_ok answers)" [ "$shard_ok" -eq "$wtotal" ]
kg status --broker "tcp://127.0.0.1:$SP" --key "$T/keygen/shard.key" \
	--broker-public-key "$T/keygen/broker.pub" --json >"$T/broker.status" 2>&1
reported=$(json_get "$T/broker.status" 'j["reported"]' 2>/dev/null)
check "through the Service, the broker heard the report of every answer bought ($reported reports)" \
	[ "${reported:-0}" -ge "$shard_ok" ]

# the export Job
prepare_pod export "$K8S/export.yaml" Job
start_pod export
wait_pod $POD; rc=$?
check "the export pod exits 0 ($rc)" [ $rc -eq 0 ]
check "its graph.jsonl equals one machine's byte for byte ($(wc -l <"$T/single-export/graph.jsonl") lines)" \
	eval '[ -s "$T/single-export/graph.jsonl" ] && cmp -s "$T/single-export/graph.jsonl" "$T/pv/collect/export/graph.jsonl"'
check "its neo4j CSV and results.jsonl equal one machine's" \
	eval 'diff -r "$T/single-export/neo4j" "$T/pv/collect/export/neo4j" >/dev/null && [ -s "$T/single-export/results.jsonl" ] && cmp -s "$T/single-export/results.jsonl" "$T/pv/collect/export/results.jsonl"'

# a pod of an index past --shards (completions raised, --shards not): kgsup refuses it with
# exit 2, which the Job retries (a server unreachable at start exits 2 too); its
# podFailurePolicy fails the Job at once only on 4, the API refusing the key or the model
prepare_pod job-4 "$K8S/job.yaml" Job
start_pod job-4 JOB_COMPLETION_INDEX=4
wait_pod $POD; rc=$?
failjob=$(/usr/bin/python3 -c '
import sys, yaml
j = next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "Job")
for r in j["spec"].get("podFailurePolicy", {}).get("rules", []):
    if r["action"] == "FailJob" and r["onExitCodes"]["operator"] == "In":
        print(*r["onExitCodes"]["values"])' "$K8S/job.yaml")
check "a pod of index 4 of --shards 4 exits 2, leaving nothing in /collect; the Job fails at once on 4 only (FailJob on: $failjob) ($rc: $(grep kgsup: "$T/pods/job-4/log" | head -c 100))" \
	eval '[ $rc = 2 ] && [ "$failjob" = 4 ] && [ ! -e "$T/pv/collect/shard-4" ]'

kill -TERM "$broker"; wait_pod "$broker"; rc=$?
check "the broker's pod ends 0 on SIGTERM ($rc)" [ $rc -eq 0 ]
kill "$svc" 2>/dev/null; wait "$svc" 2>/dev/null
finish
