"""split_and_bucket.run_job driven with fake Spark and S3 objects.

No Spark runs here (npm test): the fakes only record which DataFrame/S3 calls the job makes, in which
order and with which arguments (plan validation first, the select list, the distribution into file
ranges, the write options, counting from the written output, result.json and the metadata file only
after every table succeeded). That Spark executes those calls as intended is tested by
test/aws-shape/split-on-spark.test.ts, which runs split_and_bucket.py on PySpark 3.5.4 (npm run test:aws).
"""
import contextlib
import io
import json
import sys
import unittest

import flywheel_split as fs
import split_and_bucket as job

D, R = "2025-10-31", "r1"
PLAN_URI = f"s3://data/_runs/infobase/snapshot_dt={D}/run_id={R}/plan.json"


def table(target, source, file_count):
    return {
        "target": target, "source": source, "sourceFiles": [f"s3://data/raw/snapshot_dt={D}/{source}/part-0.parquet"], "sourceBytes": 100,
        "columns": [{"source": "CUSTOMER_USER_ID", "target": "customer_user_id"}, {"source": "AGE", "target": "age"}],
        "keySourceColumn": "CUSTOMER_USER_ID", "fileCount": file_count,
        "outputUri": f"s3://data/split/{target}/snapshot_dt={D}/run_id={R}/",
    }


def make_plan():
    return {
        "version": 1, "dataset": "infobase", "snapshotDt": D, "runId": R, "bucketCount": 256, "keyColumn": "customer_user_id",
        "metadataUri": "s3://data/split/metadata/snapshot_dt.txt",
        "tables": [table("ibe_01a", "IBE_01", 3), table("ibe_02a", "IBE_02", 2)], "skipped": [], "droppedColumns": {},
    }


class Body:
    def __init__(self, data):
        self.data = data

    def read(self):
        return self.data


class ClientError(Exception):
    """Shaped as botocore's ClientError: the S3 error code under response["Error"]["Code"]."""

    def __init__(self, code, operation):
        super().__init__(f"An error occurred ({code}) when calling the {operation} operation")
        self.response = {"Error": {"Code": code}}


class FakeS3:
    """Objects in a dict; a missing key raises NoSuchKey as S3 does (404, the job role may list the prefix)."""

    def __init__(self):
        self.objects = {}
        self.calls = []

    def etag(self, Bucket, Key):
        return '"%08x"' % (hash(self.objects[(Bucket, Key)]) & 0xFFFFFFFF)

    def get_object(self, Bucket, Key):
        self.calls.append(("get_object", Bucket, Key))
        if (Bucket, Key) not in self.objects:
            raise ClientError("NoSuchKey", "GetObject")
        return {"Body": Body(self.objects[(Bucket, Key)]), "ETag": self.etag(Bucket, Key)}

    def put_object(self, Bucket, Key, Body, ContentType=None):
        self.calls.append(("put_object", Bucket, Key))
        self.objects[(Bucket, Key)] = Body

    def get_paginator(self, name):
        assert name == "list_objects_v2"
        s3 = self

        class Paginator:
            def paginate(self, Bucket, Prefix):
                keys = sorted(k for (b, k) in s3.objects if b == Bucket and k.startswith(Prefix))
                for i in range(0, max(len(keys), 1), 2):  # pages of two keys, to exercise pagination
                    page = keys[i:i + 2]
                    yield {"Contents": [{"Key": k} for k in page]} if page else {}

        return Paginator()


class FakeSpark:
    """Records DataFrame calls; `dtypes` per source folder, `fail_write` / `files_written` per output."""

    def __init__(self, s3, dtypes=None, fail_write=(), files_written=None, rows=7, null_keys=0):
        self.s3, self.log = s3, []
        self.dtypes = dtypes or {}
        self.fail_write, self.files_written = set(fail_write), files_written or {}
        self.rows, self.null_keys = rows, null_keys

    @property
    def read(self):
        return FakeReader(self)


