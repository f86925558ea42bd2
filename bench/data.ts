/**
 * Bench inputs: one infobase snapshot of 3 source tables × (scale × 1M) rows × 40 columns (strings,
 * ints, bigints, doubles, dates, booleans, ~10% NULLs in a third of the columns), written by DuckDB
 * SQL (no row passes through JS) and cached under bench/.data/input/<scale>x/ in the lake layout.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { INFOBASE } from '../shared/domain/config.js';
import { literal } from '../shared/domain/sql-identifiers.js';
import { DATA_DIR, duBytes, progress, timed } from './lib.js';

export const SNAPSHOT = '2025-10-31';
export const ROWS_PER_SCALE = 1_000_000;
export const SOURCES = ['IBE_01', 'IBE_02', 'MIACS_01'] as const;

/** 39 attribute columns (plus CUSTOMER_USER_ID = 40): [name suffix, SQL over `h` (a per-row, per-column hash)]. */
function attributeColumns(): Array<[string, string]> {
  const cols: Array<[string, string]> = [];
  const nullable = (k: number, e: string) => (k % 3 === 0 ? `CASE WHEN h${k} % 10 = 0 THEN NULL ELSE ${e} END` : e);
  let k = 0;
  const add = (suffix: string, expr: (h: string) => string) => {
    const h = `h${k}`;
    cols.push([`${suffix}_${String(k).padStart(2, '0')}`, nullable(k, expr(h))]);
    k++;
  };
  // 12 strings
  add('SEG', (h) => `'seg_' || (${h} % 40)`);
  add('TIER', (h) => `'tier_' || (${h} % 9)`);
  add('GENDER', (h) => `CASE ${h} % 3 WHEN 0 THEN 'F' WHEN 1 THEN 'M' ELSE 'U' END`);
  add('MARITAL', (h) => `CASE ${h} % 4 WHEN 0 THEN 'married' WHEN 1 THEN 'single' WHEN 2 THEN 'divorced' ELSE 'unknown' END`);
  add('STATE', (h) => `chr(65 + (${h} % 26)::INTEGER) || chr(65 + ((${h} // 26) % 26)::INTEGER)`);
  add('ZIP', (h) => `lpad((${h} % 99999)::VARCHAR, 5, '0')`);
  add('CITY', (h) => `'city_' || (${h} % 5000)`);
  add(
    'STREET',
    (h) =>
      `(${h} % 9999)::VARCHAR || ' ' || CASE ${h} % 5 WHEN 0 THEN 'Main St' WHEN 1 THEN 'Oak Ave' WHEN 2 THEN 'Elm Rd' WHEN 3 THEN 'Park Blvd' ELSE 'Lake Dr' END`,
  );
  add('BAND', (h) => `chr(65 + (${h} % 6)::INTEGER)`);
  add('OCCUP', (h) => `'occ_' || lpad((${h} % 300)::VARCHAR, 3, '0')`);
  add('EMAILDOM', (h) => `CASE ${h} % 4 WHEN 0 THEN 'gmail.com' WHEN 1 THEN 'yahoo.com' WHEN 2 THEN 'outlook.com' ELSE 'example.org' END`);
  add('CODE', (h) => `printf('%08x', ${h} % 4294967295)`);
  // 10 integers (6 INTEGER, 4 BIGINT)
  add('AGE', (h) => `(18 + ${h} % 70)::INTEGER`);
  add('CHILDREN', (h) => `(${h} % 6)::INTEGER`);
  add('HHSIZE', (h) => `(1 + ${h} % 8)::INTEGER`);
  add('YRS_RES', (h) => `(${h} % 40)::INTEGER`);
  add('VEHICLES', (h) => `(${h} % 4)::INTEGER`);
  add('RANK', (h) => `(${h} % 100000)::INTEGER`);
  add('INCOME', (h) => `(${h} % 250000)::BIGINT`);
  add('NET_WORTH', (h) => `(${h} % 5000000)::BIGINT - 250000`);
  add('HOME_VALUE', (h) => `(${h} % 2000000)::BIGINT`);
  add('SPEND', (h) => `(${h} % 100000000)::BIGINT`);
  // 8 doubles
  for (const name of ['SCORE', 'PROPENSITY', 'AFFINITY', 'RISK', 'LTV', 'CHURN', 'RESPONSE', 'LIFT'])
    add(name, (h) => `round((${h} % 1000000) / 10000.0, 4)::DOUBLE`);
  // 5 dates
  for (const name of ['BIRTH', 'MOVE_IN', 'LAST_PURCH', 'FIRST_SEEN', 'UPDATED']) add(name, (h) => `DATE '1950-01-01' + (${h} % 27000)::INTEGER`);
  // 4 booleans
  for (const name of ['HOMEOWNER', 'PET', 'DONOR', 'OPT_IN']) add(name, (h) => `${h} % 2 = 0`);
  return cols;
}

/**
 * Input shapes: `wide` (the default) has 39 attribute columns per source table; `narrow` 8 of them
 * (2 strings, 2 integers, a bigint, a double, a date, a boolean), where the pipeline's per-row and
 * per-file work weighs most against the cost of writing wide rows.
 */
export type Width = 'wide' | 'narrow';
const NARROW = new Set([0, 5, 12, 17, 18, 22, 30, 35]);

function attributesOf(width: Width): Array<[string, string]> {
  const all = attributeColumns();
  return width === 'wide' ? all : all.filter((_, k) => NARROW.has(k));
}

