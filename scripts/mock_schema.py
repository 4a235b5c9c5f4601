"""mock_schema.py: the mock server's JSON Schema side (scripts/mock_llm.py imports it).

make(schema, rng, words) builds a value valid against a schema of the subset structured
outputs use (type, also a list of types; properties, required, additionalProperties, items,
enum, const, minItems/maxItems, minimum/maximum, minLength/maxLength, $defs/$ref, anyOf).
The caller seeds rng from the request body, so one request always gets one answer; strings
are runs of the words given (the user prompt's), so answers differ per document.

errors(schema, value) checks a value against the same subset and returns the JSON path of the
first error, or None: the mock checks its own answers with it (a schema it cannot satisfy is
its bug, not the client's), and tests can use it on what a client stored.
"""
import re

WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")
# arrays without minItems/maxItems get this many items: enough for top_n and a token budget
# to have something to cut
DEFAULT_ITEMS = (3, 6)
DEPTH_LIMIT = 12


def prompt_words(text):
    return WORD_RE.findall(text) or ["mock", "answer", "text"]


def resolve(root, schema):
    """Follows $ref ("#/$defs/X", "#/definitions/X", any "#/a/b" pointer) to the schema."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#"):
            raise ValueError("mock: only local $ref is supported: " + ref)
        node = root
        for part in ref[1:].split("/")[1:]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        schema = node
        seen += 1
        if seen > 64:
            raise ValueError("mock: $ref loop at " + ref)
    return schema


def types_of(schema):
    t = schema.get("type")
    if t is None:
        if "properties" in schema:
            return ["object"]
        if "items" in schema:
            return ["array"]
        return ["string"]
    return t if isinstance(t, list) else [t]


class Maker:
    def __init__(self, root, rng, words):
        self.root, self.rng, self.words = root, rng, words

    def make(self, schema, depth=0):
        s = resolve(self.root, schema)
        if s is True or s == {}:
            return self.string({})
        if "const" in s:
            return s["const"]
        if "enum" in s:
            return self.rng.choice(s["enum"])
        if "anyOf" in s:
            # a non-null branch when there is one: an answer with content tests more
            branches = [b for b in s["anyOf"] if resolve(self.root, b).get("type") != "null"]
            return self.make(self.rng.choice(branches or s["anyOf"]), depth + 1)
        ts = types_of(s)
        t = next((x for x in ts if x != "null"), ts[0])
        if depth > DEPTH_LIMIT and "null" in ts:
            t = "null"
        return getattr(self, t)(s, depth + 1)

    def object(self, s, depth):
        props = s.get("properties", {})
        return {k: self.make(v, depth) for k, v in props.items()}

    def array(self, s, depth):
        lo, hi = s.get("minItems", 0), s.get("maxItems")
        a = max(DEFAULT_ITEMS[0], lo)
        b = max(DEFAULT_ITEMS[1], a) if hi is None else min(max(DEFAULT_ITEMS[1], a), hi)
        n = lo if depth > DEPTH_LIMIT else self.rng.randint(min(a, b), b)
        items = s.get("items", {})
        return [self.make(items, depth) for _ in range(n)]

    def string(self, s, depth=0):
        lo, hi = s.get("minLength", 0), s.get("maxLength")
        start = self.rng.randrange(len(self.words))
        n = self.rng.randint(3, 10)
        text = " ".join(self.words[(start + i) % len(self.words)] for i in range(n))
        while len(text) < lo:
            text += " " + self.rng.choice(self.words)
        if hi is not None:
            text = text[:hi]
        return text

    def _range(self, s, default):
        lo = s.get("minimum", s.get("exclusiveMinimum", default[0]))
        hi = s.get("maximum", s.get("exclusiveMaximum", max(lo, default[1])))
        return lo, hi

    def integer(self, s, depth):
        lo, hi = self._range(s, (0, 100))
        lo = int(lo) + (1 if "exclusiveMinimum" in s and "minimum" not in s else 0)
        hi = int(hi) - (1 if "exclusiveMaximum" in s and "maximum" not in s else 0)
        return self.rng.randint(lo, max(lo, hi))

    def number(self, s, depth):
        lo, hi = self._range(s, (0, 1))
        v = round(self.rng.uniform(lo, hi), 2)
        return min(max(v, lo), hi)

    def boolean(self, s, depth):
        return self.rng.random() < 0.5

    def null(self, s, depth):
        return None


def make(schema, rng, words):
    return Maker(schema, rng, words).make(schema)


TYPE_CHECK = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def errors(schema, value, root=None, path="$"):
    """The first place value breaks schema, as "JSON path: reason", or None."""
    root = schema if root is None else root
    s = resolve(root, schema)
    if s is True or s == {}:
        return None
    if s is False:
        return path + ": not allowed"
    if "const" in s and value != s["const"]:
        return path + ": not the constant"
    if "enum" in s and value not in s["enum"]:
        return path + ": not one of the enum"
    if "anyOf" in s:
        if all(errors(b, value, root, path) for b in s["anyOf"]):
            return path + ": matches no anyOf branch"
    if "type" in s and not any(TYPE_CHECK[t](value) for t in types_of(s)):
        return path + ": not of type " + str(s["type"])
    if isinstance(value, dict):
        props = s.get("properties", {})
        for k in s.get("required", []):
            if k not in value:
                return path + ": missing " + k
        for k, v in value.items():
            if k in props:
                e = errors(props[k], v, root, path + "." + k)
            elif s.get("additionalProperties", True) is False:
                e = path + ": unexpected key " + k
            elif isinstance(s.get("additionalProperties"), dict):
                e = errors(s["additionalProperties"], v, root, path + "." + k)
            else:
                e = None
            if e:
                return e
    if isinstance(value, list):
        if len(value) < s.get("minItems", 0) or len(value) > s.get("maxItems", len(value)):
            return path + ": item count out of range"
        for i, v in enumerate(value):
            e = errors(s.get("items", {}), v, root, "%s[%d]" % (path, i))
            if e:
                return e
    if isinstance(value, str):
        if len(value) < s.get("minLength", 0) or len(value) > s.get("maxLength", len(value)):
            return path + ": length out of range"
    if TYPE_CHECK["number"](value):
        if value < s.get("minimum", value) or value > s.get("maximum", value):
            return path + ": out of range"
        if "exclusiveMinimum" in s and value <= s["exclusiveMinimum"]:
            return path + ": out of range"
        if "exclusiveMaximum" in s and value >= s["exclusiveMaximum"]:
            return path + ": out of range"
    return None
