#!/usr/bin/python3
"""pyembed.py: the baseline kgsup is compared with in `make bench-embed`: a corpus's chunks
embedded the usual way in Python: aiohttp, an asyncio.Semaphore(20) around each call, a
hand-written client-side limiter (a sliding window of requests and tokens, the rate per minute
spread over --limit-period-s as aiolimiter's AsyncLimiter(rpm / 60, 1) is used), batches of
--per-call inputs, one asyncio.gather over the batches, backoff with jitter on 429 (Retry-After
honoured), 5xx and connection errors as scripts/pystages.py does, and a cache dict of vectors
keyed by the MD5 of the text: a text is sent once.

It reads every .txt and .md file below INPUT and cuts it as kgsup does (common/text.c,
common/input.c, common/chunk.c): units at line ends and at the sentence ends of lines running
past 80 bytes, a unit over a chunk cut at white space, packed into chunks of --chunk-tokens (4
bytes a token) with --overlap-tokens repeated, trimmed of white space; a file whose bytes are
those of one already read is skipped. The same chunks as `kgsup plan` cuts. The request is OpenAI's
POST {base_url}/embeddings {"model", "input": [...], "encoding_format": "base64"}; an answer in
floats (a server without base64) is taken as well. Vectors are kept as float32; --out FILE
writes them in chunk order (little-endian float32 rows).

Prints one JSON line: files, chunks, inputs (distinct texts sent), calls, ok, 429s, failed,
tokens (usage), dims, wall_s, cpu_s (its own user + system), cpu_ms_per_input, achieved_rpm,
limit_rpm, share (achieved / limit), inputs_per_s.

usage: pyembed.py INPUT [--base-url URL] [--cafile FILE] [--model M] [--per-call 256]
                  [--concurrency 20] [--rpm 3000] [--tpm 1000000] [--limit-period-s 1]
                  [--chunk-tokens 600] [--overlap-tokens 60] [--float] [--out FILE]
       pyembed.py --ready    (exit 0 if it can run here: it needs aiohttp)
"""
import argparse
import array
import asyncio
import base64
import collections
import hashlib
import json
import os
import random
import resource
import ssl
import sys
import time

try:
    import aiohttp
except ImportError:
    sys.exit("pyembed.py: the Python baseline needs Debian's python3-aiohttp "
             "(make bench-embed installs it)")


def cut_long(text, off, length, max_unit, out):
    """A unit of more than max_unit bytes cut as kgsup does: at the last white space past half
    of max_unit, else at the character boundary before max_unit."""
    while length > max_unit:
        cut = max_unit
        while cut > max_unit // 2 and not text[off + cut - 1:off + cut].isspace():
            cut -= 1
        if cut <= max_unit // 2:
            cut = max_unit
            while cut > 0 and text[off + cut] & 0xC0 == 0x80:
                cut -= 1
        cut = cut or max_unit
        out.append((off, cut))
        off, length = off + cut, length - cut
    if length:
        out.append((off, length))


def units(text, max_unit):
    """(offset, length) of the text's units (bytes), as kgsup's text reader cuts them: at line
    ends and at the sentence ends of lines past 80 bytes, none over max_unit."""
    out, start, n, i = [], 0, len(text), 0
    while i < n:
        c = text[i]
        cut = c == 10  # "\n"
        if not cut and c in b".?!" and i + 1 < n and text[i + 1] == 32 and i + 2 - start > 80:
            i += 1  # the space stays with the sentence
            cut = True
        if cut:
            cut_long(text, start, i + 1 - start, max_unit, out)
            start = i + 1
        i += 1
    cut_long(text, start, n - start, max_unit, out)
    return out


