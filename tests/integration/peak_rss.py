#!/usr/bin/python3
"""peak_rss.py OUT CMD...: runs CMD, samples its own anonymous memory (RssAnon: the heap, not
the files it maps, such as the LMDB store) every few milliseconds, writes the peak in kB to
OUT and exits with CMD's exit code."""
import subprocess
import sys
import time


def rss_anon(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    out, cmd = sys.argv[1], sys.argv[2:]
    proc = subprocess.Popen(cmd)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, rss_anon(proc.pid))
        time.sleep(0.005)
    with open(out, "w") as f:
        f.write("%d\n" % peak)
    sys.exit(proc.returncode)


main()
