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


# what the dedupe needs of the landing, and the landing table's partition columns (not written: the output's folder says the day)
DEDUPE_COLUMNS = ("chargeback_id", "updated_at", "event_timestamp")
PARTITION_COLUMNS = ("year", "month", "day")
ROWS_COLUMN = "__landing_rows"


def landing_columns(columns, source):
    """The columns to write of a landing frame with `columns`, or None when it has none at all: Glue's DynamicFrame
    takes its schema from its records, so a day without a crawled partition (no records) can convert to a DataFrame
    without columns. Raises ValueError when the frame has columns but not those the dedupe needs."""
    if not columns:
        return None
    missing = [c for c in DEDUPE_COLUMNS if c not in columns]
    if missing:
        raise ValueError(f"{source} has no column {', '.join(missing)} (it has {', '.join(columns)}); the dedupe needs {', '.join(DEDUPE_COLUMNS)}")
    return [c for c in columns if c not in PARTITION_COLUMNS]


def dedupe_counted_sql(view, columns):
    """dedupe_sql's rows, each with ROWS_COLUMN: the landing rows of its chargeback_id (1 for a row without an id),
    so that one pass over the day gives the rows to write and the metrics (sum = records processed)."""
    cols = ", ".join("`" + c.replace("`", "``") + "`" for c in columns)
    return (
        f"SELECT {cols}, CASE WHEN chargeback_id IS NULL THEN 1 ELSE {ROWS_COLUMN} END AS {ROWS_COLUMN} FROM (SELECT *, row_number() OVER "
        f"(PARTITION BY chargeback_id ORDER BY coalesce(updated_at, event_timestamp) DESC NULLS LAST, event_timestamp DESC NULLS LAST) AS rn, "
        f"count(*) OVER (PARTITION BY chargeback_id) AS {ROWS_COLUMN} FROM {view}) WHERE rn = 1 OR chargeback_id IS NULL"
    )


def counts_sql(view):
    """records_processed and the output rows of a dedupe_counted_sql view."""
    return f"SELECT coalesce(sum({ROWS_COLUMN}), 0) AS records, count(*) AS output_rows FROM {view}"


def quality_sql(view):
    """records_processed and the rows the dedupe would keep, from one scan of chargeback_id alone (the dry run)."""
    return (f"SELECT count(*) AS records, count(DISTINCT chargeback_id) + coalesce(sum(CASE WHEN chargeback_id IS NULL THEN 1 ELSE 0 END), 0) "
            f"AS output_rows FROM {view}")


def nothing_to_consolidate_line(date, source, output):
    """What the job says when the day has no landing rows: it writes nothing and leaves the day's output as it was."""
    return (f"NOTHING TO CONSOLIDATE: no landing rows for {date} in {source} (no crawled partition {day_partition(date).rstrip('/')}, "
            f"or an empty one); {output} left as it was")


def metrics_line(records_processed, duplicates_removed, output_files, duration_seconds):
    """The exact METRICS line the job logs."""
    return f"METRICS: records_processed={records_processed}, duplicates_removed={duplicates_removed}, output_files={output_files}, duration_seconds={duration_seconds:.2f}"
