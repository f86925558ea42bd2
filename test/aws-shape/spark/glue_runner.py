"""Runs Glue scripts unmodified on a local PySpark, reading and writing s3:// through S3A against a moto server.

    <venv python> test/aws-shape/spark/glue_runner.py SPEC.json

SPEC.json (test/aws-shape/spark/glue-spark.ts writes it):
    {
      "endpoint": "http://127.0.0.1:PORT",        # moto; S3A and every boto3 client of the scripts go there
      "region": "us-east-1", "accessKeyId": "test", "secretAccessKey": "test",
      "workDir": "/tmp/…",                          # Spark's local dirs, S3A buffers, the report
      "buckets": ["data"],                          # S3A statistics are reported per task for these buckets
      "sparkConf": {"spark.sql.shuffle.partitions": "8"},   # optional overrides of the defaults below
      "tasks": [
        {"name": "split infobase", "script": "glue-scripts/split_and_bucket.py",
         "args": {"JOB_NAME": "x", "SNAPSHOT_DT": "…", "RUN_ID": "…", "PLAN_URI": "s3://…/plan.json"}},
        {"name": "vectors", "call": "test/aws-shape/spark/tasks.py:bucket_vectors", "params": {…}}
      ]
    }

One SparkSession (local[2] by default, UI off) serves every task in order, so the JVM starts once. A
"script" task runs the file as Glue does: `runpy.run_path(script, run_name="__main__")` with sys.argv set
like Glue's (`script --JOB_ID … --JOB_RUN_ID … --job-bookmark-option job-bookmark-disable --JOB_NAME x
--NAME value …`), this folder's awsglue stand-in and the script's own folder first on sys.path. A "call"
task runs `function(spark, params)` from a Python file and reports its JSON-able return value. A task's
failure is recorded (error, traceback) and the next task still runs; the runtime SQL configuration a task
changed (`spark.conf.set`) is restored before the next one.

Per task the report holds: ok, error, traceback, seconds, stdout (and its JSON lines parsed as logs), the
call's result, the Spark jobs the task ran (job group = task) with their stages' input/shuffle/output
records and bytes from Spark's status store, the SQL executions of those jobs with their physical plans,
and the S3A storage statistics (deltas) of each bucket.
The report is written to <workDir>/report.json; the exit status is 0 when the report was written.
"""
import contextlib
import io
import json
import os
import runpy
import sys
import time
import traceback
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

STAGE_FIELDS = ("stageId", "attemptId", "name", "status", "numTasks", "inputBytes", "inputRecords", "outputBytes", "outputRecords",
                "shuffleReadBytes", "shuffleReadRecords", "shuffleWriteBytes", "shuffleWriteRecords")


