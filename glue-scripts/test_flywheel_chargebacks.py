"""Unit tests of the chargebacks job's pure helpers (python3 -m unittest; Spark is never run here)."""
import sqlite3
import unittest
from datetime import datetime, timezone

import flywheel_chargebacks as fc

BASE = {"SOURCE_DATABASE": "landing", "SOURCE_TABLE": "chargebacks", "OUTPUT_PATH": "s3://b/consolidated/chargebacks", "OUTPUT_FILE_COUNT": "10", "COMPRESSION_CODEC": "SNAPPY"}


class Windows(unittest.TestCase):
    def test_same_decisions_as_the_typescript_twin(self):
        at = lambda s: datetime.fromisoformat(s).replace(tzinfo=timezone.utc)  # noqa: E731
        self.assertEqual(fc.consolidation_window(at("2025-11-10T00:30:00")), (1, "2025-11-09"))
        self.assertEqual(fc.consolidation_window(at("2025-11-10T06:30:00")), (2, "2025-11-10"))
        self.assertEqual(fc.consolidation_window(at("2025-11-10T18:30:00")), (4, "2025-11-10"))
        self.assertEqual(fc.consolidation_window(at("2025-03-01T01:00:00")), (1, "2025-02-28"))
        with self.assertRaises(ValueError):
            fc.consolidation_window(at("2025-03-01T01:00:00"), 5)

    def test_an_explicit_sequence_decides_the_day(self):
        at = lambda s: datetime.fromisoformat(s).replace(tzinfo=timezone.utc)  # noqa: E731
        # at 06:30 the time says execution 2 (the day so far); an explicit 1 consolidates the previous day, and the reverse
        self.assertEqual(fc.consolidation_window(at("2025-11-10T06:30:00"), 4, 1), (1, "2025-11-09"))
        self.assertEqual(fc.consolidation_window(at("2025-11-10T00:30:00"), 4, 3), (3, "2025-11-10"))
        for bad in (0, 5):
            with self.assertRaises(ValueError) as ctx:
                fc.consolidation_window(at("2025-11-10T00:30:00"), 4, bad)
            self.assertIn("EXECUTION_SEQUENCE must be 1..4", str(ctx.exception))


class Arguments(unittest.TestCase):
    def test_defaults(self):
        a = fc.resolve_args(BASE, now=datetime(2025, 11, 10, 7, tzinfo=timezone.utc))
        self.assertEqual((a["execution_sequence"], a["partition_date"], a["codec"], a["partition_filter"], a["dry_run"], a["output_path"]), (2, "2025-11-10", "snappy", True, False, "s3://b/consolidated/chargebacks/"))

    def test_explicit_execution_sequence_wins_over_the_time(self):
        now = datetime(2025, 11, 10, 7, tzinfo=timezone.utc)  # the time says execution 2: 2025-11-10
        a = fc.resolve_args({**BASE, "EXECUTION_SEQUENCE": "1"}, now=now)
        self.assertEqual((a["execution_sequence"], a["partition_date"]), (1, "2025-11-09"))
        a = fc.resolve_args({**BASE, "EXECUTION_TIME": "2025-11-10T00:30:00Z", "EXECUTION_SEQUENCE": "2", "TOTAL_EXECUTIONS": "4"})
        self.assertEqual((a["execution_sequence"], a["partition_date"]), (2, "2025-11-10"))
        # an explicit PARTITION_DATE still wins over both
        a = fc.resolve_args({**BASE, "EXECUTION_SEQUENCE": "1", "PARTITION_DATE": "2025-10-31"}, now=now)
        self.assertEqual((a["execution_sequence"], a["partition_date"]), (1, "2025-10-31"))
        with self.assertRaises(ValueError) as ctx:
            fc.resolve_args({**BASE, "EXECUTION_SEQUENCE": "5"}, now=now)
        self.assertIn("--EXECUTION_SEQUENCE must be 1..4", str(ctx.exception))

    def test_explicit_and_bad_values(self):
        a = fc.resolve_args({**BASE, "PARTITION_DATE": "2025-10-31", "DRY_RUN": "true", "ENABLE_PARTITION_FILTER": "false"})
        self.assertEqual((a["partition_date"], a["dry_run"], a["partition_filter"]), ("2025-10-31", True, False))
        for bad, message in [({"OUTPUT_PATH": ""}, "--OUTPUT_PATH"), ({"PARTITION_DATE": "2025-02-30"}, ""), ({"OUTPUT_FILE_COUNT": "0"}, "1..1000"), ({"COMPRESSION_CODEC": "brotli"}, "COMPRESSION_CODEC")]:
            with self.assertRaises(ValueError) as ctx:
                fc.resolve_args({**BASE, **bad})
            self.assertIn(message, str(ctx.exception))


