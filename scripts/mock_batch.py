"""mock_batch.py: the mock's Batches endpoints, in OpenAI's shape, imported by
scripts/mock_llm.py, so a client's Batch API path can be tested on 127.0.0.1; their files go
through the Files endpoints of scripts/mock_files.py. Any path ending as shown is served; the API
key is checked as for chat (401).

POST .../batches {"input_file_id", "endpoint": "/v1/chat/completions" or "/v1/embeddings",
"completion_window": "24h", "metadata"} answers the batch object (400 for an unknown input file,
another endpoint or window, metadata not 16 string values at most), "validating"; a background
thread then checks every line (JSON, a unique string custom_id, method POST, url the batch's
endpoint, a body object; else "failed" with errors {"object": "list", "data": [{code, message,
param: null, line}]}, the first 100, codes invalid_json_line, missing_custom_id,
duplicate_custom_id, invalid_method, mismatched_endpoint, invalid_body, empty_file; and
mixed_models for a file whose bodies name more than one model, as OpenAI's batches hold one
model's requests), checks the
enqueued tokens (below), goes "in_progress" and answers each line's body with the code
answering live calls (mock_llm.chat_answer, mock_embed.answer): the same answer, counted alike
(ok, invalid, ok_per_body, tokens, entities, chunks, rows; the embed_* of answers), so an answer
bought twice across batches and live calls shows in duplicate_ok and embed_inputs_twice. A line
is no live request: none of --rpm/--tpm/--rps/--daily/--model-limit, the 429s, latencies,
hangs, drops, --error-status, --p-malformed, --embed-429-every; not in requests, status, times,
requests_log, embed_requests or embed_status. Then "finalizing", "completed". GET
.../batches/ID shows it (404 unknown); request_counts grow as lines are answered, and at the end
completed + failed = total (failed: the lines of the error file). GET
.../batches?limit=N&after=ID lists newest first (limit 1..100, default 20; 404 for an unknown
after) with first_id, last_id, has_more.

Output file lines: {"id": "batch_req_...", "custom_id", "response": {"status_code": 200,
"request_id", "body"}, "error": null}; a line answered otherwise goes to the error file with its
response; lines not answered go there as {"id", "custom_id", "response": null, "error": {"code":
"batch_expired" or "batch_cancelled", "message"}}. Lines in input order, shuffled with
--batch-shuffle. A file that would have no line is not made: its id stays null.

POST .../batches/ID/cancel: "cancelling" (a validating or in_progress batch; a cancelling or
cancelled one is answered as it is; others 400), then "cancelled" with the lines answered so
far in the output file, the others batch_cancelled in the error file.

Options: --batch-dir DIR (the files; default a new directory in --dir, removed at exit);
--batch-delay-s S: a batch completes no earlier than S seconds after its creation, its lines
spread evenly over them (line i not before S*i/n), so a cancel or a look midway finds it part
done; --batch-shuffle; --batch-fail-every N: every Nth line answered (counted over all batches)
answers 500 with an error body; --batch-expire-after N: a batch answers its first N lines only
and goes "expired" when it would have completed; --batch-fail-validation-every N: every Nth
batch created fails validation (code invalid_request, line null); --batch-queue-tokens T: per
model (the bodies' "model"), a batch's tokens are the sum over its lines of the bytes of the
line's body (as they stand in the line) / 4, rounded up; a batch whose tokens for a model plus
those of the model's batches enqueued (past this check and not ended) exceed T goes "failed"
with token_limit_exceeded, no line answered; room frees as batches end. --batch-stall-s S: an
upload or a create is made (and counted), then its answer held S seconds: a client killed then
has made a file or a batch it never heard of.

/stats: batches_created, batch_statuses (batches by final status), batch_lines_submitted (lines
of batches past validation and the queue check), batch_lines_ok (answered 200),
batch_lines_failed (answered otherwise), batch_lines_expired, batch_lines_cancelled,
batch_custom_ids_twice (custom_ids answered in more than one batch), batch_queue_refused; and
mock_files.py's files_uploaded.
"""
import collections
import json
import os
import random
import re
import sys
import threading
import time
import traceback

