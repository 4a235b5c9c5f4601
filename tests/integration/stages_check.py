#!/usr/bin/python3
"""stages_check.py: helpers of stages.t over the analyzers job and the mock's requests_log.

  config SRC DST URL CA [--budget N] [--user STAGE=FILE]   a copy of SRC at the mock, paths absolute
  order STATS                 per document: stage B only after every stage-A answer; overlap
  contexts STATS BUDGET TOPN  every stage-B context: JSON, the four stage-A keys, top_n, budget
  calls STATS                 the (stage, document, status) of every logged request, sorted

A request's document is the "Transcript: NAME" line every user template of the job starts with;
stage A is the stages without needs, stage B those with.
"""
import json
import os
import re
import sys

DOC_RE = re.compile(r"^Transcript: (\S+)", re.M)
CTX_RE = re.compile(r"<context>\n(.*)\n</context>", re.S)
JOB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../etc/jobs/analyzers.json")


def stage_sets():
    stages = json.load(open(JOB))["stages"]
    a = [s["name"] for s in stages if not s.get("needs")]
    b = [s["name"] for s in stages if s.get("needs")]
    return a, b


def log(path):
    s = json.load(open(path))
    if s.get("requests_log_dropped"):
        sys.exit("stages_check: the mock dropped %d log entries" % s["requests_log_dropped"])
    for e in s["requests_log"]:
        m = DOC_RE.search(e["user"])
        e["doc"] = m.group(1) if m else "?"
    return s["requests_log"]


def config(argv):
    src, dst, url, ca = argv[:4]
    budget, users = None, {}
    rest = argv[4:]
    while rest:
        opt, val = rest[0], rest[1]
        rest = rest[2:]
        if opt == "--budget":
            budget = int(val)
        elif opt == "--user":
            name, _, f = val.partition("=")
            users[name] = f
    base = os.path.dirname(os.path.abspath(src))
    cfg = json.load(open(src))
    cfg["api"].update(base_url=url, ca_file=ca, api_key_env="MOCK_API_KEY", timeout_s=30)
    cfg["limits"] = {"requests_per_minute": 100000, "tokens_per_minute": 100000000}
    cfg["retry"].update(backoff_base_ms=50, backoff_cap_ms=500)
    for s in cfg["stages"]:
        if "schema" in s:
            s["schema"] = os.path.join(base, s["schema"])
        for k in ("system", "user"):
            if k in s.get("prompt", {}):
                s["prompt"][k] = os.path.join(base, s["prompt"][k])
        if s["name"] in users:
            s["prompt"]["user"] = os.path.abspath(users[s["name"]])
        if budget is not None and "context" in s:
            s["context"]["token_budget"] = budget
    json.dump(cfg, open(dst, "w"), indent=1)


def order(path):
    """violations (B in before its document's last A out), the smallest margin, and by how much
    the first B request went out before the last A answer (seconds)."""
    a, b = stage_sets()
    entries = log(path)
    last_a = {}
    for e in entries:
        if e["stage"] in a:
            last_a[e["doc"]] = max(last_a.get(e["doc"], 0), e["t_out"])
    bs = [e for e in entries if e["stage"] in b]
    bad = [e for e in bs if e["t_in"] <= last_a.get(e["doc"], float("inf"))]
    margin = min((e["t_in"] - last_a[e["doc"]] for e in bs if e["doc"] in last_a), default=-1)
    lead = max(last_a.values(), default=0) - min((e["t_in"] for e in bs), default=1e9)
    print("violations=%d b_requests=%d docs=%d min_margin=%.4f b_lead=%.3f"
          % (len(bad), len(bs), len(last_a), margin, lead))
    for e in bad[:5]:
        print("# %s of %s in at %.4f, its stage A out at %.4f" % (e["stage"], e["doc"], e["t_in"],
                                                                 last_a.get(e["doc"], -1)))


def arrays(v):
    if isinstance(v, list):
        yield v
        for x in v:
            yield from arrays(x)
    elif isinstance(v, dict):
        for x in v.values():
            yield from arrays(x)


