"""A small stand-in for AWS Glue's `awsglue` package, for running the Glue scripts unmodified on PySpark.

Test code only (test/aws-shape/spark/glue_runner.py puts this folder first on sys.path); never deployed.
It covers what glue-scripts/*.py import: awsglue.utils.getResolvedOptions, awsglue.context.GlueContext
(spark_session, create_dynamic_frame.from_catalog), awsglue.job.Job, awsglue.dynamicframe.DynamicFrame.
The real package wraps Glue's Scala classes; this one uses plain Spark and, for the Data Catalog, boto3's
Glue client (AWS_ENDPOINT_URL points it at the moto server the runner was given).
"""
