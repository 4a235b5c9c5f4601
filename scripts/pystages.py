#!/usr/bin/python3
"""pystages.py: the baseline kgsup is compared with in `make bench-stages`: a two-stage analyzer
pipeline written the usual way in Python: aiohttp, an asyncio.Semaphore(CONCURRENCY) around each
call, one asyncio.gather over every (document, analyzer) call of a stage level, and a barrier
between levels (stage B starts when all of stage A is done). Backoff with jitter on 429, 5xx
and connection errors, as scripts/pyclient.py does.

It reads the same stages config as kgsup (prompts and schemas relative to the config's
directory; the analyzers job is etc/jobs/analyzers.json) and every file below INPUT as one
transcript, as its text. A stage-B call's {{context}} is the document's stage-A answers as one
JSON object, arrays cut to context.top_n, then items popped from the longest arrays while the
JSON is over context.token_budget (length / 4). A document whose needed answer failed has its
later stages skipped ("blocked"). Writes OUT/<analyzer>/<document>.json and OUT/metadata.json,
and prints one JSON line: calls, ok, failed, blocked, wall_s.

usage: pystages.py CONFIG INPUT OUT [--base-url URL] [--cafile FILE] [--concurrency 16]
       pystages.py --ready    (exit 0 if it can run here: it needs aiohttp)
"""
import argparse
import asyncio
import json
import os
import random
import ssl
import sys
import time

try:
    import aiohttp
except ImportError:
    sys.exit("pystages.py: the Python baseline needs Debian's python3-aiohttp "
             "(make bench-stages installs it)")


def load_stages(path):
    cfg = json.load(open(path))
    base = os.path.dirname(os.path.abspath(path))
    stages = []
    for s in cfg["stages"]:
        if "schema" not in s or "prompt" not in s:
            sys.exit("pystages.py: stage %s: only stages with a schema and prompts are supported"
                     % s["name"])
        s = dict(s)
        s["schema_text"] = open(os.path.join(base, s["schema"])).read().strip()
        s["system"] = open(os.path.join(base, s["prompt"]["system"])).read()
        s["user"] = open(os.path.join(base, s["prompt"]["user"])).read()
        stages.append(s)
    return cfg, stages


def levels_of(stages):
    """Stage names grouped by level: a stage runs one level after the last stage it needs."""
    level = {}
    for s in stages:
        level[s["name"]] = 1 + max((level[n] for n in s.get("needs", [])), default=-1)
    out = [[] for _ in range(max(level.values()) + 1)]
    for s in stages:
        out[level[s["name"]]].append(s)
    return out


def trim_context(ctx, top_n, budget):
    for answer in ctx.values():
        for k, v in answer.items():
            if top_n and isinstance(v, list):
                answer[k] = v[:top_n]
    text = json.dumps(ctx, separators=(",", ":"))
    while budget and len(text) / 4 > budget:
        arrays = [(len(json.dumps(v)), a, k) for a in ctx.values() for k, v in a.items()
                  if isinstance(v, list) and v]
        if not arrays:
            break
        _, answer, k = max(arrays, key=lambda t: t[0])
        answer[k].pop()
        text = json.dumps(ctx, separators=(",", ":"))
    return text


def render(template, values):
    for k, v in values.items():
        template = template.replace("{{%s}}" % k, v)
    return template


def request_body(s, api, values):
    """A stage's chat request: its prompts rendered with values, its schema as response_format
    (scripts/pyrows.py uses it too)."""
    if api.get("structured_outputs"):
        rf = {"type": "json_schema", "json_schema": {"name": s["name"], "strict": True,
                                                     "schema": json.loads(s["schema_text"])}}
    else:
        rf = {"type": "json_object"}
    return {"model": s.get("model", api.get("model")),
            "temperature": s.get("temperature", api.get("temperature", 0)),
            "max_tokens": s.get("max_tokens", api.get("max_tokens", 2048)),
            "response_format": rf,
            "messages": [{"role": "system", "content": render(s["system"], values)},
                         {"role": "user", "content": render(s["user"], values)}]}