def answers(entries, a):
    """The stage-A answers the mock gave, worked out again from what it logged (its answers
    are a function of the user prompt, the schema and the body's digest)."""
    sys.path.insert(0, os.path.join(os.path.dirname(JOB), "../../scripts"))
    import mock_llm
    out = {}
    for e in entries:
        if e["stage"] in a and e["status"] == 200:
            schema = json.load(open(os.path.join(os.path.dirname(JOB), "schemas", e["stage"] + ".json")))
            out[e["stage"], e["doc"]] = mock_llm.answer_for(e["user"], schema, e["body"], 4)[0]
    return out


def cut_of(part, whole):
    """Whether part is whole with items dropped from the ends of arrays, nothing else changed."""
    if isinstance(whole, dict):
        return isinstance(part, dict) and part.keys() == whole.keys() and \
            all(cut_of(part[k], whole[k]) for k in whole)
    if isinstance(whole, list):
        return isinstance(part, list) and len(part) <= len(whole) and \
            all(cut_of(p, w) for p, w in zip(part, whole))
    return part == whole


def top(v, n):
    if isinstance(v, dict):
        return {k: top(x, n) for k, x in v.items()}
    if isinstance(v, list):
        return [top(x, n) for x in v[:n]]
    return v


def contexts(path, budget, topn):
    """One line: how many stage-B contexts, how many are bad (not JSON, other keys, an array
    over top_n, over the budget, not the document's own stage-A answers with array items
    dropped), the largest in bytes, the total bytes, how many have an array of top_n items, how
    many are exactly the answers cut to top_n and how many are shorter than the answers."""
    a, b = stage_sets()
    entries = log(path)
    ans = answers(entries, a)
    n, bad, biggest, total, full, exact, shortened = 0, [], 0, 0, 0, 0, 0
    for e in entries:
        if e["stage"] not in b:
            continue
        n += 1
        m = CTX_RE.search(e["user"])
        if not m:
            bad.append((e["stage"], e["doc"], "no <context>"))
            continue
        raw = m.group(1)
        size = len(raw.encode())
        biggest, total = max(biggest, size), total + size
        try:
            ctx = json.loads(raw)
        except ValueError as err:
            bad.append((e["stage"], e["doc"], "not JSON: %s" % err))
            continue
        if not isinstance(ctx, dict) or sorted(ctx) != sorted(a):
            bad.append((e["stage"], e["doc"], "keys %s" % (sorted(ctx) if isinstance(ctx, dict) else ctx)))
        elif any(not isinstance(ctx[k], dict) for k in a):
            bad.append((e["stage"], e["doc"], "a stage's answer missing"))
        over = [len(x) for x in arrays(ctx) if len(x) > topn]
        if over:
            bad.append((e["stage"], e["doc"], "arrays of %s items" % over))
        if size / 4 > budget:
            bad.append((e["stage"], e["doc"], "%d bytes = %.0f tokens" % (size, size / 4)))
        full += any(len(x) == topn for x in arrays(ctx))
        if isinstance(ctx, dict):
            mine = {k: ans.get((k, e["doc"])) for k in a}
            if not all(cut_of(ctx.get(k), mine[k]) for k in a):
                bad.append((e["stage"], e["doc"], "not its document's stage-A answers"))
            exact += ctx == {k: top(mine[k], topn) for k in a}
            shortened += ctx != mine
    print("contexts=%d bad=%d biggest=%d total=%d at_top_n=%d exact=%d shortened=%d"
          % (n, len(bad), biggest, total, full, exact, shortened))
    for s, d, why in bad[:5]:
        print("# %s of %s: %s" % (s, d, why))


def calls(path):
    for t in sorted((e["stage"], e["doc"], e["status"]) for e in log(path)):
        print("%s %s %s" % t)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "config":
        config(args)
    elif cmd == "order":
        order(args[0])
    elif cmd == "contexts":
        contexts(args[0], int(args[1]), int(args[2]))
    elif cmd == "calls":
        calls(args[0])
    else:
        sys.exit("stages_check: unknown command " + cmd)
