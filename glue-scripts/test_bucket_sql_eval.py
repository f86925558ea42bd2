"""Evaluates the exact text of bucket_sql_expr() with a small Python model of the Spark SQL it uses.

No Spark runs here (npm test): this file parses the generated expression and evaluates it with Python
stand-ins for the few Spark 3.5 built-ins it uses (non-ANSI mode: NULL propagation, 32-bit INT
wrap-around, Java-style %, CAST(string AS BINARY) = the stored bytes, decode(…, 'ISO-8859-1') = one
character per byte, split(s, '') = the characters ([''] for ''), ascii() = the first code point (0 for
''), and the older pieces sequence/substr/conv/hex/encode). Any function outside that set makes
evaluation fail, so the test fails if the expression is changed to use something else (e.g. Spark's
Murmur3 hash()).

The model is pinned to Spark by SPARK_EXAMPLES: test/aws-shape/bucket-vectors-on-spark.test.ts (npm run
test:aws) evaluates every one of them on Spark 3.5.4, and the generated expression itself over every
vector. A STRING whose stored bytes are not valid UTF-8 is a RawString here.
"""
import json
import os
import re
import unittest

import flywheel_split as fs

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "..", "test", "fixtures", "bucket-vectors.json"), encoding="utf-8") as f:
    VECTORS = json.load(f)


# ---------------------------------------------------------------------------------------------
# A tiny Spark SQL (subset) parser and evaluator
# ---------------------------------------------------------------------------------------------

class SqlModelError(Exception):
    pass


class RawString(bytes):
    """A Spark STRING value whose stored bytes are not valid UTF-8 (parquet stores bytes; Spark keeps them as read)."""


TOKEN = re.compile(r"\s*(?:(`(?:[^`]|``)*`)|[xX]'([0-9A-Fa-f]*)'|('(?:[^']|'')*')|(\d+)|([A-Za-z_][A-Za-z0-9_]*)|(->|[(),+\-*/%=]))")
KEYWORDS = {"cast", "as", "case", "when", "then", "else", "end", "is", "not", "null", "or", "and", "int", "string", "binary"}


def tokenize(text):
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise SqlModelError(f"cannot tokenize at {text[pos:pos + 20]!r}")
        pos = m.end()
        ident, hexlit, string, num, word, op = m.groups()
        if ident is not None:
            out.append(("ident", ident[1:-1].replace("``", "`")))
        elif hexlit is not None:
            out.append(("bin", bytes.fromhex(hexlit)))
        elif string is not None:
            out.append(("str", string[1:-1].replace("''", "'")))
        elif num is not None:
            out.append(("num", int(num)))
        elif word is not None:
            out.append(("kw", word.lower()) if word.lower() in KEYWORDS else ("word", word))
        else:
            out.append(("op", op))
    return out


