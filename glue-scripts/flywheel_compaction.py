"""Compaction, the Spark side (standard library only; tested with fakes, Spark is never run here).

One capability, two uses, as shared/domain/compaction.ts and shared/adapters/local/compaction.ts:
compact_raw.py (a raw landing's small files → the split's input, ready marker last) and
consolidate_chargebacks.py (one day, deduplicated, OUTPUT_FILE_COUNT files). Both write aside and
then switch with write_aside_and_switch().
"""
import math
import uuid

CODECS = {"snappy", "gzip", "zstd", "lz4", "none", "uncompressed"}
MAX_OUTPUT_FILES = 1000


def split_s3_uri(uri):
    """`s3://bucket/key` → (bucket, key)."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3://bucket/key URI: {uri}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def compacted_file_count(total_bytes, target_file_bytes, max_files=MAX_OUTPUT_FILES):
    """Files to write for `total_bytes` of input: enough that none is much above the target, at least 1."""
    if target_file_bytes <= 0:
        raise ValueError(f"target file size must be positive, got {target_file_bytes}")
    return min(max_files, max(1, math.ceil(total_bytes / target_file_bytes)))


def compaction_groups(snapshot_prefix, objects, target_file_bytes):
    """Parquet files under `snapshot_prefix` grouped by folder (a folder is a source table).

    `objects` are (key, size) pairs. Returns (groups, ignored): groups as dicts with folder, keys,
    bytes and file_count, sorted by folder; hidden paths (`_`/`.`), non-parquet and empty files ignored.
    """
    by_folder, ignored = {}, []
    for key, size in objects:
        rel = key[len(snapshot_prefix):] if key.startswith(snapshot_prefix) else key
        parts = rel.split("/")
        hidden = any(p.startswith("_") or p.startswith(".") for p in parts)
        if not key.startswith(snapshot_prefix) or hidden or not parts[-1].endswith(".parquet") or size == 0:
            ignored.append(rel)
            continue
        folder = "".join(p + "/" for p in parts[:-1])
        g = by_folder.setdefault(folder, {"folder": folder, "keys": [], "bytes": 0})
        g["keys"].append(key)
        g["bytes"] += size
    groups = []
    for folder in sorted(by_folder):
        g = by_folder[folder]
        g["keys"].sort()
        g["file_count"] = compacted_file_count(g["bytes"], target_file_bytes)
        groups.append(g)
    return groups, ignored


def switch_plan(existing_keys, new_keys):
    """After the new files are in place: the old objects to delete (never a new one)."""
    new = set(new_keys)
    return sorted(k for k in existing_keys if k not in new)


def list_keys(s3, bucket, prefix):
    """Every key under `prefix`, all pages (ListObjectsV2)."""
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


def write_aside_and_switch(df, s3, output_uri, file_count, codec, staging_uri, run=None):
    """Writes `df` as `file_count` parquet files under `staging_uri`, copies them into `output_uri`
    under run-unique names, then deletes the output's previous objects and the staging folder.

    Readers of `output_uri` see the previous complete set until the copies land, then (for the moment
    before the deletes) both, then the new set; never a half-written set. Returns the new keys.
    """
    run = run or uuid.uuid4().hex[:12]
    staging = staging_uri.rstrip("/") + f"/{run}/"
    df.repartition(file_count).write.mode("errorifexists").option("compression", codec).parquet(staging)
    out_bucket, out_prefix = split_s3_uri(output_uri.rstrip("/") + "/")
    st_bucket, st_prefix = split_s3_uri(staging)
    written = sorted(k for k in list_keys(s3, st_bucket, st_prefix) if k.endswith(".parquet"))
    existing = [k for k in list_keys(s3, out_bucket, out_prefix) if "/" not in k[len(out_prefix):]]
    new_keys = []
    for k in written:
        target = f"{out_prefix}{run}-{k.rsplit('/', 1)[1]}"
        s3.copy_object(Bucket=out_bucket, Key=target, CopySource={"Bucket": st_bucket, "Key": k})
        new_keys.append(target)
    old = switch_plan(existing, new_keys)
    for i in range(0, len(old), 1000):
        s3.delete_objects(Bucket=out_bucket, Delete={"Objects": [{"Key": k} for k in old[i:i + 1000]], "Quiet": True})
    leftovers = list_keys(s3, st_bucket, st_prefix)
    for i in range(0, len(leftovers), 1000):
        s3.delete_objects(Bucket=st_bucket, Delete={"Objects": [{"Key": k} for k in leftovers[i:i + 1000]], "Quiet": True})
    return new_keys


def compact_landing(spark, s3, source_uri, output_uri, ready_marker, target_file_bytes, codec, log=print):
    """The raw-landing compaction: each folder of `source_uri` → `output_uri`/<folder>, rows checked, marker last."""
    src_bucket, src_prefix = split_s3_uri(source_uri.rstrip("/") + "/")
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=src_bucket, Prefix=src_prefix):
        objects.extend((o["Key"], o["Size"]) for o in page.get("Contents", []))
    groups, ignored = compaction_groups(src_prefix, objects, target_file_bytes)
    if not groups:
        raise ValueError(f"no parquet files under {source_uri} to compact; land the files, then the {ready_marker} marker")
    if ignored:
        log(f"ignored under {source_uri}: {', '.join(ignored)}")
    out_root = output_uri.rstrip("/") + "/"
    out_bucket, out_prefix = split_s3_uri(out_root)
    results = []
    for g in groups:
        df = spark.read.option("mergeSchema", "true").parquet(*[f"s3://{src_bucket}/{k}" for k in g["keys"]])
        rows_in = df.count()
        keys = write_aside_and_switch(df, s3, out_root + g["folder"], g["file_count"], codec, f"{out_root}_compaction_staging/{g['folder']}")
        rows_out = spark.read.parquet(*[f"s3://{out_bucket}/{k}" for k in keys]).count()
        if rows_out != rows_in:
            raise ValueError(f"compaction of {source_uri}{g['folder']} wrote {rows_out} rows of {rows_in}; the marker was not written")
        results.append({"folder": g["folder"], "rows": rows_in, "files": len(keys), "bytes_in": g["bytes"]})
        log(f"compacted {source_uri}{g['folder']}: {len(g['keys'])} files, {rows_in} rows → {len(keys)} files")
    s3.put_object(Bucket=out_bucket, Key=f"{out_prefix}{ready_marker}", Body=b"")
    return results
