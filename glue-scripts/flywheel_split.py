"""Pure helpers of the split-and-bucket Glue job: everything testable without Spark.

The job executes a split plan computed in TypeScript (shared/domain/plan-split.ts, type in
shared/domain/split-plan.ts); these helpers validate it, build the Spark SQL it runs and compute the
shared bucket function (docs/ARCHITECTURE.md, "Bucket function"). Standard library only, so the unit tests and
the Glue script import this module with no Spark installed. Nothing here talks to AWS or Spark.
"""
import json
import re
import sys
from datetime import date, datetime, timezone

# The plan's bucketCount: a power of two from 2 to MAX_BUCKET_COUNT (docs/ARCHITECTURE.md, "Bucket function").
# id_bucket for N buckets is the 256-bucket value % N, which is Hive bucketing v1's (h & 0x7fffffff) % N because
# N divides 256 (and 256 divides 2^32): hence powers of two only, and none above 256.
MAX_BUCKET_COUNT = 256
BUCKET_COUNTS = (2, 4, 8, 16, 32, 64, 128, 256)
DEFAULT_BUCKET_COUNT = 256
BUCKET_COUNT = DEFAULT_BUCKET_COUNT  # the default bucket count, under its earlier name
# A file holds a contiguous id_bucket range, so a table has at most bucketCount files (at most this many).
MAX_FILES = MAX_BUCKET_COUNT
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
SNAPSHOT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
S3_URI = re.compile(r"^s3://([^/]+)/(.*)$")

# Spark SQL functions bucket_sql_expr may use (all Spark 3.5 built-ins; no UDF, no hash()/Murmur3).
BUCKET_SQL_FUNCTIONS = frozenset({"aggregate", "split", "decode", "ascii"})
# The column the job distributes rows to output files by (file_partition_sql); dropped before the write.
FILE_COLUMN = "__flywheel_file"
# Spark's HashPartitioning: partition = pmod(Murmur3Hash(exprs, seed 42), n), the same function as SQL hash().
SPARK_HASH_SEED = 42


# ---------------------------------------------------------------------------------------------
# The bucket function
# ---------------------------------------------------------------------------------------------

def check_bucket_count(bucket_count):
    """bucket_count itself when it is one of BUCKET_COUNTS (an int: not True, not 16.0, not "16"), else ValueError."""
    if isinstance(bucket_count, bool) or not isinstance(bucket_count, int) or bucket_count not in BUCKET_COUNTS:
        raise ValueError(f"bucket count must be a power of two from 2 to {MAX_BUCKET_COUNT} "
                         f"({', '.join(str(n) for n in BUCKET_COUNTS)}), got {bucket_count!r}")
    return bucket_count


def bucket_of(value, bucket_count=DEFAULT_BUCKET_COUNT):
    """Bucket of one customer_user_id: Hive bucketing v1's string hash mod bucket_count (default 256); None -> 0.

    h = 31*h + b (32-bit wrapping) over the UTF-8 bytes taken as signed, then (h & 0x7fffffff) % bucket_count,
    which is the 256-bucket value % bucket_count since bucket_count (one of BUCKET_COUNTS) divides 256.
    """
    check_bucket_count(bucket_count)
    if value is None:
        return 0
    return bucket_of_bytes(value.encode("utf-8"), bucket_count)


def bucket_of_bytes(data, bucket_count=DEFAULT_BUCKET_COUNT):
    """The same over raw bytes: the bucket of a STRING key whose bytes are not valid UTF-8 (Spark keeps them as read,
    and Hive/Trino bucketing hashes a string's bytes as stored), so bucket_of_bytes(s.encode(), n) == bucket_of(s, n)."""
    check_bucket_count(bucket_count)
    h = 0
    for b in data:
        signed = b - 256 if b > 127 else b
        h = (31 * h + signed) & 0xFFFFFFFF
    return (h & 0x7FFFFFFF) % bucket_count


