/**
 * The data monitor's checks, pure: facts gathered about a table (catalog, S3 listing, one scan of
 * the part table, one count of the source) in, a report row and alerts out.
 */
import type { ColumnDef, PartitionDef, TableDef } from '../catalog-types.js';
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
  | 'KEY_CONCENTRATION'
  | 'BUCKET_CONCENTRATION'
  | 'WRONG_BUCKET'
  | 'VOLUME_CHANGE'
  | 'CHECK_FAILED';

export const SEVERITY: Record<AlertCode, Severity> = {
  COUNT_MISMATCH: 'High',
  PK_NULL: 'High',
  PK_DUPES: 'High',
  WRONG_BUCKET: 'High',
  CHECK_FAILED: 'High',
  KEY_CONCENTRATION: 'High',
  PARTITION_MISSING_S3: 'Medium',
  PARTITION_MISSING_CATALOG: 'Medium',
  PARTITION_STALE: 'Medium',
  SCHEMA: 'Medium',
  FRESHNESS: 'Medium',
  BUCKET_SKEW: 'Medium',
  BUCKET_CONCENTRATION: 'Medium',
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
  if (p['projection.id_bucket.type'] !== 'integer')
    problems.push(`projection.id_bucket.type is ${p['projection.id_bucket.type'] ?? 'unset'}, expected integer`);
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

/**
 * Missing buckets on S3, S3 partitions the catalog lacks, catalog partitions without data (stale). `writeBatch` is
 * how many partitions one build query of the bucketed stage writes (PipelineConfig.partitionsPerQuery): a run of
 * missing buckets that is exactly one such range is named, with the range to re-run.
 */
export function checkPartitions(table: string, facts: PartitionFacts, bucketCount: number, projection: Projection, writeBatch: number): PartitionCheck {
  const s3 = new Set(facts.s3);
  const catalog = new Set(facts.catalog.map((p) => Number(p.values[0])));
  const all = Array.from({ length: bucketCount }, (_, i) => i);
  const missingS3 = all.filter((b) => !s3.has(b));
  const alerts: Alert[] = [];
  if (missingS3.length > 0)
    alerts.push(
      alert(
        'PARTITION_MISSING_S3',
        table,
        `${missingS3.length} of ${bucketCount} id_bucket partitions have no data on S3: ${ranges(missingS3)}${batchHint(missingS3, bucketCount, writeBatch)}`,
      ),
    );
  if (projection.enabled) {
    if (!projection.ok) alerts.push(alert('SCHEMA', table, `partition projection misconfigured: ${projection.problems.join('; ')}`));
    return { missingS3, missingCatalog: [], stale: [], alerts };
  }
  const missingCatalog = [...s3].filter((b) => !catalog.has(b)).sort((a, b) => a - b);
  const stale = [...catalog].filter((b) => !s3.has(b)).sort((a, b) => a - b);
  if (missingCatalog.length > 0)
    alerts.push(alert('PARTITION_MISSING_CATALOG', table, `catalog missing ${missingCatalog.length} partitions that exist on S3: ${ranges(missingCatalog)}`));
  if (stale.length > 0)
    alerts.push(alert('PARTITION_STALE', table, `${stale.length} catalog partitions have no data on S3 (Clean Rooms fails on them): ${ranges(stale)}`));
  return { missingS3, missingCatalog, stale, alerts };
}

/**
 * Buckets without data on S3 are empty, not lost, when the table holds every row of another table it was built
 * from (its count equals the source's exactly) and none of them is a stale catalog partition: no key of this
 * snapshot falls in them, as a small key population leaves buckets empty every time. Such a
 * PARTITION_MISSING_S3 is reported, not e-mailed (the message says why).
 */
export function missingButEmpty(parts: PartitionCheck, count: { diffPct?: number; source?: string }): Alert | undefined {
  const a = parts.alerts.find((x) => x.code === 'PARTITION_MISSING_S3');
  if (!a || parts.stale.length > 0 || count.diffPct !== 0 || !count.source) return undefined;
  return { ...a, message: `${a.message} — empty, not lost: every row of ${count.source} is in the table, so no key of this snapshot falls in these buckets` };
}

/**
 * Names a run of missing buckets that is exactly one write batch of the bucketed stage (`writeBatch` partitions per
 * query). Nothing when one query writes the whole table (local mode): a range to re-run would then add nothing.
 */
function batchHint(missing: number[], bucketCount: number, writeBatch: number): string {
  if (writeBatch >= bucketCount) return '';
  const set = new Set(missing);
  const batches = bucketRanges(bucketCount, writeBatch).filter(([a, b]) => {
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
  if (!is(def.columns, pkColumn))
    problems.push(is(def.partitionKeys, pkColumn) ? `${pkColumn} is a partition key, expected a data column` : `${pkColumn} is not a column`);
  const key = is(def.partitionKeys, 'id_bucket');
  if (!key) problems.push(is(def.columns, 'id_bucket') ? 'id_bucket is a data column, expected the partition key' : 'id_bucket partition key is missing');
  else if (!['int', 'integer'].includes(key.type.toLowerCase())) problems.push(`id_bucket partition key is ${key.type}, expected int`);
  if (def.partitionKeys.length > 1)
    problems.push(
      `unexpected extra partition keys ${def.partitionKeys
        .filter((k) => k.name !== 'id_bucket')
        .map((k) => k.name)
        .join(', ')}`,
    );
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
    if (args.strict)
      alerts.push(
        alert(
          'FRESHNESS',
          undefined,
          value === undefined
            ? 'processed snapshot missing: metadata/snapshot_dt.txt not found'
            : `processed snapshot unparseable: metadata/snapshot_dt.txt holds '${value.slice(0, 40)}'`,
        ),
      );
    return { alerts };
  }
  const ageDays = Math.floor((args.now.getTime() - Date.parse(`${value}T00:00:00Z`)) / 86_400_000);
  if (ageDays > args.windowDays)
    alerts.push(alert('FRESHNESS', undefined, `processed snapshot too old: snapshot_dt=${value} is ${ageDays} days old (window ${args.windowDays})`));
  if (args.newestRaw && args.newestRaw > value)
    alerts.push(alert('FRESHNESS', undefined, `processed snapshot_dt=${value} is behind the newest raw_input snapshot_dt=${args.newestRaw}`));
  return { snapshotDt: value, ageDays, alerts };
}

// ---------------------------------------------------------------- counts, keys, buckets

/** The most frequent key of a bucket or table: its rows, and its value when it has more than one row. */
export interface TopKey {
  rows: number;
  key?: string;
}

/** The scan's key figures: what the bucket function makes of this key population, and the heaviest keys. */
export interface KeyFigures {
  /** Distinct non-NULL keys per bucket. */
  perBucket: Map<number, number>;
  /** NULL-key rows per bucket (buckets with any). */
  nulls: Map<number, number>;
  /** Duplicate rows per bucket (buckets with any). */
  dupes: Map<number, number>;
  /** The most frequent key of each bucket. */
  tops: Map<number, TopKey>;
  /** Distinct non-NULL keys of the table. */
  distinct: number;
  /** The most frequent key of the table. */
  top?: TopKey;
}

/** What one scan of part_<t> returns: per-bucket rows plus totals (and the key figures, from a current scan). */
export interface ScanFacts {
  perBucket: Map<number, number>;
  rows: number;
  pkNulls: number;
  pkDupes: number;
  wrongBucket: number;
  keys?: KeyFigures;
}

export interface CountCheck {
  diffPct?: number;
  alerts: Alert[];
}

/** |part − src| · 100 / src against the tolerance. */
export function checkCounts(table: string, part: number, src: { count: number; name: string; partName: string } | undefined, tolerancePct: number): CountCheck {
  if (!src) return { alerts: [] };
  const diffPct = src.count === 0 ? (part === 0 ? 0 : 100) : (Math.abs(part - src.count) * 100) / src.count;
  const alerts =
    diffPct > tolerancePct ? [alert('COUNT_MISMATCH', table, `${src.partName}=${part} vs ${src.name}=${src.count} (Δ=${diffPct.toFixed(6)}%)`)] : [];
  return { diffPct, alerts };
}

/** NULL keys, duplicate rows (with the most repeated key and where they are) and rows in the wrong bucket. */
export function checkKeys(table: string, scan: ScanFacts, pkColumn: string): Alert[] {
  const alerts: Alert[] = [];
  if (scan.pkNulls > 0) alerts.push(alert('PK_NULL', table, `${pkColumn} NULL rows=${scan.pkNulls}`));
  if (scan.pkDupes > 0) {
    const k = scan.keys;
    const where =
      k && k.dupes.size > 0 ? ` in ${k.dupes.size} bucket${k.dupes.size === 1 ? '' : 's'}${k.dupes.size <= 5 ? ` (${ranges([...k.dupes.keys()])})` : ''}` : '';
    const most = k?.top?.key !== undefined && k.top.rows > 1 ? `; most repeated ${showKey(k.top.key)} (${k.top.rows} rows)` : '';
    alerts.push(alert('PK_DUPES', table, `${pkColumn} duplicate rows=${scan.pkDupes}${where}${most}`));
  }
  if (scan.wrongBucket > 0)
    alerts.push(alert('WRONG_BUCKET', table, `${scan.wrongBucket} rows have an id_bucket that differs from the bucket function of their ${pkColumn}`));
  return alerts;
}

/** A key value for a message: quoted, at most `max` characters, control and invisible characters escaped. */
export function showKey(value: string, max = 40): string {
  const chars = [...value];
  const cut = chars.length > max ? `${chars.slice(0, max).join('')}…` : value;
  const escaped = cut
    .replace(/[\\']/g, (c) => `\\${c}`)
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
  return `'${escaped}'`;
}

/** A percentage with two decimals, or two significant digits below 1%. */
const pct = (part: number, whole: number): string => {
  const p = whole === 0 ? 0 : (part * 100) / whole;
  return `${p === 0 || p >= 1 ? p.toFixed(2) : p.toPrecision(2)}%`;
};
/** Rows per key: an integer as is, else two decimals. */
const perKey = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(2));
const rowsPerKey = (v: number): string => `${perKey(v)} row${v === 1 ? '' : 's'} per key`;

export interface HeavyKey {
  bucket: number;
  key: string;
  rows: number;
}

export interface HeavyBucket {
  bucket: number;
  /** Rows with a key, less those of a heavy key named for the bucket. */
  rows: number;
  /** Its distinct keys (less a heavy key named for it). */
  keys: number;
  /** The rows its keys account for at the table's fair rows per key. */
  expected: number;
}

export interface Concentration {
  /** A key's fair rows: the median over the buckets of their rows per key. */
  fairRowsPerKey?: number;
  keys: HeavyKey[];
  buckets: HeavyBucket[];
  alerts: Alert[];
}

type ConcentrationOptions = Pick<MonitorOptions, 'pk_column' | 'concentration_ratio' | 'concentration_min_pct'>;

/**
 * Rows piled on one key value or in one bucket beyond what the key population explains: the signs of bad data
 * (a default such as '0', 'UNKNOWN' or '-1' standing in for a missing key; a bucket's rows written again), as
 * opposed to the skew the bucket function gives a key population by itself.
 * - A key value is concentrated when it holds at least `concentration_ratio` × a key's fair rows (the median over
 *   the buckets of their rows per key: 1 where keys are unique) and as many times the mean rows of the other keys
 *   of its bucket (else it is the bucket that is concentrated, not the key), and its rows beyond its fair share
 *   are at least `concentration_min_pct` % of the table's.
 * - A bucket is concentrated when its rows (NULL keys and a concentrated key taken out) are at least
 *   `concentration_ratio` × the rows its distinct keys account for, and the excess is at least `concentration_min_pct` %.
 * The scan names each bucket's most frequent key only, so two heavy values in one bucket show as one.
 */
export function checkConcentration(table: string, scan: ScanFacts, o: ConcentrationOptions): Concentration {
  const k = scan.keys;
  const keyed = scan.rows - scan.pkNulls;
  if (!k || k.distinct === 0 || keyed <= 0) return { keys: [], buckets: [], alerts: [] };
  const tops = [...k.tops.entries()];
  // a key's fair rows: the median over the buckets of their rows per key, which the few buckets a concentration touches do not move
  const means = [...k.perBucket.entries()]
    .filter(([, n]) => n > 0)
    .map(([b, n]) => ((scan.perBucket.get(b) ?? 0) - (k.nulls.get(b) ?? 0)) / n)
    .sort((a, b) => a - b);
  const mid = Math.floor(means.length / 2);
  const fair = means.length === 0 ? keyed / k.distinct : means.length % 2 === 1 ? means[mid]! : (means[mid - 1]! + means[mid]!) / 2;
  const minRows = (o.concentration_min_pct * scan.rows) / 100;
  /** Mean rows of the other keys of the bucket (0 when the key is alone in it). */
  const neighbours = (bucket: number, top: TopKey) => {
    const n = (k.perBucket.get(bucket) ?? 0) - 1;
    return n > 0 ? ((scan.perBucket.get(bucket) ?? 0) - (k.nulls.get(bucket) ?? 0) - top.rows) / n : 0;
  };
  const keys: HeavyKey[] = tops
    .flatMap(([bucket, t]) =>
      t.key !== undefined && t.rows > 1 && t.rows >= o.concentration_ratio * Math.max(fair, neighbours(bucket, t)) && t.rows - fair >= minRows
        ? [{ bucket, key: t.key, rows: t.rows }]
        : [],
    )
    .sort((a, b) => b.rows - a.rows || a.bucket - b.bucket);
  const heavyIn = new Map(keys.map((h) => [h.bucket, h]));
  const buckets: HeavyBucket[] = [];
  for (const [bucket, rowsAll] of [...scan.perBucket.entries()].sort(([a], [b]) => a - b)) {
    const heavy = heavyIn.get(bucket);
    const rows = rowsAll - (k.nulls.get(bucket) ?? 0) - (heavy?.rows ?? 0);
    const n = (k.perBucket.get(bucket) ?? 0) - (heavy ? 1 : 0);
    const expected = n * fair;
    if (n > 0 && rows >= o.concentration_ratio * expected && rows - expected >= minRows) buckets.push({ bucket, rows, keys: n, expected });
  }
  const alerts: Alert[] = [];
  const fairText = `a key's fair share is ~${perKey(fair)} row${fair === 1 ? '' : 's'} (${pct(fair, scan.rows)}) over ${k.distinct} distinct keys`;
  if (keys.length > 0) {
    const shown = keys.slice(0, 5).map((h) => `${showKey(h.key)} ${h.rows} rows (${pct(h.rows, scan.rows)} of ${scan.rows}, bucket ${h.bucket})`);
    const more = keys.length > 5 ? ` and ${keys.length - 5} more` : '';
    const head = keys.length === 1 ? `one ${o.pk_column} value holds` : `${keys.length} ${o.pk_column} values hold`;
    alerts.push(
      alert(
        'KEY_CONCENTRATION',
        table,
        `${head} far more than a key's share of the rows: ${shown.join(', ')}${more}; ${fairText} — a default or placeholder standing in for a missing key?`,
      ),
    );
  }
  if (buckets.length > 0) {
    const shown = buckets
      .slice(0, 5)
      .map(
        (b) =>
          `bucket ${b.bucket} holds ${b.rows} rows (${pct(b.rows, scan.rows)}) where its ${b.keys} distinct keys account for ~${Math.round(b.expected)} (${pct(b.expected, scan.rows)}): ${rowsPerKey(b.rows / b.keys)}`,
      );
    const more = buckets.length > 5 ? ` and ${buckets.length - 5} more buckets` : '';
    alerts.push(
      alert(
        'BUCKET_CONCENTRATION',
        table,
        `${shown.join('; ')}${more} (table: ${rowsPerKey(fair)}) — rows written more than once, or keys piled into one bucket?`,
      ),
    );
  }
  return { fairRowsPerKey: fair, keys, buckets, alerts };
}

/** The bucket figures of the previous snapshot a table's skew is compared with. */
export interface SkewBaseline {
  snapshotDt: string;
  maxMinRatio?: number;
  cv: number;
}

/**
 * What became of a bucket skew beyond the thresholds: e-mailed when `worse` than the previous snapshot, `beyond-keys`
 * (no previous snapshot, and the rows more skewed than the table's distinct keys) or `unjudged` (neither a previous
 * snapshot nor key figures to judge it by); reported only when `inherent` (the hash's spread of these keys),
 * `unchanged` (no worse than the previous snapshot) or `explained` (by a concentration alert of the table). `none`: no skew.
 */
export type SkewVerdict = 'none' | 'worse' | 'beyond-keys' | 'unjudged' | 'inherent' | 'unchanged' | 'explained';

export interface BucketHealth {
  histogram: number[];
  empty: number[];
  low: number[];
  maxMinRatio?: number;
  cv: number;
  /** The same figures over the distinct keys per bucket: the spread the bucket function gives this key population. */
  keyMaxMinRatio?: number;
  keyCv?: number;
  verdict: SkewVerdict;
  /** E-mailed. */
  alerts: Alert[];
  /** Reported, not e-mailed. */
  reportOnly: Alert[];
}

/** Mean, coefficient of variation and max/min of the non-empty values of a histogram. */
function spread(histogram: number[]): { mean: number; cv: number; maxMinRatio?: number } {
  const mean = histogram.reduce((a, b) => a + b, 0) / histogram.length;
  const sd = Math.sqrt(histogram.reduce((a, b) => a + (b - mean) ** 2, 0) / histogram.length);
  const nonEmpty = histogram.filter((c) => c > 0);
  return { mean, cv: mean === 0 ? 0 : sd / mean, maxMinRatio: nonEmpty.length ? Math.max(...nonEmpty) / Math.min(...nonEmpty) : undefined };
}

export interface SkewContext {
  /** The previous snapshot's figures (none on a table's first snapshot). */
  previous?: SkewBaseline;
  /** A concentration alert of the table accounts for the skew. */
  explained?: boolean;
}

const grew = (now: number | undefined, before: number | undefined, tolerancePct: number) =>
  now !== undefined && before !== undefined && now > before * (1 + tolerancePct / 100);

/**
 * Per-bucket histogram: empty and low buckets, max/min ratio and coefficient of variation against
 * `skew_max_min_ratio` and `skew_max_cv`. A skew beyond them is e-mailed only when it needs action (see
 * SkewVerdict); the bucket function's spread of sequential ids, the same every day, stays in the report.
 * "Worse" and "beyond" mean the max/min ratio or the cv exceeds the other's by more than `skew_change_pct` %.
 */
export function checkBuckets(
  table: string,
  scan: ScanFacts,
  o: Pick<MonitorOptions, 'bucket_count' | 'skew_max_min_ratio' | 'skew_max_cv' | 'low_bucket_pct'> & Partial<Pick<MonitorOptions, 'skew_change_pct'>>,
  context: SkewContext = {},
): BucketHealth {
  const histogram = Array.from({ length: o.bucket_count }, (_, b) => scan.perBucket.get(b) ?? 0);
  const { mean, cv, maxMinRatio } = spread(histogram);
  const empty = histogram.flatMap((c, b) => (c === 0 ? [b] : []));
  const low = histogram.flatMap((c, b) => (c > 0 && c < (mean * o.low_bucket_pct) / 100 ? [b] : []));
  const keyHistogram = scan.keys ? Array.from({ length: o.bucket_count }, (_, b) => scan.keys!.perBucket.get(b) ?? 0) : undefined;
  const keySpread = keyHistogram ? spread(keyHistogram) : undefined;
  const figures = { histogram, empty, low, maxMinRatio, cv, keyMaxMinRatio: keySpread?.maxMinRatio, keyCv: keySpread?.cv };
  const problems: string[] = [];
  if (scan.rows > 0 && empty.length > 0) problems.push(`${empty.length} empty buckets (${ranges(empty)})`);
  if (low.length > 0) problems.push(`${low.length} buckets below ${o.low_bucket_pct}% of the mean (${ranges(low)})`);
  if (maxMinRatio !== undefined && maxMinRatio > o.skew_max_min_ratio) problems.push(`max/min ratio ${maxMinRatio.toFixed(2)} > ${o.skew_max_min_ratio}`);
  if (cv > o.skew_max_cv) problems.push(`coefficient of variation ${cv.toFixed(3)} > ${o.skew_max_cv}`);
  if (problems.length === 0) return { ...figures, verdict: 'none', alerts: [], reportOnly: [] };
  const tolerance = o.skew_change_pct ?? 25;
  const what = problems.join('; ');
  const ratioText = (v: number | undefined) => (v === undefined ? '—' : v.toFixed(2));
  const emailed = (verdict: SkewVerdict, why: string): BucketHealth => ({
    ...figures,
    verdict,
    alerts: [alert('BUCKET_SKEW', table, `${what}${why}`)],
    reportOnly: [],
  });
  const reported = (verdict: SkewVerdict, why: string): BucketHealth => ({
    ...figures,
    verdict,
    alerts: [],
    reportOnly: [alert('BUCKET_SKEW', table, `${what}${why}`)],
  });
  if (context.explained) return reported('explained', ' — accounted for by the concentration alert of this table');
  const p = context.previous;
  if (p) {
    const since = `snapshot_dt=${p.snapshotDt} (max/min ${ratioText(p.maxMinRatio)} → ${ratioText(maxMinRatio)}, cv ${p.cv.toFixed(3)} → ${cv.toFixed(3)})`;
    if (grew(maxMinRatio, p.maxMinRatio, tolerance) || grew(cv, p.cv, tolerance)) return emailed('worse', ` — worse than ${since} by more than ${tolerance}%`);
    return reported('unchanged', ` — no worse than ${since}`);
  }
  if (!scan.keys || !keySpread) return emailed('unjudged', '');
  const distinct = scan.keys.distinct;
  const keysText = `${distinct} distinct keys (max/min ${ratioText(keySpread.maxMinRatio)}, cv ${keySpread.cv.toFixed(3)})`;
  if (grew(maxMinRatio, keySpread.maxMinRatio, tolerance) || grew(cv, keySpread.cv, tolerance)) {
    return emailed(
      'beyond-keys',
      ` — the rows are more skewed than the bucket function spreads the ${keysText}, by more than ${tolerance}%; no previous snapshot to compare with`,
    );
  }
  // a hash spreading n keys uniformly at random over B buckets gives counts with cv ≈ √((B − 1) / n)
  const uniform = distinct > 0 ? `; a uniformly spreading hash would give cv ≈ ${Math.sqrt((o.bucket_count - 1) / distinct).toFixed(3)}` : '';
  return reported('inherent', ` — the bucket function's own spread of the ${keysText}${uniform}; no previous snapshot to compare with`);
}

// ---------------------------------------------------------------- files, trends

export interface FileIssue {
  key: string;
  sizeMb: number;
}

/** Files outside [min, max] MB among the sampled partitions (at most 20 named). */
export function checkFileSizes(
  table: string,
  files: Array<{ key: string; size: number }>,
  minMb: number,
  maxMb: number,
): { issues: FileIssue[]; alerts: Alert[] } {
  const issues = files
    .map((f) => ({ key: f.key, sizeMb: f.size / (1024 * 1024) }))
    .filter((f) => f.sizeMb < minMb || f.sizeMb > maxMb)
    .slice(0, 20);
  const alerts =
    issues.length > 0
      ? [
          alert(
            'FILE_SIZE',
            table,
            `${issues.length} sampled files outside ${minMb}–${maxMb} MB, e.g. ${issues
              .slice(0, 3)
              .map((i) => `${i.key.split('/').slice(-2).join('/')} (${i.sizeMb.toFixed(1)} MB)`)
              .join(', ')}`,
          ),
        ]
      : [];
  return { issues, alerts };
}

export interface TrendPoint {
  generatedAt: string;
  snapshotDt?: string;
  countPart?: number;
}

/** Flags a count that moved more than `pct` against the latest earlier report of a different snapshot. */
export function checkTrend(
  table: string,
  countPart: number | undefined,
  snapshotDt: string | undefined,
  history: TrendPoint[],
  pct: number,
): { changePct?: number; alerts: Alert[] } {
  const previous = history.filter((h) => h.countPart !== undefined && h.snapshotDt !== snapshotDt).at(-1);
  if (countPart === undefined || !previous?.countPart) return { alerts: [] };
  const changePct = ((countPart - previous.countPart) * 100) / previous.countPart;
  const alerts =
    Math.abs(changePct) > pct
      ? [
          alert(
            'VOLUME_CHANGE',
            table,
            `rows ${previous.countPart} → ${countPart} (${changePct >= 0 ? '+' : ''}${changePct.toFixed(2)}%) since snapshot_dt=${previous.snapshotDt ?? '?'} (threshold ${pct}%)`,
          ),
        ]
      : [];
  return { changePct, alerts };
}

/** A check that could not run (access denied, query error) is an alert for that table only. */
export function checkFailed(table: string, what: string, cause: string): Alert {
  return alert('CHECK_FAILED', table, `${what} failed: ${cause}`);
}

/** Alerts that mean the live data itself is not intact (source data quality such as NULL keys is not among them). */
export const INTEGRITY_ALERTS: ReadonlySet<AlertCode> = new Set(['COUNT_MISMATCH', 'PARTITION_STALE', 'SCHEMA', 'WRONG_BUCKET', 'CHECK_FAILED']);