class Pipeline:
    def __init__(self, a, cfg, stages, docs):
        self.a, self.cfg, self.stages, self.docs = a, cfg, stages, docs
        api = cfg.get("api", {})
        self.api = api
        self.url = (a.base_url or api["base_url"]).rstrip("/") + "/chat/completions"
        self.key = os.environ.get(api.get("api_key_env") or "OPENAI_API_KEY", "")
        self.sem = asyncio.Semaphore(a.concurrency)
        self.answers = {}  # (document, stage) -> answer
        self.meta = {}  # document -> stage -> what metadata.json says of it
        self.calls = 0

    def body(self, s, doc):
        api = self.api
        limit = s.get("max_input_tokens", api.get("max_input_tokens", 0))
        text = self.docs[doc]
        if limit and len(text) > limit * 4:
            text = text[:limit * 4]
        values = {"document": text, "document_name": doc, "schema": s["schema_text"]}
        if s.get("needs"):
            c = s.get("context", {})
            ctx = {n: json.loads(json.dumps(self.answers[(doc, n)])) for n in s["needs"]}
            values["context"] = trim_context(ctx, c.get("top_n"), c.get("token_budget"))
        return request_body(s, api, values)

    async def call(self, session, s, doc):
        m = self.meta.setdefault(doc, {})[s["name"]] = {"state": "blocked", "attempts": 0}
        if any((doc, n) not in self.answers for n in s.get("needs", [])):
            return
        body = json.dumps(self.body(s, doc))
        headers = {"Authorization": "Bearer " + self.key, "Content-Type": "application/json"}
        m["state"] = "failed"
        for attempt in range(self.a.max_attempts):
            async with self.sem:
                self.calls += 1
                m["attempts"] += 1
                t0 = time.monotonic()
                try:
                    async with session.post(self.url, data=body, headers=headers) as r:
                        text = await r.text()
                        m["latency_s"] = round(time.monotonic() - t0, 3)
                        if r.status == 200:
                            resp = json.loads(text)
                            self.answers[(doc, s["name"])] = json.loads(
                                resp["choices"][0]["message"]["content"])
                            m.update(state="done", tokens=resp.get("usage", {}))
                            return
                        m["error"] = "HTTP %d" % r.status
                        if r.status != 429 and r.status < 500:
                            return
                except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError) as e:
                    m["error"] = type(e).__name__
            await asyncio.sleep(min(60, 2 ** attempt) * (0.5 + random.random() / 2))

    async def run(self):
        timeout = aiohttp.ClientTimeout(total=self.api.get("timeout_s", 120), connect=10)
        ctx = ssl.create_default_context(cafile=self.a.cafile) if self.a.cafile else None
        conn = aiohttp.TCPConnector(ssl=ctx, limit=self.a.concurrency)
        async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:
            for level in levels_of(self.stages):
                # the barrier: the next level starts once every call of this one is done
                await asyncio.gather(*(self.call(session, s, d) for s in level for d in self.docs))

    def write(self, out, wall):
        for (doc, stage), answer in self.answers.items():
            path = os.path.join(out, stage, doc + ".json")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                json.dump(answer, f, indent=1)
        meta = {"config": os.path.abspath(self.a.config), "wall_s": wall, "calls": self.calls,
                "stages": [s["name"] for s in self.stages], "documents": self.meta}
        tmp = os.path.join(out, "metadata.json.tmp")
        with open(tmp, "w") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
        os.rename(tmp, os.path.join(out, "metadata.json"))


def read_docs(top):
    docs = {}
    for d, _, files in os.walk(top):
        for f in sorted(files):
            p = os.path.join(d, f)
            docs[os.path.relpath(p, top)] = open(p, errors="replace").read()
    return dict(sorted(docs.items()))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in ("config", "input", "out"):
        p.add_argument(name)
    p.add_argument("--base-url", help="instead of the config's api.base_url")
    p.add_argument("--cafile", help="CA file of an HTTPS server")
    p.add_argument("--concurrency", type=int, default=16, help="calls in flight at most")
    p.add_argument("--max-attempts", type=int, default=6, help="attempts per call")
    return p.parse_args()


async def main(a):
    cfg, stages = load_stages(a.config)
    pipe = Pipeline(a, cfg, stages, read_docs(a.input))
    t0 = time.monotonic()
    await pipe.run()
    wall = round(time.monotonic() - t0, 3)
    pipe.write(a.out, wall)
    states = [m["state"] for per in pipe.meta.values() for m in per.values()]
    print(json.dumps({"calls": pipe.calls, "ok": states.count("done"),
                      "failed": states.count("failed"), "blocked": states.count("blocked"),
                      "levels": len(levels_of(stages)), "wall_s": wall}))


if __name__ == "__main__":
    if sys.argv[1:] != ["--ready"]:
        asyncio.run(main(parse_args()))
