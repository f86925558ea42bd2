// Schemas from parquet footers: real files written by DuckDB, read through a counting object store.
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FsObjectStore } from '../shared/adapters/local/fs-object-store.js';
import { FOOTER_PROBE_BYTES, readParquetFooter } from '../shared/adapters/parquet-footer.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'footer-'));
const store = new FsObjectStore(dir);
const ranges: Array<[number, number]> = [];
const getRange = store.getRange.bind(store);
store.getRange = async (b, k, s, e) => {
  ranges.push([s, e]);
  return getRange(b, k, s, e);
};

beforeAll(async () => {
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  const file = (name: string) => `'${path.join(dir, 'data', name)}'`;
  await db.run(`CREATE TABLE x AS SELECT 'id' || i AS CUSTOMER_USER_ID, i::INTEGER AS n_int, i::BIGINT AS n_big, i / 3.0 AS n_double, i % 2 = 0 AS flag,
    DATE '2025-01-01' + i::INTEGER AS d, TIMESTAMP '2025-01-01 00:00:00' + INTERVAL (i) SECOND AS ts, (i / 7)::DECIMAL(10,2) AS amount, (i % 1000)::SMALLINT AS small
    FROM range(50000) t(i)`);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  await db.run(`COPY x TO ${file('typed.parquet')} (FORMAT parquet)`);
  const wide = Array.from({ length: 3000 }, (_, i) => `${i} AS column_with_a_rather_long_name_${i}`).join(', ');
  await db.run(`COPY (SELECT ${wide}) TO ${file('wide.parquet')} (FORMAT parquet)`);
  await db.run(`COPY (SELECT [1, 2] AS list_col) TO ${file('nested.parquet')} (FORMAT parquet)`);
  db.closeSync();
});

const size = async (key: string) => (await store.head('data', key))!.size;

test('maps parquet types to Hive types and counts rows from the footer', async () => {
  ranges.length = 0;
  const footer = await readParquetFooter(store, 'data', 'typed.parquet', await size('typed.parquet'));
  expect(footer.rowCount).toBe(50000);
  expect(footer.columns).toEqual([
    { name: 'CUSTOMER_USER_ID', type: 'string' },
    { name: 'n_int', type: 'int' },
    { name: 'n_big', type: 'bigint' },
    { name: 'n_double', type: 'double' },
    { name: 'flag', type: 'boolean' },
    { name: 'd', type: 'date' },
    { name: 'ts', type: 'timestamp' },
    { name: 'amount', type: 'decimal(10,2)' },
    { name: 'small', type: 'smallint' },
  ]);
  expect(ranges).toHaveLength(1);
  const total = await size('typed.parquet');
  expect(ranges[0]![1]).toBe(total);
  expect(ranges[0]![1] - ranges[0]![0]).toBeLessThanOrEqual(FOOTER_PROBE_BYTES);
  expect(total).toBeGreaterThan(FOOTER_PROBE_BYTES); // the data pages were never read
});

test('a footer larger than the first probe costs exactly one more ranged read of the footer', async () => {
  ranges.length = 0;
  const total = await size('wide.parquet');
  const footer = await readParquetFooter(store, 'data', 'wide.parquet', total);
  expect(footer.columns).toHaveLength(3000);
  expect(ranges).toHaveLength(2);
  expect(ranges[1]![1]).toBe(total);
});

test('nested columns and non-parquet files are clear errors', async () => {
  await expect(readParquetFooter(store, 'data', 'nested.parquet', await size('nested.parquet'))).rejects.toThrow(/column list_col is nested/);
  await store.put('data', 'not.parquet', 'hello, this is a csv file,1,2,3');
  await expect(readParquetFooter(store, 'data', 'not.parquet', await size('not.parquet'))).rejects.toThrow(/not a parquet file/);
});
