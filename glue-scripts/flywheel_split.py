"""Pure helpers of the split-and-bucket Glue job: everything testable without Spark.

The job executes a split plan computed in TypeScript (shared/domain/split-plan.ts); these helpers
validate it, build the Spark SQL it runs and compute the shared bucket function. Standard library only.
"""
import json
import math
import re
import sys
from datetime import datetime, timezone

BUCKET_COUNT = 256
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
SNAPSHOT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def bucket_of(value):
    """Bucket of one customer_user_id: Hive bucketing v1's string hash mod 256; None -> 0.

    h = 31*h + b over the UTF-8 bytes taken as signed, (h & 0x7fffffff) % 256.
    """
    if value is None:
        return 0
    h = 0
    for b in value.encode("utf-8"):
        signed = b - 256 if b > 127 else b
        h = (31 * h + signed) & 0xFFFFFFFF
    return (h & 0x7FFFFFFF) % BUCKET_COUNT


def bucket_fold(value):
    """The same number as bucket_of, as the SQL computes it: acc = (acc*31 + b) % 256 over unsigned bytes."""
    if value is None:
        return 0
    acc = 0
    for b in value.encode("utf-8"):
        acc = (acc * 31 + b) % 256
    return acc


def quote(name):
    """A Spark SQL identifier in backticks (backticks inside doubled)."""
    return "`" + name.replace("`", "``") + "`"


def bucket_sql_expr(column):
    """Spark SQL expression (built-ins only, no UDF, never Spark's Murmur3 hash()) for id_bucket of `column`.

    hex(encode(c, 'UTF-8')) spells the UTF-8 bytes as two hex digits each; each byte is read back
    with conv(substr(hex, 2i+1, 2), 16, 10) and folded as acc = (acc*31 + b) % 256. NULL and ''
    give 0 (guarded: Spark's sequence(0, -1) would count down).
    """
    c = quote(column)
    return (
        f"CAST(CASE WHEN {c} IS NULL OR octet_length({c}) = 0 THEN 0 ELSE "
        f"aggregate(sequence(0, octet_length({c}) - 1), 0, "
        f"(acc, i) -> CAST((acc * 31 + CAST(conv(substr(hex(encode({c}, 'UTF-8')), 2 * i + 1, 2), 16, 10) AS INT)) % 256 AS INT)) "
        f"END AS INT)"
    )


def emulate_bucket_sql(value):
    """Evaluates bucket_sql_expr's pieces in Python (hex of the UTF-8 bytes, substr, conv, the fold).

    Spark cannot run on this machine; this checks the arithmetic the expression spells out.
    """
    if value is None or len(value.encode("utf-8")) == 0:
        return 0
    hexed = value.encode("utf-8").hex().upper()  # Spark's hex() is upper-case
    acc = 0
    for i in range(len(value.encode("utf-8"))):
        piece = hexed[2 * i: 2 * i + 2]  # substr(hex, 2*i+1, 2), 1-based
        acc = (acc * 31 + int(piece, 16)) % 256  # conv(piece, 16, 10)
    return acc


def select_list(columns, key_source_column):
    """SELECT items: each source column aliased to its target name, then id_bucket."""
    items = [f"{quote(c['source'])} AS {quote(c['target'])}" for c in columns]
    items.append(f"{bucket_sql_expr(key_source_column)} AS `id_bucket`")
    return items


def file_ranges(file_count, bucket_count=BUCKET_COUNT):
    """Contiguous id_bucket range [first, last] of each output file (file i covers [floor(i*n/k), floor((i+1)*n/k))).

    repartitionByRange on id_bucket gives contiguous ranges; this is the layout the DuckDB twin writes too.
    """
    if file_count < 1:
        raise ValueError(f"file_count must be at least 1, got {file_count}")
    return [(math.floor(i * bucket_count / file_count), math.floor((i + 1) * bucket_count / file_count) - 1) for i in range(file_count)]