/** Column names of one source table (CUSTOMER_USER_ID first). */
export function sourceColumns(source: string, width: Width = 'wide'): string[] {
  return ['CUSTOMER_USER_ID', ...attributesOf(width).map(([n]) => `${source}_${n}`)];
}

/**
 * The bench mapping, shaped like the sample lake's: IBE_01 split into two targets (20 + 19
 * attributes), IBE_02 carried whole, MIACS_01 with 29 of its 39 attributes (10 dropped).
 */
export function benchMapping(width: Width = 'wide'): string {
  const rows = ['source_table,source_column,target_table,target_column'];
  const add = (source: string, target: string, cols: string[]) => {
    for (const c of ['CUSTOMER_USER_ID', ...cols]) rows.push(`${source},${c},${target},${c.toLowerCase()}`);
  };
  const attrs = (s: string) => sourceColumns(s, width).slice(1);
  const half = width === 'wide' ? 20 : 4;
  add('IBE_01', 'ibe_01a', attrs('IBE_01').slice(0, half));
  add('IBE_01', 'ibe_01b', attrs('IBE_01').slice(half));
  add('IBE_02', 'ibe_02', attrs('IBE_02'));
  add('MIACS_01', 'miacs_01', attrs('MIACS_01').slice(0, width === 'wide' ? 29 : 6));
  return `${rows.join('\n')}\n`;
}

/** Target tables of the bench mapping with their source and column count (incl. the key). */
export const TARGETS = [
  { target: 'ibe_01a', source: 'IBE_01', columns: 21 },
  { target: 'ibe_01b', source: 'IBE_01', columns: 20 },
  { target: 'ibe_02', source: 'IBE_02', columns: 40 },
  { target: 'miacs_01', source: 'MIACS_01', columns: 30 },
];

export const inputLake = (scale: number, width: Width = 'wide') => path.join(DATA_DIR, 'input', `${scale}x${width === 'wide' ? '' : `-${width}`}`, 'lake');
export const rawSnapshotDir = (lake: string) => path.join(lake, 'data', INFOBASE.rawPrefix, `snapshot_dt=${SNAPSHOT}`);

/** Generates (once) the input lake of a scale; returns its lake folder, rows per table and bytes. */
export async function ensureInput(scale: number, width: Width = 'wide'): Promise<{ lake: string; rowsPerTable: number; bytes: number }> {
  const lake = inputLake(scale, width);
  const rowsPerTable = Math.round(scale * ROWS_PER_SCALE);
  const snap = rawSnapshotDir(lake);
  const done = path.join(snap, INFOBASE.readyMarker);
  if (!existsSync(done)) {
    await fs.rm(lake, { recursive: true, force: true });
    const db = await (await DuckDBInstance.create(':memory:')).connect();
    try {
      const cols = attributesOf(width);
      // non-ASCII ids like the sample lake: every 97th accented or CJK, every 1009th an emoji; row 7 NULL
      const id = `CASE WHEN i = 7 THEN NULL WHEN i % 1009 = 0 THEN 'cust-😀-' || i WHEN i % 97 = 0 THEN (CASE i % 3 WHEN 0 THEN 'Zoë-' WHEN 1 THEN 'Ærøskøbing-' ELSE '客户-' END) || i ELSE 'cust_' || lpad(i::VARCHAR, 10, '0') END`;
      for (const [t, source] of SOURCES.entries()) {
        const dir = path.join(snap, source);
        await fs.mkdir(dir, { recursive: true });
        const used = new Set(cols.map(([n]) => Number(n.slice(-2))));
        const hashes = attributeColumns()
          .map((_, k) => k)
          .filter((k) => used.has(k))
          .map((k) => `hash(i, ${t * 100 + k}) AS h${k}`)
          .join(', ');
        const select = `SELECT ${id} AS CUSTOMER_USER_ID, ${cols.map(([n, e]) => `${e} AS ${source}_${n}`).join(', ')} FROM (SELECT i, ${hashes} FROM range(${rowsPerTable}) r(i))`;
        const { ms } = await timed(() =>
          db.run(
            `COPY (${select}) TO ${literal(dir)} (FORMAT parquet, COMPRESSION snappy, PER_THREAD_OUTPUT false, FILE_SIZE_BYTES '256MB', FILENAME_PATTERN 'part-{i}')`,
          ),
        );
        progress(`input ${scale}x ${width}: ${source} ${rowsPerTable.toLocaleString('en-US')} rows generated in ${(ms / 1000).toFixed(1)} s`);
      }
      await fs.mkdir(path.join(lake, 'data', 'support_files'), { recursive: true });
      await fs.writeFile(path.join(lake, 'data', INFOBASE.mappingKey!), benchMapping(width));
      await fs.writeFile(done, '');
    } finally {
      db.closeSync();
    }
  }
  return { lake, rowsPerTable, bytes: await duBytes(snap) };
}

/** A scratch local home whose lake holds the input snapshot as hard links (no copy). */
export async function scratchHome(scale: number, name: string, width: Width = 'wide'): Promise<string> {
  const { lake } = await ensureInput(scale, width);
  const home = path.join(DATA_DIR, 'scratch', name);
  await fs.rm(home, { recursive: true, force: true });
  const link = async (from: string, to: string) => {
    await fs.mkdir(to, { recursive: true });
    for (const e of await fs.readdir(from, { withFileTypes: true })) {
      if (e.isDirectory()) await link(path.join(from, e.name), path.join(to, e.name));
      else await fs.link(path.join(from, e.name), path.join(to, e.name));
    }
  };
  await link(lake, path.join(home, 'lake'));
  return home;
}