import mock_files
from mock_files import new_id, refuse

WINDOW = "24h"
WS = re.compile(r"[ \t\n\r]*")


def add_options(p):
    """The batch options, on mock_llm.py's parser."""
    p.add_argument("--batch-dir", default="", help="where uploaded and made files are kept"
                   " (default: a new directory in --dir, removed at exit)")
    p.add_argument("--batch-delay-s", type=float, default=0,
                   help="a batch completes no earlier than this after its creation")
    p.add_argument("--batch-shuffle", action="store_true",
                   help="write output and error files in a shuffled order")
    p.add_argument("--batch-fail-every", type=int, default=0, metavar="N",
                   help="every Nth batch line answered answers 500")
    p.add_argument("--batch-expire-after", type=int, default=0, metavar="N",
                   help="a batch answers its first N lines, then expires")
    p.add_argument("--batch-fail-validation-every", type=int, default=0, metavar="N",
                   help="every Nth batch created fails validation")
    p.add_argument("--batch-stall-s", type=float, default=0, metavar="S",
                   help="an upload or a create is made, then its answer held S seconds")
    p.add_argument("--batch-queue-tokens", type=int, default=0, metavar="T",
                   help="enqueued token limit per model (body bytes / 4)")


def fields_of(line, dec=json.JSONDecoder()):
    """{key: (value, start, end)} of a line holding one JSON object, the spans in characters
    (the body's bytes are wanted as they stand: the same bytes as a live call's digest)."""
    pos = WS.match(line).end()
    if line[pos:pos + 1] != "{":
        raise ValueError("not an object")
    pos, out = WS.match(line, pos + 1).end(), {}
    while line[pos:pos + 1] != "}" or out:
        if line[pos:pos + 1] != '"':
            raise ValueError("a key is wanted")
        key, pos = json.decoder.scanstring(line, pos + 1)
        pos = WS.match(line, pos).end()
        if line[pos:pos + 1] != ":":
            raise ValueError("':' is wanted")
        start = WS.match(line, pos + 1).end()
        val, end = dec.raw_decode(line, start)
        out[key] = (val, start, end)
        pos = WS.match(line, end).end()
        if line[pos:pos + 1] == "}":
            break
        if line[pos:pos + 1] != ",":
            raise ValueError("',' or '}' is wanted")
        pos = WS.match(line, pos + 1).end()
    if WS.match(line, pos + 1).end() != len(line):
        raise ValueError("more after the object")
    return out


class Batch:
    """One batch: its object (as answered), and what its thread knows of its lines."""

    def __init__(self, obj, nth, started):
        self.obj, self.nth, self.started = obj, nth, started
        self.cancel = threading.Event()
        self.ids = []  # custom_id of each line
        self.spans = []  # (offset, length) of each line's body in the input file
        self.tokens = collections.Counter()  # model -> tokens of the lines naming it
        self.holds = False  # its tokens count in the enqueued ones


