"""Unit tests of the Glue job's pure helpers (python3 -m unittest; no Spark here, none claimed)."""
import contextlib
import copy
import io
import json
import os
import unittest

import flywheel_split as fs

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "..", "test", "fixtures", "bucket-vectors.json"), encoding="utf-8") as f:
    VECTORS = json.load(f)

D, R = "2025-10-31", "r1"

# The contract (docs/ARCHITECTURE.md, "Bucket function"), written out here rather than read from fs.BUCKET_COUNTS
ALLOWED_BUCKET_COUNTS = (2, 4, 8, 16, 32, 64, 128, 256)


def hive_bucket(data, n):
    """Hive bucketing v1 computed directly, independent of flywheel_split: h = 31*h + signed byte in 32 bits,
    then (h & 0x7fffffff) % n."""
    h = 0
    for b in data:
        h = (h * 31 + (b if b < 128 else b - 256)) % 2**32
    return (h & 0x7FFFFFFF) % n


def table(target="ibe_01a", **overrides):
    t = {
        "target": target, "source": "IBE_01", "sourceFiles": ["s3://data/raw/IBE_01/part-0.parquet"], "sourceBytes": 10,
        "columns": [{"source": "CUSTOMER_USER_ID", "target": "customer_user_id"}, {"source": "AGE", "target": "age"}],
        "keySourceColumn": "CUSTOMER_USER_ID", "fileCount": 1, "outputUri": f"s3://data/split/{target}/snapshot_dt={D}/run_id={R}/",
    }
    t.update(overrides)
    return t


