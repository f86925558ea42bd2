"""Unit tests of the chargebacks job's pure helpers (python3 -m unittest; Spark is never run here)."""
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


class Arguments(unittest.TestCase):
    def test_defaults(self):
        a = fc.resolve_args(BASE, now=datetime(2025, 11, 10, 7, tzinfo=timezone.utc))
        self.assertEqual((a["execution_sequence"], a["partition_date"], a["codec"], a["partition_filter"], a["dry_run"], a["output_path"]), (2, "2025-11-10", "snappy", True, False, "s3://b/consolidated/chargebacks/"))

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
        sql = fc.dedupe_sql("landing", ["chargeback_id", "a`b"])
        self.assertIn("ORDER BY coalesce(updated_at, event_timestamp) DESC NULLS LAST", sql)
        self.assertIn("`a``b`", sql)
        self.assertTrue(sql.endswith("WHERE rn = 1 OR chargeback_id IS NULL"))


if __name__ == "__main__":
    unittest.main()
