#!/usr/bin/python3
"""gen_feedback.py: writes a deterministic synthetic customer-feedback table for the rows job
(etc/jobs/feedback.json), its tests, demo and benchmark: response_id (R000123, unique, rising
with gaps), score (0-10, following the comment's mood), comment, channel (email, app, web,
phone). Comments are short or long, some with commas, quotes, line breaks and non-ASCII letters
(so CSV quoting is exercised), about 2% blank, and about 15% repeat an earlier comment exactly or
in another case or spacing ("Great service" / "great  service", or decomposed accents), as
real surveys do.

usage: gen_feedback.py N OUT.csv [--seed S] [--xlsx OUT.xlsx]
"""
import argparse
import csv
import random
import sys
import unicodedata

SHORT = {
    "positive": ["Great service", "Fast delivery", "Love it!", "Very helpful staff", "Excellent",
                 "Easy to use", "Best app I've used", "Quick and friendly", "Perfect, thanks",
                 "Très bien, merci", "Schnelle Lieferung 👍", "Smooth checkout"],
    "neutral": ["n/a", "Nothing to add", "OK", "It's fine", "Average", "No comment",
                "As expected", "Delivery on time", "Used it once"],
    "negative": ["Too expensive", "App keeps crashing", "Slow delivery", "Rude staff",
                 "Never again", "Terrible support", "Still waiting for my refund",
                 "Website is confusing", "Wrong item sent"],
}
SHORT_ABOUT = {
    "positive": ["love the new {p}", "{p} works great", "great {p}, fast delivery",
                 "{who2} sorted it out in minutes", "happy with my {p}"],
    "neutral": ["{p} is ok", "bought a {p}, no issues", "{p} arrived on {d}",
                "no opinion on the {p} yet"],
    "negative": ["{p} broke after {n} days", "{p} arrived damaged", "still no {p} after {n} days",
                 "charged twice for the {p}", "{p} not as described"],
}
PRODUCTS = ["kettle", "pair of boots", "phone case", "desk lamp", "subscription", "coffee maker",
            "backpack", "monitor", "garden hose", "gift card"]
PEOPLE = ["Sam", "Priya", "the agent", "your colleague on the phone", "the driver", "José"]
OPENERS = {
    "positive": ["I ordered a {p} on {d} and it arrived the next morning, well packed.",
                 "{who} was really helpful when I called about my {p}.",
                 "Second time I've bought a {p} here and, again, no problems at all.",
                 "The app made it easy to track my {p}, from dispatch to my door."],
    "neutral": ["I ordered a {p} on {d}; it arrived when you said it would.",
                "The {p} is what the page described, nothing more, nothing less.",
                "I haven't used the {p} much yet, so it's too early to say.",
                "Filled this in because the e-mail asked me to."],
    "negative": ["I ordered a {p} on {d} and it arrived {n} days late, with a dented box.",
                 "{who} told me \"it's on its way\", but it wasn't, and nobody called back.",
                 "The app logged me out three times while I was paying for my {p}.",
                 "I was charged twice for one {p}, and the refund took {n} weeks."],
}
MIDDLES = {
    "positive": ["Prices are fair, and the \"free returns\" promise is real.",
                 "Checkout took two minutes.", "Support answered within the hour.",
                 "I've already recommended you to friends."],
    "neutral": ["Prices are about the same as elsewhere.", "The website works, more or less.",
                "Delivery was on the day I picked.", "I had no reason to contact support."],
    "negative": ["I spent {n} minutes on hold, twice.", "The \"live chat\" is a bot that loops.",
                 "Your prices went up, the quality went down.",
                 "The tracking page said \"delivered\" for a parcel I never got."],
}
CLOSERS = {
    "positive": ["Keep it up!", "Will order again.", "Thanks, {who2}!", "10/10 would recommend."],
    "neutral": ["That's all.", "Might order again.", "No strong feelings either way.", ""],
    "negative": ["Please fix this.", "I'm cancelling my account.",
                 "I want a refund, not another voucher.", "Very disappointed."],
}
DAYS = ["Monday", "Tuesday", "Friday", "the 3rd", "Black Friday", "12/03"]
# a comment's mood, the scores it comes with (weights of 0..10)
MOODS = [("positive", 0.45, [0, 0, 0, 0, 0, 0, 1, 3, 8, 10, 12]),
         ("neutral", 0.25, [0, 0, 1, 1, 2, 4, 6, 8, 5, 2, 1]),
         ("negative", 0.30, [5, 4, 6, 7, 6, 5, 3, 2, 1, 0, 0])]
