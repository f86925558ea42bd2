"""Glue (Spark) job: consolidates one day of small chargeback files into OUTPUT_FILE_COUNT parquet files.

Thin on purpose; the decisions live in flywheel_chargebacks.py (unit-tested). `npm run test:aws` runs this script
unmodified on PySpark 3.5.4 against moto (S3 and the Glue catalog) and compares it with the DuckDB twin
(test/aws-shape/chargebacks-on-spark.test.ts).

The landing table's partition keys name the day: year/month/day when the crawler read `year=YYYY/month=MM/day=DD/`
folders, partition_0/1/2 when it read the current system's `YYYY/MM/DD/` folders; the job asks the catalog which
(flywheel_chargebacks.day_keys) and filters on those. The day is read once: the deduplicated rows, each carrying its id's landing row count, are kept (memory, then
disk) for the counts and the write (a dry run reads chargeback_id alone, once, and writes nothing). A day without landing rows (no crawled partition yet: the frame may have no
columns at all) consolidates nothing, says so and leaves the day's output as it was. Write aside, then switch
(flywheel_compaction.write_aside_and_switch, shared with compact_raw.py): the day is written under
OUTPUT_PATH/_staging/<run>/, its rows checked, copied into OUTPUT_PATH/year=/month=/day=/ under new names, and only
then are the previous files deleted, so the day's folder always holds a complete day (for the moment between copy
and delete, old and new both).
"""
import sys
import time


def main():
    import boto3
    from awsglue.context import GlueContext
    from awsglue.utils import getResolvedOptions
    from pyspark import StorageLevel
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
    source = f"{a['database']}.{a['table']}"
    output = f"{a['output_path']}{fc.day_partition(a['partition_date'])}"
    # which partition keys name the day: year/month/day (year=/month=/day= folders) or partition_0..2 (YYYY/MM/DD folders)
    partition_keys = [k["Name"] for k in boto3.client("glue").get_table(DatabaseName=a["database"], Name=a["table"])["Table"].get("PartitionKeys", [])]
    keys = fc.day_keys(partition_keys, source)
    predicate = fc.push_down_predicate(a["partition_date"], keys)

    def nothing():
        print(fc.nothing_to_consolidate_line(a["partition_date"], source, output, keys), flush=True)
        print(fc.metrics_line(0, 0, 0, time.time() - started), flush=True)

    kwargs = {"push_down_predicate": predicate} if a["partition_filter"] else {}
    df = glue.create_dynamic_frame.from_catalog(database=a["database"], table_name=a["table"], **kwargs).toDF()
    columns = fc.landing_columns(df.columns, source, partition_keys)
    if columns is None:
        return nothing()
    if not a["partition_filter"]:
        # no pruning at read time (a full scan), but the output is still that one day
        df = df.where(predicate)
    df.createOrReplaceTempView("landing")
    if a["dry_run"]:
        # one scan of chargeback_id alone; nothing is written
        quality = spark.sql(fc.quality_sql("landing")).first()
        records, out_rows = quality["records"], quality["output_rows"]
        if records == 0:
            return nothing()
        print(fc.quality_line(quality["null_ids"], records), flush=True)
        print(f"DRY RUN: would write {out_rows} rows in {a['file_count']} files to {output}", flush=True)
        print(fc.metrics_line(records, records - out_rows, 0, time.time() - started), flush=True)
        return None
    consolidated = spark.sql(fc.dedupe_counted_sql("landing", columns)).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        consolidated.createOrReplaceTempView("consolidated")
        counts = spark.sql(fc.counts_sql("consolidated")).first()
        records, out_rows = counts["records"], counts["output_rows"]
        if records == 0:
            return nothing()
        print(fc.quality_line(counts["null_ids"], records), flush=True)

        def same_rows(staged):
            written = spark.read.parquet(*staged).count() if staged else 0
            if written != out_rows:
                raise ValueError(f"consolidation of {a['partition_date']} wrote {written} rows, expected {out_rows}; {output} left as it was")

        # the compaction capability (flywheel_compaction.py): write aside, check, then switch
        new_keys = fcmp.write_aside_and_switch(
            consolidated.drop(fc.ROWS_COLUMN), boto3.client("s3"), output, a["file_count"], a["codec"], f"{a['output_path']}_staging/", before_switch=same_rows
        )
        print(fc.metrics_line(records, records - out_rows, len(new_keys), time.time() - started), flush=True)
        return None
    finally:
        consolidated.unpersist()


if __name__ == "__main__":
    main()
