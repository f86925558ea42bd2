/**
 * The monitor's queries as data, rendered per engine: Athena SQL here, DuckDB SQL by the local
 * engine. One scan of part_<t> yields the count, NULL keys, duplicate rows, rows in the wrong bucket
 * and the per-bucket histogram (GROUPING SETS); the source needs one count.
 */
import type { PartitionDef } from '../../ports.js';
import { athenaBucketSql } from '../bucket.js';
import { identifier, literal, location, nonNegativeInt } from '../sql-identifiers.js';

export type MonitorQuery =
  | { kind: 'monitor-scan'; database: string; table: string; pkColumn: string }
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
export function scanSql(database: string, table: string, pkColumn: string, bucketExpr: (column: string) => string, buckets: { from?: number; to?: number } = {}): string {
  const bounds = [buckets.from === undefined ? '' : `"id_bucket" >= ${nonNegativeInt(buckets.from)}`, buckets.to === undefined ? '' : `"id_bucket" <= ${nonNegativeInt(buckets.to)}`].filter(Boolean);
  const where = bounds.length > 0 ? ` WHERE ${bounds.join(' AND ')}` : '';
  return (
    `WITH keys AS (SELECT "id_bucket" AS b, ${q(pkColumn)} AS k, count(*) AS c FROM ${q(database)}.${q(table)}${where} GROUP BY "id_bucket", ${q(pkColumn)}) ` +
    'SELECT b AS id_bucket, sum(c) AS row_count, ' +
    'sum(CASE WHEN k IS NULL THEN c ELSE 0 END) AS pk_nulls, ' +
    'sum(CASE WHEN k IS NOT NULL AND c > 1 THEN c ELSE 0 END) AS pk_dupes, ' +
    `sum(CASE WHEN b <> ${bucketExpr('k')} THEN c ELSE 0 END) AS wrong_bucket ` +
    'FROM keys GROUP BY GROUPING SETS ((b), ())'
  );
}

/** scanSql bounds for contiguous id_bucket ranges, the first open below and the last above. */
export function scanBounds(ranges: Array<[number, number]>): Array<{ from?: number; to?: number }> {
  return ranges.map(([from, to], i) => ({ from: i === 0 ? undefined : from, to: i === ranges.length - 1 ? undefined : to }));
}

type ScanRow = Record<string, string | number | null>;
const TOTALS = ['row_count', 'pk_nulls', 'pk_dupes', 'wrong_bucket'] as const;
/** The totals row of GROUPING SETS ((b), ()) has no id_bucket; a sum over no rows is NULL. */
const isTotalRow = (r: ScanRow) => r.id_bucket === null || r.id_bucket === undefined || r.id_bucket === '';
const num = (v: string | number | null | undefined) => (v === null || v === undefined || v === '' ? 0 : Number(v));

/**
 * The result rows of scans over disjoint id_bucket ranges as the one scan's: the per-bucket rows of
 * every range, and one totals row (id_bucket NULL) summing theirs. A key lives in one bucket, so a
 * key's duplicates always fall in one range and the sums are exact.
 */
export function mergeScanRows(ranges: Array<Array<Record<string, string | null>>>): Array<Record<string, string | null>> {
  const totals = ranges.flat().filter(isTotalRow);
  const sum = (c: (typeof TOTALS)[number]) => String(totals.reduce((acc, r) => acc + num(r[c]), 0));
  return [...ranges.flat().filter((r) => !isTotalRow(r)), { id_bucket: null, ...Object.fromEntries(TOTALS.map((c) => [c, sum(c)])) }];
}

/** Athena SQL of a monitor query. */
export function renderAthenaMonitorQuery(query: MonitorQuery): string {
  const table = `${q(query.database)}.${q(query.table)}`;
  switch (query.kind) {
    case 'monitor-scan':
      return scanSql(query.database, query.table, query.pkColumn, athenaBucketSql);
    case 'monitor-count':
      return `SELECT count(*) AS row_count FROM ${table}`;
    case 'repair-partitions':
      return `ALTER TABLE ${hiveName(query.database)}.${hiveName(query.table)} ADD IF NOT EXISTS ${query.partitions
        .map((p) => `PARTITION (id_bucket = ${Number.parseInt(p.values[0] ?? '', 10)}) LOCATION ${literal(location(p.location))}`)
        .join(' ')}`;
  }
}

/** Reads the scan's result rows (strings, as Athena returns them) into numbers. */
export function parseScanRows(rows: ScanRow[]) {
  const perBucket = new Map<number, number>();
  let total = { rows: 0, pkNulls: 0, pkDupes: 0, wrongBucket: 0 };
  for (const r of rows) {
    if (isTotalRow(r)) total = { rows: num(r.row_count), pkNulls: num(r.pk_nulls), pkDupes: num(r.pk_dupes), wrongBucket: num(r.wrong_bucket) };
    else perBucket.set(num(r.id_bucket), num(r.row_count));
  }
  return { perBucket, ...total };
}