def bucket_fold(value, bucket_count=DEFAULT_BUCKET_COUNT):
    """The same number as bucket_of, as the SQL computes it: acc = (acc*31 + b) % 256 over unsigned bytes,
    then % bucket_count (bucket_sql_expr's outer `% N` when bucket_count < 256).

    Equal because 256 divides 2^32 (the wrap and the & 0x7fffffff keep the low 8 bits), a signed
    byte is congruent to its unsigned value mod 256, and bucket_count divides 256.
    """
    check_bucket_count(bucket_count)
    if value is None:
        return 0
    acc = 0
    for b in value.encode("utf-8"):
        acc = (acc * 31 + b) % 256
    return acc % bucket_count


def quote(name):
    """A Spark SQL identifier in backticks (backticks inside doubled), e.g. a`b -> `a``b`."""
    if not isinstance(name, str) or name == "":
        raise ValueError(f"column name must be a non-empty string, got {name!r}")
    return "`" + name.replace("`", "``") + "`"


def bucket_sql_expr(column, bucket_count=DEFAULT_BUCKET_COUNT):
    """Spark SQL expression (built-ins only, no UDF, never Spark's Murmur3 hash()) for id_bucket of `column`.

    For 256 buckets (the default) the 256-bucket fold below, text unchanged; for a smaller bucket_count (one of
    BUCKET_COUNTS) that expression wrapped as `(<expr> % N)`: Hive bucketing v1's (h & 0x7fffffff) % N, because
    N divides 256. `%` of two non-negative INTs is an INT in 0..N-1, so id_bucket stays an INT.

    CAST(c AS BINARY) is the string's bytes as stored (no re-encoding); decode(..., 'ISO-8859-1') turns each
    byte into the one character of that code point (0..255), split(..., '') yields the characters, ascii()
    gives each one's code point back, so the fold acc = (acc*31 + b) % 256 runs over the key's bytes, one
    pass (O(L)); the INT never exceeds 255*31 + 255. NULL gives 0 (the CASE); '' gives split = [''] and
    ascii('') = 0, so 0.

    Why not hex(encode(c, 'UTF-8')) read back byte by byte with substr/conv (the earlier form): on Spark
    3.5 encode() decodes the stored bytes to a Java String first, so a key with invalid UTF-8 was hashed
    over its U+FFFD replacements, not its bytes (a different bucket from Hive/Trino bucketing's), and the
    lambda re-evaluated hex(encode(c)) for every byte: O(L^2), 7-14 ms per 1000-byte key against ~0.15 ms now
    (measured once on Spark 3.5.4, 2 cores; not a test). aggregate() has no codegen
    in Spark 3.5 (CodegenFallback) in either form: the lambda is interpreted.

    Evaluated by Spark 3.5.4 over test/fixtures/bucket-vectors.json in test/aws-shape/bucket-vectors-on-spark.test.ts
    (npm run test:aws); test_bucket_sql_eval.py evaluates the same text with a Python model of these functions
    (npm test, no Spark), whose pinned examples the Spark test checks on Spark too. The `% N` form runs on Spark in
    test/aws-shape/split-on-spark.test.ts (a plan with bucketCount 16, checked against bucketOf(id) % 16).
    """
    check_bucket_count(bucket_count)
    c = quote(column)
    expr = (
        f"CAST(CASE WHEN {c} IS NULL THEN 0 ELSE "
        f"aggregate(split(decode(CAST({c} AS BINARY), 'ISO-8859-1'), ''), 0, "
        f"(acc, ch) -> CAST((acc * 31 + ascii(ch)) % 256 AS INT)) "
        f"END AS INT)"
    )
    return expr if bucket_count == MAX_BUCKET_COUNT else f"({expr} % {bucket_count})"


def emulate_bucket_sql(value, bucket_count=DEFAULT_BUCKET_COUNT):
    """The pieces of bucket_sql_expr restated in Python (the bytes as Latin-1 characters, their code points, the fold,
    then % bucket_count).

    `value` is a str (its UTF-8 bytes) or bytes (a key stored with invalid UTF-8); None -> 0.
    """
    check_bucket_count(bucket_count)
    if value is None:
        return 0
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)  # CAST(c AS BINARY)
    chars = list(raw.decode("latin-1")) or [""]  # decode(..., 'ISO-8859-1'), split(..., ''): [''] for ''
    acc = 0
    for ch in chars:
        acc = (acc * 31 + (ord(ch) if ch else 0)) % 256  # ascii(ch); ascii('') = 0
    return acc % bucket_count  # the outer (expr % N); a no-op for 256