CHANNELS = [("email", 3), ("app", 3), ("web", 3), ("phone", 1)]
DUP_SHARE = 0.15
BLANK_SHARE = 0.02


def fill(r, template):
    text = template.format(p=r.choice(PRODUCTS), d=r.choice(DAYS), n=r.randint(2, 9),
                           who=r.choice(PEOPLE), who2=r.choice(PEOPLE[:2]))
    return text[:1].upper() + text[1:]


def long_comment(r, mood):
    """Two to six sentences, one in twelve a whole story of ten or so; a third of them as a
    list on several lines."""
    parts = [fill(r, r.choice(OPENERS[mood]))]
    parts += [fill(r, m) for m in r.sample(MIDDLES[mood], r.randint(1, 3))]
    if r.random() < 1 / 12:
        parts += [fill(r, t) for t in r.sample(OPENERS[mood] + MIDDLES[mood], 6)]
    closer = fill(r, r.choice(CLOSERS[mood]))
    if r.random() < 0.33:
        text = "Two things:\n1. %s\n2. %s" % (parts[0], " ".join(parts[1:]))
        return text + ("\n\n" + closer if closer else "")
    return " ".join(parts + ([closer] if closer else []))


def variant(r, text):
    """The same comment once normalised (NFC, case-folded, trimmed, spaces collapsed)."""
    kinds = ["exact", "lower", "upper", "spaces", "pad"]
    if any(ord(c) > 127 and unicodedata.decomposition(c) for c in text):
        kinds.append("nfd")
    kind = r.choice(kinds)
    if kind == "lower":
        return text.lower()
    if kind == "upper":
        return text.upper()
    if kind == "spaces":
        return text.replace(" ", "  ", 1) if " " in text else text + " "
    if kind == "pad":
        return "  " + text + " \t"
    if kind == "nfd":
        return unicodedata.normalize("NFD", text)
    return text


def short_comment(r, mood):
    if r.random() < 0.5:
        return r.choice(SHORT[mood])
    return fill(r, r.choice(SHORT_ABOUT[mood]))


def norm(text):
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def new_comment(r, mood, seen):
    """A comment not said before (once normalised), so that repeats are the DUP_SHARE alone."""
    for _ in range(50):
        text = short_comment(r, mood) if r.random() < 0.4 else long_comment(r, mood)
        if norm(text) not in seen:
            break
    seen.add(norm(text))
    return text


def rows(n, seed):
    r = random.Random(seed)
    rid, said, short, seen = 0, [], [], set()
    for _ in range(n):
        rid += r.choice([1, 1, 1, 2, 3])
        mood, _, weights = r.choices(MOODS, weights=[m[1] for m in MOODS])[0]
        score = r.choices(range(11), weights=weights)[0]
        if r.random() < BLANK_SHARE:
            comment = ""
        elif said and r.random() < DUP_SHARE:
            # repeats are mostly of short comments, as in real surveys (short: those of said
            # under 40 characters, in order, kept as they come: the table's size is linear)
            comment = variant(r, r.choice(short if short and r.random() < 0.8 else said))
        else:
            comment = new_comment(r, mood, seen)
            said.append(comment)
            if len(comment) < 40:
                short.append(comment)
        channel = r.choices([c for c, _ in CHANNELS], weights=[w for _, w in CHANNELS])[0]
        yield ["R%06d" % rid, score, comment, channel]


HEADER = ["response_id", "score", "comment", "channel"]


def write_xlsx(path, table):
    try:
        import openpyxl
    except ImportError:
        sys.exit("gen_feedback.py: --xlsx needs Debian's python3-openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Responses"
    ws.append(HEADER)
    for row in table:
        ws.append(row)
    wb.save(path)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("n", type=int, help="rows")
    p.add_argument("out", help="the CSV written")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--xlsx", help="also write the same table as .xlsx")
    a = p.parse_args()
    table = list(rows(a.n, a.seed))
    with open(a.out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)  # RFC 4180: CRLF, fields quoted when they hold , " or a line break
        w.writerow(HEADER)
        w.writerows(table)
    if a.xlsx:
        write_xlsx(a.xlsx, table)


if __name__ == "__main__":
    main()
