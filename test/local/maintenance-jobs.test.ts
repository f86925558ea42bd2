// The compaction stage and the chargebacks scheduler, locally, through their handlers on events/*.json:
// numbers checked against independent counts over the input files.
import type { JobRecord } from '../../shared/use-cases/maintenance-jobs.js';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ADDRESSABLE, INFOBASE } from '../../shared/domain/config.js';
import { compactedFileCount, compactionGroups } from '../../shared/domain/compaction.js';
import { generateSampleLake } from '../../shared/local/sample-lake.js';
import { generateLanding } from '../../shared/local/sample-lake.js';
import { makeCompaction } from '../../shared/use-cases/compaction.js';
import { makeLedgerStore } from '../../shared/use-cases/ledger-store.js';
import { count, deliver, open, outbox } from './harness.js';

const event = (name: string) => JSON.parse(readFileSync(new URL(`../../events/${name}`, import.meta.url), 'utf8')) as Record<string, any>;
const RAW = ADDRESSABLE.compaction!.sourcePrefix;
const SNAPSHOT = '2025-10-31';

async function rawHome(rows = 4000): Promise<string> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'flywheel-compaction-'));
  await generateSampleLake(path.join(home, 'lake'), { rows, snapshots: ['2025-09-30', SNAPSHOT], rawLanding: true });
  return home;
}

