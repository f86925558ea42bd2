"""Test-side Spark tasks for glue_runner.py "call" tasks: function(spark, params) -> JSON-able result.

Used by test/aws-shape/split-on-spark.test.ts and bucket-vectors-on-spark.test.ts; everything runs on the
same SparkSession as the Glue scripts of the run (local mode, S3A -> moto).
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GLUE_SCRIPTS = os.path.abspath(os.path.join(HERE, "..", "..", "..", "glue-scripts"))


def _fs():
    if GLUE_SCRIPTS not in sys.path:
        sys.path.insert(0, GLUE_SCRIPTS)
    import flywheel_split

    return flywheel_split


def _json_value(v):
    if isinstance(v, (bytes, bytearray)):
        return {"hex": bytes(v).hex().upper()}
    if isinstance(v, list):
        return [_json_value(x) for x in v]
    return v


def write_source_with_raw_keys(spark, params):
    """Writes a one-file source table whose STRING keys are the given raw bytes (hex), valid UTF-8 or not, then the
    plan that splits it (params.plan with the file filled in) to params.planUri. Spark's CAST(binary AS STRING)
    keeps the bytes as they are, and parquet stores them as written: a source can carry invalid UTF-8 keys.

    params: {sourceUri: "s3://…/SOURCE/", keysHex: ["80", …] (null = a NULL key), planUri, plan}
    """
    import boto3

    fs = _fs()
    rows = ", ".join(f"({i}, {'NULL' if h is None else f'CAST(unhex({chr(39)}{h}{chr(39)}) AS STRING)'})" for i, h in enumerate(params["keysHex"]))
    df = spark.sql(f"SELECT CAST(n AS INT) AS ROW_NO, k AS CUSTOMER_USER_ID FROM VALUES {rows} AS t(n, k)")
    df.coalesce(1).write.mode("errorifexists").parquet(params["sourceUri"])
    s3 = boto3.client("s3")
    bucket, prefix = fs.split_s3_uri(params["sourceUri"])
    objects = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    files = [o for o in objects if o["Key"] in fs.data_file_keys([x["Key"] for x in objects], prefix)]
    plan = json.loads(json.dumps(params["plan"]))
    for t in plan["tables"]:
        t["sourceFiles"] = [f"s3://{bucket}/{o['Key']}" for o in files]
        t["sourceBytes"] = sum(o["Size"] for o in files)
        t["estimatedBytes"] = t["sourceBytes"]
    pb, pk = fs.split_s3_uri(params["planUri"])
    s3.put_object(Bucket=pb, Key=pk, Body=json.dumps(plan, indent=2).encode("utf-8"))
    return {"files": [o["Key"] for o in files], "schema": df.schema.simpleString()}


def read_split_output(spark, params):
    """Rows of a written split table as Spark reads them back: row_no, the key's bytes (hex), id_bucket, file name.

    params: {uri, keyColumn, extraColumns: [...]}
    """
    from pyspark.sql import functions as F

    key = params["keyColumn"]
    df = spark.read.parquet(params["uri"])
    cols = [F.col(c) for c in params.get("extraColumns", [])]
    rows = df.select(*cols, F.hex(F.col(key)).alias("key_hex"), F.col("id_bucket"), F.input_file_name().alias("file")).collect()
    return {"schema": df.schema.simpleString(), "rows": [r.asDict() for r in rows]}


def bucket_vectors(spark, params):
    """bucket_sql_expr evaluated by Spark over every vector id and a NULL: [{i, bucket}] (i = -1 for the NULL)."""
    fs = _fs()
    with open(params["vectorsFile"], encoding="utf-8") as f:
        vectors = json.load(f)["vectors"]
    column = params.get("column", "customer_user_id")
    df = spark.createDataFrame([(i, v["id"]) for i, v in enumerate(vectors)] + [(-1, None)], f"i int, `{column.replace('`', '``')}` string")
    rows = df.selectExpr("i", f"{fs.bucket_sql_expr(column)} AS id_bucket", f"typeof({fs.bucket_sql_expr(column)}) AS t").collect()
    return {"rows": [{"i": r["i"], "bucket": r["id_bucket"]} for r in sorted(rows, key=lambda r: r["i"])],
            "types": sorted({r["t"] for r in rows}), "expression": fs.bucket_sql_expr(column)}


def raw_key_buckets(spark, params):
    """Per raw key (hex): octet_length, its UTF-8 re-encoding's length, and each expression's id_bucket.

    params: {keysHex: [...], expressions: {name: sql over `k`}}
    """
    out = []
    for h in params["keysHex"]:
        row = spark.sql(f"SELECT CAST(unhex('{h}') AS STRING) AS k").selectExpr(
            "octet_length(k) AS octets", "octet_length(encode(k, 'UTF-8')) AS reencoded_octets",
            *[f"{e} AS `{n}`" for n, e in params["expressions"].items()]).collect()[0].asDict()
        out.append({"hex": h, **row})
    return out


def sql_values(spark, params):
    """Each SQL expression of params.exprs evaluated by Spark (constant expressions): [{sql, value}] (binary as {hex})."""
    out = []
    for sql in params["exprs"]:
        try:
            value = spark.sql(f"SELECT {sql} AS v").collect()[0]["v"]
            out.append({"sql": sql, "value": _json_value(value)})
        except Exception as err:  # noqa: BLE001 - reported per expression
            out.append({"sql": sql, "error": f"{type(err).__name__}: {str(err).splitlines()[0]}"})
    return out


def codegen_fallback(spark, params):
    """Whether each Catalyst expression class is interpreted only (implements CodegenFallback)."""
    jvm = spark.sparkContext._jvm
    fallback = jvm.java.lang.Class.forName("org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback")
    return {name: fallback.isAssignableFrom(jvm.java.lang.Class.forName(f"org.apache.spark.sql.catalyst.expressions.{name}")) for name in params["classes"]}


def model_examples(spark, params):
    """glue-scripts/test_bucket_sql_eval.py's SPARK_EXAMPLES on Spark: [{sql, expected, model, spark}] (binary as {hex})."""
    _fs()
    import test_bucket_sql_eval as model

    out = []
    for sql, expected in model.SPARK_EXAMPLES:
        try:
            got = _json_value(spark.sql(f"SELECT {sql} AS v").collect()[0]["v"])
        except Exception as err:  # noqa: BLE001 - reported per example
            got = {"error": f"{type(err).__name__}: {str(err).splitlines()[0]}"}
        try:
            mine = _json_value(model.eval_sql(sql, {}))
        except model.SqlModelError as err:
            mine = {"error": str(err)}
        out.append({"sql": sql, "expected": _json_value(expected), "model": mine, "spark": got})
    return out


