// Retention: older snapshots' data goes only after the newest is live and the monitor found it intact;
// nothing a live table points at is ever deleted.
import { promises as fs, existsSync } from 'node:fs';
import type { LocalEngineRuntime as LocalRuntime } from '../../shared/composition/local.js';
import { makeRetention } from '../../shared/use-cases/retention.js';
import { count, lakePath, open, RAW, runPipeline, sampleHome } from './harness.js';

const folders = async (rt: LocalRuntime, prefix: string) => {
  const { objects } = await rt.store.list('data', prefix);
  return [...new Set(objects.map((o) => /snapshot_dt=[^/]+\/run_id=[^/]+\//.exec(o.key)?.[0]).filter(Boolean))].sort();
};

test('three snapshots, retain 2: the oldest is removed after the newest checks out; live data untouched', async () => {
  const home = await sampleHome(300);
  await fs.cp(lakePath(home, `${RAW}snapshot_dt=2025-10-31`), lakePath(home, `${RAW}snapshot_dt=2025-11-30`), { recursive: true });
  const rt = await open(home, { monitor: { retain_snapshots: 0 } });
  try {
    for (const snap of ['2025-09-30', '2025-10-31', '2025-11-30']) await runPipeline(rt, { dataset: 'infobase', snapshotDt: snap, rerun: true });
    const partBase = 'omc_cleanroom_data/cleanroom_tables/bucketed/part_ibe_04/';
    expect((await folders(rt, partBase)).map((f) => f!.slice(0, 22))).toEqual(['snapshot_dt=2025-09-30', 'snapshot_dt=2025-10-31', 'snapshot_dt=2025-11-30']);

    // a dry run deletes nothing
    expect((await makeRetention(rt.deps)(2, { dryRun: true })).deleted.filter((f) => f.includes('2025-09-30')).length).toBeGreaterThan(0);
    expect(await folders(rt, partBase)).toHaveLength(3);

    // the monitor (retain 2) finds the live data intact and applies retention
    rt.bus.invoke('dataMonitor', { options: { retain_snapshots: 2 } });
    await rt.bus.drain();
    const done = rt.bus.published.filter((e) => e['detail-type'] === 'Monitor Completed').at(-1)!.detail as {
      intact: boolean;
      retention: { deleted: string[] };
    };
    expect(done.intact).toBe(true);
    expect(done.retention.deleted.every((f) => f.includes('snapshot_dt=2025-09-30'))).toBe(true);
    expect((await folders(rt, partBase)).map((f) => f!.slice(0, 22))).toEqual(['snapshot_dt=2025-10-31', 'snapshot_dt=2025-11-30']);
    expect((await folders(rt, 'omc_cleanroom_data/split_cluster/infobase_attributes/ibe_04/')).map((f) => f!.slice(0, 22))).toEqual([
      'snapshot_dt=2025-10-31',
      'snapshot_dt=2025-11-30',
    ]);
    expect(await count(rt, 'select count(*) from part_ibe_04')).toBe(300);
    expect(await count(rt, 'select count(*) from bucketed_ibe_04')).toBe(300);
  } finally {
    rt.close();
  }
});

test('a live table pointing at an old snapshot (rolled back) keeps it, whatever its age', async () => {
  const home = await sampleHome(200);
  await fs.cp(lakePath(home, `${RAW}snapshot_dt=2025-10-31`), lakePath(home, `${RAW}snapshot_dt=2025-11-30`), { recursive: true });
  const rt = await open(home, { monitor: { retain_snapshots: 0 } });
  try {
    for (const snap of ['2025-10-31', '2025-11-30', '2025-09-30']) await runPipeline(rt, { dataset: 'infobase', snapshotDt: snap, rerun: true }); // the last is a deliberate rollback
    const live = (await rt.catalog.getTable('flywheel', 'part_miacs_01'))!;
    expect(live.parameters.snapshot_dt).toBe('2025-09-30');
    const result = await makeRetention(rt.deps)(1);
    // the live part_/bucketed_ data of the rolled-back snapshot stays (its split output, which no table points at, may go)
    expect(result.deleted.filter((f) => f.includes('2025-09-30') && f.includes('cleanroom_tables'))).toEqual([]);
    expect(existsSync(rt.db.localPath(live.location))).toBe(true);
    expect(await count(rt, 'select count(*) from part_miacs_01')).toBe(198);
  } finally {
    rt.close();
  }
});