def chunks(text, chunk_bytes, overlap_bytes):
    """The document's chunk texts (text in bytes), packed as kgsup's chunk_document does."""
    u = units(text, chunk_bytes)
    out, first = [], 0
    while first < len(u):
        last, size = first, 0
        while True:  # at least one unit, then as many as fit
            size += u[last][1]
            last += 1
            if last == len(u) or size + u[last][1] > chunk_bytes:
                break
        s, e = u[first][0], u[last - 1][0] + u[last - 1][1]
        piece = text[s:e].strip(b" \t\n\v\f\r")
        if piece:
            out.append(piece.decode("utf-8", errors="replace"))
        if last == len(u):
            break
        nxt, back = last, 0  # whole units that fit in the overlap, always moving forward
        while nxt - 1 > first and back + u[nxt - 1][1] <= overlap_bytes:
            back += u[nxt - 1][1]
            nxt -= 1
        first = nxt
    return out


def read_corpus(top, chunk_bytes, overlap_bytes):
    """(files read, chunk texts in order) of the .txt and .md files below top."""
    seen, texts, files = set(), [], 0
    for d, dirs, names in os.walk(top):
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        for f in sorted(names):
            if f.startswith(".") or not f.endswith((".txt", ".md")):
                continue
            raw = open(os.path.join(d, f), "rb").read()
            digest = hashlib.sha256(raw).digest()
            if digest in seen:  # a copied transcript
                continue
            seen.add(digest)
            files += 1
            texts += chunks(raw.replace(b"\r\n", b"\n"), chunk_bytes, overlap_bytes)
    return files, texts


def tokens_of(text):
    return max(1, (len(text.encode()) + 3) // 4)


class RateLimiter:
    """A sliding window of requests and tokens: at most rpm and tpm per minute, spread over
    period seconds (rpm * period / 60 requests in any period)."""

    def __init__(self, rpm, tpm, period):
        self.max_r, self.max_t, self.period = rpm * period / 60, tpm * period / 60, period
        self.sent = collections.deque()  # (time, tokens)
        self.lock = asyncio.Lock()

    async def acquire(self, tokens):
        async with self.lock:
            while True:
                now = time.monotonic()
                while self.sent and now - self.sent[0][0] >= self.period:
                    self.sent.popleft()
                used = sum(t for _, t in self.sent)
                if ((not self.max_r or len(self.sent) + 1 <= self.max_r) and
                        (not self.max_t or used + tokens <= self.max_t or not self.sent)):
                    self.sent.append((now, tokens))
                    return
                await asyncio.sleep(self.period - (now - self.sent[0][0]) + 0.001)


class Embedder:
    def __init__(self, a):
        self.a = a
        self.url = a.base_url.rstrip("/") + "/embeddings"
        self.key = os.environ.get("OPENAI_API_KEY", "")
        self.sem = asyncio.Semaphore(a.concurrency)
        self.limiter = RateLimiter(a.rpm, a.tpm, a.limit_period_s)
        self.cache = {}  # md5 of the text -> its vector (float32 bytes)
        self.n = collections.Counter(calls=0, ok=0, too_many=0, failed=0, tokens=0)
        self.dims = 0

    async def post(self, session, batch):
        """Embeds one batch of (md5, text); True once its vectors are in the cache."""
        body = {"model": self.a.model, "input": [t for _, t in batch]}
        if not self.a.float:
            body["encoding_format"] = "base64"
        body = json.dumps(body)
        tokens = sum(tokens_of(t) for _, t in batch)
        headers = {"Authorization": "Bearer " + self.key, "Content-Type": "application/json"}
        for attempt in range(self.a.max_attempts):
            wait = min(60, 2 ** attempt) * (0.5 + random.random() / 2)
            async with self.sem:
                await self.limiter.acquire(tokens)
                self.n["calls"] += 1
                try:
                    async with session.post(self.url, data=body, headers=headers) as r:
                        text = await r.text()
                        if r.status == 200:
                            resp = json.loads(text)
                            for e in resp["data"]:
                                v = e["embedding"]
                                raw = (base64.b64decode(v) if isinstance(v, str)
                                       else array.array("f", v).tobytes())
                                self.cache[batch[e["index"]][0]] = raw
                                self.dims = len(raw) // 4
                            self.n["ok"] += 1
                            self.n["tokens"] += resp.get("usage", {}).get("total_tokens", 0)
                            return True
                        if r.status == 429:
                            self.n["too_many"] += 1
                        elif r.status < 500:
                            sys.stderr.write("pyembed.py: HTTP %d: %s\n" % (r.status, text[:200]))
                            break
                        if r.headers.get("Retry-After", "").isdigit():
                            wait = max(wait, int(r.headers["Retry-After"]))
                except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError) as e:
                    sys.stderr.write("pyembed.py: %s\n" % type(e).__name__)
            await asyncio.sleep(wait)
        self.n["failed"] += 1
        return False

    async def run(self, todo):
        timeout = aiohttp.ClientTimeout(total=120, connect=10)
        ctx = ssl.create_default_context(cafile=self.a.cafile) if self.a.cafile else None
        conn = aiohttp.TCPConnector(ssl=ctx, limit=self.a.concurrency)
        async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:
            p = self.a.per_call
            await asyncio.gather(*(self.post(session, todo[i:i + p])
                                   for i in range(0, len(todo), p)))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("input", help="a directory (or file) of .txt/.md transcripts")
    p.add_argument("--base-url", default="https://api.openai.com/v1")
    p.add_argument("--cafile", help="CA file of an HTTPS server")
    p.add_argument("--model", default="text-embedding-3-small")
    p.add_argument("--per-call", type=int, default=256, help="inputs a call")
    p.add_argument("--concurrency", type=int, default=20, help="calls in flight at most")
    p.add_argument("--rpm", type=float, default=3000, help="requests a minute at most (0: none)")
    p.add_argument("--tpm", type=float, default=1000000, help="tokens a minute at most (0: none)")
    p.add_argument("--limit-period-s", type=float, default=1,
                   help="the limiter's window: rpm * period / 60 requests in any period")
    p.add_argument("--chunk-tokens", type=int, default=600)
    p.add_argument("--overlap-tokens", type=int, default=60)
    p.add_argument("--float", action="store_true", help="ask for floats instead of base64")
    p.add_argument("--max-attempts", type=int, default=6, help="attempts per call")
    p.add_argument("--out", help="write the vectors here, float32 rows in chunk order")
    return p.parse_args()


