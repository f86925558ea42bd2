/**
 * 2. Bucket function cost: the DuckDB SQL form of the shared bucket function (duckdbBucketSql from
 * shared/domain/bucket.ts) against DuckDB's native hash() over the same 10M keys in memory,
 * `SELECT sum(<expr>) FROM keys`. Keys look like the inputs': mostly ASCII, ~1% non-ASCII, one NULL.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { duckdbBucketSql } from '../shared/domain/bucket.js';
import { envInt, fmtInt, fmtNum, fmtSecs, progress, stats, timed, type Row, type Stats } from './lib.js';

export const KEY_SQL = `CASE WHEN i = 7 THEN NULL WHEN i % 1009 = 0 THEN 'cust-😀-' || i WHEN i % 97 = 0 THEN (CASE i % 3 WHEN 0 THEN 'Zoë-' WHEN 1 THEN 'Ærøskøbing-' ELSE '客户-' END) || i ELSE 'cust_' || lpad(i::VARCHAR, 10, '0') END`;

export async function keysDb(n: number): Promise<DuckDBConnection> {
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  await db.run(`CREATE TABLE keys AS SELECT ${KEY_SQL} AS k FROM range(${n}) r(i)`);
  return db;
}

export async function timeExpr(db: DuckDBConnection, expr: string): Promise<{ ms: number; sum: string }> {
  const { ms, value } = await timed(() => db.runAndReadAll(`SELECT sum(${expr})::VARCHAR AS s FROM keys`));
  return { ms, sum: String(value.getRows()[0]?.[0]) };
}

export interface BucketFnResult {
  keys: number;
  shared: Stats;
  native: Stats;
  sharedRowsPerSec: number;
  nativeRowsPerSec: number;
  ratio: number;
}

export async function benchBucketFn(runs: number): Promise<{ rows: Row[]; result: BucketFnResult }> {
  const n = envInt('BENCH_KEYS', 10_000_000);
  progress(`bucket function: ${fmtInt(n)} keys`);
  const db = await keysDb(n);
  const exprs = { shared: duckdbBucketSql('k'), native: 'hash(k) % 256' };
  const t: Record<keyof typeof exprs, number[]> = { shared: [], native: [] };
  try {
    await timeExpr(db, exprs.native); // warm-up
    for (let r = 0; r < runs; r++) {
      for (const name of ['native', 'shared'] as const) {
        const { ms } = await timeExpr(db, exprs[name]);
        t[name].push(ms);
      }
      progress(`bucket function run ${r + 1}/${runs}: shared ${fmtSecs(t.shared.at(-1)!)}, native ${fmtSecs(t.native.at(-1)!)}`);
    }
  } finally {
    db.closeSync();
  }
  const shared = stats(t.shared);
  const native = stats(t.native);
  const result = { keys: n, shared, native, sharedRowsPerSec: n / (shared.median / 1000), nativeRowsPerSec: n / (native.median / 1000), ratio: shared.median / native.median };
  return {
    result,
    rows: [
      { section: '2 bucket fn', metric: `duckdbBucketSql, ${fmtInt(n)} keys`, value: `${fmtInt(result.sharedRowsPerSec)} rows/s (${fmtSecs(shared.median)})`, spread: `${fmtSecs(shared.min)}–${fmtSecs(shared.max)}` },
      { section: '2 bucket fn', metric: 'native hash(k) % 256', value: `${fmtInt(result.nativeRowsPerSec)} rows/s (${fmtSecs(native.median)})`, spread: `${fmtSecs(native.min)}–${fmtSecs(native.max)}` },
      { section: '2 bucket fn', metric: 'shared / native time', value: `${fmtNum(result.ratio, 1)}×`, target: '≤ 3×', pass: result.ratio <= 3 },
    ],
  };
}
