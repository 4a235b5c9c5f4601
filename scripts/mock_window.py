"""mock_window.py: the mock's sliding-window limits: the global one (--rpm/--tpm) and one per
model (--model-limit MODEL=RPM:TPM, repeatable), as providers limit each model apart: every named
model has its own window of --window-s seconds and announces its own x-ratelimit-* headers, so a
429 for one model leaves another's window alone. Models not named keep the global window.
"""
import collections
import threading
import time


class Window:
    """At most rpm*W/60 requests and tpm*W/60 tokens in any W seconds (0: no such limit)."""

    def __init__(self, rpm, tpm, window_s):
        self.rpm, self.tpm, self.W = rpm, tpm, window_s
        self.lock = threading.Lock()
        self.window = collections.deque()  # (time, tokens) of admitted requests
        self.admitted = 0
        self.limited = 0

    def admit(self, tokens):
        """(ok, retry_after_s, headers), as the mock's State.admit answers."""
        W = self.W
        lim_r, lim_t = self.rpm * W / 60.0, self.tpm * W / 60.0
        now = time.monotonic()
        with self.lock:
            while self.window and now - self.window[0][0] >= W:
                self.window.popleft()
            used_r = len(self.window)
            used_t = sum(t for _, t in self.window)
            ok = (not self.rpm or used_r + 1 <= lim_r) and (not self.tpm or used_t + tokens <= lim_t)
            if ok:
                self.window.append((now, tokens))
                used_r += 1
                used_t += tokens
                self.admitted += 1
            else:
                self.limited += 1
            reset = max(0.001, W - (now - self.window[0][0])) if self.window else 0.001
            hdr = {}
            if self.rpm:
                hdr["x-ratelimit-limit-requests"] = str(self.rpm)
                hdr["x-ratelimit-remaining-requests"] = str(max(0, int(lim_r - used_r)))
                hdr["x-ratelimit-reset-requests"] = "%.3fs" % reset
            if self.tpm:
                hdr["x-ratelimit-limit-tokens"] = str(self.tpm)
                hdr["x-ratelimit-remaining-tokens"] = str(max(0, int(lim_t - used_t)))
                hdr["x-ratelimit-reset-tokens"] = "%.3fs" % reset
            if ok:
                return True, 0, hdr
            # the time until enough of the window has slid out to admit this request
            need_r = used_r + 1 - lim_r if self.rpm else 0
            need_t = used_t + tokens - lim_t if self.tpm else 0
            wait, acc_r, acc_t = 0.0, 0, 0
            for t, tok in self.window:
                acc_r += 1
                acc_t += tok
                if acc_r >= need_r and acc_t >= need_t:
                    wait = W - (now - t)
                    break
            return False, max(1, int(wait + 0.999)), hdr  # whole seconds, as HTTP has it


def parse(values, window_s):
    """{model: Window} of --model-limit's "MODEL=RPM:TPM" values (":TPM" may be left out);
    a bad value is a ValueError naming it."""
    out = {}
    for v in values or []:
        model, sep, lim = v.rpartition("=")
        rpm, _, tpm = lim.partition(":")
        try:
            rpm, tpm = int(rpm or 0), int(tpm or 0)
        except ValueError:
            rpm = -1
        if not sep or not model or rpm < 0 or tpm < 0 or not (rpm or tpm):
            raise ValueError("--model-limit wants MODEL=RPM:TPM, not %r" % v)
        out[model] = Window(rpm, tpm, window_s)
    return out


def stats(windows):
    """/stats model_limits: each named model's limits and what its window did."""
    return {m: {"rpm": w.rpm, "tpm": w.tpm, "admitted": w.admitted, "limited": w.limited}
            for m, w in windows.items()}
