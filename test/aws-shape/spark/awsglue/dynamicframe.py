"""awsglue.dynamicframe stand-in: a DynamicFrame is a Spark DataFrame here (toDF / fromDF / count)."""


class DynamicFrame:
    def __init__(self, df, glue_ctx, name=""):
        self._df = df
        self.glue_ctx = glue_ctx
        self.name = name

    def toDF(self):  # noqa: N802 - Glue's name
        return self._df

    @classmethod
    def fromDF(cls, dataframe, glue_ctx, name):  # noqa: N802 - Glue's name
        return cls(dataframe, glue_ctx, name)

    def count(self):
        return self._df.count()

    def schema(self):
        return self._df.schema


class DynamicFrameReader:
    """glue_context.create_dynamic_frame: from_catalog reads a parquet table registered in the Data Catalog."""

    def __init__(self, glue_context):
        self._glue_context = glue_context

    def from_catalog(self, database=None, table_name=None, redshift_tmp_dir="", transformation_ctx="", push_down_predicate="",
                     additional_options=None, catalog_id=None, **kwargs):
        if database is None:
            database = kwargs.pop("name_space", None)
        if database is None or table_name is None:
            raise Exception("Parameter database (or name_space) and table_name are required.")
        return self._glue_context.create_dynamic_frame_from_catalog(
            database=database, table_name=table_name, push_down_predicate=push_down_predicate,
            additional_options=additional_options or {}, catalog_id=catalog_id, transformation_ctx=transformation_ctx)