describe('compaction stage (addressable raw landing → addressable_ids_compaction_cr → pipeline)', () => {
  test('the raw marker event compacts every small file into right-sized files, writes the marker last, and the pipeline follows', async () => {
    const home = await rawHome();
    const rt = await open(home);
    try {
      const rawDir = path.join(home, 'lake', 'data', RAW, `snapshot_dt=${SNAPSHOT}`);
      const smallFiles = readdirSync(rawDir).filter((f) => f.endsWith('.parquet'));
      expect(smallFiles.length).toBeGreaterThan(3);
      const independent = Number((await rt.db.all(`SELECT count(*) AS n FROM read_parquet('${rawDir}/*.parquet')`))[0]!.n);
      const out = path.join(home, 'lake', 'data', ADDRESSABLE.rawPrefix, `snapshot_dt=${SNAPSHOT}`);
      expect(existsSync(out)).toBe(false);

      await deliver(rt, event('s3-object-created.raw-landing.json'));

      const written = readdirSync(out).sort();
      expect(written).toEqual(['_SUCCESS', 'part-00000.snappy.parquet']); // a few MB: one 256 MB-target file
      expect(Number((await rt.db.all(`SELECT count(*) AS n FROM read_parquet('${out}/*.parquet')`))[0]!.n)).toBe(independent);
      // the same rows, not only as many
      const diff = await rt.db.all(
        `SELECT count(*) AS n FROM (SELECT * FROM read_parquet('${rawDir}/*.parquet') EXCEPT ALL SELECT * FROM read_parquet('${out}/*.parquet'))`,
      );
      expect(Number(diff[0]!.n)).toBe(0);
      // the compacted marker started the pipeline for that snapshot
      const l = (await makeLedgerStore(rt.store, rt.deps.config, rt.deps.clock).load('addressable', SNAPSHOT))?.ledger;
      expect(l?.status).toBe('SUCCEEDED');
      expect(await count(rt, 'SELECT count(*) FROM part_addressable_ids')).toBe(independent);
      const jobs = rt.bus.published.filter((e) => e['detail-type'] === 'Glue Job State Change').map((e) => [e.detail.jobName, e.detail.state]);
      expect(jobs).toContainEqual(['flywheel-local-compaction', 'SUCCEEDED']);
      // the only mail is the monitor's report (this home ran addressable alone), no failure alert
      expect((await outbox(home)).filter((m) => !m.startsWith('Subject: [DATA MONITOR]'))).toEqual([]);
    } finally {
      rt.close();
    }
  });

  test('infobase: each source-table folder is compacted on its own and the split reads the result', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'flywheel-compaction-'));
    await generateSampleLake(path.join(home, 'lake'), { rows: 3000, snapshots: [SNAPSHOT], addressable: false });
    const split = path.join(home, 'lake', 'data', INFOBASE.rawPrefix, `snapshot_dt=${SNAPSHOT}`);
    const landing = path.join(home, 'lake', 'data', INFOBASE.compaction!.sourcePrefix, `snapshot_dt=${SNAPSHOT}`);
    await fs.mkdir(path.dirname(landing), { recursive: true });
    await fs.rename(split, landing); // the snapshot lands raw instead
    const rt = await open(home);
    try {
      const sourceRows = Number((await rt.db.all(`SELECT count(*) AS n FROM read_parquet('${landing}/IBE_04/*.parquet')`))[0]!.n);
      rt.bus.invoke('compaction', { dataset: 'infobase', snapshotDt: SNAPSHOT });
      await rt.bus.drain();
      expect(readdirSync(split).sort()).toEqual(['IBE_01', 'IBE_04', 'MIACS_01', 'MIACS_02', '_SUCCESS']);
      for (const t of ['IBE_01', 'IBE_04', 'MIACS_01', 'MIACS_02']) expect(readdirSync(path.join(split, t))).toEqual(['part-00000.snappy.parquet']);
      const l = (await makeLedgerStore(rt.store, rt.deps.config, rt.deps.clock).load('infobase', SNAPSHOT))?.ledger;
      expect(l?.status).toBe('SUCCEEDED');
      expect(await count(rt, 'SELECT count(*) FROM part_ibe_04')).toBe(sourceRows);
    } finally {
      rt.close();
    }
  });

  test('sizing: the file count follows the target size, per folder', () => {
    const p = `${RAW}snapshot_dt=${SNAPSHOT}/`;
    const objects = [...Array(10)].map((_, i) => ({ key: `${p}T/part-${i}.parquet`, size: 30, lastModified: new Date() }));
    const { groups, ignored } = compactionGroups(p, [...objects, { key: `${p}_SUCCESS`, size: 0, lastModified: new Date() }], 100);
    expect(groups.map((g) => [g.folder, g.keys.length, g.bytes, g.fileCount])).toEqual([['T/', 10, 300, 3]]);
    expect(ignored).toEqual(['_SUCCESS']);
    expect(compactedFileCount(1, 256)).toBe(1);
  });

  test('one compaction per creation of the marker: repeated deliveries (EventBridge or the S3 record of it) start nothing more', async () => {
    const home = await rawHome(500);
    const rt = await open(home);
    try {
      const created = event('s3-object-created.raw-landing.json');
      const records = event('s3-notification.records.json');
      // the same creation as an S3 → Lambda record: same key (URL-encoded there) and sequencer
      const record = records.Records[0];
      record.s3.object.key = encodeURIComponent(created.detail.object.key).replaceAll('%2F', '/');
      record.s3.object.sequencer = created.detail.object.sequencer;
      await deliver(rt, created, { ...created, id: 'redelivered' });
      rt.bus.invoke('compaction', records);
      await rt.bus.drain();
      const runs = () => rt.bus.published.filter((e) => e['detail-type'] === 'Glue Job State Change' && e.detail.jobName === 'flywheel-local-compaction');
      expect(runs().map((e) => e.detail.state)).toEqual(['SUCCEEDED']);
      expect(readFileSync(path.join(home, 'logs', 'flywheel.jsonl'), 'utf8')).toContain('already started its compaction (a repeated delivery)');
      // an operator's direct invocation always starts
      rt.bus.invoke('compaction', { dataset: 'addressable', snapshotDt: SNAPSHOT });
      await rt.bus.drain();
      expect(runs()).toHaveLength(2);
    } finally {
      rt.close();
    }
  });

  test('a compaction that could not start gives its claim back: the retried delivery starts it', async () => {
    const home = await rawHome(200);
    const rt = await open(home);
    try {
      const creation = { key: `${RAW}snapshot_dt=${SNAPSHOT}/_SUCCESS`, sequencer: '00617F0829932A0F11' };
      const refusing = makeCompaction({
        ...rt.deps,
        jobs: { ...rt.deps.jobs, startJob: async () => Promise.reject(new Error('ConcurrentRunsExceededException: injected')) },
      });
      await expect(refusing.startCompaction(ADDRESSABLE, SNAPSHOT, creation)).rejects.toThrow(/ConcurrentRunsExceededException/);
      const started = (await makeCompaction(rt.deps).startCompaction(ADDRESSABLE, SNAPSHOT, creation)) as JobRecord;
      expect(started.jobRunId).toMatch(/\S/);
      // and the claim now holds: the same creation again starts nothing
      expect(await makeCompaction(rt.deps).startCompaction(ADDRESSABLE, SNAPSHOT, creation)).toMatchObject({
        declined: 'ignored',
        reason: 'this creation of the marker already started its compaction (a repeated delivery)',
      });
    } finally {
      rt.close();
    }
  });

  test('a landing without parquet files fails the job: alert with the re-run command, no marker, no run', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'flywheel-compaction-'));
    const rt = await open(home);
    try {
      await rt.store.put('data', `${RAW}snapshot_dt=${SNAPSHOT}/_SUCCESS`, '');
      await rt.store.put('data', `${RAW}snapshot_dt=${SNAPSHOT}/notes.txt`, 'not parquet');
      await deliver(rt, event('s3-object-created.raw-landing.json'));
      expect(existsSync(path.join(home, 'lake', 'data', ADDRESSABLE.rawPrefix, `snapshot_dt=${SNAPSHOT}`, '_SUCCESS'))).toBe(false);
      const [mail] = await outbox(home);
      expect(mail).toContain('compaction job FAILED for addressable snapshot_dt=2025-10-31');
      expect(mail).toContain('no parquet files under s3://data/opus/addressable_ids/raw_input/snapshot_dt=2025-10-31/');
      expect(mail).toContain('npx flywheel compact --dataset addressable --snapshot 2025-10-31');
      expect(rt.bus.published.some((e) => e['detail-type'] === 'Pipeline Completed')).toBe(false);
    } finally {
      rt.close();
    }
  });

  test('an invalid snapshot folder or a dataset with compaction off starts nothing', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'flywheel-compaction-'));
    const rt = await open(home, { config: { datasets: { addressable: { ...ADDRESSABLE, compaction: undefined } } } });
    try {
      await deliver(rt, event('s3-object-created.raw-landing.json'));
      expect(rt.bus.published.filter((e) => e['detail-type'] === 'Glue Job State Change')).toEqual([]);
      expect(await outbox(home)).toEqual([]);
    } finally {
      rt.close();
    }
    const rt2 = await open(home);
    try {
      rt2.bus.invoke('compaction', { dataset: 'addressable', snapshotDt: '2025-02-30' });
      await rt2.bus.drain();
      expect((await outbox(home)).join('\n')).toContain('snapshot_dt=2025-02-30 is not a valid YYYY-MM-DD date');
    } finally {
      rt2.close();
    }
  });
});

