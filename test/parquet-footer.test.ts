// Schemas from parquet footers: real files written by DuckDB, read through a tiny node:fs object store
// that records every range requested, so the tests prove only the footer is read.
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { hiveType, readParquetColumns, readParquetFooter } from '../shared/adapters/parquet-footer.js';
import type { ObjectStore } from '../shared/ports.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'footer-'));
const ranges: Array<{ key: string; start: number; end: number }> = [];
const unused = () => Promise.reject(new Error('the footer reader must only use getRange'));
/** Bucket-less: keys are file names in `dir`. Only getRange is implemented. */
const store: ObjectStore = {
  async getRange(_bucket, key, start, end) {
    ranges.push({ key, start, end });
    const file = await open(path.join(dir, key));
    try {
      const buffer = new Uint8Array(end - start);
      await file.read(buffer, 0, buffer.byteLength, start);
      return buffer;
    } finally {
      await file.close();
    }
  },
  list: unused,
  get: unused,
  head: unused,
  put: unused,
  delete: unused,
  copy: unused,
  copyMany: unused,
};
const size = (key: string) => statSync(path.join(dir, key)).size;
const read = async (key: string) => {
  ranges.length = 0;
  return readParquetFooter(store, 'data', key, size(key));
};

beforeAll(async () => {
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  const copy = (select: string, name: string) => db.run(`COPY (${select}) TO '${path.join(dir, name)}' (FORMAT parquet)`);
  await copy(
    `SELECT 'id' || i AS CUSTOMER_USER_ID, i::INTEGER AS n_int, i::BIGINT AS n_big, i / 3.0 AS n_double, (i / 3.0)::REAL AS n_float, i % 2 = 0 AS flag,
      DATE '2025-01-01' + i::INTEGER AS d, TIMESTAMP '2025-01-01 00:00:00' + INTERVAL (i) SECOND AS ts, (i / 7)::DECIMAL(10,2) AS amount,
      (i % 100)::TINYINT AS tiny, (i % 1000)::SMALLINT AS small, (i % 200)::UTINYINT AS u8, i::UINTEGER AS u32, 'blob'::BLOB AS raw
     FROM range(50000) t(i)`,
    'typed.parquet',
  );
  await copy('SELECT 1::INTEGER AS a, \'x\' AS "Mixed Case"', 'small.parquet');
  await copy(`SELECT ${Array.from({ length: 3000 }, (_, i) => `${i} AS column_with_a_rather_long_name_${i}`).join(', ')}`, 'wide.parquet');
  await copy('SELECT 1 AS ok, [1, 2] AS list_col', 'list.parquet');
  await copy("SELECT {'a': 1, 'b': 'x'} AS struct_col", 'struct.parquet');
  await copy("SELECT MAP {'k': 1} AS map_col", 'map.parquet');
  await copy('SELECT 1::UBIGINT AS u64', 'u64.parquet');
  await copy("SELECT TIME '12:00:00' AS t", 'time.parquet');
  db.closeSync();
  writeFileSync(path.join(dir, 'not.parquet'), 'hello, this is a csv file,1,2,3');
  const corrupt = new Uint8Array(readFileSync(path.join(dir, 'small.parquet')));
  new DataView(corrupt.buffer).setUint32(corrupt.byteLength - 8, 10_000_000, true);
  writeFileSync(path.join(dir, 'corrupt.parquet'), corrupt);
});

test('maps parquet physical and logical types to Hive types, names as in the file, rows from the footer', async () => {
  const footer = await read('typed.parquet');
  expect(footer.rowCount).toBe(50000);
  expect(footer.columns).toEqual([
    { name: 'CUSTOMER_USER_ID', type: 'string' },
    { name: 'n_int', type: 'int' },
    { name: 'n_big', type: 'bigint' },
    { name: 'n_double', type: 'double' },
    { name: 'n_float', type: 'float' },
    { name: 'flag', type: 'boolean' },
    { name: 'd', type: 'date' },
    { name: 'ts', type: 'timestamp' },
    { name: 'amount', type: 'decimal(10,2)' },
    { name: 'tiny', type: 'tinyint' },
    { name: 'small', type: 'smallint' },
    { name: 'u8', type: 'smallint' },
    { name: 'u32', type: 'bigint' },
    { name: 'raw', type: 'binary' },
  ]);
});