class Pieces(unittest.TestCase):
    def test_partition_filter_metrics_switch(self):
        self.assertEqual(fc.day_partition("2025-11-09"), "year=2025/month=11/day=09/")
        self.assertEqual(fc.push_down_predicate("2025-11-09"), "year='2025' and month='11' and day='09'")
        self.assertEqual(fc.metrics_line(10, 2, 4, 1.5), "METRICS: records_processed=10, duplicates_removed=2, output_files=4, duration_seconds=1.50")
        self.assertEqual(fc.quality_line(3, 10), "DATA QUALITY: null_chargeback_ids=3, records_processed=10")
        sql = fc.dedupe_sql("landing", ["chargeback_id", "a`b"])
        self.assertIn("ORDER BY coalesce(updated_at, event_timestamp) DESC NULLS LAST", sql)
        self.assertIn("`a``b`", sql)
        self.assertTrue(sql.endswith("WHERE rn = 1 OR chargeback_id IS NULL"))



class OnePassAndEmptyDays(unittest.TestCase):
    """Regressions found on Spark (test/aws-shape/chargebacks-on-spark.test.ts): the day was read twice (a quality
    query, then the dedupe), and a day without a crawled partition failed to resolve chargeback_id."""

    def test_a_frame_without_columns_is_a_day_without_rows(self):
        self.assertIsNone(fc.landing_columns([], "flywheel.landing_chargebacks"))
        self.assertEqual(fc.landing_columns(["chargeback_id", "event_timestamp", "updated_at", "amount", "year", "month", "day"], "t"), ["chargeback_id", "event_timestamp", "updated_at", "amount"])
        with self.assertRaises(ValueError) as ctx:
            fc.landing_columns(["id", "event_timestamp", "year"], "flywheel.landing_chargebacks")
        self.assertIn("flywheel.landing_chargebacks has no column chargeback_id, updated_at", str(ctx.exception))
        line = fc.nothing_to_consolidate_line("2025-11-11", "flywheel.landing_chargebacks", "s3://b/consolidated/chargebacks/year=2025/month=11/day=11/")
        self.assertTrue(line.startswith("NOTHING TO CONSOLIDATE: no landing rows for 2025-11-11 in flywheel.landing_chargebacks (no crawled partition year=2025/month=11/day=11"))
        self.assertTrue(line.endswith("s3://b/consolidated/chargebacks/year=2025/month=11/day=11/ left as it was"))

    def test_one_pass_gives_the_dedupe_rows_and_the_metrics(self):
        # SQLite (3.30+: NULLS LAST, window functions, backquoted names) evaluates the same SQL text
        db = sqlite3.connect(":memory:")
        db.execute("CREATE TABLE landing (chargeback_id TEXT, event_timestamp TEXT, updated_at TEXT, amount REAL, year TEXT)")
        rows = [
            ("cb-1", "2025-11-09 01:00", None, 1.0), ("cb-1", "2025-11-09 02:00", "2025-11-09 01:30", 2.0), ("cb-1", "2025-11-09 00:30", "2025-11-09 03:00", 3.0),
            ("cb-2", "2025-11-09 05:00", None, 4.0), ("cb-2", "2025-11-09 04:00", None, 5.0),
            ("cb-3", "2025-11-09 06:00", "2025-11-09 06:00", 6.0),
            (None, "2025-11-09 07:00", None, 7.0), (None, "2025-11-09 07:00", None, 8.0),
        ]
        db.executemany("INSERT INTO landing VALUES (?, ?, ?, ?, '2025')", rows)
        columns = fc.landing_columns(["chargeback_id", "event_timestamp", "updated_at", "amount", "year"], "t")
        plain = sorted(db.execute(fc.dedupe_sql("landing", columns)).fetchall(), key=repr)
        db.execute(f"CREATE VIEW consolidated AS {fc.dedupe_counted_sql('landing', columns)}")
        counted = sorted(db.execute("SELECT * FROM consolidated").fetchall(), key=repr)
        self.assertEqual([r[:-1] for r in counted], plain)
        self.assertEqual(sorted(r[3] for r in plain), [3.0, 4.0, 6.0, 7.0, 8.0])  # latest updated_at, else event_timestamp; NULL ids kept
        self.assertEqual({r[0]: r[-1] for r in counted if r[0]}, {"cb-1": 3, "cb-2": 2, "cb-3": 1})
        records, output_rows, null_ids = db.execute(fc.counts_sql("consolidated")).fetchone()
        self.assertEqual((records, output_rows, records - output_rows), (len(rows), 5, 3))
        self.assertEqual(null_ids, 2)  # the rows without an id, kept and counted (the DATA QUALITY line)
        # the dry run's one-column scan says the same
        self.assertEqual(db.execute(fc.quality_sql("landing")).fetchone(), (records, output_rows, null_ids))
        db.execute("DELETE FROM landing")
        self.assertEqual(db.execute(fc.counts_sql("consolidated")).fetchone(), (0, 0, 0))
        self.assertEqual(db.execute(fc.quality_sql("landing")).fetchone(), (0, 0, 0))


