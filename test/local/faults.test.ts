// Fault injection, each stage in turn: afterwards the live tables still answer with the previous
// snapshot, the ledger says what failed, an alert went out, and a replay or the reconciler completes
// the run with no duplicated or missing rows. (Job and query failures: bad-input.test.ts.)
import { makeReconcilerHandler } from '../../services/reconciler/reconciler.js';
import type { LocalOptions, LocalEngineRuntime as LocalRuntime } from '../../shared/composition/local.js';
import { count, ledger, liveHome, open, outbox, runPipeline } from './harness.js';

const live = async (rt: LocalRuntime, t: string) => [
  (await rt.catalog.getTable('flywheel', t))!.parameters.snapshot_dt,
  await count(rt, `select count(*) from ${t}`),
];
const noDupes = async (rt: LocalRuntime, t: string) =>
  count(rt, `select count(*) from (select customer_user_id from ${t} where customer_user_id is not null group by 1 having count(*) > 1)`);

test('the catalog update of the switch fails: previous snapshot stays live, alert, replay completes', async () => {
  const home = await liveHome();
  const rt = await open(home);
  try {
    const switchTables = rt.catalog.switchTables.bind(rt.catalog);
    let failures = 0;
    rt.catalog.switchTables = async (db, switches) => {
      if (switches.some((s) => s.table.name.startsWith('part_')) && failures++ === 0)
        throw new Error('AccessDeniedException: glue:BatchUpdatePartition (injected)');
      return switchTables(db, switches);
    };
    await runPipeline(rt, { dataset: 'infobase' });
    const l = (await ledger(rt, '2025-10-31'))!;
    expect(l.stages['bucketed-tables']).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/injected/) });
    expect((await outbox(home)).some((m) => /switching the live tables failed: AccessDeniedException/.test(m) && /npx flywheel replay/.test(m))).toBe(true);
    for (const t of ['part_ibe_01a', 'bucketed_ibe_01a', 'part_miacs_02']) expect(await live(rt, t)).toEqual(['2025-09-30', 396]);

    rt.bus.deliver(rt.bus.envelope('flywheel.ops', 'Replay Requested', { dataset: 'infobase', snapshotDt: '2025-10-31', reason: 'after the catalog fault' }));
    await rt.bus.drain();
    expect((await ledger(rt, '2025-10-31'))!.status).toBe('SUCCEEDED');
    for (const t of ['part_ibe_01a', 'bucketed_ibe_01a', 'part_miacs_02']) {
      expect(await live(rt, t)).toEqual(['2025-10-31', 400]);
      expect(await noDupes(rt, t)).toBe(0);
    }
  } finally {
    rt.close();
  }
});

test('the process is killed between writing the data and switching the tables: the reconciler finishes the run', async () => {
  const home = await liveHome();
  // the last query events of the run never get handled: the process dies with them queued
  let athenaEvents = 0;
  const options: Partial<LocalOptions> = {
    config: { partitionsPerQuery: 100 },
    observer: { drop: (e) => (e as { 'detail-type'?: string })['detail-type'] === 'Athena Query State Change' && ++athenaEvents > 10 },
  };
  const first = await open(home, options);
  await runPipeline(first, { dataset: 'infobase' });
  first.close(); // killed
  // reopened with local mode's one-step builds: the run goes on with the ≤100-partition steps its ledger planned
  const rt = await open(home);
  try {
    expect((await ledger(rt, '2025-10-31'))!.status).toBe('RUNNING');
    for (const t of ['part_ibe_04', 'part_miacs_02']) expect(await live(rt, t)).toEqual(['2025-09-30', 396]);
    const reconcile = makeReconcilerHandler(rt.deps);
    for (let i = 0; i < 20 && (await ledger(rt, '2025-10-31'))!.status === 'RUNNING'; i++) {
      await reconcile({});
      await rt.bus.drain();
    }
    const l = (await ledger(rt, '2025-10-31'))!;
    expect(l.status).toBe('SUCCEEDED');
    for (const t of ['part_ibe_01a', 'part_ibe_04', 'part_miacs_02', 'bucketed_miacs_02']) {
      expect(await live(rt, t)).toEqual(['2025-10-31', 400]);
      expect(await noDupes(rt, t)).toBe(0);
    }
  } finally {
    rt.close();
  }
});

test('the split job fails: previous snapshot stays live, the alert carries both replay commands, the replay completes', async () => {
  const home = await liveHome();
  let fail = true;
  const rt = await open(home, { faults: { job: () => (fail ? 'AnalysisException: injected' : undefined) } });
  try {
    await runPipeline(rt, { dataset: 'infobase' });
    expect((await ledger(rt, '2025-10-31'))!.stages['split-and-bucket']).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/injected/) });
    const mail = (await outbox(home)).find((m) => m.includes('split-and-bucket FAILED'))!;
    expect(mail).toMatch(/npx flywheel replay .*--snapshot 2025-10-31 --from-stage split-and-bucket/);
    expect(mail).toMatch(
      /In AWS: aws events put-events --entries '\[\{"EventBusName":"flywheel-<stage>","Source":"flywheel.ops","DetailType":"Replay Requested"/,
    );
    expect(await live(rt, 'part_ibe_01b')).toEqual(['2025-09-30', 396]);
    fail = false;
    rt.bus.deliver(rt.bus.envelope('flywheel.ops', 'Replay Requested', { dataset: 'infobase', snapshotDt: '2025-10-31', reason: 'after the job fault' }));
    await rt.bus.drain();
    const l = (await ledger(rt, '2025-10-31'))!;
    expect(l.status).toBe('SUCCEEDED');
    expect(l.history.map((h) => h.status)).toEqual(['FAILED']);
    for (const t of ['part_ibe_01b', 'bucketed_miacs_01']) {
      expect(await live(rt, t)).toEqual(['2025-10-31', 400]);
      expect(await noDupes(rt, t)).toBe(0);
    }
  } finally {
    rt.close();
  }
});
