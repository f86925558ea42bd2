/**
 * The data monitor's checks, pure: facts gathered about a table (catalog, S3 listing, one scan of
 * the part table, one count of the source) in, a report row and alerts out.
 */
import type { ColumnDef, PartitionDef, TableDef } from '../../ports.js';
import { bucketRanges } from '../build-steps.js';
import type { MonitorOptions } from './options.js';

export type Severity = 'High' | 'Medium' | 'Low';
export type AlertCode =
  | 'PARTITION_MISSING_S3'
  | 'PARTITION_MISSING_CATALOG'
  | 'PARTITION_STALE'
  | 'FRESHNESS'
  | 'SCHEMA'
  | 'COUNT_MISMATCH'
  | 'PK_NULL'
  | 'PK_DUPES'
  | 'FILE_SIZE'
  | 'BUCKET_SKEW'
  | 'WRONG_BUCKET'
  | 'VOLUME_CHANGE'
  | 'CHECK_FAILED';

export const SEVERITY: Record<AlertCode, Severity> = {
  COUNT_MISMATCH: 'High',
  PK_NULL: 'High',
  PK_DUPES: 'High',
  WRONG_BUCKET: 'High',
  CHECK_FAILED: 'High',
  PARTITION_MISSING_S3: 'Medium',
  PARTITION_MISSING_CATALOG: 'Medium',
  PARTITION_STALE: 'Medium',
  SCHEMA: 'Medium',
  FRESHNESS: 'Medium',
  BUCKET_SKEW: 'Medium',
  VOLUME_CHANGE: 'Medium',
  FILE_SIZE: 'Low',
};

export interface Alert {
  code: AlertCode;
  severity: Severity;
  table?: string;
  message: string;
}

/** `[CODE] table: message` — the alert line of the current monitor's report and e-mail. */
export function alertLine(a: Alert): string {
  return `[${a.code}] ${a.table ? `${a.table}: ` : ''}${a.message}`;
}

const alert = (code: AlertCode, table: string | undefined, message: string): Alert => ({ code, severity: SEVERITY[code], table, message });

/** Compact `0-9, 12, 200-255` form of a sorted list of bucket ids. */
export function ranges(ids: number[]): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

// ---------------------------------------------------------------- partitions

export interface Projection {
  enabled: boolean;
  ok: boolean;
  problems: string[];
}

/** Partition projection settings of a table (Athena-only; invisible to Spark readers such as Clean Rooms). */
export function projectionOf(table: TableDef, bucketCount: number): Projection {
  const p = table.parameters;
  if (p['projection.enabled'] !== 'true') return { enabled: false, ok: true, problems: [] };
  const problems: string[] = [];
  if (p['projection.id_bucket.type'] !== 'integer') problems.push(`projection.id_bucket.type is ${p['projection.id_bucket.type'] ?? 'unset'}, expected integer`);
  const range = (p['projection.id_bucket.range'] ?? '').replace(/\s/g, '');
  if (range !== `0,${bucketCount - 1}`) problems.push(`projection.id_bucket.range is '${range}', expected 0,${bucketCount - 1}`);
  return { enabled: true, ok: problems.length === 0, problems };
}

export interface PartitionFacts {
  /** id_bucket values with a folder of data on S3. */
  s3: number[];
  /** Catalog partitions (empty when projection is on). */
  catalog: PartitionDef[];
}

export interface PartitionCheck {
  missingS3: number[];
  missingCatalog: number[];
  stale: number[];
  alerts: Alert[];
}

