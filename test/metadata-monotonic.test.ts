// Issue 15: a snapshot's metadata never goes back to an older snapshot than the live one. Two ready
// markers in one S3 notification, newer first: both runs go through, the older one's split and build
// finish last, and yet metadata/snapshot_dt.txt (under the split output and under the bucketed base)
// stays on the newer snapshot the live tables serve.
import { readFileSync } from 'node:fs';
import { runSplitPlan } from '../shared/adapters/local/local-engines.js';
import { INFOBASE } from '../shared/domain/config.js';
import type { LocalEngineRuntime as LocalRuntime } from '../shared/composition/local.js';
import { makeSnapshotTriggerHandler } from '../services/snapshot-trigger/snapshot-trigger.js';
import { ledger, markerEvent, open, outbox, RAW, sampleHome } from './local/harness.js';

const sample = (name: string) => JSON.parse(readFileSync(new URL(`../events/${name}`, import.meta.url), 'utf8')) as Record<string, any>;

function records(...snapshots: string[]) {
  const r = sample('s3-notification.records.json').Records[0];
  return {
    Records: snapshots.map((d, i) => ({ ...r, s3: { ...r.s3, object: { ...r.s3.object, key: `${RAW}snapshot_dt%3D${d}/_SUCCESS`, sequencer: `SEQ${i}` } } })),
  };
}

async function text(rt: LocalRuntime, key: string): Promise<string | undefined> {
  const got = await rt.store.get('data', key);
  return got && new TextDecoder().decode(got.body);
}

const SPLIT_META = `${INFOBASE.splitPrefix}metadata/snapshot_dt.txt`;
const LIVE_META = `${INFOBASE.bucketedPrefix}metadata/snapshot_dt.txt`;

describe('metadata/snapshot_dt.txt never moves backwards', () => {
  let home: string;
  let rt: LocalRuntime;
  beforeEach(async () => {
    home = await sampleHome(120);
    rt = await open(home);
  });
  afterEach(() => rt.close());

  test('two snapshot markers in one Records event, newer first: metadata ends on the newer, as the live tables do', async () => {
    rt.bus.deliver(records('2025-10-31', '2025-09-30'));
    await rt.bus.drain();
    const newer = (await ledger(rt, '2025-10-31'))!;
    const older = (await ledger(rt, '2025-09-30'))!;
    expect(newer.status).toBe('SUCCEEDED');
    // the older run ran after it: its split wrote its tables, its build left the newer live tables alone
    expect(older.stages['split-and-bucket'].status).toBe('SUCCEEDED');
    expect(older.stages['split-and-bucket'].startedAt! >= newer.stages['split-and-bucket'].startedAt!).toBe(true);
    const live = await rt.catalog.getTable('flywheel', 'part_ibe_01a');
    expect(live?.parameters.snapshot_dt).toBe('2025-10-31');
    expect(await text(rt, SPLIT_META)).toBe('2025-10-31\n');
    expect(await text(rt, LIVE_META)).toBe('2025-10-31\n');
    expect(await outbox(home)).not.toContainEqual(expect.stringMatching(/FAILED/));
  });

  test('the same markers older first end on the newer as well (the forward move is kept)', async () => {
    rt.bus.deliver(records('2025-09-30', '2025-10-31'));
    await rt.bus.drain();
    expect((await ledger(rt, '2025-10-31'))!.status).toBe('SUCCEEDED');
    expect(await text(rt, SPLIT_META)).toBe('2025-10-31\n');
    expect(await text(rt, LIVE_META)).toBe('2025-10-31\n');
  });

  test('the DuckDB twin of the split never writes an older snapshot over a newer one, and replaces an unreadable one', async () => {
    rt.bus.invoke('snapshotTrigger', { dataset: 'infobase', snapshotDt: '2025-09-30', tables: ['ibe_01a'] });
    await rt.bus.drain();
    const l = (await ledger(rt, '2025-09-30'))!;
    expect(await text(rt, SPLIT_META)).toBe('2025-09-30\n');
    let n = 0;
    const rerun = async () => {
      // the same plan again, into a fresh output folder (the twin refuses a non-empty one)
      const plan = JSON.parse((await text(rt, l.planUri!.replace('s3://data/', '')))!);
      plan.runId = `${plan.runId}-again${++n}`;
      for (const t of plan.tables) t.outputUri = t.outputUri.replace(/run_id=[^/]+\/$/, `run_id=${plan.runId}/`);
      const key = `${INFOBASE.runsPrefix}snapshot_dt=2025-09-30/run_id=${plan.runId}/plan.json`;
      await rt.store.put('data', key, JSON.stringify(plan));
      await runSplitPlan(rt.db, rt.store, `s3://data/${key}`, ['ibe_01a']);
    };
    await rt.store.put('data', SPLIT_META, '2025-10-31\n');
    await rerun();
    expect(await text(rt, SPLIT_META)).toBe('2025-10-31\n');
    await rt.store.put('data', SPLIT_META, 'garbage\n');
    await rerun();
    expect(await text(rt, SPLIT_META)).toBe('2025-09-30\n');
  });

  test('bucketed-tables: a run of an older snapshot finishing after a newer one was published never moves the live metadata back', async () => {
    // the older snapshot's marker event starts its run (its split job is queued behind) ...
    const [started] = await makeSnapshotTriggerHandler(rt.deps)(markerEvent('2025-09-30'));
    expect(started).toMatchObject({ outcome: 'started' });
    // ... and meanwhile a run of the newer snapshot published (here: only its metadata, its tables elsewhere)
    await rt.store.put('data', LIVE_META, '2025-10-31\n');
    await rt.bus.drain();
    expect((await ledger(rt, '2025-09-30'))!.status).toBe('SUCCEEDED');
    expect(await text(rt, LIVE_META)).toBe('2025-10-31\n');
  });

  test('a deliberate replay of an older snapshot (a rollback) switches the live tables back, and the live metadata follows them', async () => {
    rt.bus.deliver(records('2025-10-31'));
    await rt.bus.drain();
    expect(await text(rt, LIVE_META)).toBe('2025-10-31\n');
    rt.bus.deliver({
      version: '0',
      id: 'rollback-1',
      'detail-type': 'Replay Requested',
      source: 'flywheel.ops',
      account: '000000000000',
      time: '2025-11-01T00:00:00Z',
      region: 'local',
      resources: [],
      detail: { dataset: 'infobase', snapshotDt: '2025-09-30', fromStage: 'snapshot-trigger', reason: 'roll back on purpose' },
    });
    await rt.bus.drain();
    expect((await rt.catalog.getTable('flywheel', 'part_ibe_01a'))?.parameters.snapshot_dt).toBe('2025-09-30');
    expect(await text(rt, LIVE_META)).toBe('2025-09-30\n');
    // the split's own marker records the newest snapshot ever split: it does not go back
    expect(await text(rt, SPLIT_META)).toBe('2025-10-31\n');
  });
});
