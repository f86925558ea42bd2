// Lost events: the local bus drops each kind of state-change event in turn; the reconciler alone
// completes the run, once.
import type { ReconcileReport } from '../../shared/use-cases/reconciler.js';
import { makeReconcilerHandler } from '../../services/reconciler/reconciler.js';
import { count, ledger, open, runPipeline, sampleHome } from './harness.js';

const lose = (type: string) => (event: unknown) => (event as { 'detail-type'?: string })['detail-type'] === type;

describe.each(['Glue Job State Change', 'Athena Query State Change', 'Stage Completed'])('when every %s is lost', (type) => {
  test('the reconciler completes the run; the job ran once, each query once', async () => {
    const home = await sampleHome(300);
    const rt = await open(home, { config: { partitionsPerQuery: 100 }, observer: { drop: lose(type) } });
    try {
      await runPipeline(rt);
      expect((await ledger(rt, '2025-10-31'))!.status).toBe('RUNNING'); // stalled
      const reconcile = makeReconcilerHandler(rt.deps);
      for (let round = 0; round < 40 && (await ledger(rt, '2025-10-31'))!.status === 'RUNNING'; round++) {
        await reconcile({});
        await rt.bus.drain();
      }
      const l = (await ledger(rt, '2025-10-31'))!;
      expect(l.status).toBe('SUCCEEDED');
      expect(await count(rt, 'select count(*) from part_miacs_01')).toBe(300);
      const queries = await rt.db.all("SELECT count(*) AS n, count(DISTINCT token) AS tokens FROM flywheel_meta.queries WHERE token NOT LIKE 'monitor-%'");
      expect(Number(queries[0]!.n)).toBe(5 * 6);
      expect(Number(queries[0]!.tokens)).toBe(5 * 6);
      expect(Object.values(l.tables).every((t) => t.steps.every((s) => s.status === 'SUCCEEDED'))).toBe(true);
      // once done, nothing is in flight and reconciling again changes nothing
      expect(await reconcile({})).toEqual({ inFlight: [], advanced: [], timedOut: [] });
    } finally {
      rt.close();
    }
  });
});

test('a stage in flight past its timeout alerts once', async () => {
  const home = await sampleHome(100);
  let now = new Date('2025-11-01T00:00:00Z');
  const rt = await open(home, {
    config: { partitionsPerQuery: 100 },
    clock: { now: () => now },
    observer: { drop: lose('Glue Job State Change') },
    faults: {},
  });
  try {
    // the job never reports and Glue still says RUNNING
    rt.deps.jobs.jobRunState = async () => ({ state: 'RUNNING' });
    rt.bus.invoke('snapshotTrigger', { dataset: 'infobase', rerun: true });
    await rt.bus.drain();
    const reconcile = makeReconcilerHandler(rt.deps);
    expect(((await reconcile({})) as ReconcileReport).timedOut).toEqual([]);
    now = new Date('2025-11-01T13:00:00Z');
    expect(((await reconcile({})) as ReconcileReport).timedOut).toHaveLength(1);
    await reconcile({});
    const { outbox } = await import('./harness.js');
    const mail = (await outbox(home)).filter((m) => m.includes('has been in flight for'));
    expect(mail).toHaveLength(1);
    expect(mail[0]).toMatch(/split-and-bucket has been in flight for 780 minutes \(timeout 720\)/);
    // the ledger's updates are stamped by the deps' Clock, as every other time in it
    expect((await ledger(rt, (await rt.deps.store.list('data', '_runs/infobase/')).objects[0]!.key.match(/snapshot_dt=([\d-]+)/)![1]!))!.updatedAt).toBe(
      '2025-11-01T13:00:00.000Z',
    );
  } finally {
    rt.close();
  }
});
