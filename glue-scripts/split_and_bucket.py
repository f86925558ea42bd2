"""Glue 5.0 (Spark 3.5) job: executes a Flywheel split plan. Thin on purpose: the plan (tables,
columns, file counts, output folders) comes from TypeScript, the logic from flywheel_split.py.

Arguments: --SNAPSHOT_DT D --RUN_ID R --PLAN_URI s3://…/plan.json [--TABLES_FILTER a,b]

Per table: read the source parquet, project the mapped columns (renamed, cast-free) plus id_bucket
(the bucket function of docs/ARCHITECTURE.md as a Spark SQL expression, modulo the plan's bucketCount: a power of
two from 2 to 256), distribute the rows into fileCount files of contiguous id_bucket ranges (fs.file_ranges over
bucketCount buckets, exactly), sort each by (id_bucket, key), write snappy
parquet into the table's empty run folder. Each source row is read once. After every table
succeeded: result.json beside the plan, then metadata/snapshot_dt.txt, which only moves forward (a later
snapshot already there is kept: write_metadata). A failing table fails the job with its name and neither
file is written.

test_split_and_bucket.py drives run_job with fake Spark and S3 objects (the calls and their order; npm
test). test/aws-shape/split-on-spark.test.ts runs this file unmodified on PySpark 3.5.4 against moto
(npm run test:aws) and compares its output with the local DuckDB twin's; a plan with bucketCount 16 there is checked
against the bucket function % 16 and file_ranges(4, 16) instead.
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
    bucket_count = plan["bucketCount"]  # validated: one of fs.BUCKET_COUNTS
    fs.log("INFO", "split started", plan_uri=plan_uri, tables=[t["target"] for t in tables], bucket_count=bucket_count, **ctx)

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
                src.selectExpr(*fs.select_list(t["columns"], t["keySourceColumn"], bucket_count))
                # file i gets exactly id_bucket range i (fs.file_ranges): hash partitioning on a key per range. Not
                # repartitionByRange: its boundaries come from a sampling job that reads the whole source again.
                .selectExpr("*", f"{fs.file_partition_sql(t['fileCount'], bucket_count)} AS {fs.quote(fs.FILE_COLUMN)}")
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
    write_metadata(s3, plan, fs, ctx)
    fs.log("INFO", "split finished", tables=results, **ctx)
    return results


def _error_code(err):
    """The S3 error code of a botocore ClientError (duck-typed: nothing from botocore is imported here)."""
    response = getattr(err, "response", None)
    return str(((response or {}).get("Error") or {}).get("Code", "")) if isinstance(response, dict) else ""


def _supports_conditional_put(s3):
    """Whether this boto3 client knows PutObject's IfMatch/IfNoneMatch (S3 conditional writes; older botocore does not)."""
    try:
        return "IfMatch" in s3.meta.service_model.operation_model("PutObject").input_shape.members
    except Exception:  # noqa: BLE001 - no service model: write unconditionally
        return False


def write_metadata(s3, plan, fs, ctx, attempts=5):
    """metadata/snapshot_dt.txt, only ever moved forward. Two runs of different snapshots may finish in any
    order (their markers can land together): the file is read first and a later snapshot there is kept.
    The write is conditional on what was read (IfMatch its ETag, IfNoneMatch when absent) where the client
    supports it, so a run finishing at the same moment is not overwritten unseen; a lost race reads again.
    Returns True when this snapshot was written."""
    bucket, key = fs.split_s3_uri(plan["metadataUri"])
    conditional = _supports_conditional_put(s3)
    for _ in range(attempts):
        try:
            got = s3.get_object(Bucket=bucket, Key=key)
            current, etag = got["Body"].read().decode("utf-8", errors="replace"), got.get("ETag")
        except Exception as err:  # noqa: BLE001 - only "no such object" is expected
            if _error_code(err) not in ("NoSuchKey", "404", "NotFound"):
                raise
            current, etag = None, None
        if fs.metadata_is_newer(current, plan["snapshotDt"]):
            fs.log("WARN", "metadata/snapshot_dt.txt already names a later snapshot; kept (it never moves backwards)",
                   metadata_uri=plan["metadataUri"], metadata_snapshot_dt=current.strip(), **ctx)
            return False
        condition = {}
        if conditional and current is None:
            condition = {"IfNoneMatch": "*"}
        elif conditional and etag:
            condition = {"IfMatch": etag}
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=fs.metadata_body(plan).encode("utf-8"), ContentType="text/plain", **condition)
            return True
        except Exception as err:  # noqa: BLE001 - only a lost race is retried
            if _error_code(err) not in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                raise
            fs.log("INFO", "metadata/snapshot_dt.txt changed while it was written; reading it again", metadata_uri=plan["metadataUri"], **ctx)
    raise RuntimeError(f"snapshot_dt={plan['snapshotDt']} run_id={plan['runId']}: {plan['metadataUri']} kept changing; not written after {attempts} attempts")


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