# ---------------------------------------------------------------------------------------------
# Output files: one contiguous id_bucket range each
# ---------------------------------------------------------------------------------------------

def _int32(x):
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x & 0x80000000 else x


def _rotl32(x, r):
    x &= 0xFFFFFFFF
    return ((x << r) | (x >> (32 - r))) & 0xFFFFFFFF


def spark_hash_int(value, seed=SPARK_HASH_SEED):
    """Spark's hash() of an INT (Murmur3_x86_32.hashInt with seed 42), as a signed 32-bit int."""
    k1 = (value & 0xFFFFFFFF) * 0xCC9E2D51 & 0xFFFFFFFF
    k1 = _rotl32(k1, 15) * 0x1B873593 & 0xFFFFFFFF
    h1 = (seed & 0xFFFFFFFF) ^ k1
    h1 = (_rotl32(h1, 13) * 5 + 0xE6546B64) & 0xFFFFFFFF
    h1 ^= 4
    h1 ^= h1 >> 16
    h1 = h1 * 0x85EBCA6B & 0xFFFFFFFF
    h1 ^= h1 >> 13
    h1 = h1 * 0xC2B2AE35 & 0xFFFFFFFF
    h1 ^= h1 >> 16
    return _int32(h1)


def spark_hash_partition(value, partitions):
    """The partition Spark's hash partitioning sends an INT value to: pmod(hash(value), partitions)."""
    return spark_hash_int(value) % partitions  # Python's % of a positive divisor is pmod


def file_partition_keys(file_count, bucket_count=DEFAULT_BUCKET_COUNT):
    """Per id_bucket b in 0..bucket_count-1: the smallest INT k >= 0 with spark_hash_partition(k, file_count) == the
    file whose range (file_ranges(file_count, bucket_count)) holds b.

    Distributing rows by this key with repartition(file_count, key) puts exactly the rows of file i's
    id_bucket range (file_ranges) into partition i: every range in one file, no sampling pass.
    """
    ranges = file_ranges(file_count, bucket_count)
    first = {}
    k = 0
    while len(first) < file_count:
        first.setdefault(spark_hash_partition(k, file_count), k)
        k += 1
    return [first[i] for i, (lo, hi) in enumerate(ranges) for _ in range(lo, hi + 1)]


def file_partition_sql(file_count, bucket_count=DEFAULT_BUCKET_COUNT, bucket_column="id_bucket"):
    """INT expression over id_bucket giving file_partition_keys' key (element_at of a constant array of bucket_count
    keys, 1-based)."""
    keys = file_partition_keys(file_count, bucket_count)
    return f"element_at(array({', '.join(str(k) for k in keys)}), {quote(bucket_column)} + 1)"


# ---------------------------------------------------------------------------------------------
# SQL the job runs
# ---------------------------------------------------------------------------------------------

def select_list(columns, key_source_column, bucket_count=DEFAULT_BUCKET_COUNT):
    """selectExpr items: each source column, cast-free, aliased to its target name; then id_bucket INT
    (bucket_sql_expr for the plan's bucket_count).

    The bucket is computed from the *source* key column (the select list is one projection, the
    alias is not visible to sibling expressions).
    """
    items = [f"{quote(c['source'])} AS {quote(c['target'])}" for c in columns]
    items.append(f"{bucket_sql_expr(key_source_column, bucket_count)} AS `id_bucket`")
    return items


def output_stats_exprs(key_column):
    """selectExpr items counting a written table: rows, and rows whose key is NULL (kept in bucket 0)."""
    k = quote(key_column)
    return ["count(1) AS `rows`", f"count(1) - count({k}) AS `null_keys`"]