describe('chargebacks scheduler', () => {
  test('the 06:30 schedule is execution 2 and consolidates the same day; the numbers match the landing files', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'flywheel-cbs-'));
    const rt = await open(home);
    try {
      await generateLanding(rt.db, rt.db.lakeDir, '2025-11-10', 20, 300);
      const landing = `read_parquet('${path.join(rt.db.lakeDir, 'data/landing/chargebacks/year=2025/month=11/day=10/*.parquet')}')`;
      const q = (
        await rt.db.all(`SELECT count(*) AS n, count(DISTINCT chargeback_id) + count(*) FILTER (WHERE chargeback_id IS NULL) AS kept FROM ${landing}`)
      )[0]!;
      await deliver(rt, event('scheduled-event.chargebacks.json'));
      const glue = rt.bus.published.find((e) => e['detail-type'] === 'Glue Job State Change')!;
      expect(glue.detail).toMatchObject({ jobName: 'flywheel-local-chargebacks-consolidation', state: 'SUCCEEDED' });
      expect(glue.detail.message).toBe(
        `METRICS: records_processed=${q.n}, duplicates_removed=${Number(q.n) - Number(q.kept)}, output_files=4, duration_seconds=${String(glue.detail.message).split('duration_seconds=')[1]}`,
      );
      const out = path.join(rt.db.lakeDir, 'data/consolidated/chargebacks/year=2025/month=11/day=10');
      expect(readdirSync(out).filter((f) => f.endsWith('.parquet'))).toHaveLength(4);
      expect(Number((await rt.db.all(`SELECT count(*) AS n FROM read_parquet('${out}/*.parquet')`))[0]!.n)).toBe(Number(q.kept));
      // what the job was started with: sequence and day computed from the schedule's time
      const record = (await rt.store.list('data', '_runs/index/jobs/')).objects[0]!;
      const args = JSON.parse(Buffer.from((await rt.store.get('data', record.key))!.body).toString()).args;
      expect(args).toMatchObject({
        EXECUTION_SEQUENCE: '2',
        PARTITION_DATE: '2025-11-10',
        TOTAL_EXECUTIONS: '4',
        EXECUTION_TIME: '2025-11-10T06:30:00.000Z',
        DRY_RUN: 'false',
        OUTPUT_FILE_COUNT: '4',
      });
    } finally {
      rt.close();
    }
  });

  test('a dry run writes nothing; a day without landing files fails the job and alerts; a bad request is refused', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'flywheel-cbs-'));
    const rt = await open(home);
    try {
      await generateLanding(rt.db, rt.db.lakeDir, '2025-11-09', 5, 100);
      rt.bus.invoke('chargebacks', { partitionDate: '2025-11-09', dryRun: true });
      await rt.bus.drain();
      expect(existsSync(path.join(rt.db.lakeDir, 'data/consolidated'))).toBe(false);
      expect(rt.bus.published.at(-1)!.detail).toMatchObject({
        state: 'SUCCEEDED',
        message: expect.stringMatching(/^METRICS: records_processed=500, duplicates_removed=\d+, output_files=0,/),
      });

      rt.bus.invoke('chargebacks', { executionTime: '2025-11-12T00:30:00Z' }); // execution 1 → 2025-11-11: nothing landed
      await rt.bus.drain();
      // as the Glue job does: nothing to consolidate is said, not a failure (execution 2 of a day often finds nothing yet)
      expect(rt.bus.published.at(-1)!.detail).toMatchObject({
        state: 'SUCCEEDED',
        message: expect.stringMatching(/^NOTHING TO CONSOLIDATE: no landing rows for 2025-11-11 /),
      });
      expect((await outbox(home)).join('\n')).not.toContain('2025-11-11');

      rt.bus.invoke('chargebacks', { partitionDate: 'yesterday' });
      rt.bus.invoke('chargebacks', { partitionDate: '2025-11-09', bogus: 1 });
      await rt.bus.drain();
      const all = (await outbox(home)).join('\n');
      expect(all).toContain('partitionDate yesterday is not a valid YYYY-MM-DD date');
      expect(all).toContain('chargebacks rejected an invalid event');
    } finally {
      rt.close();
      await fs.rm(home, { recursive: true, force: true });
    }
  });
});