class FakeReader:
    def __init__(self, spark):
        self.spark = spark

    def parquet(self, *paths):
        self.spark.log.append(("read.parquet", paths))
        if len(paths) == 1 and "/split/" in paths[0]:
            return FakeDF(self.spark, paths[0], output=True)
        source = paths[0].split("/")[-2]
        return FakeDF(self.spark, source)


class FakeDF:
    def __init__(self, spark, name, output=False):
        self.spark, self.name, self.output = spark, name, output

    @property
    def dtypes(self):
        return self.spark.dtypes.get(self.name, [("CUSTOMER_USER_ID", "string"), ("AGE", "int"), ("UNUSED", "string")])

    def selectExpr(self, *items):
        self.spark.log.append(("selectExpr", self.name, items))
        return self

    def repartitionByRange(self, n, *cols):
        self.spark.log.append(("repartitionByRange", self.name, n, cols))
        return self

    def repartition(self, n, *cols):
        self.spark.log.append(("repartition", self.name, n, cols))
        return self

    def drop(self, *cols):
        self.spark.log.append(("drop", self.name, cols))
        return self

    def sortWithinPartitions(self, *cols):
        self.spark.log.append(("sortWithinPartitions", self.name, cols))
        return self

    def collect(self):
        assert self.output, "only the written output is collected"
        self.spark.log.append(("collect", self.name))
        return [{"rows": self.spark.rows, "null_keys": self.spark.null_keys}]

    @property
    def write(self):
        return FakeWriter(self)


class FakeWriter:
    def __init__(self, df):
        self.df, self.mode_, self.options = df, None, {}

    def mode(self, m):
        self.mode_ = m
        return self

    def option(self, k, v):
        self.options[k] = v
        return self

    def parquet(self, path):
        spark = self.df.spark
        spark.log.append(("write.parquet", self.df.name, path, self.mode_, dict(self.options)))
        if path in spark.fail_write:
            raise IOError(f"Access Denied writing {path}")
        bucket, prefix = fs.split_s3_uri(path)
        n = spark.files_written.get(path, 1)
        for i in range(n):
            spark.s3.objects[(bucket, f"{prefix}part-{i:05d}-uuid-c000.snappy.parquet")] = b"PAR1"
        spark.s3.objects[(bucket, f"{prefix}_SUCCESS")] = b""


def run(plan=None, tables_filter=None, plan_bytes=None, s3=None, **spark_kwargs):
    s3 = s3 if s3 is not None else FakeS3()
    bucket, key = fs.split_s3_uri(PLAN_URI)
    s3.objects[(bucket, key)] = plan_bytes if plan_bytes is not None else json.dumps(plan or make_plan()).encode()
    spark = FakeSpark(s3, **spark_kwargs)
    out = io.StringIO()
    error = None
    with contextlib.redirect_stdout(out):
        try:
            result = job.run_job(D, R, PLAN_URI, tables_filter, s3, spark)
        except Exception as err:  # noqa: BLE001 - the tests inspect it
            result, error = None, err
    logs = [json.loads(line) for line in out.getvalue().splitlines()]
    return result, error, s3, spark, logs


def run_on(s3, **kwargs):
    """run() against a given S3 (objects already in it)."""
    return run(s3=s3, **kwargs)


def puts(s3):
    return [k for (call, _, k) in s3.calls if call == "put_object"]


