"""Pure helpers of the chargebacks consolidation Glue job (standard library only; tested without Spark).

The same decisions as shared/domain/chargebacks.ts: execution 1 of the day consolidates the whole
previous day, executions 2..N the current day so far; every execution rewrites its whole day.
"""
import re
from datetime import datetime, timedelta, timezone

REQUIRED = ["SOURCE_DATABASE", "SOURCE_TABLE", "OUTPUT_PATH", "OUTPUT_FILE_COUNT", "COMPRESSION_CODEC"]
from flywheel_compaction import CODECS  # noqa: E402  (one list for both compaction jobs)
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def consolidation_window(execution_time, total_executions=4):
    """(execution_sequence, partition_date) of an execution at `execution_time` (an aware datetime)."""
    if total_executions < 1 or 24 % total_executions != 0:
        raise ValueError(f"TOTAL_EXECUTIONS must divide 24, got {total_executions}")
    t = execution_time.astimezone(timezone.utc)
    sequence = t.hour // (24 // total_executions) + 1
    day = t.date() - timedelta(days=1 if sequence == 1 else 0)
    return sequence, day.isoformat()


def resolve_args(args, now=None):
    """Typed job arguments with the documented defaults; raises ValueError naming the bad argument."""
    missing = [k for k in REQUIRED if not args.get(k)]
    if missing:
        raise ValueError(f"missing required arguments: {', '.join('--' + m for m in missing)}")
    now = now or datetime.now(timezone.utc)
    execution_time = datetime.fromisoformat(args["EXECUTION_TIME"].replace("Z", "+00:00")) if args.get("EXECUTION_TIME") else now
    total = int(args.get("TOTAL_EXECUTIONS") or 4)
    sequence, default_date = consolidation_window(execution_time, total)
    date = args.get("PARTITION_DATE") or default_date
    if not DATE.match(date):
        raise ValueError(f"--PARTITION_DATE must be YYYY-MM-DD, got {date}")
    datetime.strptime(date, "%Y-%m-%d")  # a real date
    files = int(args["OUTPUT_FILE_COUNT"])
    if not 1 <= files <= 1000:
        raise ValueError(f"--OUTPUT_FILE_COUNT must be 1..1000, got {files}")
    codec = args["COMPRESSION_CODEC"].lower()
    if codec not in CODECS:
        raise ValueError(f"--COMPRESSION_CODEC must be one of {', '.join(sorted(CODECS))}, got {codec}")
    flag = lambda k, d: str(args.get(k, d)).lower() == "true"  # noqa: E731
    return {
        "database": args["SOURCE_DATABASE"], "table": args["SOURCE_TABLE"], "output_path": args["OUTPUT_PATH"].rstrip("/") + "/",
        "file_count": files, "codec": codec, "execution_time": execution_time.isoformat(),
        "execution_sequence": int(args.get("EXECUTION_SEQUENCE") or sequence), "total_executions": total,
        "partition_filter": flag("ENABLE_PARTITION_FILTER", "true"), "partition_date": date, "dry_run": flag("DRY_RUN", "false"),
    }


def day_partition(date):
    """`year=YYYY/month=MM/day=DD/` of a date."""
    y, m, d = date.split("-")
    return f"year={y}/month={m}/day={d}/"


def push_down_predicate(date):
    """The catalog partition filter for one day (string partition values, as the landing table has them)."""
    y, m, d = date.split("-")
    return f"year='{y}' and month='{m}' and day='{d}'"


def dedupe_sql(view, columns):
    """One row per chargeback_id: the latest updated_at, or event_timestamp where updated_at is NULL; NULL ids kept."""
    cols = ", ".join("`" + c.replace("`", "``") + "`" for c in columns)
    return (
        f"SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY chargeback_id ORDER BY coalesce(updated_at, event_timestamp) DESC NULLS LAST, "
        f"event_timestamp DESC NULLS LAST) AS rn FROM {view}) WHERE rn = 1 OR chargeback_id IS NULL"
    )


def metrics_line(records_processed, duplicates_removed, output_files, duration_seconds):
    """The exact METRICS line the job logs."""
    return f"METRICS: records_processed={records_processed}, duplicates_removed={duplicates_removed}, output_files={output_files}, duration_seconds={duration_seconds:.2f}"