class Parser:
    def __init__(self, text):
        self.toks = tokenize(text)
        self.i = 0
        self.functions = set()

    def peek(self, k=0):
        return self.toks[self.i + k] if self.i + k < len(self.toks) else ("eof", None)

    def take(self, kind=None, value=None):
        tok = self.peek()
        if (kind and tok[0] != kind) or (value is not None and tok[1] != value):
            raise SqlModelError(f"expected {kind} {value!r}, got {tok!r}")
        self.i += 1
        return tok

    def accept(self, kind, value):
        if self.peek() == (kind, value):
            self.i += 1
            return True
        return False

    def parse(self):
        node = self.expr()
        if self.peek()[0] != "eof":
            raise SqlModelError(f"trailing tokens from {self.peek()!r}")
        return node

    def expr(self):
        return self.or_()

    def or_(self):
        node = self.and_()
        while self.accept("kw", "or"):
            node = ("or", node, self.and_())
        return node

    def and_(self):
        node = self.comparison()
        while self.accept("kw", "and"):
            node = ("and", node, self.comparison())
        return node

    def comparison(self):
        node = self.additive()
        if self.accept("kw", "is"):
            negate = self.accept("kw", "not")
            self.take("kw", "null")
            return ("isnull", node, negate)
        if self.accept("op", "="):
            return ("eq", node, self.additive())
        return node

    def additive(self):
        node = self.multiplicative()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            node = ("arith", op, node, self.multiplicative())
        return node

    def multiplicative(self):
        node = self.unary()
        while self.peek() in (("op", "*"), ("op", "/"), ("op", "%")):
            op = self.take()[1]
            node = ("arith", op, node, self.unary())
        return node

    def unary(self):
        if self.accept("op", "-"):
            return ("arith", "-", ("lit", 0), self.unary())
        return self.primary()

    def lambda_params(self):
        """Parameters if a lambda starts here ((a, b) -> or x ->), else None; consumes them."""
        if self.peek()[0] == "word" and self.peek(1) == ("op", "->"):
            name = self.take()[1]
            self.take("op", "->")
            return [name]
        if self.peek() == ("op", "("):
            k, names = 1, []
            while self.peek(k)[0] == "word":
                names.append(self.peek(k)[1])
                if self.peek(k + 1) == ("op", ","):
                    k += 2
                    continue
                break
            if names and self.peek(k + 1) == ("op", ")") and self.peek(k + 2) == ("op", "->"):
                self.i += k + 3
                return names
        return None

    def primary(self):
        params = self.lambda_params()
        if params is not None:
            return ("lambda", params, self.expr())
        kind, value = self.peek()
        if kind == "num":
            self.i += 1
            return ("lit", value)
        if kind in ("str", "bin"):
            self.i += 1
            return ("lit", value)
        if kind == "ident":
            self.i += 1
            return ("col", value)
        if (kind, value) == ("op", "("):
            self.i += 1
            node = self.expr()
            self.take("op", ")")
            return node
        if (kind, value) == ("kw", "null"):
            self.i += 1
            return ("lit", None)
        if (kind, value) == ("kw", "cast"):
            self.i += 1
            self.take("op", "(")
            inner = self.expr()
            self.take("kw", "as")
            target = self.take("kw")[1]
            self.take("op", ")")
            return ("cast", inner, target)
        if (kind, value) == ("kw", "case"):
            self.i += 1
            branches = []
            while self.accept("kw", "when"):
                cond = self.expr()
                self.take("kw", "then")
                branches.append((cond, self.expr()))
            otherwise = self.expr() if self.accept("kw", "else") else ("lit", None)
            self.take("kw", "end")
            return ("case", branches, otherwise)
        if kind == "word":
            self.i += 1
            if self.accept("op", "("):
                name = value.lower()
                self.functions.add(name)
                args = []
                if not self.accept("op", ")"):
                    args.append(self.expr())
                    while self.accept("op", ","):
                        args.append(self.expr())
                    self.take("op", ")")
                return ("call", name, args)
            return ("var", value)
        raise SqlModelError(f"unexpected token {self.peek()!r}")


def wrap32(n):
    """Spark INT arithmetic in non-ANSI mode wraps around."""
    return (n + 2**31) % 2**32 - 2**31


def java_rem(a, b):
    """Spark's % on integers: Java remainder, sign of the dividend; x % 0 is NULL (non-ANSI)."""
    if b == 0:
        return None
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def substr(s, pos, length):
    """Spark substr(str, pos, len): 1-based; pos < 0 counts from the end; pos 0 behaves as 1."""
    n = len(s)
    start = pos - 1 if pos > 0 else (n + pos if pos < 0 else 0)
    end = start + length
    start = max(start, 0)
    if start >= end:
        return ""
    return s[start:min(end, n)]


def conv(s, from_base, to_base):
    """Spark conv() for non-negative input: leading valid digits are read, the rest ignored; '' -> NULL."""
    if s == "":
        return None
    digits = 0
    value = 0
    for ch in s:
        try:
            d = int(ch, from_base)
        except ValueError:
            break
        value = value * from_base + d
        digits += 1
    if to_base != 10:
        raise SqlModelError("model supports conv(..., 10) only")
    return str(value)


def sequence(start, stop, step=None):
    """Spark sequence(): inclusive; counts down when start > stop (sequence(0, -1) = [0, -1])."""
    if step is None:
        step = 1 if start <= stop else -1
    if step == 0 or (stop - start) * step < 0:
        raise SqlModelError("illegal sequence boundaries")
    return list(range(start, stop + (1 if step > 0 else -1), step))


