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
# S3 CopyObject copies at most 5 GB; a bigger object is copied in parts (UploadPartCopy): 5 MiB..5 GiB each, 10,000 at most
COPY_OBJECT_MAX_BYTES = 5 * 1024 ** 3
COPY_PART_BYTES = 512 * 1024 ** 2
MAX_COPY_PARTS = 10000
# the Hadoop committer's _SUCCESS marker: off for the staged writes (nobody reads it, and a `_SUCCESS` key can match a
# ready-marker rule); the job writes its own ready marker
SUCCESS_MARKER_OPTION = "mapreduce.fileoutputcommitter.marksuccessfuljobs"
STAGING_FOLDER = "_compaction_staging"


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


def list_objects(s3, bucket, prefix):
    """Every (key, size) under `prefix`, all pages (ListObjectsV2)."""
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects.extend((o["Key"], o["Size"]) for o in page.get("Contents", []))
    return objects


def list_keys(s3, bucket, prefix):
    """Every key under `prefix`, all pages (ListObjectsV2)."""
    return [k for k, _ in list_objects(s3, bucket, prefix)]


def delete_keys(s3, bucket, keys):
    """DeleteObjects, 1,000 keys a request."""
    for i in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]], "Quiet": True})


def compaction_staging_uri(output_uri):
    """Where compact_landing stages a snapshot's files: beside the snapshot folder, never inside it.

    `s3://b/<prefix>snapshot_dt=D/` → `s3://b/<prefix>_compaction_staging/snapshot_dt=D/`. Inside the split's
    snapshot folder, staged objects (a committer's `_SUCCESS`, `_temporary/…`) would sit where the ready-marker
    rule (`<prefix>snapshot_dt=*/_SUCCESS`, whose `*` crosses '/') and the split look.
    """
    bucket, key = split_s3_uri(output_uri.rstrip("/") + "/")
    parts = key.rstrip("/").split("/")
    if not parts[-1]:
        raise ValueError(f"OUTPUT_PATH needs a folder to stage beside: {output_uri}")
    parent = "".join(p + "/" for p in parts[:-1])
    return f"s3://{bucket}/{parent}{STAGING_FOLDER}/{parts[-1]}/"


def copy_part_ranges(size, part_bytes=COPY_PART_BYTES):
    """Inclusive byte ranges of a multipart copy of `size` bytes: parts of `part_bytes`, more if 10,000 would not do."""
    part = max(part_bytes, math.ceil(size / MAX_COPY_PARTS))
    return [(first, min(first + part, size) - 1) for first in range(0, size, part)]


def copy_into_place(s3, src_bucket, src_key, size, dst_bucket, dst_key, single_copy_max_bytes=COPY_OBJECT_MAX_BYTES, copy_part_bytes=COPY_PART_BYTES):
    """Server-side copy of one object of `size` bytes: CopyObject up to S3's 5 GB limit, a multipart copy
    (UploadPartCopy of byte ranges) above it; a failed multipart copy is aborted. Returns the number of parts (1 = CopyObject)."""
    source = {"Bucket": src_bucket, "Key": src_key}
    if size <= single_copy_max_bytes or size == 0:
        s3.copy_object(Bucket=dst_bucket, Key=dst_key, CopySource=source)
        return 1
    upload = s3.create_multipart_upload(Bucket=dst_bucket, Key=dst_key)["UploadId"]
    try:
        parts = []
        for number, (first, last) in enumerate(copy_part_ranges(size, copy_part_bytes), start=1):
            r = s3.upload_part_copy(Bucket=dst_bucket, Key=dst_key, UploadId=upload, PartNumber=number, CopySource=source, CopySourceRange=f"bytes={first}-{last}")
            parts.append({"PartNumber": number, "ETag": r["CopyPartResult"]["ETag"]})
        s3.complete_multipart_upload(Bucket=dst_bucket, Key=dst_key, UploadId=upload, MultipartUpload={"Parts": parts})
        return len(parts)
    except BaseException:
        _quietly(lambda: s3.abort_multipart_upload(Bucket=dst_bucket, Key=dst_key, UploadId=upload))
        raise


