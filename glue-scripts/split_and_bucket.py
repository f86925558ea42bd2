"""Glue 5.0 (Spark) job: executes a Flywheel split plan. Thin on purpose: the plan (tables, columns,
file counts, output folders) comes from TypeScript, the logic from flywheel_split.py (unit-tested).

Arguments: --SNAPSHOT_DT D --RUN_ID R --PLAN_URI s3://…/plan.json [--TABLES_FILTER a,b]
Writes each table's parquet (snappy) into its empty run folder, then result.json beside the plan
and, after every table succeeded, metadata/snapshot_dt.txt. Any table failing fails the job.
"""
import json
import sys
import time


def main():
    import boto3
    from awsglue.context import GlueContext
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext
    from pyspark.sql import functions as F

    import flywheel_split as fs

    args = getResolvedOptions(sys.argv, ["SNAPSHOT_DT", "RUN_ID", "PLAN_URI"])
    snapshot_dt, run_id, plan_uri = args["SNAPSHOT_DT"], args["RUN_ID"], args["PLAN_URI"]
    names = fs.tables_filter(fs.optional_arg(sys.argv, "TABLES_FILTER"))
    ctx = {"dataset": None, "snapshot_dt": snapshot_dt, "run_id": run_id}

    s3 = boto3.client("s3")
    bucket, key = fs.split_s3_uri(plan_uri)
    plan = fs.validate_plan(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()), snapshot_dt, run_id)
    ctx["dataset"] = plan["dataset"]
    tables = fs.select_tables(plan, names)

    spark = GlueContext(SparkContext.getOrCreate()).spark_session
    # the file count per table must hold: no adaptive coalescing of the range partitions
    spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")

    results = {}
    for t in tables:
        started = time.time()
        fs.log("INFO", "splitting table", table=t["target"], source=t["source"], files=t["fileCount"], **ctx)
        try:
            df = spark.read.parquet(*t["sourceFiles"]).selectExpr(*fs.select_list(t["columns"], t["keySourceColumn"]))
            # cached once: the write and the two counts below reuse it instead of re-reading S3
            df = df.repartitionByRange(t["fileCount"], "id_bucket").sortWithinPartitions("id_bucket", plan["keyColumn"]).cache()
            rows = df.count()
            null_keys = df.filter(F.col(plan["keyColumn"]).isNull()).count()
            df.write.mode("errorifexists").option("compression", "snappy").parquet(t["outputUri"])
            df.unpersist()
        except Exception as err:  # the job fails naming the table; nothing is marked done
            fs.log("ERROR", "table failed", table=t["target"], error=str(err), **ctx)
            raise RuntimeError(f"snapshot_dt={snapshot_dt} table {t['target']}: {err}") from err
        results[t["target"]] = {"rows": rows, "files": t["fileCount"], "nullKeys": null_keys}
        fs.log("INFO", "table written", table=t["target"], rows=rows, null_keys=null_keys, seconds=round(time.time() - started, 1), **ctx)

    rb, rk = fs.split_s3_uri(fs.result_uri(plan_uri))
    s3.put_object(Bucket=rb, Key=rk, Body=json.dumps({"tables": results}).encode("utf-8"), ContentType="application/json")
    mb, mk = fs.split_s3_uri(plan["metadataUri"])
    s3.put_object(Bucket=mb, Key=mk, Body=f"{snapshot_dt}\n".encode("utf-8"), ContentType="text/plain")
    fs.log("INFO", "split finished", tables=list(results), **ctx)


if __name__ == "__main__":
    main()