def evaluate(node, env):
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "col":
        if node[1] not in env["__row__"]:
            raise SqlModelError(f"unknown column {node[1]}")
        return env["__row__"][node[1]]
    if kind == "var":
        if node[1] not in env:
            raise SqlModelError(f"unbound name {node[1]}")
        return env[node[1]]
    if kind == "or":
        a, b = evaluate(node[1], env), evaluate(node[2], env)
        if a is True or b is True:
            return True
        return None if a is None or b is None else False
    if kind == "and":
        a, b = evaluate(node[1], env), evaluate(node[2], env)
        if a is False or b is False:
            return False
        return None if a is None or b is None else True
    if kind == "isnull":
        v = evaluate(node[1], env)
        return (v is not None) if node[2] else (v is None)
    if kind == "eq":
        a, b = evaluate(node[1], env), evaluate(node[2], env)
        return None if a is None or b is None else a == b
    if kind == "arith":
        op, a, b = node[1], evaluate(node[2], env), evaluate(node[3], env)
        if a is None or b is None:
            return None
        if not (isinstance(a, int) and isinstance(b, int)) or isinstance(a, bool) or isinstance(b, bool):
            raise SqlModelError(f"arithmetic on non-integers {a!r} {op} {b!r} (Spark would coerce to DOUBLE)")
        if op == "+":
            return wrap32(a + b)
        if op == "-":
            return wrap32(a - b)
        if op == "*":
            return wrap32(a * b)
        if op == "%":
            return java_rem(a, b)
        raise SqlModelError("'/' is DOUBLE division in Spark; not modelled")
    if kind == "cast":
        v, target = evaluate(node[1], env), node[2]
        if v is None:
            return None
        if target == "binary":
            if isinstance(v, bytes):  # binary, or a RawString: its stored bytes
                return bytes(v)
            if isinstance(v, str):
                return v.encode("utf-8")  # a STRING's bytes as stored, no re-encoding
            raise SqlModelError(f"CAST({v!r} AS BINARY) not modelled")
        if target == "int":
            if isinstance(v, int) and not isinstance(v, bool):
                return v
            if isinstance(v, str) and re.fullmatch(r"\s*[+-]?\d+\s*", v):
                n = int(v)
                return n if -2**31 <= n < 2**31 else None
            return None
        raise SqlModelError(f"CAST to {target} not modelled")
    if kind == "case":
        for cond, value in node[1]:
            if evaluate(cond, env) is True:  # later branches are not evaluated (Spark's CASE short-circuits)
                return evaluate(value, env)
        return evaluate(node[2], env)
    if kind == "lambda":
        return ("closure", node[1], node[2], env)
    if kind == "call":
        return call(node[1], node[2], env)
    raise SqlModelError(f"unknown node {kind}")


def apply(closure, *args):
    _, params, body, env = closure
    if len(params) != len(args):
        raise SqlModelError(f"lambda takes {len(params)} arguments, got {len(args)}")
    return evaluate(body, {**env, **dict(zip(params, args))})


def call(name, arg_nodes, env):
    args = [evaluate(a, env) for a in arg_nodes]
    if name in ("octet_length", "length", "encode", "hex", "substr", "conv", "sequence", "split", "decode", "ascii") and any(a is None for a in args):
        return None  # NULL in, NULL out
    if any(isinstance(a, RawString) for a in args) and name not in ("octet_length", "hex"):
        # e.g. encode() decodes the stored bytes to a Java String first (U+FFFD for each malformed sequence)
        raise SqlModelError(f"{name}() of a STRING that is not valid UTF-8 is not modelled")
    if name == "length":
        return len(args[0])  # characters (code points), not bytes
    if name == "octet_length":
        v = args[0]
        return len(v) if isinstance(v, bytes) else len(v.encode("utf-8"))
    if name == "encode":
        if str(args[1]).upper() not in ("UTF-8", "UTF8"):
            raise SqlModelError(f"encode charset {args[1]!r} not modelled")
        return args[0].encode("utf-8")
    if name == "decode":
        data, charset = args
        if not isinstance(data, bytes):
            raise SqlModelError("decode() of a non-binary value not modelled")
        if str(charset).upper() in ("ISO-8859-1", "LATIN1"):
            return data.decode("latin-1")  # one character per byte, code point = the byte
        if str(charset).upper() in ("UTF-8", "UTF8"):
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError as err:
                raise SqlModelError("decode() of invalid UTF-8 not modelled") from err
        raise SqlModelError(f"decode charset {charset!r} not modelled")
    if name == "split":
        text, pattern = args[0], args[1]
        if len(args) > 2 or pattern != "":
            raise SqlModelError("split() is modelled for the empty pattern only")
        return list(text) if text else [""]  # split('', '') = ['']
    if name == "ascii":
        return ord(args[0][0]) if args[0] else 0  # the first code point; ascii('') = 0
    if name == "hex":
        v = args[0]
        if isinstance(v, str):
            v = v.encode("utf-8")
        if not isinstance(v, bytes):
            raise SqlModelError("hex of a non-binary, non-string value not modelled")
        return v.hex().upper()
    if name == "substr":
        return substr(args[0], args[1], args[2] if len(args) > 2 else 2**31 - 1)
    if name == "conv":
        return conv(args[0], args[1], args[2])
    if name == "sequence":
        return sequence(*args)
    if name == "aggregate":
        arr, acc, merge = args[0], args[1], args[2]
        if arr is None:
            return None
        for x in arr:
            acc = apply(merge, acc, x)
            if acc is not None and (not isinstance(acc, int) or isinstance(acc, bool)):
                raise SqlModelError("aggregate's merge must return the zero's type (INT)")
        return apply(args[3], acc) if len(args) > 3 else acc
    if name == "transform":
        arr, fn = args
        if arr is None:
            return None
        return [apply(fn, x) if len(fn[1]) == 1 else apply(fn, x, i) for i, x in enumerate(arr)]
    raise SqlModelError(f"function {name}() is not one this model knows")