def spark_hash_check(spark, params):
    """flywheel_split's Murmur3 port and file keys against Spark: hash() of params.values, and pmod(hash(key), n) of
    every bucket's key for every file count 1..256 (one query), and a real repartition for params.repartitionCounts."""
    from pyspark.sql import functions as F

    fs = _fs()
    values = params["values"]
    got = spark.createDataFrame([(v,) for v in values], "v int").selectExpr("v", "hash(v) AS h").collect()
    hash_mismatches = [[r["v"], r["h"], fs.spark_hash_int(r["v"])] for r in got if r["h"] != fs.spark_hash_int(r["v"])]
    rows = []
    for n in range(1, fs.BUCKET_COUNT + 1):
        keys = fs.file_partition_keys(n)
        for i, (lo, hi) in enumerate(fs.file_ranges(n)):
            rows += [(n, b, keys[b], i) for b in range(lo, hi + 1)]
    df = spark.createDataFrame(rows, "n int, b int, k int, file int")
    wrong = df.where("pmod(hash(k), n) <> file").count()
    repartitioned = {}
    for n in params["repartitionCounts"]:
        d = spark.range(fs.BUCKET_COUNT).selectExpr("CAST(id AS INT) AS id_bucket")
        d = d.selectExpr("*", f"{fs.file_partition_sql(n)} AS `{fs.FILE_COLUMN}`").repartition(n, fs.FILE_COLUMN)
        placed = d.select("id_bucket", F.spark_partition_id().alias("p")).collect()
        ranges = fs.file_ranges(n)
        repartitioned[str(n)] = sum(1 for r in placed if not ranges[r["p"]][0] <= r["id_bucket"] <= ranges[r["p"]][1])
    return {"values": len(values), "hashMismatches": hash_mismatches, "pairs": len(rows), "wrongPartitions": wrong,
            "repartitionMisplaced": repartitioned}