def missing_columns(dtypes, columns):
    """Plan source columns absent from the source schema (Spark resolves names case-insensitively)."""
    have = {name.lower() for name, _ in dtypes}
    return [c["source"] for c in columns if c["source"].lower() not in have]


def key_type_error(dtypes, key_source_column):
    """None when the key column is a Spark STRING, else the reason it cannot be bucketed.

    The bucket contract hashes the UTF-8 text of a STRING key; a numeric or binary key would be
    implicitly cast here but hashed differently by Athena's bucketing, so it is refused.
    """
    exact = [t for n, t in dtypes if n == key_source_column]
    folded = [t for n, t in dtypes if n.lower() == key_source_column.lower()]
    found = exact or folded
    if not found:
        return f"key column {key_source_column} is not in the source files"
    if found[0] != "string":
        return f"key column {key_source_column} is {found[0]}, not string (the bucket function hashes the UTF-8 text of a STRING key)"
    return None


def file_ranges(file_count, bucket_count=DEFAULT_BUCKET_COUNT):
    """The id_bucket range [first, last] of each output file: file i covers [floor(i*n/k), floor((i+1)*n/k)), n the
    bucket count (the plan's bucketCount), k the file count (1..n: a file is a contiguous, non-empty id_bucket range).

    In Spark the job distributes the rows by file_partition_sql (hash partitioning on a key chosen so that
    partition i receives exactly range i), so file i (part-0000i-…) holds exactly these buckets, in
    ascending order; a range without rows gives no file (then Spark writes fewer files than planned).
    Athena's part_ range queries then skip the files and row groups outside their range. (The job used
    repartitionByRange before: Spark sampled the boundaries in a separate job that read the whole
    source a second time, and they landed near these, not on them.) The local DuckDB twin writes the
    same number of files, file i from the i-th share of the source rows (every bucket in each): DuckDB's
    partitioned write costs ~20% more per row, and the local bucketed stage reads either layout at the
    same speed.
    """
    if isinstance(bucket_count, bool) or not isinstance(bucket_count, int) or bucket_count < 1:
        raise ValueError(f"bucket_count must be a positive integer, got {bucket_count!r}")
    if isinstance(file_count, bool) or not isinstance(file_count, int) or not 1 <= file_count <= bucket_count:
        raise ValueError(f"file_count must be an integer within 1..{bucket_count}, got {file_count!r}")
    return [((i * bucket_count) // file_count, ((i + 1) * bucket_count) // file_count - 1) for i in range(file_count)]


# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------

def optional_arg(argv, name):
    """Value of an optional `--NAME value` (or `--NAME=value`) Glue argument, or None when absent.

    getResolvedOptions fails on arguments that were not passed, so optional ones are read here. Like
    argparse (which getResolvedOptions uses), the last occurrence wins. A flag without a value is an error.
    """
    flag = f"--{name}"
    found = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == flag:
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                raise ValueError(f"{flag} needs a value")
            found = argv[i + 1]
            i += 2
            continue
        if arg.startswith(flag + "="):
            found = arg[len(flag) + 1:]
        i += 1
    return found


def tables_filter(value):
    """Comma-separated target tables (--TABLES_FILTER), or None for all."""
    if value is None or value.strip() == "":
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    for n in names:
        if not IDENTIFIER.match(n):
            raise ValueError(f"--TABLES_FILTER: '{n}' is not a lower-case table name")
    return names or None


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------

def _is_real_date(text):
    if not isinstance(text, str) or not SNAPSHOT.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def validate_plan(plan, snapshot_dt, run_id):
    """Checks a plan before any data is read; raises ValueError naming the snapshot (and the table).

    Returns the plan unchanged when it is fit to run.
    """
    where = f"plan for snapshot_dt={snapshot_dt} run_id={run_id}"
    if not _is_real_date(snapshot_dt):
        raise ValueError(f"{where}: --SNAPSHOT_DT {snapshot_dt!r} is not a real YYYY-MM-DD date")
    if not isinstance(plan, dict):
        raise ValueError(f"{where}: the plan is not a JSON object")
    if plan.get("version") != 1:
        raise ValueError(f"{where}: plan version must be 1, got {plan.get('version')!r}")
    if plan.get("snapshotDt") != snapshot_dt:
        raise ValueError(f"{where}: the plan is for snapshot_dt={plan.get('snapshotDt')}, not {snapshot_dt}")
    if plan.get("runId") != run_id:
        raise ValueError(f"{where}: the plan is for run_id={plan.get('runId')}, not {run_id}")
    if not isinstance(plan.get("dataset"), str) or not plan["dataset"]:
        raise ValueError(f"{where}: dataset is missing")
    bucket_count = plan.get("bucketCount")
    if isinstance(bucket_count, bool) or not isinstance(bucket_count, int) or bucket_count not in BUCKET_COUNTS:
        raise ValueError(f"{where}: bucketCount must be a power of two from 2 to {MAX_BUCKET_COUNT} "
                         f"(one of {', '.join(str(n) for n in BUCKET_COUNTS)}), got {bucket_count!r}")
    key = plan.get("keyColumn")
    if not isinstance(key, str) or not IDENTIFIER.match(key):
        raise ValueError(f"{where}: keyColumn {key!r} is not a lower-case identifier")
    meta = plan.get("metadataUri")
    if not isinstance(meta, str) or not S3_URI.match(meta) or meta.endswith("/"):
        raise ValueError(f"{where}: metadataUri {meta!r} must be an s3:// object URI")
    tables = plan.get("tables")
    if not isinstance(tables, list) or not tables:
        raise ValueError(f"{where}: the plan has no tables")

    seen_targets, seen_outputs = set(), set()
    for n, t in enumerate(tables):
        if not isinstance(t, dict):
            raise ValueError(f"{where}: tables[{n}] is not an object")
        name = t.get("target")
        if not isinstance(name, str) or not IDENTIFIER.match(name):
            raise ValueError(f"{where} table {name!r}: target is not a lower-case identifier [a-z_][a-z0-9_]*")
        at = f"{where} table {name}"
        if name in seen_targets:
            raise ValueError(f"{at}: the table appears twice in the plan")
        seen_targets.add(name)
        count = t.get("fileCount")
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= bucket_count:
            raise ValueError(f"{at}: fileCount {count!r} is not within 1..{bucket_count} "
                             f"(a file holds a contiguous id_bucket range, so at most bucketCount={bucket_count} files)")
        out = t.get("outputUri")
        if not isinstance(out, str) or not S3_URI.match(out) or not out.endswith("/"):
            raise ValueError(f"{at}: outputUri {out!r} must be an s3:// folder ending in '/'")
        # the job writes only into this run's own folder, so it can never overwrite live data
        if not out.endswith(f"/snapshot_dt={snapshot_dt}/run_id={run_id}/"):
            raise ValueError(f"{at}: outputUri {out} is not this run's folder (…/snapshot_dt={snapshot_dt}/run_id={run_id}/)")
        if out in seen_outputs:
            raise ValueError(f"{at}: outputUri {out} is shared with another table")
        seen_outputs.add(out)
        files = t.get("sourceFiles")
        if not isinstance(files, list) or not files:
            raise ValueError(f"{at}: no source files")
        bad = [f for f in files if not isinstance(f, str) or not S3_URI.match(f)]
        if bad:
            raise ValueError(f"{at}: source files must be s3:// URIs, got {bad[0]!r}")
        cols = t.get("columns")
        if not isinstance(cols, list) or not cols or not all(isinstance(c, dict) for c in cols):
            raise ValueError(f"{at}: no columns")
        targets = [c.get("target") for c in cols]
        for c in cols:
            if not isinstance(c.get("source"), str) or c["source"] == "":
                raise ValueError(f"{at}: column {c.get('target')!r} has no source column")
            if not isinstance(c.get("target"), str) or not IDENTIFIER.match(c["target"]):
                raise ValueError(f"{at}: column {c.get('target')!r} is not a lower-case identifier")
        if targets[0] != key:
            raise ValueError(f"{at}: the key column {key} must be the first column, got {targets[0]}")
        if t.get("keySourceColumn") != cols[0]["source"]:
            raise ValueError(f"{at}: keySourceColumn {t.get('keySourceColumn')!r} is not the source of {key} ({cols[0]['source']!r})")
        dupes = sorted({c for c in targets if targets.count(c) > 1})
        if dupes:
            raise ValueError(f"{at}: duplicate target columns {', '.join(dupes)}")
        if "id_bucket" in targets:
            raise ValueError(f"{at}: a column named id_bucket clashes with the computed bucket column")
        if FILE_COLUMN in targets:
            raise ValueError(f"{at}: a column named {FILE_COLUMN} clashes with the job's file distribution column")
    return plan


def select_tables(plan, names):
    """(tables to process, names ignored) for --TABLES_FILTER `names` (None: every table of the plan).

    The caller passes the operator's --tables to both the planner and the job; the planner has
    already dropped (and reported in plan.skipped) the names it cannot build, so names absent from
    plan.tables are ignored here, as the DuckDB twin does. Selecting no table at all is an error:
    the job would otherwise mark the snapshot done without writing anything.
    """
    if names is None:
        return list(plan["tables"]), []
    wanted = set(names)
    chosen = [t for t in plan["tables"] if t["target"] in wanted]
    known = {t["target"] for t in plan["tables"]}
    ignored = [n for n in names if n not in known]
    if not chosen:
        raise ValueError(
            f"snapshot_dt={plan['snapshotDt']} run_id={plan['runId']}: --TABLES_FILTER {','.join(names)} selects none of the plan's tables "
            f"({', '.join(sorted(known))})"
        )
    return chosen, ignored


# ---------------------------------------------------------------------------------------------
# S3 and outputs
# ---------------------------------------------------------------------------------------------

def split_s3_uri(uri):
    """('bucket', 'key') of an s3:// URI."""
    m = S3_URI.match(uri or "")
    if not m:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    return m.group(1), m.group(2)


def result_uri(plan_uri):
    """result.json in the same folder as the plan (register-staged-tables reads it from there)."""
    bucket, key = split_s3_uri(plan_uri)
    folder, _, name = key.rpartition("/")
    if not name or name == "result.json":
        raise ValueError(f"--PLAN_URI must name a plan file, got {plan_uri}")
    return f"s3://{bucket}/{folder}/result.json" if folder else f"s3://{bucket}/result.json"


def data_file_keys(keys, prefix):
    """The parquet data files among the keys listed under `prefix` (skips _SUCCESS, _temporary/, .crc...)."""
    out = []
    for k in keys:
        rest = k[len(prefix):] if k.startswith(prefix) else k
        parts = rest.split("/")
        if any(p.startswith(("_", ".")) for p in parts):
            continue
        if k.endswith(".parquet"):
            out.append(k)
    return out


def result_document(results):
    """result.json: {"tables": {target: {rows, files, nullKeys, plannedFiles}}} (SplitResult in TypeScript)."""
    return json.dumps({"tables": results}, indent=2, sort_keys=True)


def metadata_body(plan):
    """metadata/snapshot_dt.txt: the plan's snapshot_dt and a newline."""
    return f"{plan['snapshotDt']}\n"


def metadata_is_newer(current, snapshot_dt):
    """True when metadata/snapshot_dt.txt (its text `current`, None when absent) already names a later
    snapshot than `snapshot_dt`: then it is kept, as it never moves backwards. ISO dates compare as
    strings; a value that is not a real date counts as absent (the job replaces it)."""
    value = current.strip() if isinstance(current, str) else ""
    return _is_real_date(value) and value > snapshot_dt


# ---------------------------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------------------------

def log(level, message, stream=None, **fields):
    """One structured JSON log line (CloudWatch keeps it as one event); returns the record.

    Fields conventionally include dataset, snapshot_dt, run_id and table.
    """
    record = {"level": level, "message": message, "timestamp": datetime.now(timezone.utc).isoformat(), "service": "flywheel-split", **fields}
    print(json.dumps(record, default=str, ensure_ascii=False), file=stream or sys.stdout, flush=True)
    return record
