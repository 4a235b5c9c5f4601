"""mock_files.py: the mock's Files endpoints, in OpenAI's shape, for the Batch API
(scripts/mock_batch.py; imported by scripts/mock_llm.py). Any path ending as shown is served;
the API key is checked as for chat (401).

POST .../files: multipart/form-data with "purpose" (only "batch") and "file" (the JSONL), read
as it streams in (Content-Length or chunked; each part's headers by email.parser) and written to
disk in --batch-dir, never whole in memory: {"id": "file-...", "object": "file", "bytes",
"created_at", "filename", "purpose": "batch", "status": "processed"}; 400 for another purpose,
no file or a body that is not such a form. GET .../files/ID answers the file object,
GET .../files/ID/content its bytes streamed from disk (input, output and error files alike:
the batches' files are "batch_output" and "batch_error"), DELETE .../files/ID removes it; 404
for an unknown id.

/stats: files_uploaded.
"""
import atexit
import email.parser
import email.policy
import json
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
import uuid

PIECE = 1 << 20
HEADER_MAX = 64 << 10  # a part's headers, a small field: more is not a form this mock takes


def new_id(prefix):
    return prefix + uuid.uuid4().hex[:24]


def refuse(code, message, param=None):
    return code, {"error": {"message": message, "type": "invalid_request_error", "param": param,
                            "code": None}}


def send(handler, code, obj):
    """Writes one answer (not counted in the chat answers' status)."""
    body = json.dumps(obj).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def drain(handler):
    """Reads the body away: the client may still be sending it."""
    for _ in body_pieces(handler):
        pass


def body_pieces(handler):
    """The request body in pieces, by Content-Length or chunked."""
    rf = handler.rfile
    if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
        while True:
            size = int(rf.readline(1024).split(b";")[0].strip() or b"x", 16)
            if not size:
                while rf.readline(1024).strip():  # trailers
                    pass
                return
            while size:
                piece = rf.read(min(size, PIECE))
                if not piece:
                    raise EOFError("the body ended early")
                size -= len(piece)
                yield piece
            rf.readline(8)
    left = int(handler.headers.get("Content-Length") or 0)
    while left > 0:
        piece = rf.read(min(left, PIECE))
        if not piece:
            raise EOFError("the body ended early")
        left -= len(piece)
        yield piece


def multipart(pieces, boundary, open_file):
    """Reads a multipart/form-data body as it comes: {name: bytes} of its small fields, and
    {"file": (filename, bytes written)} for the part named "file", written to open_file()."""
    delim = b"\r\n--" + boundary
    buf = b"\r\n"  # the first delimiter has no CRLF before it
    fields, pieces = {}, iter(pieces)

    def more():
        nonlocal buf
        piece = next(pieces, None)
        if piece is None:
            raise ValueError("the form ends without its closing boundary")
        buf += piece

    while (at := buf.find(delim)) < 0:  # the preamble
        buf = buf[-len(delim):]
        more()
    buf = buf[at + len(delim):]
    while True:
        while len(buf) < 2:
            more()
        if buf.startswith(b"--"):
            return fields
        while (end := buf.find(b"\r\n\r\n")) < 0:
            if len(buf) > HEADER_MAX:
                raise ValueError("a part's headers are too long")
            more()
        head = email.parser.BytesHeaderParser(policy=email.policy.HTTP).parsebytes(buf[2:end + 4])
        buf = buf[end + 4:]
        disp = head.get("Content-Disposition")
        name = disp.params.get("name") if disp is not None else None
        sink, kept, size = None, [], 0
        if name == "file":
            sink = open_file()
        while True:
            at = buf.find(delim)
            body = buf if at < 0 else buf[:at]
            if at < 0:  # keep what could be the start of the delimiter
                body = buf[:max(0, len(buf) - len(delim) + 1)]
            size += len(body)
            if sink:
                sink.write(body)
            elif size <= HEADER_MAX:
                kept.append(body)
            else:
                raise ValueError("form field %r is too long" % name)
            buf = buf[len(body):]
            if at >= 0:
                buf = buf[len(delim):]
                break
            more()
        if sink:
            fields[name] = (disp.params.get("filename") or "file.jsonl", size)
        elif name:
            fields[name] = b"".join(kept)



