"""awsglue.context stand-in: GlueContext over the SparkContext the runner started.

spark_session is the default SparkSession of that context (Glue's GlueContext wraps the same session).
create_dynamic_frame_from_catalog reads a Data Catalog table (GetTable, and GetPartitions with the
push-down predicate as its Expression, through boto3) as parquet from its S3 location(s), adding the
partition columns as Glue does; only parquet tables (what Flywheel's jobs read) are supported.

When no partition matches, the answer is the table's columns without rows (EMPTY_FRAME = "catalog-columns",
the default). Glue's DynamicFrame computes its schema from its records, so an empty one can convert to a
DataFrame without columns: EMPTY_FRAME = "no-columns" answers that way (tasks.py:glue_standin_empty_frame).
"""
from awsglue.dynamicframe import DynamicFrame, DynamicFrameReader

EMPTY_FRAME = "catalog-columns"


class GlueContext:
    def __init__(self, sparkContext, **options):  # noqa: N803 - Glue's name
        from pyspark.sql import SparkSession

        self._sc = sparkContext
        self.spark_session = SparkSession.builder.getOrCreate()
        if self.spark_session.sparkContext is not sparkContext:
            raise RuntimeError("GlueContext stand-in: the SparkContext is not the one the runner's session uses")
        self.create_dynamic_frame = DynamicFrameReader(self)
        self.options = options

    def get_logger(self):
        import logging

        return logging.getLogger("awsglue")

    def create_dynamic_frame_from_catalog(self, database, table_name, push_down_predicate="", additional_options=None, catalog_id=None,
                                          transformation_ctx="", **_ignored):
        import boto3
        from pyspark.sql import functions as F

        glue = boto3.client("glue")
        ident = {"CatalogId": catalog_id} if catalog_id else {}
        table = glue.get_table(DatabaseName=database, Name=table_name, **ident)["Table"]
        sd = table["StorageDescriptor"]
        serde = ((sd.get("SerdeInfo") or {}).get("SerializationLibrary") or "").lower()
        if "parquet" not in serde and "parquet" not in (sd.get("InputFormat") or "").lower():
            raise NotImplementedError(f"GlueContext stand-in reads parquet tables only; {database}.{table_name} is {serde or sd.get('InputFormat')}")
        keys = table.get("PartitionKeys") or []
        spark = self.spark_session
        if not keys:
            return DynamicFrame(spark.read.parquet(sd["Location"]), self, table_name)
        partitions, token = [], None
        while True:
            page = glue.get_partitions(DatabaseName=database, TableName=table_name, **ident,
                                       **({"Expression": push_down_predicate} if push_down_predicate else {}),
                                       **({"NextToken": token} if token else {}))
            partitions += page.get("Partitions", [])
            token = page.get("NextToken")
            if not token:
                break
        frames = []
        for p in partitions:
            df = spark.read.parquet(p["StorageDescriptor"]["Location"])
            for k, v in zip(keys, p["Values"]):
                df = df.withColumn(k["Name"], F.lit(v).cast(_spark_type(k.get("Type", "string"))))
            frames.append(df)
        if not frames and EMPTY_FRAME == "no-columns":
            from pyspark.sql.types import StructType

            return DynamicFrame(spark.createDataFrame([], StructType([])), self, table_name)
        if not frames:
            columns = ", ".join(f"CAST(NULL AS {_spark_type(c.get('Type', 'string'))}) AS `{c['Name']}`" for c in sd.get("Columns", []) + keys)
            return DynamicFrame(spark.sql(f"SELECT {columns}").limit(0), self, table_name)
        out = frames[0]
        for df in frames[1:]:
            out = out.unionByName(df, allowMissingColumns=True)
        return DynamicFrame(out, self, table_name)


def _spark_type(hive_type):
    t = hive_type.lower()
    return {"int": "int", "integer": "int", "bigint": "bigint", "smallint": "smallint", "tinyint": "tinyint", "string": "string",
            "date": "date", "boolean": "boolean", "double": "double", "float": "float", "timestamp": "timestamp"}.get(t, t)
