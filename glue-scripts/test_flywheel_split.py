"""Unit tests of the Glue job's pure helpers (python3 -m unittest; no Spark here, none claimed)."""
import json
import os
import unittest

import flywheel_split as fs

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "..", "test", "fixtures", "bucket-vectors.json"), encoding="utf-8") as f:
    VECTORS = json.load(f)


def plan(**overrides):
    p = {
        "version": 1, "dataset": "infobase", "snapshotDt": "2025-10-31", "runId": "r1", "bucketCount": 256, "keyColumn": "customer_user_id",
        "metadataUri": "s3://data/split/metadata/snapshot_dt.txt",
        "tables": [{
            "target": "ibe_01a", "source": "IBE_01", "sourceFiles": ["s3://data/raw/IBE_01/part-0.parquet"], "sourceBytes": 10,
            "columns": [{"source": "CUSTOMER_USER_ID", "target": "customer_user_id"}, {"source": "AGE", "target": "age"}],
            "keySourceColumn": "CUSTOMER_USER_ID", "fileCount": 1, "outputUri": "s3://data/split/ibe_01a/snapshot_dt=2025-10-31/run_id=r1/",
        }],
        "skipped": [], "droppedColumns": {},
    }
    p.update(overrides)
    return p


class BucketFunction(unittest.TestCase):
    def test_design_examples(self):
        self.assertEqual(fs.bucket_of("abc"), 98)
        self.assertEqual(fs.bucket_of("customer_0001"), 194)
        self.assertEqual(fs.bucket_of(""), 0)
        self.assertEqual(fs.bucket_of("ÄÖü-ünïcødé"), 211)
        self.assertEqual(fs.bucket_of("Zoë-50"), 11)
        self.assertEqual(fs.bucket_of(None), VECTORS["nullBucket"])

    def test_every_shared_vector(self):
        self.assertGreaterEqual(len(VECTORS["vectors"]), 1000)
        wrong = [v for v in VECTORS["vectors"] if fs.bucket_of(v["id"]) != v["bucket"]]
        self.assertEqual(wrong, [])

    def test_unsigned_fold_agrees(self):
        self.assertEqual([v["id"] for v in VECTORS["vectors"] if fs.bucket_fold(v["id"]) != v["bucket"]], [])


class BucketSqlExpression(unittest.TestCase):
    """Spark cannot run here: the expression's pieces are emulated in Python and its text pinned to them."""

    def test_emulated_pieces_match_every_vector(self):
        self.assertEqual([v["id"] for v in VECTORS["vectors"] if fs.emulate_bucket_sql(v["id"]) != v["bucket"]], [])
        self.assertEqual(fs.emulate_bucket_sql(None), 0)

    def test_expression_spells_exactly_those_pieces(self):
        e = fs.bucket_sql_expr("CUSTOMER_USER_ID")
        for piece in ["hex(encode(`CUSTOMER_USER_ID`, 'UTF-8'))", "substr(", "2 * i + 1, 2)", "conv(", ", 16, 10)", "acc * 31 +", "% 256",
                      "sequence(0, octet_length(`CUSTOMER_USER_ID`) - 1)", "IS NULL OR octet_length(`CUSTOMER_USER_ID`) = 0 THEN 0"]:
            self.assertIn(piece, e)
        self.assertNotIn("hash(", e.replace("hex(", ""))
        self.assertEqual(e.count("("), e.count(")"))

    def test_hostile_column_names_stay_quoted(self):
        e = fs.bucket_sql_expr("a`b")
        self.assertIn("`a``b`", e)
        items = fs.select_list([{"source": "x`; DROP", "target": "x"}], "k")
        self.assertEqual(items[0], "`x``; DROP` AS `x`")
        self.assertTrue(items[-1].endswith("AS `id_bucket`"))


class PlanValidation(unittest.TestCase):
    def test_a_good_plan_passes(self):
        self.assertEqual(fs.validate_plan(plan(), "2025-10-31", "r1")["runId"], "r1")

    def test_bad_plans_name_snapshot_and_table(self):
        cases = [
            (plan(version=2), "version"),
            (plan(snapshotDt="2025-09-30"), "not 2025-10-31"),
            (plan(runId="r2"), "not r1"),
            (plan(tables=[]), "no tables"),
            (plan(tables=[dict(plan()["tables"][0], fileCount=0)]), "fileCount 0"),
            (plan(tables=[dict(plan()["tables"][0], fileCount=257)]), "fileCount 257"),
            (plan(tables=[dict(plan()["tables"][0], outputUri="s3://data/x")]), "outputUri"),
            (plan(tables=[dict(plan()["tables"][0], target="IBE")]), "table IBE"),
            (plan(tables=[dict(plan()["tables"][0], columns=[{"source": "A", "target": "age"}])]), "must be the first column"),
            (plan(tables=[dict(plan()["tables"][0], columns=[{"source": "C", "target": "customer_user_id"}, {"source": "A", "target": "a"}, {"source": "B", "target": "a"}])]), "duplicate target columns"),
        ]
        for p, message in cases:
            with self.assertRaises(ValueError) as ctx:
                fs.validate_plan(p, "2025-10-31", "r1")
            self.assertIn(message, str(ctx.exception))
            self.assertIn("snapshot_dt=2025-10-31", str(ctx.exception))

    def test_tables_filter(self):
        self.assertIsNone(fs.tables_filter(None))
        self.assertEqual(fs.tables_filter("a, b"), ["a", "b"])
        with self.assertRaises(ValueError):
            fs.tables_filter("a;b")
        self.assertEqual([t["target"] for t in fs.select_tables(plan(), ["ibe_01a"])], ["ibe_01a"])
        with self.assertRaises(ValueError) as ctx:
            fs.select_tables(plan(), ["nope"])
        self.assertIn("nope", str(ctx.exception))


class Arguments(unittest.TestCase):
    def test_optional_args(self):
        argv = ["job.py", "--SNAPSHOT_DT", "2025-10-31", "--TABLES_FILTER", "a,b", "--X=1"]
        self.assertEqual(fs.optional_arg(argv, "TABLES_FILTER"), "a,b")
        self.assertEqual(fs.optional_arg(argv, "X"), "1")
        self.assertIsNone(fs.optional_arg(argv, "MISSING"))

    def test_uris(self):
        self.assertEqual(fs.result_uri("s3://d/_runs/x/plan.json"), "s3://d/_runs/x/result.json")
        self.assertEqual(fs.split_s3_uri("s3://d/a/b.txt"), ("d", "a/b.txt"))
        with self.assertRaises(ValueError):
            fs.result_uri("s3://d/x.json")


class FileRanges(unittest.TestCase):
    def test_contiguous_cover(self):
        for n in (1, 2, 3, 7, 68, 256):
            ranges = fs.file_ranges(n)
            self.assertEqual(len(ranges), n)
            self.assertEqual(ranges[0][0], 0)
            self.assertEqual(ranges[-1][1], 255)
            for (a, b), (c, _) in zip(ranges, ranges[1:]):
                self.assertEqual(b + 1, c)
        self.assertEqual(fs.file_ranges(3), [(0, 84), (85, 169), (170, 255)])
        with self.assertRaises(ValueError):
            fs.file_ranges(0)


class Logging(unittest.TestCase):
    def test_json_line(self):
        import io
        import contextlib
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            fs.log("INFO", "hello", snapshot_dt="2025-10-31", run_id="r1", table="t")
        self.assertEqual(json.loads(buf.getvalue())["table"], "t")


if __name__ == "__main__":
    unittest.main()
