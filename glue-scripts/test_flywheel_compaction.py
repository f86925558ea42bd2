"""Unit tests of the compaction capability shared by compact_raw.py and consolidate_chargebacks.py.

Spark and S3 are fakes: the fake S3 keeps objects in a dict, the fake DataFrame "writes" N part files
(rows split evenly) into it. They check the plan, the order of copy/delete and the marker, not Spark.
"""
import unittest

import flywheel_compaction as fcmp


class FakePaginator:
    def __init__(self, s3):
        self.s3 = s3

    def paginate(self, Bucket, Prefix):
        keys = sorted(k for (b, k) in self.s3.objects if b == Bucket and k.startswith(Prefix))
        # two pages, as S3 returns at most 1,000 keys a page
        half = len(keys) // 2
        for chunk in (keys[:half], keys[half:]):
            yield {"Contents": [{"Key": k, "Size": len(self.s3.objects[(Bucket, k)]) or 0} for k in chunk]}


class FakeS3:
    def __init__(self):
        self.objects = {}
        self.calls = []

    def get_paginator(self, name):
        assert name == "list_objects_v2"
        return FakePaginator(self)

    def copy_object(self, Bucket, Key, CopySource):
        self.calls.append(("copy", Key))
        self.objects[(Bucket, Key)] = self.objects[(CopySource["Bucket"], CopySource["Key"])]

    def delete_objects(self, Bucket, Delete):
        for o in Delete["Objects"]:
            self.calls.append(("delete", o["Key"]))
            del self.objects[(Bucket, o["Key"])]

    def put_object(self, Bucket, Key, Body):
        self.calls.append(("put", Key))
        self.objects[(Bucket, Key)] = Body


class FakeDF:
    """rows: a list; `write...parquet(path)` stores N objects whose content is their rows."""

    def __init__(self, s3, rows):
        self.s3, self.rows, self.n, self.codec = s3, rows, None, None

    def count(self):
        return len(self.rows)

    def repartition(self, n):
        self.n = n
        return self

    @property
    def write(self):
        return self

    def mode(self, m):
        assert m == "errorifexists"
        return self

    def option(self, k, v):
        self.codec = v
        return self

    def parquet(self, path):
        bucket, prefix = fcmp.split_s3_uri(path)
        for i in range(self.n):
            self.s3.objects[(bucket, f"{prefix}part-{i:05d}-x.{self.codec}.parquet")] = self.rows[i::self.n]
        self.s3.objects[(bucket, f"{prefix}_SUCCESS")] = []


class FakeReader:
    def __init__(self, s3):
        self.s3 = s3

    def option(self, k, v):
        return self

    def parquet(self, *paths):
        rows = []
        for p in paths:
            rows.extend(self.s3.objects[fcmp.split_s3_uri(p)])
        return FakeDF(self.s3, rows)


class FakeSpark:
    def __init__(self, s3):
        self.read = FakeReader(s3)


class Plan(unittest.TestCase):
    def test_file_count_and_groups(self):
        self.assertEqual(fcmp.compacted_file_count(0, 100), 1)
        self.assertEqual(fcmp.compacted_file_count(250, 100), 3)
        self.assertEqual(fcmp.compacted_file_count(10**15, 1), 1000)
        with self.assertRaises(ValueError):
            fcmp.compacted_file_count(1, 0)
        p = "opus/x/raw_input/snapshot_dt=2025-10-31/"
        groups, ignored = fcmp.compaction_groups(p, [(p + "T1/b.parquet", 60), (p + "T1/a.parquet", 60), (p + "a.parquet", 5), (p + "_SUCCESS", 0), (p + "T1/_temporary/x.parquet", 9), (p + "T2/readme.txt", 3), (p + "T2/empty.parquet", 0)], 100)
        self.assertEqual([(g["folder"], g["keys"], g["bytes"], g["file_count"]) for g in groups], [("", [p + "a.parquet"], 5, 1), ("T1/", [p + "T1/a.parquet", p + "T1/b.parquet"], 120, 2)])
        self.assertEqual(sorted(ignored), ["T1/_temporary/x.parquet", "T2/empty.parquet", "T2/readme.txt", "_SUCCESS"])
        self.assertEqual(fcmp.switch_plan(["d/old-1", "d/new-1"], ["d/new-1", "d/new-2"]), ["d/old-1"])
        with self.assertRaises(ValueError):
            fcmp.split_s3_uri("data/key")


class WriteAsideAndSwitch(unittest.TestCase):
    def test_new_files_copied_in_before_old_ones_are_deleted(self):
        s3 = FakeS3()
        s3.objects[("b", "out/day=01/old-part-0.parquet")] = [1]
        s3.objects[("b", "out/day=01/sub/keep.parquet")] = [2]  # a sub-folder is not this folder's data
        keys = fcmp.write_aside_and_switch(FakeDF(s3, list(range(10))), s3, "s3://b/out/day=01", 3, "snappy", "s3://b/out/_staging/", run="r1")
        self.assertEqual(keys, [f"out/day=01/r1-part-0000{i}-x.snappy.parquet" for i in range(3)])
        self.assertEqual(sorted(k for (b, k) in s3.objects), sorted(keys + ["out/day=01/sub/keep.parquet"]))
        first_delete = next(i for i, c in enumerate(s3.calls) if c[0] == "delete")
        self.assertTrue(all(c[0] == "copy" for c in s3.calls[:first_delete]))
        self.assertEqual(sum(len(s3.objects[("b", k)]) for k in keys), 10)


class CompactLanding(unittest.TestCase):
    def test_each_folder_compacted_rows_checked_marker_last(self):
        s3 = FakeS3()
        src = "opus/infobase_attributes/raw_input/snapshot_dt=2025-10-31/"
        for t, n in (("IBE_01", 7), ("IBE_04", 3)):
            for f in range(n):
                s3.objects[("b", f"{src}{t}/part-{f}.parquet")] = [f"{t}-{f}-{r}" for r in range(5)]
        s3.objects[("b", src + "_SUCCESS")] = []
        out = "s3://b/omc_cleanroom_data/infobase_attributes/raw_input/snapshot_dt=2025-10-31/"
        results = fcmp.compact_landing(FakeSpark(s3), s3, "s3://b/" + src, out, "_SUCCESS", 2, "snappy", log=lambda m: None)
        self.assertEqual([(r["folder"], r["rows"]) for r in results], [("IBE_01/", 35), ("IBE_04/", 15)])
        self.assertEqual(s3.calls[-1], ("put", "omc_cleanroom_data/infobase_attributes/raw_input/snapshot_dt=2025-10-31/_SUCCESS"))
        written = [k for (b, k) in s3.objects if k.startswith("omc_cleanroom_data/") and k.endswith(".parquet")]
        self.assertEqual(sum(len(s3.objects[("b", k)]) for k in written), 50)
        self.assertFalse([k for (b, k) in s3.objects if "_compaction_staging" in k])

    def test_no_files_is_an_error_and_no_marker(self):
        s3 = FakeS3()
        with self.assertRaises(ValueError) as ctx:
            fcmp.compact_landing(FakeSpark(s3), s3, "s3://b/opus/x/raw_input/snapshot_dt=2025-10-31/", "s3://b/out/snapshot_dt=2025-10-31/", "_SUCCESS", 2, "snappy")
        self.assertIn("no parquet files", str(ctx.exception))
        self.assertEqual(s3.calls, [])


if __name__ == "__main__":
    unittest.main()