class Batches:
    """The files and batches of the mock; its lock is taken after the mock's State.lock, never
    the other way, and never held while a line is answered (the answer takes State.lock)."""

    def __init__(self, st, answer):
        self.st, self.args, self.answer = st, st.args, answer  # endpoint -> fn(raw) -> (code, body)
        self.files = mock_files.Files(st.args)
        self.lock = threading.Lock()
        self.rng = random.Random(self.args.seed)
        self.batches = {}  # id -> Batch
        self.order = []  # batch ids, oldest first
        self.enqueued = collections.Counter()  # model -> tokens of the batches holding them
        self.created = 0
        self.answered = 0  # lines answered, all batches (--batch-fail-every)
        self.c = collections.Counter()  # the /stats counters named in stats()
        self.statuses = collections.Counter()
        self.custom_ids = collections.Counter()  # custom_id -> batches that answered it

    def route(self, handler, method):
        """Answers the request and says True when it is one of the Batches or Files endpoints."""
        return (mock_files.route(self, ROUTES, handler, method) or
                mock_files.route(self.files, mock_files.ROUTES, handler, method))

    def create(self, handler, q):
        try:
            req = json.loads(b"".join(mock_files.body_pieces(handler)))
        except ValueError:
            req = None
        if not isinstance(req, dict):
            return refuse(400, "We could not parse the JSON body of your request.")
        f = self.files.get(req.get("input_file_id"))
        meta = req.get("metadata")
        if not f or f["purpose"] != "batch":
            return refuse(400, "No batch input file %r." % (req.get("input_file_id"),), "input_file_id")
        if req.get("endpoint") not in self.answer:
            return refuse(400, "Invalid 'endpoint': %r; expected one of %s."
                          % (req.get("endpoint"), ", ".join(sorted(self.answer))), "endpoint")
        if req.get("completion_window") != WINDOW:
            return refuse(400, "Invalid 'completion_window': %r; expected '24h'."
                          % (req.get("completion_window"),), "completion_window")
        if meta is not None and not (isinstance(meta, dict) and len(meta) <= 16 and
                                     all(isinstance(v, str) for v in meta.values())):
            return refuse(400, "Invalid 'metadata': at most 16 string values.", "metadata")
        now = int(time.time())
        obj = {"id": new_id("batch_"), "object": "batch", "endpoint": req["endpoint"],
               "errors": None, "input_file_id": f["id"], "completion_window": WINDOW,
               "status": "validating", "output_file_id": None, "error_file_id": None,
               "created_at": now, "in_progress_at": None, "expires_at": now + 86400,
               "finalizing_at": None, "completed_at": None, "failed_at": None,
               "expired_at": None, "cancelling_at": None, "cancelled_at": None,
               "request_counts": {"total": 0, "completed": 0, "failed": 0}, "metadata": meta}
        with self.lock:
            self.created += 1
            self.c["batches_created"] += 1
            b = Batch(obj, self.created, time.monotonic())
            self.batches[obj["id"]] = b
            self.order.append(obj["id"])
            shown = json.loads(json.dumps(obj))
        threading.Thread(target=self.run, args=(b, f["path"]), daemon=True).start()
        time.sleep(self.args.batch_stall_s)
        return 200, shown

    def retrieve(self, handler, bid, q):
        with self.lock:
            b = self.batches.get(bid)
            return (200, json.loads(json.dumps(b.obj))) if b else self.no_batch(bid)

    def no_batch(self, bid):
        return refuse(404, "No such Batch object: %s" % bid, "batch_id")

    def cancel(self, handler, bid, q):
        mock_files.drain(handler)
        with self.lock:
            b = self.batches.get(bid)
            if not b:
                return self.no_batch(bid)
            status = b.obj["status"]
            if status in ("validating", "in_progress"):
                b.obj.update(status="cancelling", cancelling_at=int(time.time()))
                b.cancel.set()
            elif status not in ("cancelling", "cancelled"):
                return refuse(400, "Cannot cancel a batch with status '%s'." % status)
            return 200, json.loads(json.dumps(b.obj))

    def listing(self, handler, q):
        try:
            limit = int(q.get("limit", ["20"])[0])
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return refuse(400, "Invalid 'limit': an integer from 1 to 100.", "limit")
        with self.lock:
            ids = self.order[::-1]
            after = q.get("after", [None])[0]
            if after is not None:
                if after not in self.batches:
                    return self.no_batch(after)
                ids = ids[ids.index(after) + 1:]
            data = [json.loads(json.dumps(self.batches[i].obj)) for i in ids[:limit]]
        return 200, {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                     "last_id": data[-1]["id"] if data else None, "has_more": len(ids) > limit}

    # --- a batch's thread --------------------------------------------------------------------

    def run(self, b, path):
        try:
            errors = self.validate(b, path) or self.enqueue(b)
            if errors:
                return self.end(b, "failed", errors=errors)
            self.process(b, path)
        except Exception:  # the mock's own bug: say so in its log, and end the batch
            sys.stderr.write("mock: batch %s: %s" % (b.obj["id"], traceback.format_exc()))
            self.end(b, "failed", errors=[{"code": "server_error", "message": "mock: internal error",
                                           "param": None, "line": None}])

    def validate(self, b, path):
        """The input file's errors (the first hundred), none when every line is good."""
        a, endpoint, errors, seen = self.args, b.obj["endpoint"], [], set()

        def bad(code, message, line):
            errors.append({"code": code, "message": message, "param": None, "line": line})

        if a.batch_fail_validation_every and b.nth % a.batch_fail_validation_every == 0:
            bad("invalid_request", "The batch input file could not be validated (injected).", None)
            return errors
        with open(path, "rb") as f:
            offset = 0
            for n, raw in enumerate(f, 1):
                start, offset = offset, offset + len(raw)
                if len(errors) >= 100:
                    break
                try:
                    line = raw.decode()
                    fl = fields_of(line)
                except ValueError:
                    bad("invalid_json_line", "This line is not parseable as valid JSON.", n)
                    continue
                cid = fl.get("custom_id", (None,))[0]
                method, url = fl.get("method", (None,))[0], fl.get("url", (None,))[0]
                body, at, end = fl.get("body", (None, 0, 0))
                if not isinstance(cid, str) or not cid:
                    bad("missing_custom_id", "The custom_id must be a non-empty string.", n)
                elif cid in seen:
                    bad("duplicate_custom_id", "The custom_id for this request is a duplicate of"
                        " another request. The custom_id parameter must be unique for each"
                        " request in a batch.", n)
                elif method != "POST":
                    bad("invalid_method", "The method must be POST.", n)
                elif url != endpoint:
                    bad("mismatched_endpoint", "The url %r does not match the batch's endpoint %s."
                        % (url, endpoint), n)
                elif not isinstance(body, dict):
                    bad("invalid_body", "The body must be a JSON object.", n)
                else:
                    seen.add(cid)
                    # the body's bytes as they stand in the line
                    if len(line) != len(raw):  # not ASCII: characters are not bytes
                        at, end = len(line[:at].encode()), len(line[:end].encode())
                    b.ids.append(cid)
                    b.spans.append((start + at, end - at))
                    b.tokens[str(body.get("model") or "")] += (end - at + 3) // 4
        if not errors and not b.ids:
            bad("empty_file", "The batch input file is empty.", None)
        if not errors and len(b.tokens) > 1:
            bad("mixed_models", "The batch input file holds requests for more than one model (%s);"
                " a batch's requests must all name the same model."
                % ", ".join(sorted(b.tokens)), None)
        return errors

    def enqueue(self, b):
        """The queue check: the token_limit_exceeded error, or none and the batch in progress."""
        limit = self.args.batch_queue_tokens
        with self.lock:
            for model, tokens in b.tokens.items():
                if limit and tokens + self.enqueued[model] > limit:
                    self.c["batch_queue_refused"] += 1
                    return [{"code": "token_limit_exceeded", "param": None, "line": None,
                             "message": "Enqueued token limit reached for %s in organization"
                             " org-mock. Limit: %d enqueued tokens. Please try again once some"
                             " in_progress batches have been completed." % (model, limit)}]
            self.enqueued.update(b.tokens)
            b.holds = True
            self.c["batch_lines_submitted"] += len(b.ids)
            b.obj["request_counts"]["total"] = len(b.ids)
            if b.obj["status"] == "validating":  # not when cancelling
                b.obj.update(status="in_progress", in_progress_at=int(time.time()))
        return None

    def process(self, b, path):
        """Answers the lines (paced over --batch-delay-s), then ends the batch."""
        a, n = self.args, len(b.ids)
        upto = min(n, a.batch_expire_after) if a.batch_expire_after else n
        parts = self.files.path(b.obj["id"] + ".parts")
        kept = []  # (offset, length, into the output file) of each line written to parts
        with open(path, "rb") as src, open(parts, "w+b") as out:

            def put(obj, ok):
                data = (json.dumps(obj) + "\n").encode()
                kept.append((out.tell(), len(data), ok))
                out.write(data)

            done = 0
            while done < upto and not b.cancel.wait(
                    max(0.0, b.started + a.batch_delay_s * done / n - time.monotonic())):
                src.seek(b.spans[done][0])
                code, body = self.answer_line(b, b.ids[done], src.read(b.spans[done][1]))
                put({"id": new_id("batch_req_"), "custom_id": b.ids[done],
                     "response": {"status_code": code, "request_id": new_id("req_"), "body": body},
                     "error": None}, code == 200)
                done += 1
            b.cancel.wait(max(0.0, b.started + a.batch_delay_s - time.monotonic()))
            with self.lock:
                cancelled = b.cancel.is_set()
                if not cancelled and done == n:
                    b.obj.update(status="finalizing", finalizing_at=int(time.time()))
            why = "batch_cancelled" if cancelled else "batch_expired" if done < n else None
            for cid in b.ids[done:]:
                put({"id": new_id("batch_req_"), "custom_id": cid, "response": None,
                     "error": {"code": why, "message": "This request could not be executed before"
                               " the batch was %s." % why[6:]}}, False)
            if why:
                with self.lock:
                    self.c["batch_lines_" + why[6:]] += n - done
            files = self.write(b, out, kept)
        os.unlink(parts)
        self.end(b, "cancelled" if cancelled else "expired" if why else "completed",
                 failed=n - done, **files)

    def answer_line(self, b, cid, raw):
        """(status, body) of one line: the live calls' answer, or --batch-fail-every's 500."""
        a = self.args
        with self.lock:
            self.answered += 1
            nth = self.answered
        if a.batch_fail_every and nth % a.batch_fail_every == 0:
            code, body = 500, {"error": {"message": "The server had an error while processing"
                                         " your request (injected).", "type": "server_error",
                                         "param": None, "code": None}}
        else:
            code, body = self.answer[b.obj["endpoint"]](raw)
        with self.lock:
            self.c["batch_lines_ok" if code == 200 else "batch_lines_failed"] += 1
            self.custom_ids[cid] += 1
            rc = b.obj["request_counts"]
            rc["completed" if code == 200 else "failed"] += 1
        return code, body

    def write(self, b, parts, kept):
        """The output and error files from the parts, in order or shuffled: their ids."""
        order = list(range(len(kept)))
        if self.args.batch_shuffle:
            self.rng.shuffle(order)
        files = {}
        for key, ok, kind in (("output_file_id", True, "output"), ("error_file_id", False, "error")):
            picked = [kept[i] for i in order if kept[i][2] == ok]
            if not picked:
                continue
            fid = new_id("file-")
            path = self.files.path(fid)
            with open(path, "wb") as f:
                for at, length, _ in picked:
                    parts.seek(at)
                    f.write(parts.read(length))
                size = f.tell()
            self.files.add(fid, path, "%s_%s.jsonl" % (b.obj["id"], kind), "batch_" + kind, size)
            files[key] = fid
        return files

    def end(self, b, status, errors=None, failed=0, **files):
        now = int(time.time())
        with self.lock:
            o = b.obj
            o.update(status=status, **{status + "_at": now}, **files)
            if errors:
                o["errors"] = {"object": "list", "data": errors}
            o["request_counts"]["failed"] += failed
            if b.holds:
                self.enqueued.subtract(b.tokens)
                b.holds = False
            self.statuses[status] += 1

    def stats(self):
        """The batch fields of /stats."""
        with self.lock:
            out = {k: self.c[k] for k in (
                "batches_created", "batch_lines_submitted", "batch_lines_ok",
                "batch_lines_failed", "batch_lines_expired", "batch_lines_cancelled",
                "batch_queue_refused")}
            out["batch_statuses"] = dict(self.statuses)
            out["batch_custom_ids_twice"] = sum(1 for v in self.custom_ids.values() if v > 1)
        out.update(self.files.stats())
        return out


ROUTES = [("POST", re.compile(r"/batches$"), Batches.create),
          ("GET", re.compile(r"/batches$"), Batches.listing),
          ("GET", re.compile(r"/batches/([^/]+)$"), Batches.retrieve),
          ("POST", re.compile(r"/batches/([^/]+)/cancel$"), Batches.cancel)]
