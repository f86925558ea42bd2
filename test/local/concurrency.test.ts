// EventBridge delivers at least once: 50 identical copies of each event kind, delivered at once,
// start each job and query exactly once; two snapshots landing together are processed independently.
import type { StartRunResult } from '../../shared/use-cases/snapshot-trigger.js';
import { makeBucketedTablesHandler } from '../../services/bucketed-tables/bucketed-tables.js';
import { makeRegisterStagedTablesHandler } from '../../services/register-staged-tables/register-staged-tables.js';
import { makeSnapshotTriggerHandler } from '../../services/snapshot-trigger/snapshot-trigger.js';
import type { LocalJobRunner } from '../../shared/adapters/local/local-engines.js';
import { count, ledger, markerEvent, open, sampleHome } from './harness.js';

const N = 50;
const at = <T>(n: number, fn: () => Promise<T>) => Promise.all(Array.from({ length: n }, fn));

test(`${N} concurrent duplicates of every event kind: one job, one query per step, one switch`, async () => {
  const home = await sampleHome(400);
  const held: Array<Record<string, any>> = [];
  const hold = new Set(['Glue Job State Change', 'Stage Completed', 'Athena Query State Change']);
  // AWS's ≤100-partition steps (locally one step builds a table): more query events to duplicate
  const rt = await open(home, {
    config: { partitionsPerQuery: 100 },
    observer: { drop: (e) => hold.has((e as { 'detail-type'?: string })['detail-type'] ?? '') && (held.push(e as never), true) },
  });
  const take = (type: string) => {
    const i = held.findIndex((e) => e['detail-type'] === type);
    return i < 0 ? undefined : held.splice(i, 1)[0];
  };
  try {
    const trigger = makeSnapshotTriggerHandler(rt.deps);
    const register = makeRegisterStagedTablesHandler(rt.deps);
    const bucketed = makeBucketedTablesHandler(rt.deps);

    // S3 Object Created ×50 at once
    const results = (await at(N, () => trigger(markerEvent('2025-10-31')))).flat() as StartRunResult[];
    expect(results.filter((r) => r.outcome === 'started')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'duplicate')).toHaveLength(N - 1);
    await rt.bus.drain(); // the one split job runs; its Glue event is held

    // Glue Job State Change ×50 at once
    const glue = take('Glue Job State Change')!;
    expect(take('Glue Job State Change')).toBeUndefined();
    const registered = await at(N, () => register(glue));
    expect(registered.filter((r) => 'outcome' in r && r.outcome === 'registered')).toHaveLength(1);
    await rt.bus.drain();

    // Stage Completed ×50 at once
    const stage = take('Stage Completed')!;
    await at(N, () => bucketed(stage));
    await rt.bus.drain();

    // every Athena Query State Change ×50 at once, until the run is done
    for (let guard = 0; guard < 100; guard++) {
      const athena = take('Athena Query State Change');
      if (!athena) break;
      await at(N, () => bucketed(athena));
      await rt.bus.drain();
    }

    const l = (await ledger(rt, '2025-10-31'))!;
    expect(l.status).toBe('SUCCEEDED');
    const jobRuns = await rt.deps.jobs.jobRunState('', l.stages['split-and-bucket'].jobRunId!);
    expect(jobRuns.state).toBe('SUCCEEDED');
    expect((rt.deps.jobs as LocalJobRunner).startedRuns).toBe(1); // one split job started
    const q = await rt.db.all("SELECT count(*) AS n, count(DISTINCT token) AS tokens FROM flywheel_meta.queries WHERE token NOT LIKE 'monitor-%'");
    expect([Number(q[0]!.n), Number(q[0]!.tokens)]).toEqual([5 * 6, 5 * 6]); // part_ and part_*_er: three ranges each
    for (const t of Object.values(l.tables)) expect(t.steps.map((s) => s.status)).toEqual(Array(7).fill('SUCCEEDED'));
    expect(await count(rt, 'select count(*) from part_ibe_01b')).toBe(400);
    expect(await count(rt, 'select count(*) from bucketed_ibe_01b')).toBe(400);
    expect(rt.bus.published.filter((e) => e['detail-type'] === 'Pipeline Completed')).toHaveLength(1);
  } finally {
    rt.close();
  }
});

test('two snapshots landing together are processed independently', async () => {
  const home = await sampleHome(300);
  const rt = await open(home);
  try {
    const trigger = makeSnapshotTriggerHandler(rt.deps);
    const { promises: fs } = await import('node:fs');
    const { lakePath, RAW } = await import('./harness.js');
    await fs.cp(lakePath(home, `${RAW}snapshot_dt=2025-09-30`), lakePath(home, `${RAW}snapshot_dt=2025-11-30`), { recursive: true });
    await fs.writeFile(lakePath(home, `${RAW}snapshot_dt=2025-11-30/_SUCCESS`), '');
    const [a, b] = await Promise.all([trigger(markerEvent('2025-10-31')), trigger(markerEvent('2025-11-30'))]);
    expect([(a![0] as StartRunResult).outcome, (b![0] as StartRunResult).outcome]).toEqual(['started', 'started']);
    await rt.bus.drain();
    expect((await ledger(rt, '2025-10-31'))!.status).toBe('SUCCEEDED');
    expect((await ledger(rt, '2025-11-30'))!.status).toBe('SUCCEEDED');
  } finally {
    rt.close();
  }
});