class Success(unittest.TestCase):
    def test_every_table_then_result_then_metadata(self):
        result, error, s3, spark, logs = run(files_written={table("ibe_01a", "", 0)["outputUri"]: 3, table("ibe_02a", "", 0)["outputUri"]: 2})
        self.assertIsNone(error)
        self.assertEqual(result, {"ibe_01a": {"rows": 7, "files": 3, "nullKeys": 0, "plannedFiles": 3},
                                  "ibe_02a": {"rows": 7, "files": 2, "nullKeys": 0, "plannedFiles": 2}})
        prefix = f"_runs/infobase/snapshot_dt={D}/run_id={R}/"
        self.assertEqual(puts(s3), [prefix + "result.json", "split/metadata/snapshot_dt.txt"])  # the marker last
        self.assertEqual(s3.objects[("data", "split/metadata/snapshot_dt.txt")], b"2025-10-31\n")
        self.assertEqual(json.loads(s3.objects[("data", prefix + "result.json")]), {"tables": result})

    def test_spark_calls_per_table(self):
        _, _, _, spark, _ = run()
        t = make_plan()["tables"][0]
        calls = [c for c in spark.log if c[1] == "IBE_01"]
        self.assertEqual(spark.log[0], ("read.parquet", tuple(t["sourceFiles"])))
        # the projection, then the file key (from id_bucket), hash-distributed into fileCount partitions, sorted, key dropped
        self.assertEqual(calls[:5], [
            ("selectExpr", "IBE_01", tuple(fs.select_list(t["columns"], "CUSTOMER_USER_ID"))),
            ("selectExpr", "IBE_01", ("*", f"{fs.file_partition_sql(3)} AS `{fs.FILE_COLUMN}`")),
            ("repartition", "IBE_01", 3, (fs.FILE_COLUMN,)),
            ("sortWithinPartitions", "IBE_01", ("id_bucket", "customer_user_id")),
            ("drop", "IBE_01", (fs.FILE_COLUMN,)),
        ])
        # regression: never repartitionByRange, whose boundaries come from a job that reads the whole source again
        self.assertNotIn("repartitionByRange", [c[0] for c in spark.log])
        writes = [c for c in spark.log if c[0] == "write.parquet"]
        self.assertEqual(writes[0], ("write.parquet", "IBE_01", t["outputUri"], "errorifexists", {"compression": "snappy", "maxRecordsPerFile": 0}))
        # counted from the written output, after the write
        i_write = spark.log.index(writes[0])
        self.assertEqual(spark.log[i_write + 1], ("read.parquet", (t["outputUri"],)))
        self.assertEqual(spark.log[i_write + 2], ("selectExpr", t["outputUri"], tuple(fs.output_stats_exprs("customer_user_id"))))
        self.assertEqual(spark.log[i_write + 3], ("collect", t["outputUri"]))

    def test_fewer_files_than_planned_and_null_keys_are_reported(self):
        result, _, _, _, logs = run(files_written={table("ibe_01a", "", 0)["outputUri"]: 1}, null_keys=2)
        self.assertEqual(result["ibe_01a"]["files"], 1)
        self.assertEqual(result["ibe_01a"]["plannedFiles"], 3)
        self.assertEqual(result["ibe_01a"]["nullKeys"], 2)
        warn = [l for l in logs if l["level"] == "WARN" and l.get("table") == "ibe_01a"]
        self.assertTrue(any("NULL customer_user_id" in l["message"] for l in warn))

    def test_logs_are_json_with_context(self):
        _, _, _, _, logs = run()
        self.assertTrue(logs)
        for line in logs:
            self.assertEqual((line["dataset"], line["snapshot_dt"], line["run_id"]), ("infobase", D, R))
        self.assertEqual([l["table"] for l in logs if l["message"] == "table written"], ["ibe_01a", "ibe_02a"])


