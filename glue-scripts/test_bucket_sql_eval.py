"""Evaluates the exact text of bucket_sql_expr() with a small Python model of the Spark SQL it uses.

HONESTY NOTE: Spark does not run on this machine, so the SQL is NOT executed by Spark here. This file
parses the generated expression and evaluates it with Python stand-ins for the few Spark 3.5
built-ins it uses (modelled on Spark's documented/source behaviour, non-ANSI mode: NULL propagation,
32-bit INT wrap-around, Java-style %, sequence() counting down, 1-based substr with negative
positions, conv('') = NULL, upper-case hex()). Any function outside that set makes evaluation fail,
so the test fails if the expression is changed to use something else (e.g. Spark's Murmur3 hash()).
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


TOKEN = re.compile(r"\s*(?:(`(?:[^`]|``)*`)|('(?:[^']|'')*')|(\d+)|([A-Za-z_][A-Za-z0-9_]*)|(->|[(),+\-*/%=]))")
KEYWORDS = {"cast", "as", "case", "when", "then", "else", "end", "is", "not", "null", "or", "and", "int", "string"}


def tokenize(text):
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise SqlModelError(f"cannot tokenize at {text[pos:pos + 20]!r}")
        pos = m.end()
        ident, string, num, word, op = m.groups()
        if ident is not None:
            out.append(("ident", ident[1:-1].replace("``", "`")))
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
        if kind == "str":
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
        if target == "int":
            if isinstance(v, int):
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
    if name in ("octet_length", "length", "encode", "hex", "substr", "conv", "sequence") and any(a is None for a in args):
        return None  # NULL in, NULL out
    if name == "length":
        return len(args[0])  # characters (code points), not bytes
    if name == "octet_length":
        v = args[0]
        return len(v) if isinstance(v, bytes) else len(v.encode("utf-8"))
    if name == "encode":
        if str(args[1]).upper() not in ("UTF-8", "UTF8"):
            raise SqlModelError(f"encode charset {args[1]!r} not modelled")
        return args[0].encode("utf-8")
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

def mismatches(expr_text, column="customer_user_id", vectors=None):
    node, _ = compile_sql(expr_text)
    bad = []
    for v in vectors if vectors is not None else VECTORS["vectors"]:
        try:
            got = evaluate(node, {"__row__": {column: v["id"]}})
        except SqlModelError as err:
            got = f"error: {err}"
        if got != v["bucket"]:
            bad.append((v["id"][:40], v["bucket"], got))
    return bad


class ModelMatchesSparkSemantics(unittest.TestCase):
    """Pins the model to Spark behaviour documented in the Spark SQL function reference / source."""

    def test_documented_examples(self):
        self.assertEqual(eval_sql("sequence(1, 5)", {}), [1, 2, 3, 4, 5])
        self.assertEqual(eval_sql("sequence(5, 1)", {}), [5, 4, 3, 2, 1])
        self.assertEqual(eval_sql("sequence(0, -1)", {}), [0, -1])  # why the empty-string guard exists
        self.assertEqual(eval_sql("substr('Spark SQL', 5, 1)", {}), "k")
        self.assertEqual(eval_sql("substr('Spark SQL', -3, 2)", {}), "SQ")
        self.assertEqual(eval_sql("substr('AB', 3, 2)", {}), "")
        self.assertEqual(eval_sql("conv('100', 2, 10)", {}), "4")
        self.assertEqual(eval_sql("conv('FF', 16, 10)", {}), "255")
        self.assertIsNone(eval_sql("conv('', 16, 10)", {}))  # NumberConverter.convert: empty input -> null
        self.assertEqual(eval_sql("hex('Spark SQL')", {}), "537061726B2053514C")
        self.assertEqual(eval_sql("hex(encode('é', 'UTF-8'))", {}), "C3A9")
        self.assertEqual(eval_sql("octet_length('é')", {}), 2)
        self.assertEqual(eval_sql("0 - 7 % 3", {}), -1)
        self.assertEqual(eval_sql("(0 - 7) % 3", {}), -1)  # Java remainder, not Python's modulo
        self.assertEqual(eval_sql("2147483647 + 1", {}), -2147483648)  # INT wraps (non-ANSI)
        self.assertEqual(eval_sql("aggregate(sequence(1, 4), 0, (acc, x) -> acc + x)", {}), 10)
        self.assertEqual(eval_sql("CAST('42' AS INT)", {}), 42)
        self.assertIsNone(eval_sql("CAST(NULL AS INT)", {}))

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
            "0-based substr": ("2 * i + 1, 2", "2 * i, 2"),
            "wrong multiplier": ("acc * 31", "acc * 37"),
            "wrong modulus": ("% 256", "% 255"),
            "one byte short": ("octet_length(`customer_user_id`) - 1)", "octet_length(`customer_user_id`) - 2)"),
            "characters instead of bytes": ("sequence(0, octet_length(`customer_user_id`) - 1)", "sequence(0, length(`customer_user_id`) - 1)"),
        }
        for label, (old, new) in mutations.items():
            self.assertIn(old, good, label)
            self.assertNotEqual(mismatches(good.replace(old, new)), [], label)

    def test_the_empty_string_guard_is_needed(self):
        unguarded = fs.bucket_sql_expr("k").replace(" OR octet_length(`k`) = 0", "")
        self.assertNotEqual(unguarded, fs.bucket_sql_expr("k"))
        self.assertIsNone(eval_sql(unguarded, {"k": ""}))  # sequence(0,-1) -> conv('') -> NULL
        self.assertEqual(eval_sql(fs.bucket_sql_expr("k"), {"k": ""}), 0)

    def test_python_restatement_agrees(self):
        self.assertEqual([v["id"] for v in VECTORS["vectors"] if fs.emulate_bucket_sql(v["id"]) != v["bucket"]], [])


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