def compile_sql(text):
    p = Parser(text)
    return p.parse(), p.functions


def eval_sql(text, row):
    node, _ = compile_sql(text)
    return evaluate(node, {"__row__": row})


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------

def mismatches(expr_text, column="customer_user_id", vectors=None, bucket_count=256):
    """Vectors whose evaluated bucket differs from the vector file's 256-bucket value % bucket_count."""
    node, _ = compile_sql(expr_text)
    bad = []
    for v in vectors if vectors is not None else VECTORS["vectors"]:
        try:
            got = evaluate(node, {"__row__": {column: v["id"]}})
        except SqlModelError as err:
            got = f"error: {err}"
        if got != v["bucket"] % bucket_count:
            bad.append((v["id"][:40], v["bucket"] % bucket_count, got))
    return bad


# (Spark SQL, the value Spark 3.5 gives): the model must give each; bucket-vectors-on-spark.test.ts checks them on Spark.
SPARK_EXAMPLES = [
    ("sequence(1, 5)", [1, 2, 3, 4, 5]),
    ("sequence(5, 1)", [5, 4, 3, 2, 1]),
    ("sequence(0, -1)", [0, -1]),  # counts down: why the earlier expression needed an empty-string guard
    ("substr('Spark SQL', 5, 1)", "k"),
    ("substr('Spark SQL', -3, 2)", "SQ"),
    ("substr('AB', 3, 2)", ""),
    ("conv('100', 2, 10)", "4"),
    ("conv('FF', 16, 10)", "255"),
    ("conv('', 16, 10)", None),  # NumberConverter.convert: empty input -> null
    ("hex('Spark SQL')", "537061726B2053514C"),
    ("hex(encode('é', 'UTF-8'))", "C3A9"),
    ("octet_length('é')", 2),
    ("0 - 7 % 3", -1),
    ("(0 - 7) % 3", -1),  # Java remainder, not Python's modulo
    ("2147483647 + 1", -2147483648),  # INT wraps (non-ANSI)
    ("aggregate(sequence(1, 4), 0, (acc, x) -> acc + x)", 10),
    ("CAST('42' AS INT)", 42),
    ("CAST(NULL AS INT)", None),
    ("CAST('é' AS BINARY)", b"\xc3\xa9"),  # a STRING's stored bytes
    ("decode(X'C3A9FF00', 'ISO-8859-1')", "Ã©ÿ\x00"),  # one character per byte
    ("decode(X'C3A9', 'UTF-8')", "é"),
    ("split('abc', '')", ["a", "b", "c"]),
    ("split('é€😀', '')", ["é", "€", "😀"]),  # characters, not bytes
    ("split('', '')", [""]),
    ("ascii('')", 0),
    ("ascii('A')", 65),
    ("ascii('ÿ')", 255),
    ("ascii('😀x')", 128512),  # the first code point, not the first byte
    ("ascii(decode(X'FF', 'ISO-8859-1'))", 255),
    ("aggregate(split('ab', ''), 0, (acc, ch) -> acc * 31 + ascii(ch))", 97 * 31 + 98),
    ("split(CAST(NULL AS STRING), '')", None),
]