/** Missing buckets on S3, S3 partitions the catalog lacks, catalog partitions without data (stale). */
export function checkPartitions(table: string, facts: PartitionFacts, bucketCount: number, projection: Projection): PartitionCheck {
  const s3 = new Set(facts.s3);
  const catalog = new Set(facts.catalog.map((p) => Number(p.values[0])));
  const all = Array.from({ length: bucketCount }, (_, i) => i);
  const missingS3 = all.filter((b) => !s3.has(b));
  const alerts: Alert[] = [];
  if (missingS3.length > 0) alerts.push(alert('PARTITION_MISSING_S3', table, `${missingS3.length} of ${bucketCount} id_bucket partitions have no data on S3: ${ranges(missingS3)}${batchHint(missingS3, bucketCount)}`));
  if (projection.enabled) {
    if (!projection.ok) alerts.push(alert('SCHEMA', table, `partition projection misconfigured: ${projection.problems.join('; ')}`));
    return { missingS3, missingCatalog: [], stale: [], alerts };
  }
  const missingCatalog = [...s3].filter((b) => !catalog.has(b)).sort((a, b) => a - b);
  const stale = [...catalog].filter((b) => !s3.has(b)).sort((a, b) => a - b);
  if (missingCatalog.length > 0) alerts.push(alert('PARTITION_MISSING_CATALOG', table, `catalog missing ${missingCatalog.length} partitions that exist on S3: ${ranges(missingCatalog)}`));
  if (stale.length > 0) alerts.push(alert('PARTITION_STALE', table, `${stale.length} catalog partitions have no data on S3 (Clean Rooms fails on them): ${ranges(stale)}`));
  return { missingS3, missingCatalog, stale, alerts };
}

/** Names a run of missing buckets that is exactly one 100-partition write batch of the bucketed stage. */
function batchHint(missing: number[], bucketCount: number): string {
  const set = new Set(missing);
  const batches = bucketRanges(bucketCount, 100).filter(([a, b]) => {
    for (let i = a; i <= b; i++) if (!set.has(i)) return false;
    return true;
  });
  if (batches.length === 0) return '';
  return ` — matches the failed write batch${batches.length > 1 ? 'es' : ''} ${batches.map(([a, b]) => `part ${a}-${b}`).join(', ')}: re-run that range`;
}

// ---------------------------------------------------------------- schema

export interface SchemaCheck {
  tableTypeOk: boolean;
  contractOk: boolean;
  alerts: Alert[];
}

const PARQUET_SERDE = 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe';
const PARQUET_INPUT = 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat';

/** Catalog facts beyond TableDef that the schema contract needs. */
export interface TableShape {
  tableType?: string;
  inputFormat?: string;
  serde?: string;
}

/** customer_user_id a data column, id_bucket the int partition key, EXTERNAL_TABLE, parquet. */
export function checkSchema(def: TableDef, shape: TableShape, pkColumn: string): SchemaCheck {
  const problems: string[] = [];
  const typeProblems: string[] = [];
  const is = (cols: ColumnDef[], name: string) => cols.find((c) => c.name.toLowerCase() === name);
  if (!is(def.columns, pkColumn)) problems.push(is(def.partitionKeys, pkColumn) ? `${pkColumn} is a partition key, expected a data column` : `${pkColumn} is not a column`);
  const key = is(def.partitionKeys, 'id_bucket');
  if (!key) problems.push(is(def.columns, 'id_bucket') ? 'id_bucket is a data column, expected the partition key' : 'id_bucket partition key is missing');
  else if (!['int', 'integer'].includes(key.type.toLowerCase())) problems.push(`id_bucket partition key is ${key.type}, expected int`);
  if (def.partitionKeys.length > 1) problems.push(`unexpected extra partition keys ${def.partitionKeys.filter((k) => k.name !== 'id_bucket').map((k) => k.name).join(', ')}`);
  if (shape.tableType !== 'EXTERNAL_TABLE') typeProblems.push(`table type is ${shape.tableType ?? 'unset'}, expected EXTERNAL_TABLE`);
  if (shape.inputFormat !== PARQUET_INPUT) typeProblems.push(`input format is ${shape.inputFormat ?? 'unset'}, expected parquet`);
  if (shape.serde !== PARQUET_SERDE) typeProblems.push(`SerDe is ${shape.serde ?? 'unset'}, expected ${PARQUET_SERDE}`);
  const alerts = [...problems, ...typeProblems].map((p) => alert('SCHEMA', def.name, p));
  return { tableTypeOk: typeProblems.length === 0, contractOk: problems.length === 0 && typeProblems.length === 0, alerts };
}

