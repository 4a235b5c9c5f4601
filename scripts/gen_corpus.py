#!/usr/bin/python3
"""gen_corpus.py: writes a deterministic synthetic transcript corpus for tests, the demo and
benchmarks: interviews between speakers about people, places and organisations, in every
input format kgsup reads (.txt, .md, .vtt, .srt, .jsonl) in turn.

usage: gen_corpus.py DIR [--files N] [--words W] [--seed S] [--formats txt,md,vtt,srt,jsonl]
"""
import argparse
import os
import random

PEOPLE = ["Ada Lovelace", "Charles Babbage", "Alan Turing", "Grace Hopper", "Claude Shannon",
          "Katherine Johnson", "John McCarthy", "Barbara Liskov", "Dennis Ritchie", "Ken Thompson",
          "Margaret Hamilton", "Edsger Dijkstra", "Donald Knuth", "Frances Allen", "Tim Berners"]
PLACES = ["London", "Cambridge", "Princeton", "Bletchley", "Boston", "Geneva", "Zurich",
          "Stanford", "Berkeley", "Houston", "Manchester", "Edinburgh"]
ORGS = ["Analytical Engine", "Navy", "Harvard", "Bell Labs", "Apollo Program", "Xerox Parc",
        "Royal Society", "Cern", "Multics", "Unix"]
VERBS = ["worked with", "wrote to", "visited", "argued with", "was inspired by", "met",
         "talked about", "built a machine for", "lectured at", "remembered"]
FILLER = ["and honestly it changed everything", "which nobody expected at the time",
          "although the funding was always short", "and the notes survived for decades",
          "so we kept coming back to it", "and that is where the story really starts"]


def sentence(r):
    a = r.choice(PEOPLE)
    b = r.choice(PEOPLE + PLACES + ORGS)
    return "%s %s %s, %s." % (a, r.choice(VERBS), b, r.choice(FILLER))


def turns(r, words):
    speakers = ["Host", "Guest"]
    out, n, i = [], 0, 0
    while n < words:
        text = " ".join(sentence(r) for _ in range(r.randint(1, 4)))
        out.append((speakers[i % 2], text))
        n += len(text.split())
        i += 1
    return out


def ts(ms, sep):
    h, ms = divmod(ms, 3600000)
    m, ms = divmod(ms, 60000)
    s, ms = divmod(ms, 1000)
    return "%02d:%02d:%02d%s%03d" % (h, m, s, sep, ms)


def write(path, fmt, tt, idx):
    with open(path, "w") as f:
        if fmt in ("txt", "md"):
            if fmt == "md":
                f.write("# Interview %d\n\n" % idx)
            for spk, text in tt:
                f.write("%s: %s\n" % (spk, text))
        elif fmt in ("vtt", "srt"):
            sep, line = (".", "<v %s>%s</v>") if fmt == "vtt" else (",", "%s: %s")
            if fmt == "vtt":
                f.write("WEBVTT\n\n")
            t = 0
            for n, (spk, text) in enumerate(tt):
                d = 1000 + 60 * len(text)
                f.write("%d\n%s --> %s\n%s\n\n" % (n + 1, ts(t, sep), ts(t + d, sep), line % (spk, text)))
                t += d
        elif fmt == "jsonl":
            import json
            half = len(tt) // 2 or 1
            for part, chunk in enumerate((tt[:half], tt[half:])):
                if chunk:
                    text = "\n".join("%s: %s" % st for st in chunk)
                    f.write(json.dumps({"id": "interview-%d-%d" % (idx, part), "text": text}) + "\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--files", type=int, default=10)
    p.add_argument("--words", type=int, default=1500)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--formats", default="txt,md,vtt,srt,jsonl")
    a = p.parse_args()
    fmts = a.formats.split(",")
    os.makedirs(a.dir, exist_ok=True)
    r = random.Random(a.seed)
    for i in range(a.files):
        fmt = fmts[i % len(fmts)]
        write(os.path.join(a.dir, "interview-%05d.%s" % (i, fmt)), fmt, turns(r, a.words), i)


if __name__ == "__main__":
    main()
