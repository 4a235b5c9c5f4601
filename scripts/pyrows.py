#!/usr/bin/python3
"""pyrows.py: the baseline kgsup is compared with in `make bench-rows`: a feedback table
classified by an LLM the usual way in Python: aiohttp, an asyncio.Semaphore(4) around each
call, batches of 120 rows, a token-bucket limiter of 8 requests a second, one asyncio.gather
over the batches, and a cache of answers keyed by the MD5 of the normalised comment (NFC,
case-folded, trimmed, white space collapsed) in a JSON file, entries older than the config's
cache.ttl_days (7 when unset) dropped. Identical comments are sent once; rows an answer left out
are asked again in a later round (at most --rounds); ids the batch did not hold are dropped.
Backoff with jitter on 429, 5xx and connection errors, as scripts/pystages.py does, whose
config reading and request body it shares.

It reads the same config as kgsup (the first stage "over": "rows": its prompts, schema,
per_call and item_key; input.id_column, text_column, keep_columns; the job is
etc/jobs/feedback.json) and a .csv or .tsv table, and writes OUT.csv: the id, the kept columns,
then the answer's fields (nested objects as a.b, arrays joined with "; "), one line per input
row in input order, empty cells where there is no answer. Prints one JSON line: rows, blank,
unique, from_cache, calls, ok, asked, answered, missing, foreign, wall_s.

usage: pyrows.py CONFIG TABLE OUT.csv [--base-url URL] [--cafile FILE] [--cache FILE]
                 [--concurrency 4] [--rps 8] [--per-call N] [--rounds 3]
       pyrows.py --ready    (exit 0 if it can run here: it needs aiohttp)
"""
import argparse
import asyncio
import csv
import hashlib
import json
import os
import random
import re
import ssl
import sys
import time
import unicodedata

try:
    import aiohttp
except ImportError:
    sys.exit("pyrows.py: the Python baseline needs Debian's python3-aiohttp "
             "(make bench-rows installs it)")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ left in scripts/
import pystages  # noqa: E402  (the script's own directory: the request as pystages.py makes it)

BREAK_RUN = re.compile(r"\s*[\r\n\v\f\x85\u2028\u2029]\s*")


def load_job(path):
    """The config and its first rows stage, its prompts and schema read (as pystages.py does)."""
    cfg, stages = pystages.load_stages(path)
    stage = next((s for s in stages if s.get("over") == "rows"), None)
    if not stage:
        sys.exit("pyrows.py: %s: no stage \"over\": \"rows\"" % path)
    return cfg, stage


def normalise(text):
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def one_line(text):
    """A row's text in the prompt: each run of white space holding a line break, one space."""
    return BREAK_RUN.sub(" ", text)