// ---------------------------------------------------------------- freshness

export interface FreshnessCheck {
  snapshotDt?: string;
  ageDays?: number;
  alerts: Alert[];
}

/** metadata/snapshot_dt.txt within the window, and not behind the newest valid raw snapshot. */
export function checkFreshness(args: { metadata?: string; newestRaw?: string; now: Date; windowDays: number; strict: boolean }): FreshnessCheck {
  const value = args.metadata?.trim();
  const valid = value !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`));
  const alerts: Alert[] = [];
  if (!valid) {
    if (args.strict) alerts.push(alert('FRESHNESS', undefined, value === undefined ? 'processed snapshot missing: metadata/snapshot_dt.txt not found' : `processed snapshot unparseable: metadata/snapshot_dt.txt holds '${value.slice(0, 40)}'`));
    return { alerts };
  }
  const ageDays = Math.floor((args.now.getTime() - Date.parse(`${value}T00:00:00Z`)) / 86_400_000);
  if (ageDays > args.windowDays) alerts.push(alert('FRESHNESS', undefined, `processed snapshot too old: snapshot_dt=${value} is ${ageDays} days old (window ${args.windowDays})`));
  if (args.newestRaw && args.newestRaw > value) alerts.push(alert('FRESHNESS', undefined, `processed snapshot_dt=${value} is behind the newest raw_input snapshot_dt=${args.newestRaw}`));
  return { snapshotDt: value, ageDays, alerts };
}

// ---------------------------------------------------------------- counts, keys, buckets

/** What one scan of part_<t> returns: per-bucket rows plus totals. */
export interface ScanFacts {
  perBucket: Map<number, number>;
  rows: number;
  pkNulls: number;
  pkDupes: number;
  wrongBucket: number;
}

export interface CountCheck {
  diffPct?: number;
  alerts: Alert[];
}

/** |part − src| · 100 / src against the tolerance. */
export function checkCounts(table: string, part: number, src: { count: number; name: string; partName: string } | undefined, tolerancePct: number): CountCheck {
  if (!src) return { alerts: [] };
  const diffPct = src.count === 0 ? (part === 0 ? 0 : 100) : (Math.abs(part - src.count) * 100) / src.count;
  const alerts = diffPct > tolerancePct ? [alert('COUNT_MISMATCH', table, `${src.partName}=${part} vs ${src.name}=${src.count} (Δ=${diffPct.toFixed(6)}%)`)] : [];
  return { diffPct, alerts };
}

/** NULL keys, duplicate rows and rows in the wrong bucket. */
export function checkKeys(table: string, scan: ScanFacts, pkColumn: string): Alert[] {
  const alerts: Alert[] = [];
  if (scan.pkNulls > 0) alerts.push(alert('PK_NULL', table, `${pkColumn} NULL rows=${scan.pkNulls}`));
  if (scan.pkDupes > 0) alerts.push(alert('PK_DUPES', table, `${pkColumn} duplicate rows=${scan.pkDupes}`));
  if (scan.wrongBucket > 0) alerts.push(alert('WRONG_BUCKET', table, `${scan.wrongBucket} rows have an id_bucket that differs from the bucket function of their ${pkColumn}`));
  return alerts;
}

export interface BucketHealth {
  histogram: number[];
  empty: number[];
  low: number[];
  maxMinRatio?: number;
  cv: number;
  alerts: Alert[];
}

/** Per-bucket histogram: empty and low buckets, max/min ratio and coefficient of variation. */
export function checkBuckets(table: string, scan: ScanFacts, o: Pick<MonitorOptions, 'bucket_count' | 'skew_max_min_ratio' | 'skew_max_cv' | 'low_bucket_pct'>): BucketHealth {
  const histogram = Array.from({ length: o.bucket_count }, (_, b) => scan.perBucket.get(b) ?? 0);
  const mean = histogram.reduce((a, b) => a + b, 0) / histogram.length;
  const sd = Math.sqrt(histogram.reduce((a, b) => a + (b - mean) ** 2, 0) / histogram.length);
  const cv = mean === 0 ? 0 : sd / mean;
  const empty = histogram.flatMap((c, b) => (c === 0 ? [b] : []));
  const low = histogram.flatMap((c, b) => (c > 0 && c < (mean * o.low_bucket_pct) / 100 ? [b] : []));
  const nonEmpty = histogram.filter((c) => c > 0);
  const maxMinRatio = nonEmpty.length ? Math.max(...nonEmpty) / Math.min(...nonEmpty) : undefined;
  const problems: string[] = [];
  if (scan.rows > 0 && empty.length > 0) problems.push(`${empty.length} empty buckets (${ranges(empty)})`);
  if (low.length > 0) problems.push(`${low.length} buckets below ${o.low_bucket_pct}% of the mean (${ranges(low)})`);
  if (maxMinRatio !== undefined && maxMinRatio > o.skew_max_min_ratio) problems.push(`max/min ratio ${maxMinRatio.toFixed(2)} > ${o.skew_max_min_ratio}`);
  if (cv > o.skew_max_cv) problems.push(`coefficient of variation ${cv.toFixed(3)} > ${o.skew_max_cv}`);
  const alerts = problems.length > 0 ? [alert('BUCKET_SKEW', table, problems.join('; '))] : [];
  return { histogram, empty, low, maxMinRatio, cv, alerts };
}

// ---------------------------------------------------------------- files, trends

export interface FileIssue {
  key: string;
  sizeMb: number;
}

/** Files outside [min, max] MB among the sampled partitions (at most 20 named). */
export function checkFileSizes(table: string, files: Array<{ key: string; size: number }>, minMb: number, maxMb: number): { issues: FileIssue[]; alerts: Alert[] } {
  const issues = files.map((f) => ({ key: f.key, sizeMb: f.size / (1024 * 1024) })).filter((f) => f.sizeMb < minMb || f.sizeMb > maxMb).slice(0, 20);
  const alerts = issues.length > 0 ? [alert('FILE_SIZE', table, `${issues.length} sampled files outside ${minMb}–${maxMb} MB, e.g. ${issues.slice(0, 3).map((i) => `${i.key.split('/').slice(-2).join('/')} (${i.sizeMb.toFixed(1)} MB)`).join(', ')}`)] : [];
  return { issues, alerts };
}

export interface TrendPoint {
  generatedAt: string;
  snapshotDt?: string;
  countPart?: number;
}

/** Flags a count that moved more than `pct` against the latest earlier report of a different snapshot. */
export function checkTrend(table: string, countPart: number | undefined, snapshotDt: string | undefined, history: TrendPoint[], pct: number): { changePct?: number; alerts: Alert[] } {
  const previous = history.filter((h) => h.countPart !== undefined && h.snapshotDt !== snapshotDt).at(-1);
  if (countPart === undefined || !previous?.countPart) return { alerts: [] };
  const changePct = ((countPart - previous.countPart) * 100) / previous.countPart;
  const alerts = Math.abs(changePct) > pct ? [alert('VOLUME_CHANGE', table, `rows ${previous.countPart} → ${countPart} (${changePct >= 0 ? '+' : ''}${changePct.toFixed(2)}%) since snapshot_dt=${previous.snapshotDt ?? '?'} (threshold ${pct}%)`)] : [];
  return { changePct, alerts };
}

/** A check that could not run (access denied, query error) is an alert for that table only. */
export function checkFailed(table: string, what: string, cause: string): Alert {
  return alert('CHECK_FAILED', table, `${what} failed: ${cause}`);
}

/** Alerts that mean the live data itself is not intact (source data quality such as NULL keys is not among them). */
export const INTEGRITY_ALERTS: ReadonlySet<AlertCode> = new Set(['COUNT_MISMATCH', 'PARTITION_STALE', 'SCHEMA', 'WRONG_BUCKET', 'CHECK_FAILED']);
