"""Pure helpers of the chargebacks consolidation Glue job (standard library only; tested without Spark).

The same decisions as shared/domain/chargebacks.ts: execution 1 of the day consolidates the whole
previous day, executions 2..N the current day so far; every execution rewrites its whole day.
"""
import re
from datetime import datetime, timedelta, timezone

REQUIRED = ["SOURCE_DATABASE", "SOURCE_TABLE", "OUTPUT_PATH", "OUTPUT_FILE_COUNT", "COMPRESSION_CODEC"]
from flywheel_compaction import CODECS  # noqa: E402  (one list for both compaction jobs)
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def consolidation_window(execution_time, total_executions=4, execution_sequence=None):
    """(execution_sequence, partition_date) of an execution at `execution_time` (an aware datetime). An explicit
    `execution_sequence` (EXECUTION_SEQUENCE) wins over the one the time gives: 1 consolidates the previous day of the
    execution time's UTC date, any other sequence that date itself."""
    if total_executions < 1 or 24 % total_executions != 0:
        raise ValueError(f"TOTAL_EXECUTIONS must divide 24, got {total_executions}")
    if execution_sequence is not None and not 1 <= execution_sequence <= total_executions:
        raise ValueError(f"--EXECUTION_SEQUENCE must be 1..{total_executions} (TOTAL_EXECUTIONS), got {execution_sequence}")
    t = execution_time.astimezone(timezone.utc)
    sequence = execution_sequence or t.hour // (24 // total_executions) + 1
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
    explicit = int(args["EXECUTION_SEQUENCE"]) if args.get("EXECUTION_SEQUENCE") else None
    sequence, default_date = consolidation_window(execution_time, total, explicit)
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
        "execution_sequence": sequence, "total_executions": total,
        "partition_filter": flag("ENABLE_PARTITION_FILTER", "true"), "partition_date": date, "dry_run": flag("DRY_RUN", "false"),
    }


def day_partition(date):
    """`year=YYYY/month=MM/day=DD/` of a date."""
    y, m, d = date.split("-")
    return f"year={y}/month={m}/day={d}/"


def day_keys(partition_keys, source):
    """The landing table's three partition keys naming a day's year, month and day, from its partition keys (in order):
    year, month, day when the crawler read `year=YYYY/month=MM/day=DD/` folders; otherwise the first three, as a crawler
    names the current system's `YYYY/MM/DD/` folders (partition_0, partition_1, partition_2). Raises ValueError for
    a table with fewer than three."""
    names = [k.lower() for k in partition_keys]
    if all(k in names for k in PARTITION_COLUMNS):
        return PARTITION_COLUMNS
    if len(names) >= 3:
        return tuple(names[:3])
    raise ValueError(f"{source} has partition keys ({', '.join(names) or 'none'}); the day needs year, month, day (folders year=YYYY/month=MM/day=DD/) "
                     "or three keys such as partition_0, partition_1, partition_2 (folders YYYY/MM/DD/): re-crawl the landing")


def push_down_predicate(date, keys=None):
    """The catalog partition filter for one day on the partition keys `keys` (day_keys; default year, month, day),
    with string values as the crawler registers them."""
    y, m, d = date.split("-")
    ky, km, kd = keys or PARTITION_COLUMNS
    return f"{ky}='{y}' and {km}='{m}' and {kd}='{d}'"


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


def landing_columns(columns, source, partition_columns=None):
    """The columns to write of a landing frame with `columns` (the table's partition keys `partition_columns`, default
    year, month, day, left out), or None when it has none at all: Glue's DynamicFrame takes its schema from its
    records, so a day without a crawled partition (no records) can convert to a DataFrame without columns. Raises
    ValueError when the frame has columns but not those the dedupe needs."""
    if not columns:
        return None
    missing = [c for c in DEDUPE_COLUMNS if c not in columns]
    if missing:
        raise ValueError(f"{source} has no column {', '.join(missing)} (it has {', '.join(columns)}); the dedupe needs {', '.join(DEDUPE_COLUMNS)}")
    drop = {c.lower() for c in (PARTITION_COLUMNS if partition_columns is None else partition_columns)}
    return [c for c in columns if c.lower() not in drop]


def dedupe_counted_sql(view, columns):
    """dedupe_sql's rows, each with ROWS_COLUMN: the landing rows of its chargeback_id (1 for a row without an id),
    so that one pass over the day gives the rows to write and the metrics (sum = records processed)."""
    cols = ", ".join("`" + c.replace("`", "``") + "`" for c in columns)
    return (
        f"SELECT {cols}, CASE WHEN chargeback_id IS NULL THEN 1 ELSE {ROWS_COLUMN} END AS {ROWS_COLUMN} FROM (SELECT *, row_number() OVER "
        f"(PARTITION BY chargeback_id ORDER BY coalesce(updated_at, event_timestamp) DESC NULLS LAST, event_timestamp DESC NULLS LAST) AS rn, "
        f"count(*) OVER (PARTITION BY chargeback_id) AS {ROWS_COLUMN} FROM {view}) WHERE rn = 1 OR chargeback_id IS NULL"
    )


NULL_IDS = "coalesce(sum(CASE WHEN chargeback_id IS NULL THEN 1 ELSE 0 END), 0)"


def counts_sql(view):
    """records_processed, the output rows and the rows without a chargeback_id of a dedupe_counted_sql view."""
    return f"SELECT coalesce(sum({ROWS_COLUMN}), 0) AS records, count(*) AS output_rows, {NULL_IDS} AS null_ids FROM {view}"


def quality_sql(view):
    """records_processed, the rows the dedupe would keep and the rows without a chargeback_id, from one scan of
    chargeback_id alone (the dry run)."""
    return (f"SELECT count(*) AS records, count(DISTINCT chargeback_id) + {NULL_IDS} AS output_rows, {NULL_IDS} AS null_ids FROM {view}")


def nothing_to_consolidate_line(date, source, output, keys=None):
    """What the job says when the day has no landing rows: it writes nothing and leaves the day's output as it was.
    `keys`: the table's day keys (day_keys; default year, month, day), naming the partition that is missing."""
    partition = "/".join(f"{k}={v}" for k, v in zip(keys or PARTITION_COLUMNS, date.split("-")))
    return (f"NOTHING TO CONSOLIDATE: no landing rows for {date} in {source} (no crawled partition {partition}, "
            f"or an empty one); {output} left as it was")


def quality_line(null_ids, records_processed):
    """The data-quality line the job logs before METRICS: rows without a chargeback_id (kept, never deduplicated)."""
    return f"DATA QUALITY: null_chargeback_ids={null_ids}, records_processed={records_processed}"


def metrics_line(records_processed, duplicates_removed, output_files, duration_seconds):
    """The exact METRICS line the job logs."""
    return f"METRICS: records_processed={records_processed}, duplicates_removed={duplicates_removed}, output_files={output_files}, duration_seconds={duration_seconds:.2f}"