def optional_arg(argv, name):
    """Value of an optional `--NAME value` (or `--NAME=value`) Glue argument, or None.

    getResolvedOptions fails on arguments that were not passed, so optional ones are read here.
    """
    flag = f"--{name}"
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg[len(flag) + 1:]
    return None


def tables_filter(value):
    """Comma-separated target tables, or None for all."""
    if value is None or value.strip() == "":
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    for n in names:
        if not IDENTIFIER.match(n):
            raise ValueError(f"--TABLES_FILTER: '{n}' is not a lower-case table name")
    return names


def validate_plan(plan, snapshot_dt, run_id):
    """Checks a plan before any data is read; raises ValueError naming snapshot and table."""
    where = f"snapshot_dt={snapshot_dt} run {run_id}"
    if not isinstance(plan, dict) or plan.get("version") != 1:
        raise ValueError(f"{where}: plan version must be 1")
    if plan.get("snapshotDt") != snapshot_dt or not SNAPSHOT.match(snapshot_dt or ""):
        raise ValueError(f"{where}: plan is for snapshot_dt={plan.get('snapshotDt')}, not {snapshot_dt}")
    if plan.get("runId") != run_id:
        raise ValueError(f"{where}: plan is for run {plan.get('runId')}, not {run_id}")
    key = plan.get("keyColumn")
    if not key or not IDENTIFIER.match(key):
        raise ValueError(f"{where}: keyColumn '{key}' is not a lower-case identifier")
    if not str(plan.get("metadataUri", "")).startswith("s3://"):
        raise ValueError(f"{where}: metadataUri must be an s3:// URI")
    tables = plan.get("tables")
    if not isinstance(tables, list) or not tables:
        raise ValueError(f"{where}: plan has no tables")
    for t in tables:
        name = t.get("target", "?")
        if not IDENTIFIER.match(name):
            raise ValueError(f"{where} table {name}: target is not a lower-case identifier")
        count = t.get("fileCount")
        if not isinstance(count, int) or not 1 <= count <= 256:
            raise ValueError(f"{where} table {name}: fileCount {count} is not within 1..256")
        out = t.get("outputUri", "")
        if not out.startswith("s3://") or not out.endswith("/"):
            raise ValueError(f"{where} table {name}: outputUri must be an s3:// folder ending in '/'")
        if not t.get("sourceFiles"):
            raise ValueError(f"{where} table {name}: no source files")
        cols = t.get("columns") or []
        targets = [c.get("target") for c in cols]
        if not cols or targets[0] != key:
            raise ValueError(f"{where} table {name}: the key column {key} must be the first column")
        if len(set(targets)) != len(targets):
            raise ValueError(f"{where} table {name}: duplicate target columns")
        for c in targets:
            if not IDENTIFIER.match(c or ""):
                raise ValueError(f"{where} table {name}: column '{c}' is not a lower-case identifier")
    return plan


def select_tables(plan, names):
    """The plan's tables, restricted to `names` when given (unknown names are an error)."""
    if names is None:
        return plan["tables"]
    known = {t["target"] for t in plan["tables"]}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"snapshot_dt={plan['snapshotDt']}: --TABLES_FILTER names tables not in the plan: {', '.join(unknown)}")
    return [t for t in plan["tables"] if t["target"] in names]


def result_uri(plan_uri):
    """result.json beside plan.json."""
    if not plan_uri.endswith("plan.json"):
        raise ValueError(f"--PLAN_URI must point at a plan.json, got {plan_uri}")
    return plan_uri[: -len("plan.json")] + "result.json"


def split_s3_uri(uri):
    """('bucket', 'key') of an s3:// URI."""
    m = re.match(r"^s3://([^/]+)/(.*)$", uri)
    if not m:
        raise ValueError(f"not an s3:// URI: {uri}")
    return m.group(1), m.group(2)


def log(level, message, **fields):
    """One structured JSON log line (CloudWatch keeps it as one event)."""
    record = {"level": level, "message": message, "timestamp": datetime.now(timezone.utc).isoformat(), "service": "flywheel-split", **fields}
    print(json.dumps(record, default=str), file=sys.stdout, flush=True)
    return record
