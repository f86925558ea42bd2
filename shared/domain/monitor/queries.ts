/**
 * The monitor's queries as data, rendered per engine: Athena SQL here, DuckDB SQL by the local
 * engine. One scan of part_<t> yields the count, NULL keys, duplicate rows, rows in the wrong bucket,
 * distinct keys, the most frequent key and the per-bucket histogram (GROUPING SETS); the source needs one count.
 */
import type { PartitionDef } from '../catalog-types.js';
import { athenaBucketSql } from '../bucket.js';
import { identifier, literal, location, nonNegativeInt } from '../sql-identifiers.js';
import type { ScanFacts } from './checks.js';

export type MonitorQuery =
  | { kind: 'monitor-scan'; database: string; table: string; pkColumn: string; bucketCount: number }
  | { kind: 'monitor-count'; database: string; table: string }
  | { kind: 'repair-partitions'; database: string; table: string; partitions: PartitionDef[] };

const q = (name: string) => `"${identifier(name)}"`;
/**
 * Athena runs DDL through Hive, not Trino, and Hive's grammar quotes identifiers with backticks (a double-quoted
 * name is a string literal there, a parse error in ALTER TABLE): https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html
 */
const hiveName = (name: string) => `\`${identifier(name)}\``;

/**
 * The one-scan statement, for a dialect's bucket expression. `buckets` limits it to an id_bucket range,
 * either end open (the local engine scans a large table a range at a time, the first range open below
 * and the last above so a stray partition is still counted; see mergeScanRows); Athena scans it whole.
 */
export function scanSql(
  database: string,
  table: string,
  pkColumn: string,
  bucketExpr: (column: string) => string,
  buckets: { from?: number; to?: number } = {},
): string {
  const bounds = [
    buckets.from === undefined ? '' : `"id_bucket" >= ${nonNegativeInt(buckets.from)}`,
    buckets.to === undefined ? '' : `"id_bucket" <= ${nonNegativeInt(buckets.to)}`,
  ].filter(Boolean);
  const where = bounds.length > 0 ? ` WHERE ${bounds.join(' AND ')}` : '';
  return (
    `WITH keys AS (SELECT "id_bucket" AS b, ${q(pkColumn)} AS k, count(*) AS c FROM ${q(database)}.${q(table)}${where} GROUP BY "id_bucket", ${q(pkColumn)}) ` +
    'SELECT b AS id_bucket, sum(c) AS row_count, ' +
    'sum(CASE WHEN k IS NULL THEN c ELSE 0 END) AS pk_nulls, ' +
    'sum(CASE WHEN k IS NOT NULL AND c > 1 THEN c ELSE 0 END) AS pk_dupes, ' +
    `sum(CASE WHEN b <> ${bucketExpr('k')} THEN c ELSE 0 END) AS wrong_bucket, ` +
    'count(k) AS distinct_keys, ' +
    'max(CASE WHEN k IS NOT NULL THEN c END) AS top_key_rows, ' +
    `substr(max(CASE WHEN k IS NOT NULL AND c > 1 THEN lpad(CAST(c AS varchar), ${TOP_KEY_DIGITS}, '0') || CAST(k AS varchar) END), ${TOP_KEY_DIGITS + 1}, ${TOP_KEY_CHARS}) AS top_key ` +
    'FROM keys GROUP BY GROUPING SETS ((b), ())'
  );
}

/**
 * The most frequent key of a bucket (and of the table, in the totals row): `top_key_rows` its rows, `top_key`
 * its value when it has more than one row (a key of one row is nobody's concern, and the report is no place for
 * an arbitrary customer's id), its first TOP_KEY_CHARS characters. Ties go to the largest value in UTF-8 byte
 * order: max() over the count left-padded to TOP_KEY_DIGITS digits and the value, which Athena (Trino) and DuckDB
 * order alike (both compare varchar byte-wise), so both engines name the same key.
 */
const TOP_KEY_DIGITS = 20;
const TOP_KEY_CHARS = 100;

/** scanSql bounds for contiguous id_bucket ranges, the first open below and the last above. */
export function scanBounds(ranges: Array<[number, number]>): Array<{ from?: number; to?: number }> {
  return ranges.map(([from, to], i) => ({ from: i === 0 ? undefined : from, to: i === ranges.length - 1 ? undefined : to }));
}

type ScanRow = Record<string, string | number | null>;
const TOTALS = ['row_count', 'pk_nulls', 'pk_dupes', 'wrong_bucket', 'distinct_keys'] as const;
/** The totals row of GROUPING SETS ((b), ()) has no id_bucket; a sum over no rows is NULL. */
const isTotalRow = (r: ScanRow) => r.id_bucket === null || r.id_bucket === undefined || r.id_bucket === '';
const num = (v: string | number | null | undefined) => (v === null || v === undefined || v === '' ? 0 : Number(v));

