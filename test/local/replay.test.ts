// Replay Requested: strict validation, dry run, duplicate and archive deliveries, in-flight refusal,
// and a failed table replayed to completion with no rows lost or doubled.
import type { LocalEngineRuntime as LocalRuntime } from '../../shared/composition/local.js';
import { count, ledger, open, outbox, runPipeline, sampleHome } from './harness.js';

const request = (rt: LocalRuntime, detail: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  ...rt.bus.envelope('flywheel.ops', 'Replay Requested', { dataset: 'infobase', snapshotDt: '2025-10-31', reason: 'test', ...detail }),
  ...extra,
});
async function send(rt: LocalRuntime, event: unknown) {
  rt.bus.deliver(event);
  await rt.bus.drain();
}

describe('Replay Requested', () => {
  let home: string;
  let rt: LocalRuntime;
  beforeAll(async () => {
    home = await sampleHome(500);
    // ibe_04's second range fails once: the run ends FAILED for that table
    let failOnce = true;
    rt = await open(home, {
      config: { partitionsPerQuery: 100 },
      faults: {
        step: (s) => {
          if (s.table !== 'ibe_04' || s.fromBucket !== 100 || !failOnce) return undefined;
          failOnce = false;
          return 'HIVE_BAD_DATA: injected';
        },
      },
    });
    await runPipeline(rt);
  });
  afterAll(() => rt.close());

  test.each([
    [{ fromStage: 'bucketing' }, /fromStage/],
    [{ snapshotDt: '2025-02-30' }, /not a real calendar date/],
    [{ snapshotDt: '31/10/2025' }, /YYYY-MM-DD/],
    [{ tables: ['IBE_04; DROP'] }, /lower-case letters/],
    [{ tables: Array.from({ length: 257 }, (_, i) => `t${i}`) }, /at most 256 tables/],
    [{ reason: '' }, /say why/],
    [{ extra: 1 }, /Unrecognized key/i],
    [{ dataset: 'nope' }, /unknown dataset nope/],
  ])('invalid request %# is refused with an alert and starts nothing', async (detail, message) => {
    const before = (await ledger(rt, '2025-10-31'))!.runId;
    const mail = (await outbox(home)).length;
    await send(rt, request(rt, detail));
    expect((await ledger(rt, '2025-10-31'))!.runId).toBe(before);
    const alerts = (await outbox(home)).slice(mail);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatch(/replay rejected an invalid event/);
    expect(alerts[0]).toMatch(message);
  });

  test('the run left ibe_04 failed; the alert carries the replay command', async () => {
    const l = (await ledger(rt, '2025-10-31'))!;
    expect(l.tables.ibe_04!.status).toBe('FAILED');
    expect(
      (await outbox(home)).some((m) => m.includes('npx flywheel replay') && m.includes('--snapshot 2025-10-31 --from-stage bucketed-tables --tables ibe_04')),
    ).toBe(true);
  });

  test('a dry run returns the plan and changes nothing', async () => {
    const { makeReplay } = await import('../../shared/use-cases/replay.js');
    const before = JSON.stringify(await ledger(rt, '2025-10-31'));
    const outcome = await makeReplay(rt.deps)({
      dataset: 'infobase',
      snapshotDt: '2025-10-31',
      tables: ['ibe_04'],
      dryRun: true,
      reason: 't',
      requestId: 'dry',
    });
    expect(outcome).toMatchObject({ outcome: 'planned', plan: { fromStage: 'bucketed-tables', stages: ['bucketed-tables'], tables: ['ibe_04'], jobs: [] } });
    expect(JSON.stringify(await ledger(rt, '2025-10-31'))).toBe(before);
  });

  test('a replay while a run is in flight is refused', async () => {
    const { makeReplay } = await import('../../shared/use-cases/replay.js');
    const { makeLedgerStore } = await import('../../shared/use-cases/ledger-store.js');
    const store = makeLedgerStore(rt.store, rt.deps.config, rt.deps.clock);
    const l = (await ledger(rt, '2025-10-31'))!;
    await store.update(l, (x) => {
      x.status = 'RUNNING';
      return true;
    });
    const mailsBefore = (await outbox(home)).length;
    const eventsBefore = rt.bus.published.length;
    const outcome = await makeReplay(rt.deps)({ dataset: 'infobase', snapshotDt: '2025-10-31', reason: 't', requestId: 'inflight' });
    expect(outcome).toMatchObject({ outcome: 'refused', reason: expect.stringMatching(/still in flight; replay refused/) });
    // one e-mail titled as a refusal (no stage failed), with the cause, the fix and the request to send again
    const mails = (await outbox(home)).slice(mailsBefore);
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatch(/^Subject: \[Flywheel\] replay refused infobase snapshot_dt=2025-10-31 from bucketed-tables$/m);
    expect(mails[0]).toMatch(/^Cause: +run .* is still in flight; replay refused/m);
    expect(mails[0]).toMatch(/^Fix: +replay once the run has finished$/m);
    expect(mails[0]).toMatch(/Nothing was started/);
    expect(mails[0]).toMatch(/npx flywheel replay .*--snapshot 2025-10-31 --from-stage bucketed-tables/);
    expect(mails[0]).not.toMatch(/FAILED/);
    expect(rt.bus.published.slice(eventsBefore).map((e) => e['detail-type'])).not.toContain('Stage Failed');
    await store.update(l, (x) => {
      x.status = 'FAILED';
      return true;
    });
  });

  test('replaying the failed table completes the run: no rows lost or doubled; a duplicate delivery starts nothing', async () => {
    const event = request(rt, { fromStage: 'bucketed-tables', tables: ['ibe_04'] });
    await send(rt, event);
    const l = (await ledger(rt, '2025-10-31'))!;
    expect(l.trigger.kind).toBe('replay');
    expect(l.tables.ibe_04!.status).toBe('SUCCEEDED');
    expect(await count(rt, 'select count(*) from part_ibe_04')).toBe(500);
    expect(
      await count(
        rt,
        'select count(*) from (select customer_user_id, count(*) c from part_ibe_04 where customer_user_id is not null group by 1 having count(*) > 1)',
      ),
    ).toBe(0);
    expect(await count(rt, 'select count(*) from bucketed_ibe_04')).toBe(500);
    await send(rt, event);
    expect((await ledger(rt, '2025-10-31'))!.runId).toBe(l.runId);
    // the same request re-sent from the bus archive is a deliberate re-run
    await send(rt, { ...event, 'replay-name': 'archive-replay-1' });
    expect((await ledger(rt, '2025-10-31'))!.runId).not.toBe(l.runId);
    expect(await count(rt, 'select count(*) from part_ibe_04')).toBe(500);
  });
});