def write_aside_and_switch(df, s3, output_uri, file_count, codec, staging_uri, run=None, before_switch=None,
                           single_copy_max_bytes=COPY_OBJECT_MAX_BYTES, copy_part_bytes=COPY_PART_BYTES):
    """Writes `df` as `file_count` parquet files under `staging_uri` (without the committer's _SUCCESS), copies them
    into `output_uri` under run-unique names, then deletes the output's previous objects; the staging folder is
    removed whatever happens.

    `before_switch(staged_uris)`, when given, runs once the files are staged: raising or returning False leaves
    the output as it was (False: returns None). Readers of `output_uri` see the previous complete set until the
    copies land, then (for the moment before the deletes) both, then the new set; never a half-written set: a
    failed copy removes the copies already made. Returns the new keys.
    """
    run = run or uuid.uuid4().hex[:12]
    staging = staging_uri.rstrip("/") + f"/{run}/"
    out_bucket, out_prefix = split_s3_uri(output_uri.rstrip("/") + "/")
    st_bucket, st_prefix = split_s3_uri(staging)

    def write_and_switch():
        df.repartition(file_count).write.mode("errorifexists").option("compression", codec).option(SUCCESS_MARKER_OPTION, "false").parquet(staging)
        written = sorted((k, size) for k, size in list_objects(s3, st_bucket, st_prefix) if k.endswith(".parquet"))
        if before_switch is not None and before_switch([f"s3://{st_bucket}/{k}" for k, _ in written]) is False:
            return None
        existing = [k for k in list_keys(s3, out_bucket, out_prefix) if "/" not in k[len(out_prefix):]]
        new_keys = []
        try:
            for k, size in written:
                target = f"{out_prefix}{run}-{k.rsplit('/', 1)[1]}"
                new_keys.append(target)
                copy_into_place(s3, st_bucket, k, size, out_bucket, target, single_copy_max_bytes, copy_part_bytes)
        except BaseException:
            _quietly(lambda: delete_keys(s3, out_bucket, new_keys))  # the previous set stays complete and alone
            raise
        delete_keys(s3, out_bucket, switch_plan(existing, new_keys))
        return new_keys

    try:
        new_keys = write_and_switch()
    except BaseException:
        _quietly(lambda: delete_keys(s3, st_bucket, list_keys(s3, st_bucket, st_prefix)))
        raise
    delete_keys(s3, st_bucket, list_keys(s3, st_bucket, st_prefix))
    return new_keys


def _quietly(cleanup):
    """A clean-up after an error: its own failure must not hide the error being raised."""
    try:
        cleanup()
    except Exception:  # noqa: BLE001 - the first error is the one to report
        pass


def compact_landing(spark, s3, source_uri, output_uri, ready_marker, target_file_bytes, codec, log=print):
    """The raw-landing compaction: each folder of `source_uri` → `output_uri`/<folder>, staged beside the snapshot
    folder (compaction_staging_uri), rows checked before the switch, the ready marker last."""
    src_bucket, src_prefix = split_s3_uri(source_uri.rstrip("/") + "/")
    groups, ignored = compaction_groups(src_prefix, list_objects(s3, src_bucket, src_prefix), target_file_bytes)
    if not groups:
        raise ValueError(f"no parquet files under {source_uri} to compact; land the files, then the {ready_marker} marker")
    if ignored:
        log(f"ignored under {source_uri}: {', '.join(ignored)}")
    out_root = output_uri.rstrip("/") + "/"
    out_bucket, out_prefix = split_s3_uri(out_root)
    staging_root = compaction_staging_uri(out_root)
    results = []
    for g in groups:
        df = spark.read.option("mergeSchema", "true").parquet(*[f"s3://{src_bucket}/{k}" for k in g["keys"]])
        rows_in = df.count()

        def same_rows(staged, folder=g["folder"], rows_in=rows_in):
            rows_out = spark.read.parquet(*staged).count() if staged else 0
            if rows_out != rows_in:
                raise ValueError(f"compaction of {source_uri}{folder} wrote {rows_out} rows of {rows_in}; nothing was switched and the marker was not written")

        keys = write_aside_and_switch(df, s3, out_root + g["folder"], g["file_count"], codec, staging_root + g["folder"], before_switch=same_rows)
        results.append({"folder": g["folder"], "rows": rows_in, "files": len(keys), "bytes_in": g["bytes"]})
        log(f"compacted {source_uri}{g['folder']}: {len(g['keys'])} files, {rows_in} rows → {len(keys)} files")
    s3.put_object(Bucket=out_bucket, Key=f"{out_prefix}{ready_marker}", Body=b"")
    return results
