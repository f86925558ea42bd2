// Every stage on the local engine, for real: DuckDB, the filesystem lake, the local bus and the real handlers.
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PartRangeStep } from '../../shared/domain/build-steps.js';
import { duckdbBucketSql } from '../../shared/domain/bucket.js';
import type { LocalEngineRuntime as LocalRuntime } from '../../shared/composition/local.js';
import { count, deliver, lakePath, ledger, markerEvent, open, outbox, runPipeline, sampleHome } from './harness.js';

const TABLES = ['ibe_01a', 'ibe_01b', 'ibe_04', 'miacs_01', 'miacs_02'];

describe('the local pipeline end to end', () => {
  let home: string;
  let rt: LocalRuntime;
  beforeAll(async () => {
    home = await sampleHome(3000);
    rt = await open(home);
    await runPipeline(rt);
  });
  afterAll(() => rt.close());

  test('the latest valid snapshot ran and every stage succeeded', async () => {
    const l = (await ledger(rt, '2025-10-31'))!;
    expect(l.status).toBe('SUCCEEDED');
    expect(Object.values(l.stages).map((s) => s.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(l.junk).toEqual(expect.arrayContaining(['snapshot_dt=latest', 'snapshot_dt=2099-02-30', 'README.txt']));
    expect(l.droppedColumns).toEqual({ IBE_01: ['IBE_LEGACY_FLAG'] });
    expect(await ledger(rt, '2025-09-30')).toBeUndefined();
  });

  test.each(TABLES)('%s: ext_, part_ and bucketed_ hold every source row', async (t) => {
    const source = t.startsWith('ibe_01') ? 'IBE_01' : t.toUpperCase();
    const src = Number(
      (
        await rt.db.all(
          `SELECT count(*) n FROM read_parquet('${lakePath(home, `omc_cleanroom_data/infobase_attributes/raw_input/snapshot_dt=2025-10-31/${source}`)}/*.parquet')`,
        )
      )[0]!.n,
    );
    expect(src).toBe(3000);
    for (const prefix of ['ext_', 'part_', 'bucketed_']) expect(await count(rt, `select count(*) from ${prefix}${t}`)).toBe(src);
    expect((await ledger(rt, '2025-10-31'))!.tables[t]!.rows).toBe(src);
  });

  test('id_bucket is the shared bucket function of customer_user_id, NULL key in bucket 0', async () => {
    // the split computed it with the compiled extension; the pure-SQL form checks it independently
    expect(rt.db.bucketForm.form).toBe('extension');
    expect(await count(rt, `select count(*) from part_ibe_01a where id_bucket <> ${duckdbBucketSql('customer_user_id')}`)).toBe(0);
    expect(await count(rt, 'select count(*) from part_ibe_01a where customer_user_id is null and id_bucket = 0')).toBe(1);
    expect((await ledger(rt, '2025-10-31'))!.tables.ibe_01a!.nullKeys).toBe(1);
    expect(await count(rt, "select count(*) from part_ibe_01a where customer_user_id like 'Zoë-%' or customer_user_id like '客户-%'")).toBeGreaterThan(0);
  });

  test('split columns are carried, lower-cased, unmapped ones dropped', async () => {
    const cols = (
      await rt.db.all(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'flywheel' AND table_name = 'part_ibe_01b' ORDER BY ordinal_position",
      )
    ).map((r) => r.column_name);
    expect(cols).toEqual(['customer_user_id', 'ibe8606_income', 'ibe8463_homeowner', 'ibe2800_children', 'id_bucket']);
  });

  test('part_ tables are partitioned by id_bucket with one catalog partition per non-empty bucket folder', async () => {
    const def = (await rt.catalog.getTable('flywheel', 'part_miacs_01'))!;
    expect(def.partitionKeys).toEqual([{ name: 'id_bucket', type: 'int' }]);
    expect(def.comment).toBe('Bucketed table created from snapshot_dt=2025-10-31');
    const parts = await rt.catalog.getPartitions('flywheel', 'part_miacs_01');
    const distinct = await count(rt, 'select count(distinct id_bucket) from part_miacs_01');
    expect(parts).toHaveLength(distinct);
    for (const p of parts) {
      expect(p.location).toMatch(new RegExp(`/part_miacs_01/snapshot_dt=2025-10-31/run_id=[^/]+/id_bucket=${p.values[0]}/$`));
      expect(readdirSync(rt.db.localPath(p.location)).some((f) => f.endsWith('.parquet'))).toBe(true);
    }
  });

  test('bucketed_ tables carry Hive bucketing and one file per bucket named by bucket number', async () => {
    const def = (await rt.catalog.getTable('flywheel', 'bucketed_ibe_04'))!;
    expect(def.bucketing).toEqual({ columns: ['customer_user_id'], count: 256 });
    const files = readdirSync(rt.db.localPath(def.location));
    expect(files.length).toBeGreaterThan(150);
    expect(files.every((f) => /^\d{6}_\d+_part_[0-9a-f-]+\.parquet$/.test(f))).toBe(true);
    const bucket0 = await count(
      rt,
      `select count(*) from read_parquet('${rt.db.localPath(def.location)}000000_*.parquet') where ${duckdbBucketSql('customer_user_id')} <> 0`,
    );
    expect(bucket0).toBe(0);
  });

  test('ext_ tables: external, over the exact split folder, with snapshot and run parameters', async () => {
    const def = (await rt.catalog.getTable('flywheel', 'ext_ibe_01a'))!;
    const l = (await ledger(rt, '2025-10-31'))!;
    expect(def.parameters).toMatchObject({ snapshot_dt: '2025-10-31', run_id: l.runId });
    expect(def.location).toBe(`s3://data/omc_cleanroom_data/split_cluster/infobase_attributes/ibe_01a/snapshot_dt=2025-10-31/run_id=${l.runId}/`);
    expect(readdirSync(rt.db.localPath(def.location))).toEqual(['part-00000.snappy.parquet']);
  });

  test('metadata/snapshot_dt.txt under the split output and the bucketed base', () => {
    expect(readFileSync(lakePath(home, 'omc_cleanroom_data/split_cluster/infobase_attributes/metadata/snapshot_dt.txt'), 'utf8')).toBe('2025-10-31\n');
    expect(readFileSync(lakePath(home, 'omc_cleanroom_data/cleanroom_tables/bucketed/metadata/snapshot_dt.txt'), 'utf8')).toBe('2025-10-31\n');
  });

  test('Pipeline Completed carries per-table counts and durations; no stage alert went out; the monitor ran after it', async () => {
    const done = rt.bus.published.filter((e) => e['detail-type'] === 'Pipeline Completed');
    expect(done).toHaveLength(1);
    const detail = done[0]!.detail as { status: string; tables: Array<{ table: string; rows: number; durationMs: number }> };
    expect(detail.status).toBe('SUCCEEDED');
    expect(detail.tables.map((t) => [t.table, t.rows])).toEqual(TABLES.map((t) => [t, 3000]));
    expect(detail.tables.every((t) => t.durationMs >= 0)).toBe(true);
    const mail = await outbox(home);
    expect(mail.filter((m) => /^Subject: \[Flywheel\]/.test(m))).toEqual([]);
    expect(mail.filter((m) => /^Subject: \[DATA MONITOR\] flywheel part_\*/.test(m))).toHaveLength(1);
  });

  test('duplicate ready-marker events start nothing more', async () => {
    const before = (await ledger(rt, '2025-10-31'))!.runId;
    const published = rt.bus.published.length;
    await deliver(rt, ...Array.from({ length: 10 }, () => markerEvent('2025-10-31')));
    expect((await ledger(rt, '2025-10-31'))!.runId).toBe(before);
    expect(rt.bus.published.slice(published).filter((e) => e.source === 'aws.glue')).toEqual([]);
  });

  test('a snapshot older than the live one is refused unless re-run explicitly; live tables untouched', async () => {
    await deliver(rt, markerEvent('2025-09-30'));
    expect(await ledger(rt, '2025-09-30')).toBeUndefined();
    const mail = await outbox(home);
    expect(mail.at(-1)).toMatch(/older than the live snapshot 2025-10-31/);
    expect(mail.at(-1)).toMatch(/replay it explicitly if you mean to roll back: npx flywheel replay .*--snapshot 2025-09-30 --from-stage split-and-bucket/);
    expect((await rt.catalog.getTable('flywheel', 'part_ibe_04'))!.parameters.snapshot_dt).toBe('2025-10-31');
  });

  test('an explicit re-run of the same snapshot builds new data beside the old and switches to it', async () => {
    const old = (await ledger(rt, '2025-10-31'))!;
    const oldLocation = (await rt.catalog.getTable('flywheel', 'part_ibe_04'))!.location;
    await runPipeline(rt, { dataset: 'infobase', snapshotDt: '2025-10-31', tables: ['ibe_04'], rerun: true });
    const l = (await ledger(rt, '2025-10-31'))!;
    expect(l.runId).not.toBe(old.runId);
    expect(l.history.map((h) => h.runId)).toEqual([old.runId]);
    expect(Object.keys(l.tables)).toEqual(['ibe_04']);
    expect((await rt.catalog.getTable('flywheel', 'part_ibe_04'))!.location).not.toBe(oldLocation);
    expect(existsSync(rt.db.localPath(oldLocation))).toBe(true);
    expect(await count(rt, 'select count(*) from part_ibe_04')).toBe(3000);
    await fs.access(rt.db.localPath(oldLocation));
  });
});

describe('replay from a later stage', () => {
  let home: string;
  let rt: LocalRuntime;
  beforeAll(async () => {
    home = await sampleHome(1000);
    rt = await open(home);
    await runPipeline(rt);
  });
  afterAll(() => rt.close());

  test.each(['register-staged-tables', 'bucketed-tables'] as const)(
    'from %s: a new run reuses the split, rebuilds and switches, no rows lost or doubled',
    async (fromStage) => {
      const before = (await ledger(rt, '2025-10-31'))!;
      const { makeReplayFromStage } = await import('../../shared/use-cases/replay-from-stage.js');
      await makeReplayFromStage(rt.deps)({ dataset: 'infobase', snapshotDt: '2025-10-31', fromStage, tables: ['miacs_01'] });
      await rt.bus.drain();
      const after = (await ledger(rt, '2025-10-31'))!;
      expect(after.runId).not.toBe(before.runId);
      expect(after.status).toBe('SUCCEEDED');
      expect(after.trigger.kind).toBe('replay');
      expect(after.stages['split-and-bucket'].jobRunId).toBe(before.stages['split-and-bucket'].jobRunId);
      expect(Object.keys(after.tables)).toEqual(['miacs_01']);
      expect((await rt.catalog.getTable('flywheel', 'part_miacs_01'))!.parameters.run_id).toBe(after.runId);
      expect(await count(rt, 'select count(*) from part_miacs_01')).toBe(1000);
      expect(await count(rt, 'select count(*) from bucketed_miacs_01')).toBe(1000);
      expect(rt.bus.published.filter((e) => e.source === 'aws.glue')).toHaveLength(1); // the split ran once
    },
  );

  test('refused while the inputs are missing, with the fix', async () => {
    const { makeReplayFromStage } = await import('../../shared/use-cases/replay-from-stage.js');
    await expect(makeReplayFromStage(rt.deps)({ dataset: 'infobase', snapshotDt: '2025-09-30', fromStage: 'bucketed-tables' })).rejects.toThrow(
      /no run of infobase snapshot_dt=2025-09-30/,
    );
    await expect(
      makeReplayFromStage(rt.deps)({ dataset: 'infobase', snapshotDt: '2025-10-31', fromStage: 'bucketed-tables', tables: ['nope'] }),
    ).rejects.toThrow(/tables nope were not split/);
  });
});

describe('observability', () => {
  test('EMF metrics per stage and run, and every log line carries dataset, snapshot_dt, run_id and stage', async () => {
    const { readFileSync } = await import('node:fs');
    const home = await sampleHome(200);
    const rt = await open(home);
    try {
      await runPipeline(rt);
    } finally {
      rt.close();
    }
    const lines = readFileSync(`${home}/logs/flywheel.jsonl`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>);
    const emf = lines.filter((l) => l._aws);
    const names = emf.flatMap((l) => l._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name));
    expect(names).toEqual(expect.arrayContaining(['StageDuration', 'RowsPublished', 'FilesWritten', 'TablesSucceeded', 'TablesFailed']));
    expect(emf.filter((l) => l.StageDuration !== undefined).map((l) => l.stage)).toEqual([
      'snapshot-trigger',
      'split-and-bucket',
      'register-staged-tables',
      'bucketed-tables',
    ]);
    expect(emf.find((l) => l.RowsPublished !== undefined)).toMatchObject({ dataset: 'infobase', RowsPublished: 1000, TablesSucceeded: 5, TablesFailed: 0 });
    const pipelineLogs = lines.filter(
      (l) => l.level && !String(l.run_id ?? '').startsWith('monitor-') && l.message !== 'ignoring entries under raw_input/ that are not valid snapshots',
    );
    expect(pipelineLogs.length).toBeGreaterThan(10);
    for (const l of pipelineLogs)
      expect(l).toMatchObject({
        dataset: 'infobase',
        snapshot_dt: '2025-10-31',
        run_id: expect.any(String),
        stage: expect.stringMatching(/^(snapshot-trigger|register-staged-tables|bucketed-tables)$/),
      });
  });
});

describe('the split into several files per table', () => {
  test('file i holds the i-th share of the source rows (across source files), every row in its id_bucket, none lost or doubled', async () => {
    const home = await sampleHome(3000);
    const rt = await open(home, { config: { targetFileBytes: 8_000 } });
    try {
      // IBE_04 in two source files of uneven size, so a share cuts across the file boundary
      const src = lakePath(home, 'omc_cleanroom_data/infobase_attributes/raw_input/snapshot_dt=2025-10-31/IBE_04');
      await fs.rename(path.join(src, 'part-0.parquet'), path.join(home, 'ibe_04.parquet'));
      await rt.db.run(
        `COPY (SELECT * FROM read_parquet('${path.join(home, 'ibe_04.parquet')}') LIMIT 1100) TO '${path.join(src, 'part-0.parquet')}' (FORMAT parquet)`,
      );
      await rt.db.run(
        `COPY (SELECT * FROM read_parquet('${path.join(home, 'ibe_04.parquet')}') OFFSET 1100) TO '${path.join(src, 'part-1.parquet')}' (FORMAT parquet)`,
      );
      await runPipeline(rt);
      expect((await ledger(rt, '2025-10-31'))!.status).toBe('SUCCEEDED');
      for (const t of TABLES) {
        const def = (await rt.catalog.getTable('flywheel', `ext_${t}`))!;
        const dir = rt.db.localPath(def.location);
        const files = readdirSync(dir).sort();
        expect(files.length).toBeGreaterThan(1);
        expect(files).toEqual(files.map((_, i) => `part-${String(i).padStart(5, '0')}.snappy.parquet`));
        const perFile = await Promise.all(files.map(async (f) => count(rt, `select count(*) from read_parquet('${path.join(dir, f)}')`)));
        const rows = perFile.reduce((a, b) => a + b, 0);
        expect(rows).toBe(3000);
        expect(Math.max(...perFile) - Math.min(...perFile)).toBeLessThanOrEqual(1); // even shares
        expect(await count(rt, `select count(*) from read_parquet('${dir}/*.parquet') where id_bucket <> ${duckdbBucketSql('customer_user_id')}`)).toBe(0);
        expect(await count(rt, `select count(distinct coalesce(customer_user_id, '<null>')) from read_parquet('${dir}/*.parquet')`)).toBe(3000);
        expect(await count(rt, `select count(*) from part_${t}`)).toBe(3000);
      }
    } finally {
      rt.close();
    }
  });
});

describe('part_<t>_er for Entity Resolution', () => {
  test('one row per part_ row, unique stable row_ids, partitioned like its parent', async () => {
    const { createHash } = await import('node:crypto');
    const { makeReplayFromStage } = await import('../../shared/use-cases/replay-from-stage.js');
    const home = await sampleHome(600);
    const rt = await open(home, { keyedRowsPerQuery: 50 }); // each ER range runs in bucket sub-ranges of ~50 rows
    try {
      await runPipeline(rt);
      expect(await count(rt, 'select count(*) from part_ibe_04_er')).toBe(600);
      expect(await count(rt, 'select count(distinct row_id) from part_ibe_04_er')).toBe(600);
      expect(
        await count(rt, `select count(*) from part_ibe_04_er e join part_ibe_04 p on p.customer_user_id = e.customer_user_id and p.id_bucket = e.id_bucket`),
      ).toBe(599); // the NULL key never joins
      const def = (await rt.catalog.getTable('flywheel', 'part_ibe_04_er'))!;
      expect(def.columns).toEqual([
        { name: 'row_id', type: 'string' },
        { name: 'customer_user_id', type: 'string' },
      ]);
      expect(def.partitionKeys).toEqual([{ name: 'id_bucket', type: 'int' }]);
      expect(def.comment).toBe('Bucketed table created from snapshot_dt=2025-10-31');
      const row = (await rt.db.all("SELECT row_id FROM flywheel.part_ibe_04_er WHERE customer_user_id = 'cust_00000042'"))[0]!;
      expect(row.row_id).toBe(createHash('sha256').update('2025-10-31|Kcust_00000042|1').digest('hex'));
      const ids = async () =>
        (await rt.db.all('SELECT row_id, customer_user_id FROM flywheel.part_ibe_04_er ORDER BY row_id')).map((r) => `${r.row_id}:${r.customer_user_id}`);
      const before = await ids();
      await makeReplayFromStage(rt.deps)({ dataset: 'infobase', snapshotDt: '2025-10-31', fromStage: 'bucketed-tables', tables: ['ibe_04'] });
      await rt.bus.drain();
      expect((await rt.catalog.getTable('flywheel', 'part_ibe_04_er'))!.parameters.run_id).not.toBe(def.parameters.run_id);
      expect(await ids()).toEqual(before); // rebuilt, the same row_ids
    } finally {
      rt.close();
    }
  });

  test('part_<t>_er: the Athena range query (row_number) and the DuckDB one (count, then 1..c) give the same (row_id, key) pairs', async () => {
    const { rangeSelectSql } = await import('../../shared/domain/build-steps.js');
    const { LocalDuckDb } = await import('../../shared/adapters/local/duckdb.js');
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'flywheel-er-'));
    const db = await LocalDuckDb.open(path.join(dir, 'c.duckdb'), dir);
    await db.run(`CREATE SCHEMA er_twin; CREATE TABLE er_twin.part_t AS
      SELECT k AS customer_user_id, ${db.bucketSql('k')} AS id_bucket FROM (SELECT 'c' || (i % 500) AS k FROM range(2000) t(i) UNION ALL SELECT 'solo' || i FROM range(300) t(i))
      UNION ALL SELECT NULL, 0 FROM range(4)`);
    try {
      const step: PartRangeStep = {
        kind: 'part-range',
        database: 'er_twin',
        table: 't',
        sourceTable: 'part_t',
        stagingTable: 'x',
        location: 's3://data/x/',
        columns: [],
        first: true,
        fromBucket: 0,
        toBucket: 255,
        er: { snapshotDt: '2025-10-31', keyColumn: 'customer_user_id' },
      };
      // Trino's spellings mapped to DuckDB's: sha256 returns hex text in DuckDB, varbinary in Trino
      const trinoAsDuck = (sql: string) =>
        sql.replace(/lower\(to_hex\(sha256\(to_utf8\((.*?)\)\)\)\) AS "row_id"/, 'sha256($1) AS "row_id"').replace('AS varchar', 'AS VARCHAR');
      for (const [fromBucket, toBucket] of [
        [0, 99],
        [100, 255],
      ] as const) {
        const pairs = async (sql: string) =>
          (await db.all(`SELECT row_id, customer_user_id, id_bucket FROM (${sql}) ORDER BY row_id`)).map(
            (r) => `${r.row_id}:${r.customer_user_id}:${r.id_bucket}`,
          );
        const duck = await pairs(rangeSelectSql({ ...step, fromBucket, toBucket }, 'duckdb'));
        const trino = rangeSelectSql({ ...step, fromBucket, toBucket }, 'trino');
        expect(trino).toContain('row_number() OVER (PARTITION BY "customer_user_id"');
        expect(duck).toEqual(await pairs(trinoAsDuck(trino)));
        expect(new Set(duck.map((p) => p.split(':')[0])).size).toBe(duck.length);
      }
      expect(Number((await db.all(`SELECT count(*) AS n FROM (${rangeSelectSql(step, 'duckdb')})`))[0]!.n)).toBe(2304);
    } finally {
      db.connection.closeSync();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