test("per-column compressed bytes match DuckDB's parquet_metadata", async () => {
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  try {
    for (const name of ['typed.parquet', 'small.parquet']) {
      const footer = await read(name);
      const rows = (
        await db.runAndReadAll(
          `SELECT split_part(path_in_schema, ',', 1) AS col, sum(total_compressed_size)::BIGINT AS bytes FROM parquet_metadata('${path.join(dir, name)}') GROUP BY 1`,
        )
      ).getRowObjectsJson();
      expect(footer.columnBytes).toEqual(Object.fromEntries(rows.map((r) => [r.col, Number(r.bytes)])));
      expect(Object.keys(footer.columnBytes)).toEqual(footer.columns.map((c) => c.name));
    }
    const typed = (await read('typed.parquet')).columnBytes;
    expect(typed.CUSTOMER_USER_ID).toBeGreaterThan(typed.flag!);
  } finally {
    db.closeSync();
  }
});

const footerLengthOf = (name: string) => {
  const b = readFileSync(path.join(dir, name));
  return b.readUInt32LE(b.length - 8);
};

test('a large file costs two ranged reads, of its 8-byte trailer and then exactly its footer: the data pages are never read', async () => {
  await read('typed.parquet');
  const total = size('typed.parquet');
  const footer = footerLengthOf('typed.parquet');
  expect(total).toBeGreaterThan(40 * footer);
  expect(ranges).toEqual([
    { key: 'typed.parquet', start: total - 8, end: total },
    { key: 'typed.parquet', start: total - 8 - footer, end: total - 8 },
  ]);
});

test('a small file is read the same way, never whole', async () => {
  expect(await readParquetColumns(store, 'data', 'small.parquet', size('small.parquet'))).toEqual([
    { name: 'a', type: 'int' },
    { name: 'Mixed Case', type: 'string' },
  ]);
  const total = size('small.parquet');
  expect(ranges.slice(-2)).toEqual([
    { key: 'small.parquet', start: total - 8, end: total },
    { key: 'small.parquet', start: total - 8 - footerLengthOf('small.parquet'), end: total - 8 },
  ]);
});

test('a footer of 3,000 columns costs the same two reads', async () => {
  const footer = await read('wide.parquet');
  expect(footer.columns).toHaveLength(3000);
  const total = size('wide.parquet');
  const footerLength = footerLengthOf('wide.parquet');
  expect(footerLength).toBeGreaterThan(64 * 1024);
  expect(ranges).toEqual([
    { key: 'wide.parquet', start: total - 8, end: total },
    { key: 'wide.parquet', start: total - footerLength - 8, end: total - 8 },
  ]);
});

test.each([
  ['list.parquet', /column list_col is nested \(LIST\)/],
  ['struct.parquet', /column struct_col is nested \(struct\)/],
  ['map.parquet', /column map_col is nested \(MAP\)/],
  ['u64.parquet', /column u64 is an unsigned 64-bit integer/],
  ['time.parquet', /column t is of parquet type TIME/],
])('%s is refused with an error naming the column', async (key, message) => {
  await expect(read(key)).rejects.toThrow(message);
});

test('files that are not parquet, or whose footer length is impossible, are clear errors', async () => {
  await expect(read('not.parquet')).rejects.toThrow('not.parquet is not a parquet file');
  await expect(read('corrupt.parquet')).rejects.toThrow(/corrupt.parquet has a corrupt parquet footer length/);
  await expect(readParquetFooter(store, 'data', 'tiny', 4)).rejects.toThrow(/too small to be parquet/);
});

test('legacy annotations map like their logical types', () => {
  expect(hiveType({ name: 'a', type: 'BYTE_ARRAY', converted_type: 'UTF8' })).toBe('string');
  expect(hiveType({ name: 'b', type: 'INT32', converted_type: 'INT_8' })).toBe('tinyint');
  expect(hiveType({ name: 'c', type: 'INT32', converted_type: 'INT_16' })).toBe('smallint');
  expect(hiveType({ name: 'd', type: 'INT32', converted_type: 'DATE' })).toBe('date');
  expect(hiveType({ name: 'e', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS' })).toBe('timestamp');
  expect(hiveType({ name: 'f', type: 'FIXED_LEN_BYTE_ARRAY', converted_type: 'DECIMAL', precision: 38, scale: 6 })).toBe('decimal(38,6)');
  expect(hiveType({ name: 'g', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 16 })).toBe('binary');
  expect(hiveType({ name: 'h', type: 'INT96' })).toBe('timestamp');
  expect(() => hiveType({ name: 'r', type: 'INT32', repetition_type: 'REPEATED' })).toThrow(/column r is nested/);
});
