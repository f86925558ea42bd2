// Each handler against the sample events in events/*.json, through the local runtime (the same handler
// functions the Lambda entries wrap).
import type { StartRunResult } from '../shared/use-cases/snapshot-trigger.js';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { makeBucketedTablesHandler } from '../services/bucketed-tables/bucketed-tables.js';
import { makeCompactionHandler } from '../services/compaction/compaction.js';
import { makeRegisterStagedTablesHandler } from '../services/register-staged-tables/register-staged-tables.js';
import { makeSnapshotTriggerHandler } from '../services/snapshot-trigger/snapshot-trigger.js';
import type { LocalEngineRuntime as LocalRuntime } from '../shared/composition/local.js';
import { ledger, open, outbox, sampleHome } from './local/harness.js';

const event = (name: string) => JSON.parse(readFileSync(new URL(`../events/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;

/** What snapshot-trigger returns for an object that is not a ready marker: it declined it, and says why. */
const NOT_A_MARKER = [expect.objectContaining({ declined: 'ignored', reason: expect.stringMatching(/^object is not a ready marker of a Flywheel dataset/) })];

describe('handlers against events/*.json', () => {
  let home: string;
  let rt: LocalRuntime;
  beforeEach(async () => {
    home = await sampleHome(200);
    rt = await open(home);
  });
  afterEach(() => rt.close());

  test('snapshot-trigger: S3 Object Created via EventBridge starts that snapshot, once', async () => {
    const handler = makeSnapshotTriggerHandler(rt.deps);
    const [result] = await handler(event('s3-object-created.eventbridge.json'));
    expect(result).toMatchObject({ outcome: 'started', snapshotDt: '2025-10-31' });
    const l = (await ledger(rt, '2025-10-31'))!;
    expect(l.trigger).toEqual({ kind: 'event', eventId: '2d4eba74-fd51-3966-4bfa-b013c9da8ff1' });
    expect(l.stages['split-and-bucket'].jobRunId).toMatch(/^jr_/);
    const [again] = await handler(event('s3-object-created.eventbridge.json'));
    expect(again).toMatchObject({ outcome: 'duplicate' });
  });

  test('snapshot-trigger: classic S3 notification Records, URL-encoded key decoded', async () => {
    const [result] = await makeSnapshotTriggerHandler(rt.deps)(event('s3-notification.records.json'));
    expect(result).toMatchObject({ outcome: 'started', snapshotDt: '2025-10-31' });
  });

  test('snapshot-trigger: a schedule discovers the latest valid snapshot and lists the junk', async () => {
    const [result] = await makeSnapshotTriggerHandler(rt.deps)(event('scheduled-event.json'));
    expect(result).toMatchObject({
      outcome: 'started',
      snapshotDt: '2025-10-31',
      junk: expect.arrayContaining(['snapshot_dt=latest', 'snapshot_dt=2099-02-30']),
    });
  });

  test('snapshot-trigger: a direct invocation with a table filter plans only those tables', async () => {
    const [result] = (await makeSnapshotTriggerHandler(rt.deps)(event('manual-trigger.json'))) as StartRunResult[];
    expect(result!.outcome).toBe('started');
    if (result?.outcome === 'started') expect(result.plan.tables.map((t) => t.target)).toEqual(['ibe_01a']);
  });

  test('snapshot-trigger: an object that is not a ready marker starts nothing', async () => {
    const e = event('s3-object-created.eventbridge.json') as { detail: { object: { key: string } } };
    e.detail.object.key = 'omc_cleanroom_data/infobase_attributes/raw_input/snapshot_dt=2025-10-31/IBE_01/part-0.parquet';
    expect(await makeSnapshotTriggerHandler(rt.deps)(e)).toEqual(NOT_A_MARKER);
  });

  test("the _SUCCESS Spark writes in compaction's staging folder under snapshot_dt=D/ starts nothing, in either S3 event form", async () => {
    const staging = 'omc_cleanroom_data/infobase_attributes/raw_input/snapshot_dt=2025-10-31/_compaction_staging/IBE_01/run-1/_SUCCESS';
    // the deployed rule's wildcard (snapshot_dt=*/_SUCCESS) does match it: the handler is where it stops
    const e = event('s3-object-created.eventbridge.json') as { detail: { object: { key: string } } };
    e.detail.object.key = staging;
    expect(rt.bus.targets(e)).toEqual(['snapshotTrigger']);
    expect(await makeSnapshotTriggerHandler(rt.deps)(e)).toEqual(NOT_A_MARKER);
    const records = event('s3-notification.records.json') as { Records: Array<{ s3: { object: { key: string } } }> };
    records.Records[0]!.s3.object.key = encodeURIComponent(staging).replace(/%2F/g, '/');
    expect(await makeSnapshotTriggerHandler(rt.deps)(records)).toEqual(NOT_A_MARKER);
    expect(await ledger(rt, '2025-10-31')).toBeUndefined();
    // the raw landing's route likewise: only opus/<dataset>/raw_input/snapshot_dt=D/_SUCCESS starts a compaction
    const landing = event('s3-object-created.raw-landing.json') as { detail: { object: { key: string } } };
    landing.detail.object.key = landing.detail.object.key.replace(/_SUCCESS$/, 'nested/_SUCCESS');
    expect(await makeCompactionHandler(rt.deps)(landing)).toMatchObject({
      declined: 'ignored',
      reason: expect.stringMatching(/^object is not the ready marker of a raw landing/),
    });
  });

  test('an invalid event is rejected with an alert and starts nothing', async () => {
    expect(await makeSnapshotTriggerHandler(rt.deps)({ snapshotDt: 42 })).toEqual([{ declined: 'rejected', reason: '(event): Invalid input' }]);
    expect(await makeRegisterStagedTablesHandler(rt.deps)({ source: 'aws.glue' })).toMatchObject({
      declined: 'rejected',
      reason: expect.stringMatching(/^version: Invalid input/),
    });
    expect(await makeBucketedTablesHandler(rt.deps)({ hello: 'world' })).toMatchObject({ declined: 'rejected' });
    const mail = await outbox(home);
    expect(mail).toHaveLength(3);
    expect(mail[0]).toMatch(/snapshot-trigger rejected an invalid event/);
    expect(mail[1]).toMatch(/register-staged-tables rejected an invalid event[\s\S]*Problem: +version: Invalid input/);
  });

  test('register-staged-tables: Glue events of runs Flywheel did not start are ignored', async () => {
    for (const name of ['glue-job-state-change.succeeded.json', 'glue-job-state-change.failed.json']) {
      expect(await makeRegisterStagedTablesHandler(rt.deps)(event(name))).toMatchObject({ declined: 'ignored', reason: 'job run belongs to no Flywheel run' });
    }
    expect(await outbox(home)).toEqual([]);
  });

  test('bucketed-tables: Athena events of unknown queries and Stage Completed of unknown runs are ignored', async () => {
    const handler = makeBucketedTablesHandler(rt.deps);
    await handler(event('athena-query-state-change.succeeded.json'));
    await handler(event('athena-query-state-change.failed.json'));
    await handler(event('stage-completed.register-staged-tables.json'));
    expect(await outbox(home)).toEqual([]);
    expect(await rt.catalog.listTables('flywheel')).toEqual([]);
  });

  test('the Glue SUCCEEDED event of a real run registers ext_ tables and hands off to bucketed-tables', async () => {
    await makeSnapshotTriggerHandler(rt.deps)(event('manual-trigger.json'));
    await rt.bus.drain();
    const l = (await ledger(rt, '2025-10-31'))!;
    expect(l.status).toBe('SUCCEEDED');
    const glue = rt.bus.published.find((e) => e.source === 'aws.glue')!;
    expect(glue.detail).toMatchObject({ state: 'SUCCEEDED', jobRunId: l.stages['split-and-bucket'].jobRunId });
    // re-delivering the same Glue event (at-least-once) changes nothing
    expect(await makeRegisterStagedTablesHandler(rt.deps)(glue)).toMatchObject({ declined: 'ignored', reason: 'duplicate job state event ignored' });
  });
});

describe('register-staged-tables: table discovery', () => {
  test('a table written as key=value sub-folders is registered partitioned by that key', async () => {
    const home = await sampleHome(100);
    const rt = await open(home);
    try {
      const [started] = (await makeSnapshotTriggerHandler(rt.deps)({
        dataset: 'infobase',
        snapshotDt: '2025-10-31',
        tables: ['miacs_02'],
      })) as StartRunResult[];
      if (started?.outcome !== 'started') throw new Error('not started');
      const out = rt.db.localPath(started.plan.tables[0]!.outputUri);
      for (const half of ['0', '1']) {
        await fs.mkdir(path.join(out, `half=${half}`), { recursive: true });
        await rt.db.run(
          `COPY (SELECT 'id${half}' AS customer_user_id, 'tier' AS miacs_12_001, true AS miacs_12_002, 1 AS id_bucket) TO '${path.join(out, `half=${half}`, 'part-0.parquet')}' (FORMAT parquet)`,
        );
      }
      const result = await makeRegisterStagedTablesHandler(rt.deps)({
        ...event('glue-job-state-change.succeeded.json'),
        detail: { jobName: 'flywheel-local-infobase-split-and-bucket', state: 'SUCCEEDED', jobRunId: started.jobRunId },
      });
      expect(result).toEqual({ outcome: 'registered', tables: ['miacs_02'] });
      const ext = (await rt.catalog.getTable('flywheel', 'ext_miacs_02'))!;
      expect(ext.partitionKeys).toEqual([{ name: 'half', type: 'string' }]);
      expect(ext.columns.map((c) => c.name)).toEqual(['customer_user_id', 'miacs_12_001', 'miacs_12_002', 'id_bucket']);
      expect((await rt.catalog.getPartitions('flywheel', 'ext_miacs_02')).map((p) => p.values)).toEqual([['0'], ['1']]);
      expect(Number((await rt.db.all('SELECT count(*) AS n FROM flywheel.ext_miacs_02'))[0]!.n)).toBe(2);
    } finally {
      rt.close();
    }
  });
});
