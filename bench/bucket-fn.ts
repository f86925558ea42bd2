/**
 * 2. Bucket function cost: the DuckDB form of the shared bucket function that the local engine uses
 * (the compiled flywheel_bucket extension; the pure-SQL duckdbBucketSql where it cannot be built)
 * against DuckDB's native hash() over the same 10M keys in memory, `SELECT sum(<expr>) FROM keys`.
 * The SQL form is timed too, as a reference row without a target. Keys look like the inputs': mostly
 * ASCII, ~1% non-ASCII, one NULL. Every form must give the same sum.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { BUCKET_EXTENSION, bucketExtension } from '../shared/adapters/local/bucket-extension.js';
import { duckdbBucketSql } from '../shared/domain/bucket.js';
import { envInt, fmtInt, fmtNum, fmtSecs, progress, stats, timed, type Row, type Stats } from './lib.js';

export const KEY_SQL = `CASE WHEN i = 7 THEN NULL WHEN i % 1009 = 0 THEN 'cust-😀-' || i WHEN i % 97 = 0 THEN (CASE i % 3 WHEN 0 THEN 'Zoë-' WHEN 1 THEN 'Ærøskøbing-' ELSE '客户-' END) || i ELSE 'cust_' || lpad(i::VARCHAR, 10, '0') END`;

export async function keysDb(n: number, extensionFile?: string): Promise<DuckDBConnection> {
  const db = await (await DuckDBInstance.create(':memory:', extensionFile ? { allow_unsigned_extensions: 'true' } : {})).connect();
  if (extensionFile) await db.run(`LOAD '${extensionFile}'`);
  await db.run(`CREATE TABLE keys AS SELECT ${KEY_SQL} AS k FROM range(${n}) r(i)`);
  return db;
}

export async function timeExpr(db: DuckDBConnection, expr: string): Promise<{ ms: number; sum: string }> {
  const { ms, value } = await timed(() => db.runAndReadAll(`SELECT sum(${expr})::VARCHAR AS s FROM keys`));
  return { ms, sum: String(value.getRows()[0]?.[0]) };
}

export interface BucketFnResult {
  keys: number;
  /** The form the local engine uses: `extension`, or `sql` when the extension could not be built. */
  form: 'extension' | 'sql';
  formReason?: string;
  shared: Stats;
  native: Stats;
  sql: Stats;
  sharedRowsPerSec: number;
  nativeRowsPerSec: number;
  ratio: number;
  sqlRatio: number;
}

export async function benchBucketFn(runs: number): Promise<{ rows: Row[]; result: BucketFnResult }> {
  const n = envInt('BENCH_KEYS', 10_000_000);
  const ext = await bucketExtension();
  progress(`bucket function: ${fmtInt(n)} keys, ${ext.available ? 'compiled extension' : `SQL form (${ext.reason})`}`);
  const db = await keysDb(n, ext.available ? ext.file : undefined);
  const exprs = { native: 'hash(k) % 256', shared: ext.available ? `${BUCKET_EXTENSION}(k)` : duckdbBucketSql('k'), sql: duckdbBucketSql('k') };
  const names = ext.available ? (['native', 'shared', 'sql'] as const) : (['native', 'shared'] as const);
  const t: Record<keyof typeof exprs, number[]> = { native: [], shared: [], sql: [] };
  try {
    await timeExpr(db, exprs.native); // warm-up
    const sums = new Set([(await timeExpr(db, exprs.shared)).sum, (await timeExpr(db, exprs.sql)).sum]);
    if (sums.size !== 1) throw new Error(`the extension and the SQL form disagree on ${fmtInt(n)} keys: sums ${[...sums].join(' vs ')}`);
    for (let r = 0; r < runs; r++) {
      for (const name of names) t[name].push((await timeExpr(db, exprs[name])).ms);
      progress(`bucket function run ${r + 1}/${runs}: ${names.map((name) => `${name} ${fmtSecs(t[name].at(-1)!)}`).join(', ')}`);
    }
  } finally {
    db.closeSync();
  }
  if (!ext.available) t.sql = t.shared;
  const [shared, native, sql] = [stats(t.shared), stats(t.native), stats(t.sql)];
  const result: BucketFnResult = {
    keys: n,
    form: ext.available ? 'extension' : 'sql',
    formReason: ext.available ? undefined : ext.reason,
    shared,
    native,
    sql,
    sharedRowsPerSec: n / (shared.median / 1000),
    nativeRowsPerSec: n / (native.median / 1000),
    ratio: shared.median / native.median,
    sqlRatio: sql.median / native.median,
  };
  const rate = (s: Stats) => `${fmtInt(n / (s.median / 1000))} rows/s (${fmtSecs(s.median)})`;
  const spread = (s: Stats) => `${fmtSecs(s.min)}–${fmtSecs(s.max)}`;
  return {
    result,
    rows: [
      ext.available
        ? {
            section: '2 bucket fn',
            metric: `${BUCKET_EXTENSION}() extension, ${fmtInt(n)} keys`,
            value: rate(shared),
            spread: spread(shared),
            note: 'compiled C, what the local split and monitor use',
          }
        : {
            section: '2 bucket fn',
            metric: `duckdbBucketSql, ${fmtInt(n)} keys`,
            value: rate(shared),
            spread: spread(shared),
            note: `extension not built: ${ext.reason}`,
          },
      { section: '2 bucket fn', metric: 'native hash(k) % 256', value: rate(native), spread: spread(native) },
      { section: '2 bucket fn', metric: 'shared / native time', value: `${fmtNum(result.ratio, 2)}×`, target: '≤ 3×', pass: result.ratio <= 3 },
      ...(ext.available
        ? [
            {
              section: '2 bucket fn',
              metric: 'SQL form duckdbBucketSql (fallback) / native',
              value: `${fmtNum(result.sqlRatio, 1)}×`,
              spread: spread(sql),
              note: 'used only where the extension cannot be built',
            },
          ]
        : []),
    ],
  };
}
