"""Unit tests of the compaction capability shared by compact_raw.py and consolidate_chargebacks.py.

Spark and S3 are fakes: the fake S3 keeps objects in a dict, the fake DataFrame "writes" N part files
(rows split evenly) into it. They check the plan, the order of copy/delete and the marker, not Spark.
"""
import re
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
    """Objects are lists (a list's length is its size in "bytes"); every key ever written is kept in `written`."""

    def __init__(self, fail_copy_to=None):
        self.objects = {}
        self.calls = []
        self.written = []
        self.uploads = {}
        self.fail_copy_to = fail_copy_to

    def _store(self, bucket, key, body):
        self.objects[(bucket, key)] = body
        self.written.append(key)

    def get_paginator(self, name):
        assert name == "list_objects_v2"
        return FakePaginator(self)

    def copy_object(self, Bucket, Key, CopySource):
        self.calls.append(("copy", Key))
        if self.fail_copy_to and self.fail_copy_to in Key:
            raise OSError(f"copy to {Key} failed")
        self._store(Bucket, Key, self.objects[(CopySource["Bucket"], CopySource["Key"])])

    def create_multipart_upload(self, Bucket, Key):
        upload = f"u{len(self.uploads)}"
        self.uploads[upload] = {"key": (Bucket, Key), "parts": {}}
        self.calls.append(("create-multipart", Key))
        return {"UploadId": upload}

    def upload_part_copy(self, Bucket, Key, UploadId, PartNumber, CopySource, CopySourceRange):
        first, last = (int(x) for x in CopySourceRange[len("bytes="):].split("-"))
        source = self.objects[(CopySource["Bucket"], CopySource["Key"])]
        assert 0 <= first <= last < len(source), CopySourceRange
        if self.fail_copy_to and self.fail_copy_to in Key and PartNumber == 2:
            raise OSError("part copy failed")
        self.uploads[UploadId]["parts"][PartNumber] = source[first:last + 1]
        self.calls.append(("part-copy", Key, PartNumber, CopySourceRange))
        return {"CopyPartResult": {"ETag": f'"etag-{PartNumber}"'}}

    def complete_multipart_upload(self, Bucket, Key, UploadId, MultipartUpload):
        upload = self.uploads.pop(UploadId)
        numbers = [p["PartNumber"] for p in MultipartUpload["Parts"]]
        assert numbers == sorted(upload["parts"]) and [p["ETag"] for p in MultipartUpload["Parts"]] == [f'"etag-{n}"' for n in numbers]
        self.calls.append(("complete-multipart", Key))
        self._store(Bucket, Key, [x for n in numbers for x in upload["parts"][n]])

    def abort_multipart_upload(self, Bucket, Key, UploadId):
        self.calls.append(("abort-multipart", Key))
        self.uploads.pop(UploadId)

    def delete_objects(self, Bucket, Delete):
        assert len(Delete["Objects"]) <= 1000
        for o in Delete["Objects"]:
            self.calls.append(("delete", o["Key"]))
            self.objects.pop((Bucket, o["Key"]), None)  # deleting an absent key is no error in S3

    def put_object(self, Bucket, Key, Body):
        self.calls.append(("put", Key))
        self._store(Bucket, Key, Body)


class FakeDF:
    """rows: a list; `write...parquet(path)` stores N objects whose content is their rows, then the committer's
    `_SUCCESS` unless the write's options turn it off (mapreduce.fileoutputcommitter.marksuccessfuljobs=false)."""

    def __init__(self, s3, rows):
        self.s3, self.rows, self.n, self.options = s3, rows, None, {}

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
        self.options[k] = v
        return self

    def parquet(self, path):
        bucket, prefix = fcmp.split_s3_uri(path)
        assert not any(b == bucket and k.startswith(prefix) for (b, k) in self.s3.objects), "errorifexists"
        for i in range(self.n):
            self.s3._store(bucket, f"{prefix}part-{i:05d}-x.{self.options['compression']}.parquet", self.rows[i::self.n])
        if self.options.get("mapreduce.fileoutputcommitter.marksuccessfuljobs", "true") != "false":  # Hadoop's committer
            self.s3._store(bucket, f"{prefix}_SUCCESS", [])


class FakeReader:
    def __init__(self, s3, lose_rows=0):
        self.s3, self.lose_rows = s3, lose_rows

    def option(self, k, v):
        return self

    def parquet(self, *paths):
        rows = []
        for p in paths:
            rows.extend(self.s3.objects[fcmp.split_s3_uri(p)])
        if "_compaction_staging/" in paths[0] and self.lose_rows:
            rows = rows[self.lose_rows:]
        return FakeDF(self.s3, rows)


class FakeSpark:
    def __init__(self, s3, lose_rows=0):
        self.read = FakeReader(s3, lose_rows)