class BucketCount(unittest.TestCase):
    """The plan's bucketCount reaches the bucket expression and the file distribution."""

    def sixteen(self, file_counts=(4, 16)):
        plan = make_plan()
        plan["bucketCount"] = 16
        for t, n in zip(plan["tables"], file_counts):
            t["fileCount"] = n
        return plan

    def test_sixteen_buckets(self):
        plan = self.sixteen()
        result, error, _, spark, logs = run(plan=plan)
        self.assertIsNone(error)
        self.assertEqual(set(result), {"ibe_01a", "ibe_02a"})
        for t, n in zip(plan["tables"], (4, 16)):
            calls = [c for c in spark.log if c[1] == t["source"]]
            self.assertEqual(calls[:3], [
                ("selectExpr", t["source"], tuple(fs.select_list(t["columns"], "CUSTOMER_USER_ID", 16))),
                ("selectExpr", t["source"], ("*", f"{fs.file_partition_sql(n, 16)} AS `{fs.FILE_COLUMN}`")),
                ("repartition", t["source"], n, (fs.FILE_COLUMN,)),
            ])
            # not the 256-bucket forms
            self.assertTrue(calls[0][2][-1].endswith(" % 16) AS `id_bucket`"), calls[0][2][-1])
            self.assertEqual(calls[1][2][1].count(","), 16, "16 file keys, one per bucket")
        started = [l for l in logs if l["message"] == "split started"]
        self.assertEqual([l["bucket_count"] for l in started], [16])

    def test_the_default_plan_keeps_the_256_bucket_forms(self):
        _, _, _, spark, logs = run()
        first = [c for c in spark.log if c[0] == "selectExpr" and c[1] == "IBE_01"]
        self.assertEqual(first[0][2][-1], fs.bucket_sql_expr("CUSTOMER_USER_ID") + " AS `id_bucket`")
        self.assertEqual(first[1][2][1].count(","), 256)
        self.assertEqual([l["bucket_count"] for l in logs if l["message"] == "split started"], [256])

    def test_more_files_than_buckets_is_refused_before_reading(self):
        _, error, s3, spark, _ = run(plan=self.sixteen(file_counts=(4, 17)))
        self.assertIsInstance(error, ValueError)
        self.assertIn("table ibe_02a: fileCount 17 is not within 1..16", str(error))
        self.assertEqual((spark.log, puts(s3)), ([], []))

    def test_a_bucket_count_that_is_not_a_power_of_two_is_refused_before_reading(self):
        for bad in (100, 512, "16", None):
            plan = make_plan()
            plan["bucketCount"] = bad
            _, error, s3, spark, _ = run(plan=plan)
            self.assertIsInstance(error, ValueError, bad)
            self.assertIn("bucketCount must be a power of two from 2 to 256", str(error))
            self.assertEqual((spark.log, puts(s3)), ([], []))


class TablesFilter(unittest.TestCase):
    def test_only_named_tables_and_unknown_names_ignored(self):
        result, error, s3, spark, logs = run(tables_filter="ibe_02a,not_built")
        self.assertIsNone(error)
        self.assertEqual(list(result), ["ibe_02a"])
        self.assertEqual([c[1] for c in spark.log if c[0] == "write.parquet"], ["IBE_02"])
        self.assertTrue(any(l["level"] == "WARN" and l.get("ignored") == ["not_built"] for l in logs))
        self.assertIn("split/metadata/snapshot_dt.txt", puts(s3))

    def test_a_filter_selecting_nothing_fails_before_reading(self):
        _, error, s3, spark, _ = run(tables_filter="not_built")
        self.assertIsInstance(error, ValueError)
        self.assertIn("selects none", str(error))
        self.assertEqual((spark.log, puts(s3)), ([], []))


class Failures(unittest.TestCase):
    def assertNothingMarkedDone(self, s3):
        self.assertEqual(puts(s3), [], "neither result.json nor the metadata file may be written")

    def test_a_failing_table_fails_the_job_naming_it(self):
        bad = table("ibe_02a", "IBE_02", 2)["outputUri"]
        _, error, s3, spark, logs = run(fail_write=[bad])
        self.assertIsInstance(error, RuntimeError)
        self.assertIn("table ibe_02a", str(error))
        self.assertIn("snapshot_dt=2025-10-31", str(error))
        self.assertIn("Access Denied", str(error))
        self.assertNothingMarkedDone(s3)
        self.assertEqual([l["table"] for l in logs if l["level"] == "ERROR"], ["ibe_02a"])

    def test_the_first_table_failing_stops_the_rest(self):
        _, error, s3, spark, _ = run(fail_write=[table("ibe_01a", "IBE_01", 3)["outputUri"]])
        self.assertIn("table ibe_01a", str(error))
        self.assertEqual([c[1] for c in spark.log if c[0] == "write.parquet"], ["IBE_01"])
        self.assertNothingMarkedDone(s3)

    def test_non_string_key_is_refused_before_writing(self):
        _, error, s3, spark, _ = run(dtypes={"IBE_02": [("CUSTOMER_USER_ID", "bigint"), ("AGE", "int")]})
        self.assertIn("table ibe_02a", str(error))
        self.assertIn("bigint, not string", str(error))
        self.assertNotIn("IBE_02", [c[1] for c in spark.log if c[0] == "write.parquet"])
        self.assertNothingMarkedDone(s3)

    def test_missing_source_column_names_the_table(self):
        _, error, s3, _, _ = run(dtypes={"IBE_01": [("CUSTOMER_USER_ID", "string")]})
        self.assertIn("table ibe_01a", str(error))
        self.assertIn("AGE", str(error))
        self.assertNothingMarkedDone(s3)

    def test_a_plan_for_another_run_is_refused_before_reading(self):
        other = make_plan()
        other["runId"] = "r0"
        _, error, s3, spark, _ = run(plan=other)
        self.assertIsInstance(error, ValueError)
        self.assertIn("run_id=r0, not r1", str(error))
        self.assertEqual(spark.log, [])
        self.assertNothingMarkedDone(s3)

    def test_a_plan_that_is_not_json(self):
        _, error, s3, spark, _ = run(plan_bytes=b"<html>")
        self.assertIsInstance(error, ValueError)
        self.assertIn("is not JSON", str(error))
        self.assertEqual(spark.log, [])


