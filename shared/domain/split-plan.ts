/**
 * The split plan: everything the split-and-bucket job needs, computed in TypeScript and handed to
 * the job as JSON (the PySpark script and the DuckDB twin both execute it and decide nothing).
 */
export interface SplitColumn {
  source: string;
  target: string;
}

export interface SplitTablePlan {
  /** Target table name (lower-case), e.g. `ibe_02a`. */
  target: string;
  /** Source table folder name, e.g. `IBE_02`. */
  source: string;
  /** Source parquet files (s3:// URIs). */
  sourceFiles: string[];
  sourceBytes: number;
  /** Bytes of the columns this table carries (sourceBytes × their share of the source's column bytes). */
  estimatedBytes: number;
  /** Columns to carry, in output order; the key column is always first. */
  columns: SplitColumn[];
  /** Source column holding customer_user_id. */
  keySourceColumn: string;
  /** Output files, clamp(ceil(estimatedBytes/target),1,256): on AWS each a contiguous id_bucket range, locally each a share of the source rows. */
  fileCount: number;
  /** Folder the job writes (s3:// URI ending in '/'); must be empty before the job writes. */
  outputUri: string;
}

export interface SkippedTable {
  target?: string;
  source?: string;
  reason: string;
  fix: string;
}

export interface SplitPlan {
  version: 1;
  dataset: string;
  snapshotDt: string;
  runId: string;
  bucketCount: number;
  keyColumn: string;
  /** `metadata/snapshot_dt.txt` under the split output, written after every table succeeded. */
  metadataUri: string;
  tables: SplitTablePlan[];
  /** Target tables that cannot be built from this snapshot, with the reason (the others proceed). */
  skipped: SkippedTable[];
  /** Source columns the mapping does not name, per source table (dropped, reported). */
  droppedColumns: Record<string, string[]>;
}