class ModelMatchesSparkSemantics(unittest.TestCase):
    """Pins the model to Spark 3.5's behaviour (SPARK_EXAMPLES, each also checked on Spark by npm run test:aws)."""

    def test_spark_examples(self):
        for sql, want in SPARK_EXAMPLES:
            with self.subTest(sql=sql):
                self.assertEqual(eval_sql(sql, {}), want)

    def test_raw_strings(self):
        raw = RawString(b"a\xffb")
        self.assertEqual(eval_sql("CAST(`k` AS BINARY)", {"k": raw}), b"a\xffb")
        self.assertEqual(eval_sql("octet_length(`k`)", {"k": raw}), 3)
        self.assertEqual(eval_sql("hex(`k`)", {"k": raw}), "61FF62")  # Spark hexes a STRING's stored bytes
        with self.assertRaises(SqlModelError):
            eval_sql("encode(`k`, 'UTF-8')", {"k": raw})

    def test_unknown_functions_fail(self):
        for text in ("hash(`k`)", "xxhash64(`k`)", "pmod(1, 2)", "my_udf(`k`)"):
            with self.assertRaises(SqlModelError, msg=text):
                eval_sql(text, {"k": "abc"})


class GeneratedBucketExpression(unittest.TestCase):
    def test_evaluates_to_every_shared_vector(self):
        self.assertGreaterEqual(len(VECTORS["vectors"]), 1000)
        self.assertEqual(mismatches(fs.bucket_sql_expr("customer_user_id")), [])

    def test_null_and_empty_keys(self):
        expr = fs.bucket_sql_expr("customer_user_id")
        self.assertEqual(eval_sql(expr, {"customer_user_id": None}), VECTORS["nullBucket"])
        self.assertEqual(eval_sql(expr, {"customer_user_id": ""}), 0)

    def test_uses_exactly_the_allowed_built_ins(self):
        _, functions = compile_sql(fs.bucket_sql_expr("customer_user_id"))
        self.assertEqual(functions, set(fs.BUCKET_SQL_FUNCTIONS))
        self.assertNotIn("hash", functions)

    def test_hostile_key_column_name(self):
        name = "cust`id; DROP --"
        expr = fs.bucket_sql_expr(name)
        self.assertEqual(mismatches(expr, column=name, vectors=VECTORS["vectors"][:50]), [])

    def test_the_model_catches_broken_expressions(self):
        """Each plausible mistake must make the vector check fail, or the check above proves nothing."""
        good = fs.bucket_sql_expr("customer_user_id")
        mutations = {
            "wrong multiplier": ("acc * 31", "acc * 37"),
            "wrong modulus": ("% 256", "% 255"),
            "wrong start": ("''), 0, (acc", "''), 1, (acc"),
            "characters instead of bytes (UTF-8 decoding)": ("'ISO-8859-1'", "'UTF-8'"),
            "characters instead of bytes (no binary)": ("decode(CAST(`customer_user_id` AS BINARY), 'ISO-8859-1')", "`customer_user_id`"),
        }
        for label, (old, new) in mutations.items():
            self.assertIn(old, good, label)
            self.assertNotEqual(mismatches(good.replace(old, new)), [], label)

    def test_empty_string_and_the_null_guard(self):
        expr = fs.bucket_sql_expr("k")
        self.assertEqual(eval_sql(expr, {"k": ""}), 0)  # split('', '') = [''], ascii('') = 0: no guard needed
        unguarded = expr.replace("CASE WHEN `k` IS NULL THEN 0 ELSE ", "CASE WHEN `other` IS NULL THEN 0 ELSE ")
        self.assertNotEqual(unguarded, expr)
        self.assertIsNone(eval_sql(unguarded, {"k": None, "other": 1}))  # without the guard a NULL key has no bucket

    def test_invalid_utf8_keys_fold_their_bytes(self):
        """Regression: a key whose bytes are not valid UTF-8 is bucketed by its bytes, as Hive/Trino bucketing hashes
        them. The earlier form hashed hex(encode(c, 'UTF-8')), which Spark computes from a U+FFFD-replaced decoding
        (on Spark 3.5.4: 0x80 -> 239 instead of 128); no encode() now, so no re-encoding."""
        _, functions = compile_sql(fs.bucket_sql_expr("k"))
        self.assertNotIn("encode", functions)
        cases = [b"\x80", b"\xc0\xaf", b"\xe2\x82", b"\xf0\x9f\x98", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xff", b"a\xffb", b"A\xc3", b"x" * 600 + b"\xfe"]
        expr = fs.bucket_sql_expr("k")
        self.assertEqual([eval_sql(expr, {"k": RawString(c)}) for c in cases], [fs.bucket_of_bytes(c) for c in cases])
        self.assertEqual(eval_sql(expr, {"k": RawString(b"\x80")}), 128)

    def test_python_restatement_agrees(self):
        self.assertEqual([v["id"] for v in VECTORS["vectors"] if fs.emulate_bucket_sql(v["id"]) != v["bucket"]], [])


class SmallerBucketCounts(unittest.TestCase):
    """bucket_sql_expr(c, N) for N < 256: the 256-bucket expression % N, evaluated over every shared vector."""

    def test_sixteen_and_two_buckets_over_every_shared_vector(self):
        for n in (16, 2):
            with self.subTest(bucket_count=n):
                expr = fs.bucket_sql_expr("customer_user_id", n)
                self.assertEqual(mismatches(expr, bucket_count=n), [])
                self.assertNotEqual(mismatches(expr), [], "the vectors' 256-bucket values must not match: the check could not fail")
                self.assertEqual({eval_sql(expr, {"customer_user_id": v["id"]}) for v in VECTORS["vectors"]}, set(range(n)))

    def test_every_allowed_count(self):
        for n in (2, 4, 8, 16, 32, 64, 128, 256):
            with self.subTest(bucket_count=n):
                self.assertEqual(mismatches(fs.bucket_sql_expr("customer_user_id", n), vectors=VECTORS["vectors"][:200], bucket_count=n), [])

    def test_null_empty_and_raw_keys(self):
        expr = fs.bucket_sql_expr("k", 16)
        self.assertEqual(eval_sql(expr, {"k": None}), 0)
        self.assertEqual(eval_sql(expr, {"k": ""}), 0)
        cases = [b"\x80", b"\xc0\xaf", b"\xff", b"a\xffb", b"A\xc3"]
        self.assertEqual([eval_sql(expr, {"k": RawString(c)}) for c in cases], [fs.bucket_of_bytes(c, 16) for c in cases])

    def test_uses_exactly_the_allowed_built_ins(self):
        for n in (2, 16):
            _, functions = compile_sql(fs.bucket_sql_expr("customer_user_id", n))
            self.assertEqual(functions, set(fs.BUCKET_SQL_FUNCTIONS))

    def test_the_model_catches_broken_expressions(self):
        good = fs.bucket_sql_expr("customer_user_id", 16)
        inner = fs.bucket_sql_expr("customer_user_id")
        self.assertNotEqual(mismatches(good.replace("% 16)", "% 15)"), bucket_count=16), [], "wrong outer modulus")
        self.assertNotEqual(mismatches(inner, bucket_count=16), [], "the outer modulus left out")
        self.assertNotEqual(mismatches(good.replace("% 256 AS INT", "% 255 AS INT"), bucket_count=16), [], "wrong inner modulus")
        self.assertNotEqual(mismatches(good.replace("acc * 31", "acc * 33"), bucket_count=16), [], "wrong multiplier")

    def test_hostile_key_column_name(self):
        name = "cust`id; DROP --"
        self.assertEqual(mismatches(fs.bucket_sql_expr(name, 16), column=name, vectors=VECTORS["vectors"][:50], bucket_count=16), [])


class SelectListQuoting(unittest.TestCase):
    HOSTILE = ["plain", "MiXeD", "a`b", "``", "x`; DROP TABLE t; --", "with space", "dot.ted", "ünïcødé", "new\nline", "'quote'", "`"]

    def test_every_item_parses_back_to_the_same_names(self):
        cols = [{"source": s, "target": f"c{i}"} for i, s in enumerate(self.HOSTILE)]
        items = fs.select_list(cols, self.HOSTILE[2])
        self.assertEqual(len(items), len(cols) + 1)
        for c, item in zip(cols, items):
            self.assertEqual(tokenize(item), [("ident", c["source"]), ("kw", "as"), ("ident", c["target"])], item)
        bucket_tokens = tokenize(items[-1])
        self.assertEqual(bucket_tokens[-2:], [("kw", "as"), ("ident", "id_bucket")])
        self.assertEqual({t[1] for t in bucket_tokens if t[0] == "ident"}, {"a`b", "id_bucket"})

    def test_bucket_item_evaluates_from_the_source_column(self):
        items = fs.select_list([{"source": "CUSTOMER`ID", "target": "customer_user_id"}], "CUSTOMER`ID")
        expr = items[-1][: -len(" AS `id_bucket`")]
        self.assertEqual(eval_sql(expr, {"CUSTOMER`ID": "abc"}), 98)


if __name__ == "__main__":
    unittest.main()