def plan(**overrides):
    p = {
        "version": 1, "dataset": "infobase", "snapshotDt": D, "runId": R, "bucketCount": 256, "keyColumn": "customer_user_id",
        "metadataUri": "s3://data/split/metadata/snapshot_dt.txt", "tables": [table()], "skipped": [], "droppedColumns": {},
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
        vectors = VECTORS["vectors"]
        self.assertGreaterEqual(len(vectors), 1000)
        ids = [v["id"] for v in vectors]
        self.assertIn("", ids)
        self.assertTrue(any(any(ord(ch) > 0xFFFF for ch in i) for i in ids), "the file should hold 4-byte UTF-8 (emoji)")
        self.assertTrue(any(len(i.encode("utf-8")) > 1000 for i in ids), "the file should hold long ids")
        self.assertEqual([v["id"][:40] for v in vectors if fs.bucket_of(v["id"]) != v["bucket"]], [])

    def test_unsigned_fold_agrees(self):
        self.assertEqual([v["id"][:40] for v in VECTORS["vectors"] if fs.bucket_fold(v["id"]) != v["bucket"]], [])
        self.assertEqual(fs.bucket_fold(None), 0)

    def test_raw_bytes(self):
        """A STRING key need not be valid UTF-8 (parquet stores bytes; Spark keeps them): the bucket is over the bytes."""
        self.assertEqual([v["id"][:40] for v in VECTORS["vectors"] if fs.bucket_of_bytes(v["id"].encode("utf-8")) != v["bucket"]], [])
        # on Spark 3.5.4 (test/aws-shape/split-on-spark.test.ts): the earlier hex(encode(c, 'UTF-8')) form gave 239, 176 and 206 here
        self.assertEqual(fs.bucket_of_bytes(b"\x80"), 128)
        self.assertEqual(fs.bucket_of_bytes(b"\xc0\xaf"), 239)
        self.assertEqual(fs.bucket_of_bytes(b"A\xc3"), 162)
        self.assertEqual(fs.emulate_bucket_sql(b"\x80"), 128)
        self.assertEqual(fs.emulate_bucket_sql(b"A\xc3"), 162)


class BucketCount(unittest.TestCase):
    """id_bucket for N buckets (N a power of two from 2 to 256) = the 256-bucket value % N = Hive's (h & 0x7fffffff) % N."""

    def test_constants(self):
        self.assertEqual(fs.BUCKET_COUNTS, ALLOWED_BUCKET_COUNTS)
        self.assertEqual((fs.MAX_BUCKET_COUNT, fs.DEFAULT_BUCKET_COUNT, fs.BUCKET_COUNT), (256, 256, 256))

    def test_sixteen_buckets_over_every_shared_vector_is_hive_directly(self):
        vectors = VECTORS["vectors"]
        wrong = [v["id"][:40] for v in vectors
                 if not fs.bucket_of(v["id"], 16) == fs.bucket_of(v["id"]) % 16 == v["bucket"] % 16 == hive_bucket(v["id"].encode("utf-8"), 16)]
        self.assertEqual(wrong, [])
        self.assertEqual({fs.bucket_of(v["id"], 16) for v in vectors}, set(range(16)))  # every bucket, none above 15

    def test_every_allowed_count_over_every_shared_vector(self):
        for n in ALLOWED_BUCKET_COUNTS:
            with self.subTest(bucket_count=n):
                wrong = [v["id"][:40] for v in VECTORS["vectors"] if not (
                    fs.bucket_of(v["id"], n) == hive_bucket(v["id"].encode("utf-8"), n) == v["bucket"] % n
                    == fs.bucket_of_bytes(v["id"].encode("utf-8"), n) == fs.bucket_fold(v["id"], n)
                    == fs.emulate_bucket_sql(v["id"], n))]
                self.assertEqual(wrong, [])
                self.assertEqual((fs.bucket_of(None, n), fs.bucket_fold(None, n), fs.emulate_bucket_sql(None, n)), (0, 0, 0))

    def test_examples(self):
        self.assertEqual(fs.bucket_of("customer_0001", 16), 2)  # 194 % 16
        self.assertEqual(fs.bucket_of("abc", 16), 2)  # 98 % 16
        self.assertEqual(fs.bucket_of("Zoë-50", 16), 11)
        self.assertEqual(fs.bucket_of("Zoë-50", 2), 1)
        self.assertEqual(fs.bucket_of("abc", 2), 0)
        self.assertEqual(fs.bucket_of("customer_0001", 128), 66)
        self.assertEqual(fs.bucket_of("customer_0001", 256), fs.bucket_of("customer_0001"))
        self.assertEqual(fs.bucket_of_bytes(b"\x80", 16), 0)  # 128 % 16
        self.assertEqual(fs.bucket_of_bytes(b"A\xc3", 16), 2)  # 162 % 16

    def test_raw_bytes_are_hive_directly(self):
        for data in (b"\x80", b"\xc0\xaf", b"A\xc3", b"\xff" * 7, bytes(range(256)), b"x" * 1000 + b"\xfe"):
            for n in ALLOWED_BUCKET_COUNTS:
                self.assertEqual(fs.bucket_of_bytes(data, n), hive_bucket(data, n), (data[:8], n))

    def test_other_counts_are_refused(self):
        for bad in (0, 1, 3, 6, 100, 255, 257, 512, -16, 16.0, "16", True, None):
            with self.subTest(bad=bad):
                for fn in (lambda: fs.bucket_of("abc", bad), lambda: fs.bucket_of_bytes(b"abc", bad), lambda: fs.bucket_fold("abc", bad),
                           lambda: fs.bucket_sql_expr("k", bad), lambda: fs.emulate_bucket_sql("abc", bad)):
                    with self.assertRaises(ValueError) as ctx:
                        fn()
                    self.assertIn("2, 4, 8, 16, 32, 64, 128, 256", str(ctx.exception))

    def test_sql_for_256_is_unchanged_and_smaller_counts_wrap_it(self):
        today = ("CAST(CASE WHEN `customer_user_id` IS NULL THEN 0 ELSE "
                 "aggregate(split(decode(CAST(`customer_user_id` AS BINARY), 'ISO-8859-1'), ''), 0, "
                 "(acc, ch) -> CAST((acc * 31 + ascii(ch)) % 256 AS INT)) END AS INT)")
        self.assertEqual(fs.bucket_sql_expr("customer_user_id"), today)
        self.assertEqual(fs.bucket_sql_expr("customer_user_id", 256), today)
        self.assertEqual(fs.bucket_sql_expr("customer_user_id", 16), f"({today} % 16)")
        self.assertEqual(fs.bucket_sql_expr("customer_user_id", 2), f"({today} % 2)")

    def test_select_list_uses_the_bucket_count(self):
        cols = table()["columns"]
        self.assertEqual(fs.select_list(cols, "CUSTOMER_USER_ID", 16)[-1], fs.bucket_sql_expr("CUSTOMER_USER_ID", 16) + " AS `id_bucket`")
        self.assertEqual(fs.select_list(cols, "CUSTOMER_USER_ID", 256), fs.select_list(cols, "CUSTOMER_USER_ID"))


class SelectList(unittest.TestCase):
    def test_quoting(self):
        self.assertEqual(fs.quote("age"), "`age`")
        self.assertEqual(fs.quote("a`b"), "`a``b`")
        self.assertEqual(fs.quote("``"), "``````")
        for bad in ("", None, 3):
            with self.assertRaises(ValueError):
                fs.quote(bad)

    def test_items_in_plan_order_then_id_bucket(self):
        items = fs.select_list(table()["columns"], "CUSTOMER_USER_ID")
        self.assertEqual(items[:2], ["`CUSTOMER_USER_ID` AS `customer_user_id`", "`AGE` AS `age`"])
        self.assertEqual(items[2], fs.bucket_sql_expr("CUSTOMER_USER_ID") + " AS `id_bucket`")
        self.assertNotIn("CAST(`AGE`", " ".join(items))  # cast-free

    def test_hostile_source_names(self):
        items = fs.select_list([{"source": "x`; DROP", "target": "x"}], "k")
        self.assertEqual(items[0], "`x``; DROP` AS `x`")
        self.assertIn("`k`", items[-1])

    def test_output_stats(self):
        self.assertEqual(fs.output_stats_exprs("customer_user_id"), ["count(1) AS `rows`", "count(1) - count(`customer_user_id`) AS `null_keys`"])


class SourceSchema(unittest.TestCase):
    DTYPES = [("CUSTOMER_USER_ID", "string"), ("Age", "int")]

    def test_missing_columns_case_insensitive(self):
        cols = [{"source": "customer_user_id", "target": "customer_user_id"}, {"source": "AGE", "target": "age"}, {"source": "ZIP", "target": "zip"}]
        self.assertEqual(fs.missing_columns(self.DTYPES, cols), ["ZIP"])

    def test_key_type(self):
        self.assertIsNone(fs.key_type_error(self.DTYPES, "CUSTOMER_USER_ID"))
        self.assertIsNone(fs.key_type_error(self.DTYPES, "customer_user_id"))
        self.assertIn("bigint, not string", fs.key_type_error([("CUSTOMER_USER_ID", "bigint")], "CUSTOMER_USER_ID"))
        self.assertIn("binary", fs.key_type_error([("CUSTOMER_USER_ID", "binary")], "CUSTOMER_USER_ID"))
        self.assertIn("not in the source files", fs.key_type_error(self.DTYPES, "ID"))


class PlanValidation(unittest.TestCase):
    def assertRejected(self, p, message, snapshot_dt=D, run_id=R):
        with self.assertRaises(ValueError) as ctx:
            fs.validate_plan(p, snapshot_dt, run_id)
        self.assertIn(message, str(ctx.exception))
        self.assertIn(f"snapshot_dt={snapshot_dt}", str(ctx.exception))
        return str(ctx.exception)

    def test_a_good_plan_passes_unchanged(self):
        p = plan(tables=[table(), table("ibe_01b", fileCount=256)])
        before = copy.deepcopy(p)
        self.assertIs(fs.validate_plan(p, D, R), p)
        self.assertEqual(p, before)

    def test_plan_level_errors(self):
        self.assertRejected([], "not a JSON object")
        self.assertRejected(plan(version=2), "version must be 1")
        self.assertRejected(plan(version="1"), "version must be 1")
        self.assertRejected(plan(snapshotDt="2025-09-30"), "snapshot_dt=2025-09-30, not 2025-10-31")
        self.assertRejected(plan(runId="r2"), "run_id=r2, not r1")
        self.assertRejected(plan(keyColumn="Customer_User_ID"), "keyColumn")
        self.assertRejected(plan(metadataUri="/tmp/x.txt"), "metadataUri")
        self.assertRejected(plan(metadataUri="s3://data/metadata/"), "metadataUri")
        self.assertRejected(plan(tables=[]), "no tables")
        self.assertRejected(plan(dataset=""), "dataset")

    def test_every_allowed_bucket_count_passes(self):
        for n in ALLOWED_BUCKET_COUNTS:
            with self.subTest(bucket_count=n):
                p = plan(bucketCount=n, tables=[table(fileCount=1), table("ibe_01b", fileCount=n)])
                self.assertIs(fs.validate_plan(p, D, R), p)

    def test_other_bucket_counts_are_refused(self):
        for bad in (0, 1, 3, 100, 255, 257, 512, -16, 16.0, "16", True, None, [16]):
            with self.subTest(bad=bad):
                text = self.assertRejected(plan(bucketCount=bad), f"bucketCount must be a power of two from 2 to 256 (one of 2, 4, 8, 16, 32, 64, 128, 256), got {bad!r}")
                self.assertIn(f"plan for snapshot_dt={D} run_id={R}", text)
        missing = plan()
        del missing["bucketCount"]
        self.assertRejected(missing, "bucketCount must be a power of two from 2 to 256 (one of 2, 4, 8, 16, 32, 64, 128, 256), got None")

    def test_file_count_is_at_most_the_bucket_count(self):
        """A file is a contiguous id_bucket range: no more files than buckets."""
        self.assertIsNotNone(fs.validate_plan(plan(bucketCount=16, tables=[table(fileCount=16)]), D, R))
        text = self.assertRejected(plan(bucketCount=16, tables=[table(fileCount=17)]), "fileCount 17 is not within 1..16")
        self.assertIn("table ibe_01a", text)
        self.assertIn("bucketCount=16", text)
        self.assertRejected(plan(bucketCount=2, tables=[table(fileCount=3)]), "fileCount 3 is not within 1..2")
        self.assertRejected(plan(bucketCount=128, tables=[table(fileCount=256)]), "fileCount 256 is not within 1..128")
        self.assertRejected(plan(bucketCount=16, tables=[table(fileCount=0)]), "fileCount 0 is not within 1..16")

    def test_snapshot_must_be_a_real_date(self):
        self.assertRejected(plan(snapshotDt="2025-02-30"), "not a real YYYY-MM-DD date", snapshot_dt="2025-02-30")
        self.assertRejected(plan(snapshotDt="20251031"), "not a real YYYY-MM-DD date", snapshot_dt="20251031")

    def test_table_level_errors_name_the_table(self):
        cases = [
            (table(fileCount=0), "fileCount 0 is not within 1..256"),
            (table(fileCount=257), "fileCount 257"),
            (table(fileCount=True), "fileCount True"),
            (table(fileCount=2.0), "fileCount 2.0"),
            (table(outputUri=f"s3://data/split/ibe_01a/snapshot_dt={D}/run_id={R}"), "must be an s3:// folder ending in '/'"),
            (table(outputUri=f"file:///tmp/ibe_01a/snapshot_dt={D}/run_id={R}/"), "must be an s3:// folder"),
            (table(outputUri="s3://data/split/ibe_01a/"), "not this run's folder"),
            (table(outputUri=f"s3://data/split/ibe_01a/snapshot_dt=2025-09-30/run_id={R}/"), "not this run's folder"),
            (table(sourceFiles=[]), "no source files"),
            (table(sourceFiles=["/local/file.parquet"]), "must be s3:// URIs"),
            (table(columns=[]), "no columns"),
            (table(columns=[{"source": "AGE", "target": "age"}, {"source": "CUSTOMER_USER_ID", "target": "customer_user_id"}]), "must be the first column"),
            (table(keySourceColumn="OTHER"), "keySourceColumn 'OTHER'"),
            (table(columns=[{"source": "C", "target": "customer_user_id"}, {"source": "A", "target": "a"}, {"source": "B", "target": "a"}], keySourceColumn="C"), "duplicate target columns a"),
            (table(columns=[{"source": "C", "target": "customer_user_id"}, {"source": "A", "target": "Age"}], keySourceColumn="C"), "'Age' is not a lower-case identifier"),
            (table(columns=[{"source": "C", "target": "customer_user_id"}, {"source": "", "target": "a"}], keySourceColumn="C"), "has no source column"),
            (table(columns=[{"source": "C", "target": "customer_user_id"}, {"source": "B", "target": "id_bucket"}], keySourceColumn="C"), "clashes with the computed bucket"),
        ]
        for t, message in cases:
            with self.subTest(message=message):
                text = self.assertRejected(plan(tables=[t]), message)
                self.assertIn("table ibe_01a", text)

    def test_target_names(self):
        for bad in ("IBE_01A", "1abc", "ibe-01", "ibe 01", "", "ibé"):
            with self.subTest(bad=bad):
                self.assertRejected(plan(tables=[table(bad)]), "target is not a lower-case identifier")

    def test_tables_must_be_distinct(self):
        self.assertRejected(plan(tables=[table(), table()]), "appears twice")
        self.assertRejected(plan(tables=[table(), table("ibe_01b", outputUri=table()["outputUri"])]), "shared with another table")
        self.assertRejected(plan(tables=["ibe_01a"]), "tables[0] is not an object")


class TablesFilter(unittest.TestCase):
    def test_parsing(self):
        self.assertIsNone(fs.tables_filter(None))
        self.assertIsNone(fs.tables_filter(""))
        self.assertIsNone(fs.tables_filter(" , "))
        self.assertEqual(fs.tables_filter("a, b,,c "), ["a", "b", "c"])
        for bad in ("a;b", "A", "a b"):
            with self.assertRaises(ValueError):
                fs.tables_filter(bad)

    def test_selection(self):
        p = plan(tables=[table("a"), table("b"), table("c")])
        chosen, ignored = fs.select_tables(p, None)
        self.assertEqual(([t["target"] for t in chosen], ignored), (["a", "b", "c"], []))
        chosen, ignored = fs.select_tables(p, ["c", "a", "zz"])
        self.assertEqual([t["target"] for t in chosen], ["a", "c"])  # plan order
        self.assertEqual(ignored, ["zz"])
        with self.assertRaises(ValueError) as ctx:
            fs.select_tables(p, ["zz"])
        self.assertIn("selects none", str(ctx.exception))
        self.assertIn("snapshot_dt=2025-10-31", str(ctx.exception))


class Arguments(unittest.TestCase):
    def test_optional_args(self):
        argv = ["job.py", "--JOB_NAME", "split", "--SNAPSHOT_DT", D, "--TABLES_FILTER", "a,b", "--X=1", "--job-bookmark-option", "job-bookmark-disable"]
        self.assertEqual(fs.optional_arg(argv, "TABLES_FILTER"), "a,b")
        self.assertEqual(fs.optional_arg(argv, "X"), "1")
        self.assertIsNone(fs.optional_arg(argv, "MISSING"))
        self.assertIsNone(fs.optional_arg(argv, "TABLES"))  # a prefix of a present flag is not that flag
        self.assertIsNone(fs.optional_arg(["--TABLES_FILTER_OLD", "x"], "TABLES_FILTER"))

    def test_last_occurrence_wins_and_values_are_required(self):
        self.assertEqual(fs.optional_arg(["--T", "a", "--T=b"], "T"), "b")
        self.assertEqual(fs.optional_arg(["--T=", "--U", "1"], "T"), "")
        with self.assertRaises(ValueError):
            fs.optional_arg(["job.py", "--T"], "T")
        with self.assertRaises(ValueError):
            fs.optional_arg(["job.py", "--T", "--RUN_ID", "r1"], "T")


class Uris(unittest.TestCase):
    def test_split(self):
        self.assertEqual(fs.split_s3_uri("s3://d/a/b.txt"), ("d", "a/b.txt"))
        self.assertEqual(fs.split_s3_uri("s3://d/a/"), ("d", "a/"))
        for bad in ("s3:/d/a", "https://d/a", "s3://", None):
            with self.assertRaises(ValueError):
                fs.split_s3_uri(bad)

    def test_result_beside_the_plan(self):
        self.assertEqual(fs.result_uri("s3://d/_runs/x/plan.json"), "s3://d/_runs/x/result.json")
        self.assertEqual(fs.result_uri("s3://d/plan.json"), "s3://d/result.json")
        for bad in ("s3://d/_runs/x/", "s3://d/_runs/result.json"):
            with self.assertRaises(ValueError):
                fs.result_uri(bad)

    def test_data_file_keys(self):
        prefix = "split/t/snapshot_dt=D/run_id=r/"
        keys = [prefix + k for k in ("_SUCCESS", "part-00000-abc-c000.snappy.parquet", "part-00001-abc-c000.snappy.parquet",
                                     "_temporary/0/part-9.parquet", ".part-00000.parquet.crc", "notes.txt")]
        self.assertEqual(fs.data_file_keys(keys, prefix), keys[1:3])

    def test_documents(self):
        self.assertEqual(fs.metadata_body(plan()), "2025-10-31\n")
        doc = json.loads(fs.result_document({"t": {"rows": 3, "files": 1, "nullKeys": 0, "plannedFiles": 1}}))
        self.assertEqual(doc, {"tables": {"t": {"rows": 3, "files": 1, "nullKeys": 0, "plannedFiles": 1}}})


class FileRanges(unittest.TestCase):
    def test_contiguous_cover(self):
        for n in range(1, 257):
            ranges = fs.file_ranges(n)
            self.assertEqual(len(ranges), n)
            self.assertEqual(ranges[0][0], 0)
            self.assertEqual(ranges[-1][1], 255)
            for (a, b), (c, _) in zip(ranges, ranges[1:]):
                self.assertLessEqual(a, b)
                self.assertEqual(b + 1, c)
            sizes = {b - a + 1 for a, b in ranges}
            self.assertLessEqual(max(sizes) - min(sizes), 1, f"{n} files should be balanced")

    def test_examples(self):
        self.assertEqual(fs.file_ranges(1), [(0, 255)])
        self.assertEqual(fs.file_ranges(3), [(0, 84), (85, 169), (170, 255)])
        self.assertEqual(fs.file_ranges(256)[:2], [(0, 0), (1, 1)])
        self.assertEqual(fs.file_ranges(2, bucket_count=10), [(0, 4), (5, 9)])
        self.assertEqual(fs.file_ranges(4, 16), [(0, 3), (4, 7), (8, 11), (12, 15)])
        self.assertEqual(fs.file_ranges(3, 16), [(0, 4), (5, 9), (10, 15)])
        self.assertEqual(fs.file_ranges(16, 16), [(b, b) for b in range(16)])
        self.assertEqual(fs.file_ranges(1, 2), [(0, 1)])
        self.assertEqual(fs.file_ranges(2, 2), [(0, 0), (1, 1)])

    def test_every_bucket_count(self):
        for n in ALLOWED_BUCKET_COUNTS:
            for k in range(1, n + 1):
                ranges = fs.file_ranges(k, n)
                self.assertEqual([b for lo, hi in ranges for b in range(lo, hi + 1)], list(range(n)), (k, n))
            with self.assertRaises(ValueError):
                fs.file_ranges(n + 1, n)

    def test_bad_counts(self):
        for bad in (0, -1, 257, 2.5, True, "4"):
            with self.assertRaises(ValueError):
                fs.file_ranges(bad)
        for bad_buckets in (0, -16, True, 16.0, "16"):
            with self.assertRaises(ValueError):
                fs.file_ranges(1, bad_buckets)


class FileDistribution(unittest.TestCase):
    """The job hash-partitions rows by a key per file range instead of sampling range boundaries."""

    # SELECT hash(v) on Spark 3.5.4 (test/aws-shape/spark/tasks.py sql_values); bucket-vectors-on-spark.test.ts checks
    # spark_hash_int against Spark's hash() for many more values
    SPARK_HASH = {0: 933211791, 1: -559580957, -1: -1604776387, 7: 1079293707, 42: 29417773, 2147483647: 133916647, -2147483648: 723455942}

    def test_murmur3_as_spark(self):
        for value, want in self.SPARK_HASH.items():
            self.assertEqual(fs.spark_hash_int(value), want, value)
        self.assertEqual(fs.spark_hash_partition(5, 3), 0)  # pmod(hash(5), 3) on Spark
        for n in (1, 2, 3, 7, 256):
            self.assertTrue(all(0 <= fs.spark_hash_partition(v, n) < n for v in range(-50, 50)))

    def test_every_bucket_goes_to_its_file(self):
        for n in range(1, 257):
            keys = fs.file_partition_keys(n)
            self.assertEqual(len(keys), 256)
            for i, (lo, hi) in enumerate(fs.file_ranges(n)):
                self.assertEqual({fs.spark_hash_partition(keys[b], n) for b in range(lo, hi + 1)}, {i}, f"{n} files, range {i}")
            self.assertTrue(all(isinstance(k, int) and 0 <= k < 2**31 for k in keys))

    def test_every_bucket_goes_to_its_file_for_smaller_bucket_counts(self):
        for n in ALLOWED_BUCKET_COUNTS[:-1]:
            for k in range(1, n + 1):
                keys = fs.file_partition_keys(k, n)
                self.assertEqual(len(keys), n)
                for i, (lo, hi) in enumerate(fs.file_ranges(k, n)):
                    self.assertEqual({fs.spark_hash_partition(keys[b], k) for b in range(lo, hi + 1)}, {i}, f"{n} buckets, {k} files, range {i}")

    def test_sql_for_smaller_bucket_counts(self):
        sql = fs.file_partition_sql(4, 16)
        keys = fs.file_partition_keys(4, 16)
        self.assertEqual(sql, f"element_at(array({', '.join(map(str, keys))}), `id_bucket` + 1)")
        self.assertEqual(sql.count(","), 16)  # 15 between the keys, 1 before the index
        self.assertEqual(fs.file_partition_sql(3, 256), fs.file_partition_sql(3))
        self.assertEqual(fs.file_partition_sql(2, 16, "b"), f"element_at(array({', '.join(map(str, fs.file_partition_keys(2, 16)))}), `b` + 1)")
        with self.assertRaises(ValueError):
            fs.file_partition_sql(17, 16)

    def test_sql(self):
        sql = fs.file_partition_sql(3)
        self.assertTrue(sql.startswith("element_at(array(0, 0, "))
        self.assertTrue(sql.endswith("), `id_bucket` + 1)"))
        self.assertEqual(sql.count(","), 256)  # 255 between the keys, 1 before the index
        self.assertEqual(fs.file_partition_sql(1), "element_at(array(" + ", ".join(["0"] * 256) + "), `id_bucket` + 1)")

    def test_the_file_column_is_reserved(self):
        cols = [{"source": "C", "target": "customer_user_id"}, {"source": "F", "target": fs.FILE_COLUMN}]
        with self.assertRaises(ValueError) as ctx:
            fs.validate_plan(plan(tables=[table(columns=cols, keySourceColumn="C")]), D, R)
        self.assertIn("clashes with the job's file distribution column", str(ctx.exception))


class Logging(unittest.TestCase):
    def test_json_line(self):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            record = fs.log("INFO", "hello", dataset="infobase", snapshot_dt=D, run_id=R, table="t", rows=3)
        lines = buf.getvalue().splitlines()
        self.assertEqual(len(lines), 1)
        parsed = json.loads(lines[0])
        self.assertEqual(parsed, record)
        self.assertEqual({k: parsed[k] for k in ("level", "message", "dataset", "snapshot_dt", "run_id", "table", "rows")},
                         {"level": "INFO", "message": "hello", "dataset": "infobase", "snapshot_dt": D, "run_id": R, "table": "t", "rows": 3})

    def test_unserialisable_values_and_newlines_stay_one_line(self):
        buf = io.StringIO()
        fs.log("ERROR", "multi\nline", stream=buf, error=ValueError("x\ny"), ids={"a"})
        self.assertEqual(len(buf.getvalue().splitlines()), 1)
        self.assertEqual(json.loads(buf.getvalue())["error"], "x\ny")


if __name__ == "__main__":
    unittest.main()