class ConditionalS3(FakeS3):
    """A client whose PutObject knows IfMatch/IfNoneMatch (current botocore), enforcing them as S3 does.

    `before_put` runs once before the first conditional put: another run writing meanwhile."""

    class meta:  # noqa: N801 - boto3's client.meta.service_model.operation_model(...).input_shape.members
        class service_model:  # noqa: N801
            @staticmethod
            def operation_model(name):
                assert name == "PutObject"
                return type("Op", (), {"input_shape": type("Shape", (), {"members": {"Bucket": 1, "Key": 1, "Body": 1, "IfMatch": 1, "IfNoneMatch": 1}})})

    def __init__(self, before_put=None):
        super().__init__()
        self.before_put, self.conditions = before_put, []

    def put_object(self, Bucket, Key, Body, ContentType=None, IfMatch=None, IfNoneMatch=None):
        if IfMatch or IfNoneMatch:
            self.conditions.append({"IfMatch": IfMatch} if IfMatch else {"IfNoneMatch": IfNoneMatch})
            hook, self.before_put = self.before_put, None
            if hook:
                hook(self)
            present = (Bucket, Key) in self.objects
            if (IfNoneMatch == "*" and present) or (IfMatch and (not present or self.etag(Bucket, Key) != IfMatch)):
                self.calls.append(("put_object rejected", Bucket, Key))
                raise ClientError("PreconditionFailed", "PutObject")
        super().put_object(Bucket, Key, Body, ContentType)


def older_run(s3, snapshot_dt="2025-09-30", run_id="r0"):
    """Runs the job for another snapshot against the same S3 (its own plan and run folders); returns (result, error, logs)."""
    plan = json.loads(json.dumps(make_plan()).replace(D, snapshot_dt).replace(f"run_id={R}/", f"run_id={run_id}/"))
    plan["runId"] = run_id
    plan_uri = PLAN_URI.replace(D, snapshot_dt).replace(f"run_id={R}/", f"run_id={run_id}/")
    bucket, key = fs.split_s3_uri(plan_uri)
    s3.objects[(bucket, key)] = json.dumps(plan).encode()
    out, error, result = io.StringIO(), None, None
    with contextlib.redirect_stdout(out):
        try:
            result = job.run_job(snapshot_dt, run_id, plan_uri, None, s3, FakeSpark(s3))
        except Exception as err:  # noqa: BLE001 - the tests inspect it
            error = err
    return result, error, [json.loads(line) for line in out.getvalue().splitlines()]


META = ("data", "split/metadata/snapshot_dt.txt")


