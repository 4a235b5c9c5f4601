"""cypher_check.py FILE NAME...: checks a kgsup Cypher export the way a Cypher lexer reads it
(openCypher's grammar for string literals, backtick-quoted names, comments and statements) and
prints how many statements it holds. Fails on an unterminated string or name, an escape Cypher
does not define, a raw newline inside a string, or a statement not ended by ';'. Each NAME given
must come back, decoded, as one of the string literals."""
import sys

ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "r": "\r", "t": "\t", "b": "\b",
           "f": "\f"}


def lex(text):
    """Yields ('str', value), ('name', value), ('sym', char) and ('word', text) tokens."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
        elif text.startswith("//", i):
            i = text.index("\n", i) + 1 if "\n" in text[i:] else n
        elif c in "'\"":
            q, i, out = c, i + 1, []
            while True:
                if i >= n:
                    raise SystemExit("unterminated string")
                ch = text[i]
                if ch == q:
                    i += 1
                    break
                if ch == "\n":
                    raise SystemExit("raw newline inside a string literal")
                if ch == "\\":
                    e = text[i + 1:i + 2]
                    if e in ESCAPES:
                        out.append(ESCAPES[e])
                        i += 2
                    elif e == "u":
                        out.append(chr(int(text[i + 2:i + 6], 16)))
                        i += 6
                    else:
                        raise SystemExit("undefined escape \\%s" % e)
                    continue
                out.append(ch)
                i += 1
            yield ("str", "".join(out))
        elif c == "`":
            i, out = i + 1, []
            while True:
                j = text.find("`", i)
                if j < 0:
                    raise SystemExit("unterminated backtick name")
                out.append(text[i:j])
                if text[j + 1:j + 2] == "`":
                    out.append("`")
                    i = j + 2
                    continue
                i = j + 1
                break
            yield ("name", "".join(out))
        elif c.isalnum() or c in "_$":
            j = i
            while j < n and (text[j].isalnum() or text[j] in "_$"):
                j += 1
            yield ("word", text[i:j])
            i = j
        else:
            yield ("sym", c)
            i += 1


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    strings, statements, open_tokens = set(), 0, 0
    depth = 0
    for kind, v in lex(text):
        if kind == "str" or kind == "name":
            strings.add(v)
        if kind == "sym" and v in "({[":
            depth += 1
        elif kind == "sym" and v in ")}]":
            depth -= 1
            if depth < 0:
                raise SystemExit("unbalanced brackets")
        if kind == "sym" and v == ";":
            if depth:
                raise SystemExit("';' inside brackets")
            statements += 1
            open_tokens = 0
        else:
            open_tokens += 1
    if open_tokens:
        raise SystemExit("the last statement has no ';'")
    missing = [s for s in sys.argv[2:] if s not in strings]
    if missing:
        raise SystemExit("names not found as literals: %r" % missing)
    print(statements)


main()