class LandingLayouts(unittest.TestCase):
    """The landing table as a crawler registers either folder form: year=YYYY/month=MM/day=DD/ gives the keys year,
    month, day; the current system's YYYY/MM/DD/ gives partition_0, partition_1, partition_2."""

    def test_the_day_keys_come_from_the_table(self):
        self.assertEqual(fc.day_keys(["year", "month", "day"], "t"), ("year", "month", "day"))
        self.assertEqual(fc.day_keys(["partition_0", "partition_1", "partition_2"], "t"), ("partition_0", "partition_1", "partition_2"))
        for keys in ([], ["partition_0"], ["year", "month"]):
            with self.assertRaises(ValueError) as ctx:
                fc.day_keys(keys, "flywheel.landing_chargebacks")
            self.assertIn("flywheel.landing_chargebacks has partition keys", str(ctx.exception))
            self.assertIn("YYYY/MM/DD", str(ctx.exception))

    def test_the_filter_and_the_columns_follow_the_keys(self):
        keys = ("partition_0", "partition_1", "partition_2")
        self.assertEqual(fc.push_down_predicate("2025-11-09", keys), "partition_0='2025' and partition_1='11' and partition_2='09'")
        self.assertEqual(fc.push_down_predicate("2025-11-09", ("year", "month", "day")), fc.push_down_predicate("2025-11-09"))
        self.assertEqual(fc.landing_columns(["chargeback_id", "event_timestamp", "updated_at", "partition_0", "partition_1", "partition_2"], "t", list(keys)),
                         ["chargeback_id", "event_timestamp", "updated_at"])
        line = fc.nothing_to_consolidate_line("2025-11-11", "db.t", "s3://b/c/", keys)
        self.assertIn("(no crawled partition partition_0=2025/partition_1=11/partition_2=11, or an empty one)", line)
        # the predicate selects the day's rows of either table (SQLite evaluates the same text)
        db = sqlite3.connect(":memory:")
        db.execute("CREATE TABLE landing (chargeback_id TEXT, partition_0 TEXT, partition_1 TEXT, partition_2 TEXT)")
        db.executemany("INSERT INTO landing VALUES (?, ?, ?, ?)", [("a", "2025", "11", "09"), ("b", "2025", "11", "10"), ("c", "2025", "11", "09")])
        self.assertEqual(sorted(r[0] for r in db.execute(f"SELECT chargeback_id FROM landing WHERE {fc.push_down_predicate('2025-11-09', keys)}")), ["a", "c"])


if __name__ == "__main__":
    unittest.main()
