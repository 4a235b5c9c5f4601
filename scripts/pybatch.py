#!/usr/bin/python3
"""pybatch.py: the baseline kgsup's Batch API path is compared with in `make bench-batch`: the
script a Python user writes for OpenAI's Batch API with the standard library alone (urllib,
json), the usual way: the requests in a list, the JSONL written with json.dumps a line at a
time (a file per 50,000 lines, the API's limit), each file uploaded as a multipart form built in
memory (POST /files, purpose "batch"), a batch created for each (POST /batches), polled every
--poll-s until all are done, each output file downloaded whole (GET /files/ID/content), every
line parsed and its answer (the message content, parsed as JSON) kept in a dict by custom_id,
then the dict written to a file, one JSON line per answer.

It sends the request bodies of `kgsup plan -o FILE`, the ones kgsup's run sends, and prints one
JSON line of figures: the seconds of each phase (write: the JSONL made from the requests read;
upload; create; wait: polling until every batch ended; download; parse: the lines parsed and
the answers written), the lines answered and failed, the answers kept, the entities in them,
the peak RSS of the process (MB) and its CPU seconds.

usage: pybatch.py BASE_URL REQUESTS.jsonl WORKDIR [--poll-s 0.1] [--max-lines 50000]
"""
import argparse
import json
import os
import resource
import sys
import time
import urllib.request
import uuid


def call(method, url, key, data=None, ctype="application/json"):
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", "Bearer " + key)
    if data is not None:
        req.add_header("Content-Type", ctype)
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.read()


def upload(base, key, path):
    boundary = uuid.uuid4().hex
    with open(path, "rb") as f:
        data = f.read()
    body = (("--%s\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
             "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
             "Content-Type: application/jsonl\r\n\r\n" % (boundary, boundary, os.path.basename(path))
             ).encode() + data + ("\r\n--%s--\r\n" % boundary).encode())
    return json.loads(call("POST", base + "/files", key, body,
                           "multipart/form-data; boundary=" + boundary))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("base_url")
    p.add_argument("requests")
    p.add_argument("workdir")
    p.add_argument("--poll-s", type=float, default=0.1)
    p.add_argument("--max-lines", type=int, default=50000)
    a = p.parse_args()
    key = os.environ.get("OPENAI_API_KEY", "")
    base = a.base_url.rstrip("/")
    os.makedirs(a.workdir, exist_ok=True)
    t = {}
    t0 = time.monotonic()

    # the requests, then the batch files
    requests = [json.loads(line) for line in open(a.requests)]
    paths = []
    for start in range(0, len(requests), a.max_lines):
        path = os.path.join(a.workdir, "batch-%03d.jsonl" % len(paths))
        with open(path, "w") as f:
            for i in range(start, min(len(requests), start + a.max_lines)):
                f.write(json.dumps({"custom_id": "request-%d" % i, "method": "POST",
                                    "url": "/v1/chat/completions", "body": requests[i]}) + "\n")
        paths.append(path)
    t1 = time.monotonic()
    t["write"] = t1 - t0

    files = [upload(base, key, path) for path in paths]
    t2 = time.monotonic()
    t["upload"] = t2 - t1

    batches = [json.loads(call("POST", base + "/batches", key, json.dumps(
        {"input_file_id": f["id"], "endpoint": "/v1/chat/completions",
         "completion_window": "24h"}).encode())) for f in files]
    t3 = time.monotonic()
    t["create"] = t3 - t2

    done = {}
    while len(done) < len(batches):
        for b in batches:
            if b["id"] in done:
                continue
            b = json.loads(call("GET", base + "/batches/" + b["id"], key))
            if b["status"] in ("completed", "failed", "expired", "cancelled"):
                done[b["id"]] = b
        if len(done) < len(batches):
            time.sleep(a.poll_s)
    t4 = time.monotonic()
    t["wait"] = t4 - t3

    outputs = [call("GET", base + "/files/%s/content" % b["output_file_id"], key)
               for b in done.values() if b.get("output_file_id")]
    t5 = time.monotonic()
    t["download"] = t5 - t4

    answers = {}
    for data in outputs:
        for line in data.decode().splitlines():
            r = json.loads(line)
            resp = r.get("response") or {}
            if resp.get("status_code") != 200:
                continue
            content = resp["body"]["choices"][0]["message"]["content"]
            answers[r["custom_id"]] = json.loads(content)
    with open(os.path.join(a.workdir, "answers.jsonl"), "w") as f:
        for cid, ans in answers.items():
            f.write(json.dumps({"custom_id": cid, "answer": ans}) + "\n")
    t6 = time.monotonic()
    t["parse"] = t6 - t5

    ru = resource.getrusage(resource.RUSAGE_SELF)
    out = {"requests": len(requests), "files": len(paths), "answered": len(answers),
           "failed": sum(b["request_counts"]["failed"] for b in done.values()),
           "entities": sum(len(v.get("entities", [])) for v in answers.values()),
           "statuses": sorted(set(b["status"] for b in done.values())),
           "total_s": t6 - t0, "peak_rss_mb": ru.ru_maxrss / 1024.0,
           "cpu_s": ru.ru_utime + ru.ru_stime}
    out.update({k + "_s": round(v, 3) for k, v in t.items()})
    print(json.dumps(out))
    return 0 if len(answers) == len(requests) else 1


if __name__ == "__main__":
    sys.exit(main())