def read_table(path, spec):
    """(header, rows as dicts) of a .csv or .tsv file (UTF-8, a BOM allowed)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        r = csv.DictReader(f, delimiter="\t" if path.endswith(".tsv") else ",")
        rows = list(r)
        header = r.fieldnames or []
    for key in ("id_column", "text_column"):
        if spec.get(key) and spec[key] not in header:
            sys.exit("pyrows.py: %s: no column %r (input.%s)" % (path, spec[key], key))
    return header, rows


class Cache:
    """Answers by MD5 of the normalised comment, in one JSON file, with a TTL."""

    def __init__(self, path, ttl_days):
        self.path, self.ttl = path, ttl_days * 86400
        self.entries = {}
        if path and os.path.exists(path):
            now = time.time()
            self.entries = {k: v for k, v in json.load(open(path)).items()
                            if not self.ttl or now - v["t"] < self.ttl}

    @staticmethod
    def key(text):
        return hashlib.md5(normalise(text).encode()).hexdigest()

    def get(self, key):
        e = self.entries.get(key)
        return e["answer"] if e else None

    def put(self, key, answer):
        self.entries[key] = {"t": time.time(), "answer": answer}

    def save(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.entries, f)
        os.replace(tmp, self.path)


class RateLimiter:
    """The usual token bucket: rate tokens a second, as many at most."""

    def __init__(self, rate):
        self.rate, self.tokens, self.t = rate, rate, time.monotonic()
        self.lock = asyncio.Lock()

    async def acquire(self):
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.rate, self.tokens + (now - self.t) * self.rate)
                self.t = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


def row_list(answer, key):
    """The array of per-row objects in an answer: the first list of objects carrying key."""
    if isinstance(answer, list):
        return answer if all(isinstance(o, dict) and key in o for o in answer) else None
    if isinstance(answer, dict):
        for v in answer.values():
            found = row_list(v, key)
            if found is not None:
                return found
    return None


class Classifier:
    def __init__(self, a, cfg, stage, cache):
        self.a, self.cfg, self.stage, self.cache = a, cfg, stage, cache
        self.api = api = cfg.get("api", {})
        self.url = (a.base_url or api["base_url"]).rstrip("/") + "/chat/completions"
        self.key = os.environ.get(api.get("api_key_env") or "OPENAI_API_KEY", "")
        self.item_key = stage.get("item_key", "id")
        self.per_call = a.per_call or stage.get("per_call", 120)
        self.sem = asyncio.Semaphore(a.concurrency)
        self.limiter = RateLimiter(a.rps)
        self.answers = {}  # cache key -> answer (without the id)
        self.n = dict(calls=0, ok=0, asked=0, answered=0, foreign=0)

    def body(self, batch):
        rows = "\n".join("[row %s] %s" % (rid, text) for _, rid, text in batch)
        return pystages.request_body(self.stage, self.api,
                                     {"rows": rows, "schema": self.stage["schema_text"]})

    async def post(self, session, body):
        """The answer of one call (a parsed JSON value), or None once every attempt failed."""
        headers = {"Authorization": "Bearer " + self.key, "Content-Type": "application/json"}
        for attempt in range(self.a.max_attempts):
            wait = min(60, 2 ** attempt) * (0.5 + random.random() / 2)
            async with self.sem:
                await self.limiter.acquire()
                self.n["calls"] += 1
                try:
                    async with session.post(self.url, data=body, headers=headers) as r:
                        text = await r.text()
                        if r.status == 200:
                            self.n["ok"] += 1
                            return json.loads(json.loads(text)["choices"][0]["message"]["content"])
                        if r.status != 429 and r.status < 500:
                            return None
                        if r.headers.get("Retry-After", "").isdigit():
                            wait = max(wait, int(r.headers["Retry-After"]))
                except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError):
                    pass
            await asyncio.sleep(wait)
        return None

    async def call(self, session, batch):
        """Asks one batch of (cache key, id, text); returns the ones its answer left out."""
        self.n["asked"] += len(batch)
        answer = await self.post(session, json.dumps(self.body(batch)))
        objs = row_list(answer, self.item_key) or []
        by_id = {str(o[self.item_key]): o for o in objs}
        missing = []
        for key, rid, text in batch:
            o = by_id.pop(rid, None)
            if o is None:
                missing.append((key, rid, text))
                continue
            self.answers[key] = {k: v for k, v in o.items() if k != self.item_key}
            self.cache.put(key, self.answers[key])
            self.n["answered"] += 1
        self.n["foreign"] += len(by_id)
        return missing

    async def run(self, todo):
        timeout = aiohttp.ClientTimeout(total=self.api.get("timeout_s", 120), connect=10)
        ctx = ssl.create_default_context(cafile=self.a.cafile) if self.a.cafile else None
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx),
                                         timeout=timeout) as session:
            for _ in range(self.a.rounds):
                if not todo:
                    break
                batches = [todo[i:i + self.per_call] for i in range(0, len(todo), self.per_call)]
                left = await asyncio.gather(*(self.call(session, b) for b in batches))
                todo = [t for part in left for t in part]
        return todo


def flatten(value, prefix, out):
    """An answer's fields as columns: nested objects as a.b, arrays joined with "; "."""
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(v, prefix + "." + k if prefix else k, out)
    elif isinstance(value, list):
        out[prefix] = "; ".join(v if isinstance(v, str) else json.dumps(v) for v in value)
    else:
        out[prefix] = "" if value is None else value if isinstance(value, str) else json.dumps(value)
    return out


