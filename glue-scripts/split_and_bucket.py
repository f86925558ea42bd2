"""Glue 5.0 (Spark 3.5) job: executes a Flywheel split plan. Thin on purpose: the plan (tables,
columns, file counts, output folders) comes from TypeScript, the logic from flywheel_split.py.

Arguments: --SNAPSHOT_DT D --RUN_ID R --PLAN_URI s3://…/plan.json [--TABLES_FILTER a,b]

Per table: read the source parquet, project the mapped columns (renamed, cast-free) plus id_bucket
(DESIGN.md bucket function as a Spark SQL expression), distribute the rows into fileCount files of
contiguous id_bucket ranges (fs.file_ranges, exactly), sort each by (id_bucket, key), write snappy
parquet into the table's empty run folder. Each source row is read once. After every table
succeeded: result.json beside the plan, then metadata/snapshot_dt.txt. A failing table fails the job
with its name and neither file is written.

test_split_and_bucket.py drives run_job with fake Spark and S3 objects (the calls and their order; npm
test). test/aws-shape/split-on-spark.test.ts runs this file unmodified on PySpark 3.5.4 against moto
(npm run test:aws) and compares its output with the local DuckDB twin's.
"""
import json
import sys
import time


def run_job(snapshot_dt, run_id, plan_uri, tables_filter_arg, s3, spark, fs=None):
    """Runs the plan; returns the per-table results. `s3` is a boto3 S3 client, `spark` a SparkSession."""
    if fs is None:
        import flywheel_split as fs

    ctx = {"dataset": None, "snapshot_dt": snapshot_dt, "run_id": run_id}
    names = fs.tables_filter(tables_filter_arg)
    bucket, key = fs.split_s3_uri(plan_uri)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        raw = json.loads(body)
    except ValueError as err:
        raise ValueError(f"plan for snapshot_dt={snapshot_dt} run_id={run_id}: {plan_uri} is not JSON: {err}") from err
    plan = fs.validate_plan(raw, snapshot_dt, run_id)
    ctx["dataset"] = plan["dataset"]
    tables, ignored = fs.select_tables(plan, names)
    if ignored:
        fs.log("WARN", "--TABLES_FILTER names tables the plan does not build (see the plan's skipped list); ignored", ignored=ignored, **ctx)
    key_column = plan["keyColumn"]
    fs.log("INFO", "split started", plan_uri=plan_uri, tables=[t["target"] for t in tables], **ctx)

    results = {}
    for t in tables:
        table = t["target"]
        started = time.time()
        fs.log("INFO", "splitting table", table=table, source=t["source"], source_files=len(t["sourceFiles"]),
               source_bytes=t.get("sourceBytes"), planned_files=t["fileCount"], **ctx)
        try:
            src = spark.read.parquet(*t["sourceFiles"])
            missing = fs.missing_columns(src.dtypes, t["columns"])
            if missing:
                raise ValueError(f"source columns missing from {t['source']}: {', '.join(missing)}")
            problem = fs.key_type_error(src.dtypes, t["keySourceColumn"])
            if problem:
                raise ValueError(problem)
            df = (
                src.selectExpr(*fs.select_list(t["columns"], t["keySourceColumn"]))
                # file i gets exactly id_bucket range i (fs.file_ranges): hash partitioning on a key per range. Not
                # repartitionByRange: its boundaries come from a sampling job that reads the whole source again.
                .selectExpr("*", f"{fs.file_partition_sql(t['fileCount'])} AS {fs.quote(fs.FILE_COLUMN)}")
                .repartition(t["fileCount"], fs.FILE_COLUMN)
                .sortWithinPartitions("id_bucket", key_column)
                .drop(fs.FILE_COLUMN)
            )
            # errorifexists: the run folder is new and must stay the only writer's; maxRecordsPerFile 0 keeps one file per range
            df.write.mode("errorifexists").option("compression", "snappy").option("maxRecordsPerFile", 0).parquet(t["outputUri"])

            # Counts come from the files just written, not from the pipeline above: counting before the
            # write would run the whole read + shuffle + sort a second time, and cache() would hold the
            # full table (tens of GB) in executor memory/disk. This pass reads only the key column's
            # pages of the output and proves what landed in S3.
            stats = spark.read.parquet(t["outputUri"]).selectExpr(*fs.output_stats_exprs(key_column)).collect()[0]
            rows, null_keys = int(stats["rows"]), int(stats["null_keys"])
            ob, ok = fs.split_s3_uri(t["outputUri"])
            listed = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=ob, Prefix=ok) for o in page.get("Contents", [])]
            files = len(fs.data_file_keys(listed, ok))
        except Exception as err:  # the job fails naming the table; nothing is marked done
            fs.log("ERROR", "table failed", table=table, error=f"{type(err).__name__}: {err}", **ctx)
            raise RuntimeError(f"snapshot_dt={snapshot_dt} run_id={run_id} table {table} failed: {err}") from err

        results[table] = {"rows": rows, "files": files, "nullKeys": null_keys, "plannedFiles": t["fileCount"]}
        fs.log("INFO", "table written", table=table, rows=rows, null_keys=null_keys, files=files, planned_files=t["fileCount"],
               seconds=round(time.time() - started, 1), **ctx)
        if null_keys:
            fs.log("WARN", f"rows with a NULL {key_column} kept in bucket 0", table=table, null_keys=null_keys, **ctx)
        if rows == 0:
            fs.log("WARN", "table has no rows", table=table, **ctx)

    # Only now, every selected table written: the result, then the snapshot marker last.
    rb, rk = fs.split_s3_uri(fs.result_uri(plan_uri))
    s3.put_object(Bucket=rb, Key=rk, Body=fs.result_document(results).encode("utf-8"), ContentType="application/json")
    mb, mk = fs.split_s3_uri(plan["metadataUri"])
    s3.put_object(Bucket=mb, Key=mk, Body=fs.metadata_body(plan).encode("utf-8"), ContentType="text/plain")
    fs.log("INFO", "split finished", tables=results, **ctx)
    return results


def main():
    import boto3
    from awsglue.context import GlueContext
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    import flywheel_split as fs

    args = getResolvedOptions(sys.argv, ["SNAPSHOT_DT", "RUN_ID", "PLAN_URI"])
    tables_filter_arg = fs.optional_arg(sys.argv, "TABLES_FILTER")  # optional: getResolvedOptions fails on absent ones

    spark = GlueContext(SparkContext.getOrCreate()).spark_session
    # The planned file count must hold: no adaptive coalescing of the range partitions.
    spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
    run_job(args["SNAPSHOT_DT"], args["RUN_ID"], args["PLAN_URI"], tables_filter_arg, boto3.client("s3"), spark, fs)


if __name__ == "__main__":
    main()