class MetadataNeverMovesBackwards(unittest.TestCase):
    """metadata/snapshot_dt.txt: two snapshots' runs may finish in any order; the file keeps the later one."""

    def test_newer_first_then_older_keeps_the_newer(self):
        _, error, s3, _, _ = run()
        self.assertIsNone(error)
        self.assertEqual(s3.objects[META], b"2025-10-31\n")
        result, error, logs = older_run(s3)
        self.assertIsNone(error)  # the older run's tables and result are fine: only the marker stays
        self.assertEqual(set(result), {"ibe_01a", "ibe_02a"})
        self.assertIn(("data", "_runs/infobase/snapshot_dt=2025-09-30/run_id=r0/result.json"), s3.objects)
        self.assertEqual(s3.objects[META], b"2025-10-31\n")
        kept = [l for l in logs if "never moves backwards" in l["message"]]
        self.assertEqual([(l["level"], l["metadata_snapshot_dt"], l["snapshot_dt"]) for l in kept], [("WARN", "2025-10-31", "2025-09-30")])

    def test_older_first_then_newer_moves_forward(self):
        s3 = FakeS3()
        s3.objects[META] = b"2025-09-30\n"
        result, error, s3, _, _ = run_on(s3)
        self.assertIsNone(error)
        self.assertEqual(s3.objects[META], b"2025-10-31\n")

    def test_the_same_snapshot_again_and_an_unreadable_file_are_written(self):
        for current in (b"2025-10-31\n", b"not a date\n", b"2025-13-45\n", b"", b"\xff\xfe"):
            s3 = FakeS3()
            s3.objects[META] = current
            _, error, s3, _, _ = run_on(s3)
            self.assertIsNone(error)
            self.assertEqual(s3.objects[META], b"2025-10-31\n", current)

    def test_a_read_error_other_than_absent_fails_the_job(self):
        class Denied(FakeS3):
            def get_object(self, Bucket, Key):
                if Key.endswith("snapshot_dt.txt"):
                    raise ClientError("AccessDenied", "GetObject")
                return super().get_object(Bucket, Key)

        _, error, s3, _, _ = run_on(Denied())
        self.assertIn("AccessDenied", str(error))
        self.assertNotIn("split/metadata/snapshot_dt.txt", puts(s3))

    def test_conditional_writes_when_the_client_supports_them(self):
        _, error, s3, _, _ = run_on(ConditionalS3())
        self.assertIsNone(error)
        self.assertEqual(s3.conditions, [{"IfNoneMatch": "*"}])
        read = s3.etag(*META)
        older_run(s3, "2025-11-30", "r2")  # a later snapshot: replaces exactly what it read
        self.assertEqual(s3.conditions[1:], [{"IfMatch": read}])
        self.assertEqual(s3.objects[META], b"2025-11-30\n")

    def test_a_newer_run_finishing_during_the_write_wins(self):
        def newer_lands(s3):
            s3.objects[META] = b"2025-11-30\n"

        s3 = ConditionalS3(before_put=newer_lands)
        s3.objects[META] = b"2025-09-30\n"
        _, error, s3, _, logs = run_on(s3)
        self.assertIsNone(error)
        self.assertIn(("put_object rejected", "data", META[1]), s3.calls)
        self.assertEqual(s3.objects[META], b"2025-11-30\n")
        self.assertTrue(any("changed while it was written" in l["message"] for l in logs))

    def test_helper(self):
        self.assertTrue(fs.metadata_is_newer("2025-10-31\n", "2025-09-30"))
        self.assertFalse(fs.metadata_is_newer("2025-10-31\n", "2025-10-31"))
        self.assertFalse(fs.metadata_is_newer("2025-09-30", "2025-10-31"))
        self.assertFalse(fs.metadata_is_newer(None, "2025-10-31"))
        self.assertFalse(fs.metadata_is_newer("9999-99-99", "2025-10-31"))  # not a real date: replaced
        self.assertFalse(fs.metadata_is_newer("latest", "2025-10-31"))


class ScriptModule(unittest.TestCase):
    def test_import_has_no_side_effects_and_needs_no_spark(self):
        self.assertNotIn("pyspark", sys.modules)
        self.assertNotIn("awsglue", sys.modules)
        self.assertNotIn("boto3", sys.modules)
        self.assertTrue(callable(job.main))


if __name__ == "__main__":
    unittest.main()