def wildcard(pattern):
    """An EventBridge wildcard as a regex: `*` matches any characters, '/' included."""
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$")


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


    def test_no_success_marker_and_the_staging_folder_removed(self):
        s3 = FakeS3()
        fcmp.write_aside_and_switch(FakeDF(s3, list(range(4))), s3, "s3://b/out/day=01/", 2, "snappy", "s3://b/out/_staging/", run="r1")
        self.assertEqual([k for k in s3.written if k.endswith("_SUCCESS")], [])
        self.assertEqual([k for (b, k) in s3.objects if k.startswith("out/_staging/")], [])

    def test_declined_before_the_switch_the_output_stays(self):
        s3 = FakeS3()
        s3.objects[("b", "out/day=01/old.parquet")] = [1, 2]
        seen = []
        got = fcmp.write_aside_and_switch(FakeDF(s3, []), s3, "s3://b/out/day=01/", 2, "snappy", "s3://b/out/_staging/", run="r1", before_switch=lambda staged: seen.extend(staged) or False)
        self.assertIsNone(got)
        self.assertEqual(seen, [f"s3://b/out/_staging/r1/part-0000{i}-x.snappy.parquet" for i in range(2)])
        self.assertEqual(sorted(k for (b, k) in s3.objects), ["out/day=01/old.parquet"])
        self.assertFalse([c for c in s3.calls if c[0] == "copy"])

    def test_a_failed_copy_leaves_the_previous_set_alone_and_no_staging(self):
        s3 = FakeS3(fail_copy_to="r1-part-00001")
        s3.objects[("b", "out/day=01/old.parquet")] = [1, 2]
        with self.assertRaises(OSError):
            fcmp.write_aside_and_switch(FakeDF(s3, list(range(9))), s3, "s3://b/out/day=01/", 3, "snappy", "s3://b/out/_staging/", run="r1")
        self.assertEqual(sorted(k for (b, k) in s3.objects), ["out/day=01/old.parquet"])