def route(owner, routes, handler, method):
    """Answers the request with the first of routes [(method, path regex, fn(owner, handler,
    *groups, query))] matching it and says True; False when none does."""
    path, _, query = handler.path.partition("?")
    for m, rx, fn in routes:
        found = rx.search(path)
        if m == method and found:
            break
    else:
        return False
    expected = os.environ.get(owner.args.key_env, "")
    if expected and handler.headers.get("Authorization") != "Bearer " + expected:
        drain(handler)
        send(handler, 401, {"error": {"message": "Incorrect API key provided",
                                      "type": "invalid_request_error", "code": "invalid_api_key"}})
        return True
    out = fn(owner, handler, *found.groups(), urllib.parse.parse_qs(query))
    if out:  # None: answered already (a file's content)
        send(handler, *out)
    return True


class Files:
    """The files, each on disk in --batch-dir; the lock guards the table."""

    def __init__(self, args):
        self.args, self.dir = args, args.batch_dir
        if not self.dir:
            self.dir = tempfile.mkdtemp(prefix="batch-", dir=args.dir)
            atexit.register(shutil.rmtree, self.dir, True)
        os.makedirs(self.dir, exist_ok=True)
        self.lock = threading.Lock()
        self.files = {}  # id -> file object (with its "path", not answered)
        self.uploaded = 0

    def get(self, fid):
        with self.lock:
            return self.files.get(fid) if isinstance(fid, str) else None

    def path(self, fid):
        """Where a new file of this id goes."""
        return os.path.join(self.dir, fid)

    def upload(self, handler, q):
        ct = email.parser.HeaderParser(policy=email.policy.HTTP).parsestr(
            "Content-Type: %s\r\n\r\n" % handler.headers.get("Content-Type", ""))
        boundary = ct["Content-Type"].params.get("boundary") if ct["Content-Type"] else None
        if ct.get_content_type() != "multipart/form-data" or not boundary:
            drain(handler)
            return refuse(400, "Expected a multipart/form-data upload.")
        fid = new_id("file-")
        path = self.path(fid)
        made = []
        try:
            form = multipart(body_pieces(handler), boundary.encode(),
                             lambda: made.append(open(path, "wb")) or made[-1])
        except (ValueError, EOFError) as e:
            handler.close_connection = True
            form = {"": str(e)}
        finally:
            for f in made:
                f.close()
        purpose = form.get("purpose", b"").decode(errors="replace")
        why = (("The upload is not a form: %s." % form[""], None) if "" in form else
               ("'purpose' must be 'batch', not %r." % purpose, "purpose") if purpose != "batch" else
               ("Missing the form field 'file'.", "file") if "file" not in form else None)
        if why:
            if os.path.exists(path):
                os.unlink(path)
            return refuse(400, *why)
        name, size = form["file"]
        obj = self.add(fid, path, name, "batch", size)
        with self.lock:
            self.uploaded += 1
        time.sleep(getattr(self.args, "batch_stall_s", 0))
        return 200, obj

    def add(self, fid, path, name, purpose, size):
        obj = {"id": fid, "object": "file", "bytes": size, "created_at": int(time.time()),
               "filename": name, "purpose": purpose, "status": "processed", "path": path}
        with self.lock:
            self.files[fid] = obj
        return {k: v for k, v in obj.items() if k != "path"}

    def info(self, handler, fid, q):
        f = self.get(fid)
        return (200, {k: v for k, v in f.items() if k != "path"}) if f else self.no_file(fid)

    def no_file(self, fid):
        return refuse(404, "No such File object: %s" % fid, "id")

    def delete(self, handler, fid, q):
        with self.lock:
            f = self.files.pop(fid, None)
        if not f:
            return self.no_file(fid)
        os.unlink(f["path"])
        return 200, {"id": fid, "object": "file", "deleted": True}

    def stats(self):
        with self.lock:
            return {"files_uploaded": self.uploaded}

    def content(self, handler, fid, q):
        """The file's bytes, streamed from disk."""
        f = self.get(fid)
        if not f:
            return self.no_file(fid)
        with open(f["path"], "rb") as src:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/octet-stream")
            handler.send_header("Content-Length", str(os.fstat(src.fileno()).st_size))
            handler.end_headers()
            shutil.copyfileobj(src, handler.wfile, PIECE)
        return None


ROUTES = [("POST", re.compile(r"/files$"), Files.upload),
          ("GET", re.compile(r"/files/([^/]+)/content$"), Files.content),
          ("GET", re.compile(r"/files/([^/]+)$"), Files.info),
          ("DELETE", re.compile(r"/files/([^/]+)$"), Files.delete)]