/**
 * The result rows of scans over disjoint id_bucket ranges as the one scan's: the per-bucket rows of
 * every range, and one totals row (id_bucket NULL) summing theirs, with the most frequent key of them
 * all (ties to the largest value, as in the SQL). A key lives in one bucket, so a key's duplicates
 * always fall in one range and the sums are exact.
 */
export function mergeScanRows(ranges: Array<Array<Record<string, string | null>>>): Array<Record<string, string | null>> {
  const totals = ranges.flat().filter(isTotalRow);
  const sum = (c: (typeof TOTALS)[number]) => String(totals.reduce((acc, r) => acc + num(r[c]), 0));
  const top = totals.reduce<Record<string, string | null> | undefined>(
    (best, r) => (r.top_key_rows === null || r.top_key_rows === undefined || (best && compareTop(r, best) <= 0) ? best : r),
    undefined,
  );
  return [
    ...ranges.flat().filter((r) => !isTotalRow(r)),
    { id_bucket: null, ...Object.fromEntries(TOTALS.map((c) => [c, sum(c)])), top_key_rows: top?.top_key_rows ?? null, top_key: top?.top_key ?? null },
  ];
}

/** Orders two rows' top keys as the SQL does: by rows, then by the value's UTF-8 bytes (NULL first). */
function compareTop(a: ScanRow, b: ScanRow): number {
  const byRows = num(a.top_key_rows) - num(b.top_key_rows);
  if (byRows !== 0) return byRows;
  if (a.top_key === b.top_key) return 0;
  if (a.top_key === null || a.top_key === undefined) return -1;
  if (b.top_key === null || b.top_key === undefined) return 1;
  return compareUtf8(String(a.top_key), String(b.top_key));
}

const utf8 = new TextEncoder();

/** Byte-wise order of two strings' UTF-8 encodings (code point order; JavaScript's `<` compares UTF-16 units). */
export function compareUtf8(a: string, b: string): number {
  const [x, y] = [utf8.encode(a), utf8.encode(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** Athena SQL of a monitor query. */
export function renderAthenaMonitorQuery(query: MonitorQuery): string {
  const table = `${q(query.database)}.${q(query.table)}`;
  switch (query.kind) {
    case 'monitor-scan':
      return scanSql(query.database, query.table, query.pkColumn, (c) => athenaBucketSql(c, query.bucketCount));
    case 'monitor-count':
      return `SELECT count(*) AS row_count FROM ${table}`;
    case 'repair-partitions':
      return `ALTER TABLE ${hiveName(query.database)}.${hiveName(query.table)} ADD IF NOT EXISTS ${query.partitions
        .map((p) => `PARTITION (id_bucket = ${Number.parseInt(p.values[0] ?? '', 10)}) LOCATION ${literal(location(p.location))}`)
        .join(' ')}`;
  }
}

/**
 * Reads the scan's result rows (strings, as Athena returns them) into numbers. The key figures
 * (distinct keys, most frequent key) are there only when the scan returned them (`keys` undefined for
 * the result of an older scan).
 */
export function parseScanRows(rows: ScanRow[]): ScanFacts {
  const perBucket = new Map<number, number>();
  const hasKeys = rows.length > 0 && rows.every((r) => 'distinct_keys' in r);
  const keys: NonNullable<ScanFacts['keys']> = { perBucket: new Map(), nulls: new Map(), dupes: new Map(), tops: new Map(), distinct: 0 };
  let total = { rows: 0, pkNulls: 0, pkDupes: 0, wrongBucket: 0 };
  for (const r of rows) {
    const top =
      r.top_key_rows === null || r.top_key_rows === undefined || r.top_key_rows === ''
        ? undefined
        : { rows: num(r.top_key_rows), key: r.top_key === null || r.top_key === undefined ? undefined : String(r.top_key) };
    if (isTotalRow(r)) {
      total = { rows: num(r.row_count), pkNulls: num(r.pk_nulls), pkDupes: num(r.pk_dupes), wrongBucket: num(r.wrong_bucket) };
      keys.distinct = num(r.distinct_keys);
      keys.top = top;
    } else {
      const b = num(r.id_bucket);
      perBucket.set(b, num(r.row_count));
      if (!hasKeys) continue;
      keys.perBucket.set(b, num(r.distinct_keys));
      if (num(r.pk_nulls) > 0) keys.nulls.set(b, num(r.pk_nulls));
      if (num(r.pk_dupes) > 0) keys.dupes.set(b, num(r.pk_dupes));
      if (top) keys.tops.set(b, top);
    }
  }
  return { perBucket, ...total, ...(hasKeys ? { keys } : {}) };
}