# --- compaction and chargebacks on Spark (test/aws-shape/compaction-on-spark.test.ts, chargebacks-on-spark.test.ts) ---


def s3_checkpoint(spark, params):
    """Puts an empty object at params.sentinelKey (when given), then lists params.prefixes of params.bucket, and
    copies the objects listed under each prefix of params.keep ({prefix: to}) to `to` + their key (to read them
    after a later task replaced them).

    The sentinel's Object Created event marks, in an S3 event log, where one task ended and the next began.
    params: {bucket, sentinelKey?, prefixes: [...], keep?: {prefix: to}}; returns {prefix: [{key, size, etag}]} (all pages).
    """
    import boto3

    s3 = boto3.client("s3")
    if params.get("sentinelKey"):
        s3.put_object(Bucket=params["bucket"], Key=params["sentinelKey"], Body=b"")
    out = {}
    keep = params.get("keep") or {}
    for prefix in list(params.get("prefixes") or []) + [p for p in keep if p not in (params.get("prefixes") or [])]:
        rows = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=params["bucket"], Prefix=prefix):
            rows += [{"key": o["Key"], "size": o["Size"], "etag": o["ETag"].strip('"')} for o in page.get("Contents", [])]
        out[prefix] = rows
        if prefix in keep:
            for o in rows:
                s3.copy_object(Bucket=params["bucket"], Key=keep[prefix] + o["key"], CopySource={"Bucket": params["bucket"], "Key": o["key"]})
    return out


def s3_copy(spark, params):
    """Server-side copies params.copies ([{bucket, from, to}]) with boto3 (e.g. a late landing file into its day)."""
    import boto3

    s3 = boto3.client("s3")
    for c in params["copies"]:
        s3.copy_object(Bucket=c["bucket"], Key=c["to"], CopySource={"Bucket": c["bucket"], "Key": c["from"]})
    return len(params["copies"])


def compaction_copy_in_parts(spark, params):
    """flywheel_compaction.write_aside_and_switch on this session with S3's CopyObject limit lowered, so every staged
    file is copied into place by a multipart copy (UploadPartCopy) of params.partBytes parts, as a file over 5 GB is.

    params: {sourceUri, outputUri, stagingUri, fileCount, singleCopyMaxBytes, partBytes}
    returns {keys: [{key, size, etag}], rowsIn, rowsOut, onlyIn, onlyOut}
    """
    import boto3

    _fs()
    import flywheel_compaction as fcmp

    s3 = boto3.client("s3")
    df = spark.read.parquet(params["sourceUri"])
    keys = fcmp.write_aside_and_switch(df, s3, params["outputUri"], params["fileCount"], "snappy", params["stagingUri"],
                                       single_copy_max_bytes=params["singleCopyMaxBytes"], copy_part_bytes=params["partBytes"])
    bucket, _ = fcmp.split_s3_uri(params["outputUri"])
    out = []
    for k in keys:
        head = s3.head_object(Bucket=bucket, Key=k)
        out.append({"key": k, "size": head["ContentLength"], "etag": head["ETag"].strip('"')})
    back = spark.read.parquet(*[f"s3://{bucket}/{k}" for k in keys])
    return {"keys": out, "rowsIn": df.count(), "rowsOut": back.count(), "onlyIn": df.exceptAll(back).count(), "onlyOut": back.exceptAll(df).count()}


def glue_standin_empty_frame(spark, params):
    """How the awsglue stand-in answers from_catalog when no partition matches: params.mode 'catalog-columns' (its default:
    the table's columns, no rows) or 'no-columns' (a DynamicFrame without a schema, whose toDF() has no columns)."""
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    import awsglue.context

    before = awsglue.context.EMPTY_FRAME
    awsglue.context.EMPTY_FRAME = params["mode"]
    return {"before": before, "now": awsglue.context.EMPTY_FRAME}