async def main(a):
    files, texts = read_corpus(a.input, a.chunk_tokens * 4, a.overlap_tokens * 4)
    em = Embedder(a)
    todo, queued = [], set()
    for t in texts:
        key = hashlib.md5(t.encode()).hexdigest()
        if key not in em.cache and key not in queued:
            queued.add(key)
            todo.append((key, t))
    t0 = time.monotonic()
    await em.run(todo)
    wall = time.monotonic() - t0
    if a.out:
        with open(a.out, "wb") as f:
            for t in texts:
                f.write(em.cache.get(hashlib.md5(t.encode()).hexdigest(), bytes(4 * em.dims)))
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru.ru_utime + ru.ru_stime
    achieved = em.n["ok"] / wall * 60 if wall else 0
    print(json.dumps({"files": files, "chunks": len(texts), "inputs": len(todo),
                      "calls": em.n["calls"], "ok": em.n["ok"], "429s": em.n["too_many"],
                      "failed": em.n["failed"], "tokens": em.n["tokens"], "dims": em.dims,
                      "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                      "cpu_ms_per_input": round(1000 * cpu / max(1, len(todo)), 4),
                      "achieved_rpm": round(achieved, 1), "limit_rpm": a.rpm,
                      "share": round(achieved / a.rpm, 4) if a.rpm else None,
                      "inputs_per_s": round(len(todo) / wall, 1) if wall else 0}))
    return 1 if em.n["failed"] else 0


if __name__ == "__main__":
    if sys.argv[1:] != ["--ready"]:
        sys.exit(asyncio.run(main(parse_args())))
