#!/usr/bin/python3
"""pyclient.py: the baseline kgsup is compared with in `make bench-ratelimit`: a Python asyncio
client written the usual way: aiohttp, asyncio.Semaphore(CONCURRENCY), a client-side limiter
(an aiolimiter-style leaky bucket holding a minute of requests and tokens) and exponential
backoff with jitter on 429, 5xx and connection errors. It sends the request bodies of
`kgsup plan -o FILE` and prints one JSON line of figures: when all are done, or when SIGTERM
stops it (then with "stopped": true). CAFILE "-" for a plain http:// URL.

usage: pyclient.py URL CAFILE REQUESTS.jsonl --rpm N --tpm N [--concurrency 20]
       pyclient.py --ready    (exit 0 if it can run here: it needs aiohttp)
"""
import argparse
import asyncio
import json
import os
import random
import signal
import ssl
import sys
import time

try:
    import aiohttp
except ImportError:
    sys.exit("pyclient.py: the Python baseline needs Debian's python3-aiohttp (make bench installs it)")


class Limiter:
    """Leaky bucket like aiolimiter.AsyncLimiter(max_rate, 60): starts full, a minute's worth."""

    def __init__(self, per_minute):
        self.cap = float(per_minute)
        self.level = 0.0
        self.rate = per_minute / 60.0
        self.t = time.monotonic()

    async def acquire(self, amount=1.0):
        amount = min(amount, self.cap)
        while True:
            now = time.monotonic()
            self.level = max(0.0, self.level - (now - self.t) * self.rate)
            self.t = now
            if self.level + amount <= self.cap:
                self.level += amount
                return
            await asyncio.sleep((self.level + amount - self.cap) / self.rate)


async def main():
    if sys.argv[1:] == ["--ready"]:
        return
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("cafile")
    p.add_argument("requests")
    p.add_argument("--rpm", type=float, required=True)
    p.add_argument("--tpm", type=float, required=True)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--max-attempts", type=int, default=6)
    a = p.parse_args()
    bodies = [l.rstrip("\n").encode() for l in open(a.requests)]
    key = os.environ.get("OPENAI_API_KEY", "")
    sem = asyncio.Semaphore(a.concurrency)
    rpm, tpm = Limiter(a.rpm), Limiter(a.tpm)
    stats = {"requests": 0, "ok": 0, "http_429": 0, "errors": 0, "failed": 0}
    ctx = ssl.create_default_context(cafile=a.cafile) if a.cafile != "-" else None
    headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}

    async def one(session, body):
        est = len(body) / 4 + json.loads(body).get("max_tokens", 0)
        for attempt in range(a.max_attempts):
            async with sem:
                await rpm.acquire()
                await tpm.acquire(est)
                stats["requests"] += 1
                try:
                    async with session.post(a.url + "/chat/completions", data=body,
                                            headers=headers) as r:
                        text = await r.text()
                        if r.status == 200:
                            content = json.loads(text)["choices"][0]["message"]["content"]
                            json.loads(content)
                            stats["ok"] += 1
                            return
                        if r.status == 429:
                            stats["http_429"] += 1
                        elif r.status < 500:
                            stats["failed"] += 1
                            return
                        else:
                            stats["errors"] += 1
                except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError):
                    stats["errors"] += 1
            await asyncio.sleep(min(60, 2 ** attempt) * (0.5 + random.random() / 2))
        stats["failed"] += 1

    t0 = time.monotonic()

    def report(**more):
        stats.update(wall_s=round(time.monotonic() - t0, 3), batches=len(bodies), **more)
        print(json.dumps(stats), flush=True)

    def stopped():  # SIGTERM: the figures so far, at once (the calls in flight are dropped)
        report(stopped=True)
        os._exit(0)

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped)
    timeout = aiohttp.ClientTimeout(total=120, connect=10)
    conn = aiohttp.TCPConnector(limit=a.concurrency, **({"ssl": ctx} if ctx else {}))
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:
        await asyncio.gather(*(one(session, b) for b in bodies))
    report()


if __name__ == "__main__":
    asyncio.run(main())