def jars():
    """The jars python-env.mjs fetched (test/aws-shape/spark/jars.json), each checked to exist."""
    with open(os.path.join(HERE, "jars.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    paths = [os.path.join(ROOT, manifest["cache"], f"{j['artifact']}-{j['version']}.jar") for j in manifest["jars"]]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise SystemExit(f"glue_runner: missing jars {missing}: run `node test/aws-shape/python-env.mjs`")
    return paths


def spark_conf(spec):
    """Spark local mode, modest memory, UI off; s3:// and s3a:// through S3A to the moto endpoint, path-style."""
    work = spec["workDir"]
    classpath = ":".join(jars())
    conf = {
        "spark.master": "local[2]",
        "spark.app.name": "glue-scripts-on-spark",
        "spark.driver.memory": "1g",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.local.dir": os.path.join(work, "spark-local"),
        "spark.sql.warehouse.dir": os.path.join(work, "spark-warehouse"),
        # local mode: the executors are the driver's threads, so the driver's classpath is theirs too
        "spark.driver.extraClassPath": classpath,
        "spark.executor.extraClassPath": classpath,
        # s3:// mapped to S3A as EMR and Glue map it
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.AbstractFileSystem.s3.impl": "org.apache.hadoop.fs.s3a.S3A",
        "spark.hadoop.fs.s3a.endpoint": spec["endpoint"],
        "spark.hadoop.fs.s3a.endpoint.region": spec.get("region", "us-east-1"),
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "spark.hadoop.fs.s3a.access.key": spec.get("accessKeyId", "test"),
        "spark.hadoop.fs.s3a.secret.key": spec.get("secretAccessKey", "test"),
        "spark.hadoop.fs.s3a.buffer.dir": os.path.join(work, "s3a"),
        # a moto that stopped answering should fail a test in seconds, not after S3A's default minutes of retries
        "spark.hadoop.fs.s3a.attempts.maximum": "3",
        "spark.hadoop.fs.s3a.retry.limit": "3",
        "spark.hadoop.fs.s3a.retry.interval": "200ms",
    }
    conf.update(spec.get("sparkConf") or {})
    return conf


def aws_environment(spec):
    """boto3 in the scripts and in the stand-in reaches the same moto (AWS_ENDPOINT_URL, boto3 >= 1.28)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_GLUE"):
        os.environ.pop(name, None)
    os.environ.update({
        "AWS_ENDPOINT_URL": spec["endpoint"],
        "AWS_ACCESS_KEY_ID": spec.get("accessKeyId", "test"),
        "AWS_SECRET_ACCESS_KEY": spec.get("secretAccessKey", "test"),
        "AWS_DEFAULT_REGION": spec.get("region", "us-east-1"),
        "AWS_REGION": spec.get("region", "us-east-1"),
        "AWS_EC2_METADATA_DISABLED": "true",
    })


def start_spark(spec):
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    for d in ("spark-local", "spark-warehouse", "s3a"):
        os.makedirs(os.path.join(spec["workDir"], d), exist_ok=True)
    conf = SparkConf()
    for k, v in spark_conf(spec).items():
        conf.set(k, v)
    spark = SparkSession.builder.config(conf=conf).getOrCreate()
    spark.sparkContext.setLogLevel(spec.get("logLevel", "WARN"))
    return spark


class Tee(io.TextIOBase):
    """Writes to the task's buffer and to the runner's stdout (so a long task shows progress)."""

    def __init__(self, sink):
        self.buffer_ = io.StringIO()
        self.sink = sink

    def write(self, s):
        self.buffer_.write(s)
        self.sink.write(s)
        return len(s)

    def flush(self):
        self.sink.flush()

    def getvalue(self):
        return self.buffer_.getvalue()


def _seq(scala_seq):
    return [scala_seq.apply(i) for i in range(scala_seq.length())]


def stage_metrics(spark, stage_id):
    store = spark.sparkContext._jsc.sc().statusStore()
    try:
        attempts = _seq(store.stageData(stage_id, False, getattr(store, "stageData$default$3")(), False, getattr(store, "stageData$default$5")()))
    except Exception:  # noqa: BLE001 - a stage the store no longer keeps
        return []
    out = []
    for s in attempts:
        row = {}
        for field in STAGE_FIELDS:
            value = getattr(s, field)()
            row[field] = value if isinstance(value, (int, float, str)) or value is None else str(value)
        out.append(row)
    return out


def jobs_of(spark, group):
    tracker = spark.sparkContext.statusTracker()
    store = spark.sparkContext._jsc.sc().statusStore()
    jobs = []
    for job_id in sorted(tracker.getJobIdsForGroup(group)):
        data = store.job(job_id)
        stage_ids = sorted(int(x) for x in _seq(data.stageIds()))
        jobs.append({"jobId": job_id, "name": data.name(), "status": str(data.status()), "stageIds": stage_ids,
                     "skippedStages": data.numSkippedStages(), "stages": [m for sid in stage_ids for m in stage_metrics(spark, sid)]})
    return jobs


def sql_executions(spark, job_ids, seen):
    """The SQL executions (queries, writes) that ran the task's jobs: id, description, physical plan (as EXPLAIN shows it)."""
    store = spark._jsparkSession.sharedState().statusStore()
    wanted = set(job_ids)
    out = []
    for e in _seq(store.executionsList()):
        execution_id = e.executionId()
        jobs = {int(x) for x in str(e.jobs().keys().mkString(",")).split(",") if x}
        if execution_id in seen or not jobs & wanted:
            continue
        seen.add(execution_id)
        out.append({"executionId": execution_id, "description": e.description(), "jobIds": sorted(jobs),
                    "physicalPlan": e.physicalPlanDescription()[:100_000]})
    return out


def s3a_statistics(spark, buckets):
    """{bucket: {statistic: value}} of the S3A filesystem instance Spark's tasks use (local mode: same JVM, same cache)."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    out = {}
    for bucket in buckets:
        fs = jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI(f"s3://{bucket}/"), conf)
        it = fs.getStorageStatistics().getLongStatistics()
        stats = {}
        while it.hasNext():
            s = it.next()
            stats[s.getName()] = s.getValue()
        out[bucket] = stats
    return out


def delta(before, after):
    out = {}
    for bucket, stats in after.items():
        base = before.get(bucket, {})
        changed = {k: v - base.get(k, 0) for k, v in stats.items() if v - base.get(k, 0) != 0}
        out[bucket] = dict(sorted(changed.items()))
    return out


def sql_settings(spark):
    return {r[0]: r[1] for r in spark.sql("SET").collect()}


def restore_settings(spark, before):
    after = sql_settings(spark)
    for key, value in after.items():
        if key not in before:
            spark.conf.unset(key)
        elif before[key] != value:
            spark.conf.set(key, before[key])


def glue_argv(script, task):
    """sys.argv as Glue builds it for a job run: the script, Glue's own arguments, then the job's `--NAME value` pairs."""
    args = dict(task.get("args") or {})
    argv = [script, "--JOB_ID", "j_" + uuid.uuid4().hex, "--JOB_RUN_ID", "jr_" + uuid.uuid4().hex, "--job-bookmark-option", "job-bookmark-disable"]
    argv += ["--JOB_NAME", args.pop("JOB_NAME", task["name"].replace(" ", "-"))]
    for k, v in args.items():
        argv += [f"--{k}", str(v)]
    return argv + list(task.get("extraArgv") or [])


def load_function(ref):
    path, _, name = ref.rpartition(":")
    namespace = runpy.run_path(path if os.path.isabs(path) else os.path.join(ROOT, path))
    return namespace[name]


def run_task(spark, task, index, buckets, seen_executions):
    group = f"task-{index}"
    record = {"name": task["name"], "ok": False, "error": None, "traceback": None, "result": None}
    spark.sparkContext.setJobGroup(group, task["name"])
    settings = sql_settings(spark)
    stats_before = s3a_statistics(spark, buckets)
    out = Tee(sys.__stdout__)
    started = time.time()
    saved_argv, saved_path = list(sys.argv), list(sys.path)
    print(f"glue_runner: task {index} {task['name']!r} started", file=sys.__stdout__, flush=True)
    try:
        with contextlib.redirect_stdout(out):
            if "script" in task:
                script = task["script"] if os.path.isabs(task["script"]) else os.path.join(ROOT, task["script"])
                sys.argv = glue_argv(script, task)
                record["argv"] = sys.argv[1:]
                sys.path[:0] = [HERE, os.path.dirname(script)]
                try:
                    runpy.run_path(script, run_name="__main__")
                except SystemExit as exit_:
                    if exit_.code not in (None, 0):
                        raise RuntimeError(f"{os.path.basename(script)} exited with {exit_.code}") from exit_
            else:
                record["result"] = load_function(task["call"])(spark, task.get("params") or {})
        record["ok"] = True
    except BaseException as err:  # noqa: BLE001 - reported, and the next task runs
        if isinstance(err, KeyboardInterrupt):
            raise
        record["error"] = f"{type(err).__name__}: {err}"
        record["traceback"] = traceback.format_exc()
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        record["seconds"] = round(time.time() - started, 2)
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
        restore_settings(spark, settings)
    record["stdout"] = out.getvalue()
    record["logs"] = [json.loads(line) for line in record["stdout"].splitlines() if line.startswith("{") and _is_json(line)]
    record["jobs"] = jobs_of(spark, group)
    record["sqlExecutions"] = sql_executions(spark, [j["jobId"] for j in record["jobs"]], seen_executions)
    record["s3a"] = delta(stats_before, s3a_statistics(spark, buckets))
    print(f"glue_runner: task {index} {task['name']!r} {'ok' if record['ok'] else 'FAILED: ' + record['error']} in {record['seconds']} s",
          file=sys.__stdout__, flush=True)
    return record


def _is_json(line):
    try:
        json.loads(line)
        return True
    except ValueError:
        return False


def main(argv):
    if len(argv) != 2:
        raise SystemExit("usage: glue_runner.py SPEC.json")
    with open(argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    aws_environment(spec)
    started = time.time()
    spark = start_spark(spec)
    jvm = spark.sparkContext._jvm
    report = {
        "versions": {
            "spark": spark.version,
            "hadoop": jvm.org.apache.hadoop.util.VersionInfo.getVersion(),
            "java": jvm.java.lang.System.getProperty("java.version"),
            "javaHome": jvm.java.lang.System.getProperty("java.home"),
            "python": sys.version.split()[0],
            "scala": jvm.scala.util.Properties.versionNumberString(),
        },
        "master": spark.sparkContext.master,
        "startSeconds": round(time.time() - started, 2),
        "tasks": [],
    }
    print(f"glue_runner: Spark {spark.version} ({report['master']}) up in {report['startSeconds']} s", flush=True)
    try:
        seen_executions = set()
        for i, task in enumerate(spec["tasks"]):
            report["tasks"].append(run_task(spark, task, i, spec.get("buckets") or [], seen_executions))
    finally:
        report["seconds"] = round(time.time() - started, 2)
        with open(os.path.join(spec["workDir"], "report.json"), "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1, default=str)
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