class CopyOverTheCopyObjectLimit(unittest.TestCase):
    """S3's CopyObject copies at most 5 GB: a bigger staged file is copied in parts (UploadPartCopy)."""

    def test_part_ranges(self):
        self.assertEqual(fcmp.copy_part_ranges(10, 4), [(0, 3), (4, 7), (8, 9)])
        self.assertEqual(fcmp.copy_part_ranges(8, 4), [(0, 3), (4, 7)])
        size = 6 * 1024 ** 3 + 7
        ranges = fcmp.copy_part_ranges(size)
        self.assertEqual((ranges[0][0], ranges[-1][1], len(ranges)), (0, size - 1, 13))
        self.assertTrue(all(b[0] == a[1] + 1 for a, b in zip(ranges, ranges[1:])))
        self.assertTrue(all(5 * 1024 ** 2 <= last - first + 1 <= 5 * 1024 ** 3 for first, last in ranges[:-1]))
        # 5 TB (S3's largest object) in at most 10,000 parts
        huge = fcmp.copy_part_ranges(5 * 1024 ** 4)
        self.assertLessEqual(len(huge), fcmp.MAX_COPY_PARTS)
        self.assertTrue(all(last - first + 1 <= 5 * 1024 ** 3 for first, last in huge))

    def test_a_file_over_5_gb_is_never_copied_with_copy_object(self):
        calls = []

        class Recorder:
            def __getattr__(self, name):
                def call(**kw):
                    calls.append((name, kw))
                    return {"UploadId": "u1"} if name == "create_multipart_upload" else {"CopyPartResult": {"ETag": '"e"'}}
                return call

        self.assertEqual(fcmp.copy_into_place(Recorder(), "b", "st/part-0.parquet", fcmp.COPY_OBJECT_MAX_BYTES, "b", "out/x.parquet"), 1)
        self.assertEqual([c[0] for c in calls], ["copy_object"])
        calls.clear()
        self.assertEqual(fcmp.copy_into_place(Recorder(), "b", "st/part-0.parquet", fcmp.COPY_OBJECT_MAX_BYTES + 1, "b", "out/x.parquet"), 11)
        self.assertEqual([c[0] for c in calls], ["create_multipart_upload"] + ["upload_part_copy"] * 11 + ["complete_multipart_upload"])
        self.assertEqual(calls[-2][1]["CopySourceRange"], f"bytes={10 * fcmp.COPY_PART_BYTES}-{fcmp.COPY_OBJECT_MAX_BYTES}")

    def test_staged_files_copied_in_parts_with_a_lowered_limit(self):
        s3 = FakeS3()
        keys = fcmp.write_aside_and_switch(FakeDF(s3, list(range(20))), s3, "s3://b/out/day=01/", 2, "snappy", "s3://b/out/_staging/", run="r1", single_copy_max_bytes=3, copy_part_bytes=4)
        self.assertEqual([s3.objects[("b", k)] for k in keys], [list(range(0, 20, 2)), list(range(1, 20, 2))])
        self.assertEqual([c for c in s3.calls if c[0] == "copy"], [])
        self.assertEqual([c[3] for c in s3.calls if c[0] == "part-copy" and c[1] == keys[0]], ["bytes=0-3", "bytes=4-7", "bytes=8-9"])

    def test_a_failed_part_aborts_the_upload_and_the_output_stays(self):
        s3 = FakeS3(fail_copy_to="r1-part-00000")
        s3.objects[("b", "out/day=01/old.parquet")] = [1, 2]
        with self.assertRaises(OSError):
            fcmp.write_aside_and_switch(FakeDF(s3, list(range(20))), s3, "s3://b/out/day=01/", 2, "snappy", "s3://b/out/_staging/", run="r1", single_copy_max_bytes=3, copy_part_bytes=4)
        self.assertIn(("abort-multipart", "out/day=01/r1-part-00000-x.snappy.parquet"), s3.calls)
        self.assertEqual(s3.uploads, {})
        self.assertEqual(sorted(k for (b, k) in s3.objects), ["out/day=01/old.parquet"])


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

    def test_nothing_the_ready_marker_rule_matches_but_the_marker(self):
        """Regression: the staged folders were inside the split's snapshot folder and Spark's committer wrote a
        _SUCCESS there, which the ready-marker rule `<rawPrefix>snapshot_dt=*/_SUCCESS` matches ('*' crosses '/')."""
        s3 = FakeS3()
        raw = "omc_cleanroom_data/addressable/addressable_ids_compaction_cr/"
        src = "opus/addressable_ids/raw_input/snapshot_dt=2025-10-31/"
        for f in range(24):
            s3.objects[("b", f"{src}part-{f:05d}.parquet")] = [f"{f}-{r}" for r in range(3)]
        fcmp.compact_landing(FakeSpark(s3), s3, "s3://b/" + src, f"s3://b/{raw}snapshot_dt=2025-10-31/", "_SUCCESS", 10, "snappy", log=lambda m: None)
        rule = wildcard(f"{raw}snapshot_dt=*/_SUCCESS")
        self.assertEqual([k for k in s3.written if rule.match(k)], [f"{raw}snapshot_dt=2025-10-31/_SUCCESS"])
        # nothing but the compacted files and the marker was ever written under the split's snapshot folder
        inside = [k for k in s3.written if k.startswith(f"{raw}snapshot_dt=2025-10-31/")]
        self.assertEqual((len(inside), inside[-1]), (9, f"{raw}snapshot_dt=2025-10-31/_SUCCESS"))
        self.assertTrue(all(re.search(r"/[0-9a-f]{12}-part-\d{5}-x\.snappy\.parquet$", k) for k in inside[:-1]))
        self.assertTrue(any(k.startswith(f"{raw}_compaction_staging/snapshot_dt=2025-10-31/") for k in s3.written))
        self.assertEqual(fcmp.compaction_staging_uri(f"s3://b/{raw}snapshot_dt=2025-10-31/"), f"s3://b/{raw}_compaction_staging/snapshot_dt=2025-10-31/")
        self.assertEqual(fcmp.compaction_staging_uri("s3://b/snapshot_dt=2025-10-31"), "s3://b/_compaction_staging/snapshot_dt=2025-10-31/")

    def test_rows_checked_before_the_switch(self):
        s3 = FakeS3()
        src = "opus/x/raw_input/snapshot_dt=2025-10-31/"
        s3.objects[("b", f"{src}T/part-0.parquet")] = list(range(6))
        s3.objects[("b", "out/snapshot_dt=2025-10-31/T/previous.parquet")] = [0]
        with self.assertRaises(ValueError) as ctx:
            fcmp.compact_landing(FakeSpark(s3, lose_rows=1), s3, "s3://b/" + src, "s3://b/out/snapshot_dt=2025-10-31/", "_SUCCESS", 10, "snappy", log=lambda m: None)
        self.assertIn("wrote 5 rows of 6; nothing was switched", str(ctx.exception))
        self.assertEqual(sorted(k for (b, k) in s3.objects if k.startswith("out/")), ["out/snapshot_dt=2025-10-31/T/previous.parquet"])

    def test_no_files_is_an_error_and_no_marker(self):
        s3 = FakeS3()
        with self.assertRaises(ValueError) as ctx:
            fcmp.compact_landing(FakeSpark(s3), s3, "s3://b/opus/x/raw_input/snapshot_dt=2025-10-31/", "s3://b/out/snapshot_dt=2025-10-31/", "_SUCCESS", 2, "snappy")
        self.assertIn("no parquet files", str(ctx.exception))
        self.assertEqual(s3.calls, [])


if __name__ == "__main__":
    unittest.main()
