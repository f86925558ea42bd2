// The local catalog's views read what Glue's partitions say: values from the catalog, never from a path that
// disagrees with it, a data column never replaced by a path segment of the same name, empty partitions skipped.
// Partitions in the layout Flywheel writes (`…/id_bucket=N/`) are read by one scan, bound once.
import { mkdtempSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDbCatalog, LocalDuckDb } from '../../shared/adapters/local/duckdb.js';
import type { PartitionDef, TableDef } from '../../shared/ports.js';

let db: LocalDuckDb;
let catalog: DuckDbCatalog;
let lake: string;
const root = 'data/t/snapshot_dt=2025-10-31/run_id=r1/';

async function write(dir: string, rows: string): Promise<void> {
  await fs.mkdir(path.join(lake, dir), { recursive: true });
  await db.run(`COPY (${rows}) TO '${path.join(lake, dir, 'f.parquet')}' (FORMAT parquet)`);
}

const table = (name: string, columns: TableDef['columns']): TableDef => ({
  name,
  location: `s3://${root}`,
  columns,
  partitionKeys: [{ name: 'id_bucket', type: 'int' }],
  parameters: {},
});
const part = (value: string, dir: string): PartitionDef => ({ values: [value], location: `s3://${dir}` });
const rows = async (sql: string) => (await db.all(sql)).map((r) => Object.values(r).map(String).join('|'));

beforeAll(async () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'flywheel-catalog-'));
  lake = path.join(home, 'lake');
  db = await LocalDuckDb.open(path.join(home, 'catalog.duckdb'), lake);
  catalog = new DuckDbCatalog(db);
  for (let b = 0; b < 6; b++) await write(`${root}id_bucket=${b}/`, `SELECT 'k${b}' AS k, ${b * 10} AS v`);
  await write(`${root}elsewhere/`, `SELECT 'k9' AS k, 90 AS v`); // a partition outside the table's layout
  await fs.mkdir(path.join(lake, `${root}id_bucket=7/`), { recursive: true }); // a partition folder without data
});
afterAll(() => db.connection.closeSync());

test('partitions in the written layout: catalog values, filters on the key, one scan bound once', async () => {
  await catalog.upsertTable(
    'db',
    table('p', [
      { name: 'k', type: 'string' },
      { name: 'v', type: 'int' },
    ]),
  );
  await catalog.addPartitions(
    'db',
    'p',
    [0, 1, 2, 3, 4, 5].map((b) => part(String(b), `${root}id_bucket=${b}/`)),
  );
  expect(await rows('SELECT k, v, id_bucket FROM db.p ORDER BY id_bucket')).toEqual(['k0|0|0', 'k1|10|1', 'k2|20|2', 'k3|30|3', 'k4|40|4', 'k5|50|5']);
  expect(await rows('SELECT count(*) FROM db.p WHERE id_bucket BETWEEN 2 AND 3')).toEqual(['2']);
  const [view] = await db.all("SELECT sql FROM duckdb_views() WHERE schema_name = 'db' AND view_name = 'p'");
  expect(String(view!.sql).match(/read_parquet/g)).toHaveLength(1);
});

test('a partition only in the catalog is not read; a catalog partition on a folder without data is skipped', async () => {
  await catalog.upsertTable(
    'db',
    table('q', [
      { name: 'k', type: 'string' },
      { name: 'v', type: 'int' },
    ]),
  );
  await catalog.addPartitions('db', 'q', [part('0', `${root}id_bucket=0/`), part('7', `${root}id_bucket=7/`)]);
  expect(await rows('SELECT k, id_bucket FROM db.q')).toEqual(['k0|0']);
});

test('a folder naming another value than the catalog, and a folder outside the layout: the catalog value is read', async () => {
  await catalog.upsertTable(
    'db',
    table('r', [
      { name: 'k', type: 'string' },
      { name: 'v', type: 'int' },
    ]),
  );
  await catalog.addPartitions('db', 'r', [part('1', `${root}id_bucket=1/`), part('200', `${root}id_bucket=2/`), part('9', `${root}elsewhere/`)]);
  expect(await rows('SELECT k, id_bucket FROM db.r ORDER BY k')).toEqual(['k1|1', 'k2|200', 'k9|9']);
  expect(await rows('SELECT k FROM db.r WHERE id_bucket = 200')).toEqual(['k2']);
});

test('a data column named like a key in the folder path is read from the file, not the path', async () => {
  await write(`${root}id_bucket=3/`.replace('id_bucket=3', 'id_bucket=30'), `SELECT 'k30' AS k, '1999-01-01' AS snapshot_dt`);
  await catalog.upsertTable(
    'db',
    table('s', [
      { name: 'k', type: 'string' },
      { name: 'snapshot_dt', type: 'string' },
    ]),
  );
  await catalog.addPartitions('db', 's', [part('30', `${root}id_bucket=30/`)]);
  expect(await rows('SELECT k, snapshot_dt, id_bucket FROM db.s')).toEqual(['k30|1999-01-01|30']);
  // and in an unpartitioned table (an ext_ table's folder names its snapshot and run)
  await catalog.upsertTable('db', {
    name: 'u',
    location: `s3://${root}id_bucket=30/`,
    columns: [
      { name: 'k', type: 'string' },
      { name: 'snapshot_dt', type: 'string' },
    ],
    partitionKeys: [],
    parameters: {},
  });
  expect(await rows('SELECT k, snapshot_dt FROM db.u')).toEqual(['k30|1999-01-01']);
});
