"""Glue (Spark) job: compacts a raw landing's small files into right-sized parquet under the split's
input, folder by folder, then writes the ready marker that starts the pipeline.

Arguments: --SOURCE_PATH s3://…/opus/<dataset>/raw_input/snapshot_dt=D/ --OUTPUT_PATH s3://…/<split input>/snapshot_dt=D/
--READY_MARKER _SUCCESS --TARGET_FILE_MB 256 --COMPRESSION_CODEC snappy (and --DATASET, --SNAPSHOT_DT for the logs).
Thin on purpose: flywheel_compaction.py holds the logic (unit-tested with fakes in `npm test`). `npm run test:aws`
runs this script unmodified on PySpark 3.5.4 against moto and compares it with the DuckDB twin
(test/aws-shape/compaction-on-spark.test.ts). Each folder is staged beside the snapshot folder
(…/_compaction_staging/snapshot_dt=D/, never inside it) without Spark's _SUCCESS, rows are checked before the
switch, and the ready marker is the last object written.
"""
import sys


def main():
    import boto3
    from awsglue.context import GlueContext
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    import flywheel_compaction as fcmp

    a = getResolvedOptions(sys.argv, ["SOURCE_PATH", "OUTPUT_PATH", "READY_MARKER", "TARGET_FILE_MB", "COMPRESSION_CODEC", "DATASET", "SNAPSHOT_DT"])
    codec = a["COMPRESSION_CODEC"].lower()
    if codec not in fcmp.CODECS:
        raise ValueError(f"--COMPRESSION_CODEC must be one of {', '.join(sorted(fcmp.CODECS))}, got {codec}")
    spark = GlueContext(SparkContext.getOrCreate()).spark_session
    spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")  # the file count must hold
    prefix = f"[{a['DATASET']} snapshot_dt={a['SNAPSHOT_DT']}]"
    results = fcmp.compact_landing(spark, boto3.client("s3"), a["SOURCE_PATH"], a["OUTPUT_PATH"], a["READY_MARKER"], int(a["TARGET_FILE_MB"]) * 1024 * 1024, codec, log=lambda m: print(f"{prefix} {m}", flush=True))
    print(f"{prefix} compaction done: {sum(r['rows'] for r in results)} rows in {sum(r['files'] for r in results)} files; marker written", flush=True)


if __name__ == "__main__":
    main()
