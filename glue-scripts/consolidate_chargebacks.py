"""Glue (Spark) job: consolidates one day of small chargeback files into OUTPUT_FILE_COUNT parquet files.

Thin on purpose; the decisions live in flywheel_chargebacks.py (unit-tested). Never run here (no Spark).
Write aside, then switch (flywheel_compaction.write_aside_and_switch, shared with compact_raw.py): the
day is written under OUTPUT_PATH/_staging/<run>/, copied into OUTPUT_PATH/year=/month=/day=/ under new
names, and only then are the previous files deleted, so the day's folder always holds a complete day
(for the moment between copy and delete, old and new both).
"""
import sys
import time


def main():
    import boto3
    from awsglue.context import GlueContext
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    import flywheel_chargebacks as fc
    import flywheel_compaction as fcmp

    optional = ["EXECUTION_TIME", "EXECUTION_SEQUENCE", "TOTAL_EXECUTIONS", "ENABLE_PARTITION_FILTER", "PARTITION_DATE", "DRY_RUN"]
    names = fc.REQUIRED + [o for o in optional if f"--{o}" in sys.argv]
    a = fc.resolve_args(getResolvedOptions(sys.argv, names))
    started = time.time()
    glue = GlueContext(SparkContext.getOrCreate())
    spark = glue.spark_session
    spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")  # OUTPUT_FILE_COUNT must hold
    kwargs = {"push_down_predicate": fc.push_down_predicate(a["partition_date"])} if a["partition_filter"] else {}
    df = glue.create_dynamic_frame.from_catalog(database=a["database"], table_name=a["table"], **kwargs).toDF()
    if not a["partition_filter"]:
        # no pruning at read time (a full scan), but the output is still that one day
        df = df.where(fc.push_down_predicate(a["partition_date"]))
    df.createOrReplaceTempView("landing")
    quality = spark.sql("SELECT count(*) AS n, count(DISTINCT chargeback_id) AS ids, sum(CASE WHEN chargeback_id IS NULL THEN 1 ELSE 0 END) AS nulls FROM landing").first()
    records, nulls = quality["n"], quality["nulls"] or 0
    out_rows = quality["ids"] + nulls
    columns = [c for c in df.columns if c not in ("year", "month", "day")]
    day = fc.day_partition(a["partition_date"])
    if a["dry_run"]:
        print(f"DRY RUN: would write {out_rows} rows in {a['file_count']} files to {a['output_path']}{day}", flush=True)
        print(fc.metrics_line(records, records - out_rows, 0, time.time() - started), flush=True)
        return
    # the compaction capability (flywheel_compaction.py): write aside, then switch
    new_keys = fcmp.write_aside_and_switch(
        spark.sql(fc.dedupe_sql("landing", columns)), boto3.client("s3"), f"{a['output_path']}{day}", a["file_count"], a["codec"], f"{a['output_path']}_staging/"
    )
    print(fc.metrics_line(records, records - out_rows, len(new_keys), time.time() - started), flush=True)


if __name__ == "__main__":
    main()