def answer_columns(props, skip, prefix=""):
    """The output's answer columns in the schema's order: the row objects' properties, those
    of nested objects as a.b (a plain schema: no $ref)."""
    cols = []
    for k, v in props.items():
        if k == skip:
            continue
        if isinstance(v, dict) and isinstance(v.get("properties"), dict):
            cols += answer_columns(v["properties"], None, prefix + k + ".")
        else:
            cols.append(prefix + k)
    return cols


def row_items(schema, key):
    """The items schema of the answer's array of row objects."""
    for v in (schema.get("properties") or {}).values():
        if isinstance(v, dict) and isinstance(v.get("items"), dict) and \
                key in (v["items"].get("properties") or {}):
            return v["items"]
    sys.exit("pyrows.py: the schema has no array of objects carrying %r" % key)


def write_out(path, header, rows, spec, cols, answer_of):
    id_col, text_col = spec.get("id_column"), spec.get("text_column")
    keep = spec.get("keep_columns")
    if keep is None:
        keep = [h for h in header if h not in (id_col, text_col)]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([id_col or "row"] + keep + cols)
        for i, row in enumerate(rows, 1):
            ans = answer_of(row)
            flat = flatten(ans, "", {}) if ans is not None else {}
            w.writerow([row[id_col] if id_col else i] + [row.get(k, "") for k in keep] +
                       [flat.get(c, "") for c in cols])


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in ("config", "table", "out"):
        p.add_argument(name)
    p.add_argument("--base-url", help="instead of the config's api.base_url")
    p.add_argument("--cafile", help="CA file of an HTTPS server")
    p.add_argument("--cache", help="the cache file (default: OUT.csv's name + .cache.json)")
    p.add_argument("--concurrency", type=int, default=4, help="calls in flight at most")
    p.add_argument("--rps", type=float, default=8, help="requests a second at most")
    p.add_argument("--per-call", type=int, default=0, help="rows a call (default: the stage's)")
    p.add_argument("--rounds", type=int, default=3, help="rounds asking rows left out again")
    p.add_argument("--max-attempts", type=int, default=6, help="attempts per call")
    return p.parse_args()


async def main(a):
    cfg, stage = load_job(a.config)
    spec = cfg.get("input") or {}
    header, rows = read_table(a.table, spec)
    text_col = spec.get("text_column") or "comment"
    id_col = spec.get("id_column")
    cache = Cache(a.cache or a.out + ".cache.json", (cfg.get("cache") or {}).get("ttl_days") or 7)
    t0 = time.monotonic()
    cl = Classifier(a, cfg, stage, cache)
    todo, seen, blank, cached = [], set(), 0, 0
    for i, row in enumerate(rows, 1):
        text = row.get(text_col) or ""
        if not text.strip():
            blank += 1
            continue
        key = Cache.key(text)
        if key in seen:
            continue
        seen.add(key)
        if cache.get(key) is not None:
            cl.answers[key] = cache.get(key)
            cached += 1
        else:
            todo.append((key, row[id_col] if id_col else str(i), one_line(text)))
    missing = await cl.run(todo)
    wall = round(time.monotonic() - t0, 3)
    cache.save()
    items = row_items(json.loads(stage["schema_text"]), cl.item_key)
    write_out(a.out, header, rows, spec, answer_columns(items["properties"], cl.item_key),
              lambda row: cl.answers.get(Cache.key(row.get(text_col) or "")))
    print(json.dumps(dict(rows=len(rows), blank=blank, unique=len(seen), from_cache=cached,
                          **cl.n, missing=len(missing), wall_s=wall)))


if __name__ == "__main__":
    if sys.argv[1:] != ["--ready"]:
        asyncio.run(main(parse_args()))
