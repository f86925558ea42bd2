// Issue 18 point 7: the staged and final databases can be separate (the current system's STAGED_DB and FINAL_DB):
// FLYWHEEL_STAGED_DATABASE locally, the stage parameter stagedGlueDatabase on AWS. ext_<t> and its staging
// definitions live in the staged database, part_/part_<t>_er/bucketed_ in the final one; the bucketed stage reads
// across them, the monitor counts ext_ where it lives, a replay from bucketed-tables and retention see both. The
// access guard checks every port call against each function's reach, so a call into the wrong database fails here
// as IAM would fail it in AWS.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { makeRetention } from '../../shared/use-cases/retention.js';
import { runLocal } from '../../shared/local/run-local.js';
import { count, ledger, open, outbox, sampleHome, withEnv } from './harness.js';

const STAGED = 'flywheel_staged';

const withStagedDatabase = <T>(body: () => Promise<T>) => withEnv('FLYWHEEL_STAGED_DATABASE', STAGED, body);

test('ext_ in the staged database, the final tables in the final one: the run, the monitor, a replay and retention', async () => {
  const home = await sampleHome(500, true);
  await withStagedDatabase(async () => {
    expect(await runLocal({ home, snapshotDt: '2025-09-30' })).toBe(0);
    expect(await runLocal({ home })).toBe(0);
    const rt = await open(home);
    try {
      expect([rt.deps.config.database, rt.deps.config.stagedDatabase]).toEqual(['flywheel', STAGED]);
      const names = async (database: string) => (await rt.catalog.listTables(database)).map((t) => t.name);
      const staged = await names(STAGED);
      const final = await names('flywheel');
      // every ext_ (and no staging definition left over) in the staged database; none of them in the final one
      expect(staged.sort()).toEqual(['ext_addressable_ids', 'ext_ibe_01a', 'ext_ibe_01b', 'ext_ibe_04', 'ext_miacs_01', 'ext_miacs_02']);
      expect(final.filter((n) => n.startsWith('ext_') || n.includes('__'))).toEqual([]);
      expect(final).toEqual(expect.arrayContaining(['part_ibe_01a', 'part_ibe_01a_er', 'bucketed_ibe_01a', 'part_addressable_ids']));
      // the same rows on both sides of the databases, on the new snapshot
      for (const t of ['ibe_01a', 'addressable_ids']) {
        const ext = Number((await rt.db.all(`SELECT count(*) AS n FROM "${STAGED}"."ext_${t}"`))[0]!.n);
        expect([t, await count(rt, `select count(*) from part_${t}`), await count(rt, `select count(*) from bucketed_${t}`)]).toEqual([t, ext, ext]);
        expect((await rt.catalog.getTable(STAGED, `ext_${t}`))!.parameters.snapshot_dt).toBe('2025-10-31');
      }

      // the monitor counts ext_ in the staged database: the comparison ran, found the counts equal, and says where
      rt.bus.invoke('dataMonitor', { options: { freshness_window_days: 100_000 } });
      await rt.bus.drain();
      const done = rt.bus.published.find((e) => e['detail-type'] === 'Monitor Completed')!;
      const uri = String((done.detail as { reportUri: string }).reportUri).replace(/^s3:\/\//, '');
      const report = JSON.parse(readFileSync(path.join(home, 'lake', uri), 'utf8')) as {
        compare: { db: string };
        alert_details: Array<{ code: string }>;
        tables: Array<{ table: string; count_src?: number; count_part?: number }>;
      };
      expect(report.compare.db).toBe(STAGED);
      expect(report.alert_details.filter((a) => a.code !== 'PK_NULL')).toEqual([]);
      const ibe = report.tables.find((t) => t.table === 'part_ibe_01a')!;
      expect([ibe.count_src, ibe.count_part]).toEqual([500, 500]);

      // a replay from bucketed-tables copies ext_ to the new run's staging name in the staged database and rebuilds
      rt.bus.deliver(
        rt.bus.envelope('flywheel.ops', 'Replay Requested', {
          dataset: 'infobase',
          snapshotDt: '2025-10-31',
          fromStage: 'bucketed-tables',
          tables: ['ibe_04'],
          reason: 'test',
        }),
      );
      await rt.bus.drain();
      const l = (await ledger(rt, '2025-10-31'))!;
      expect([l.trigger.kind, l.status, l.tables.ibe_04!.status]).toEqual(['replay', 'SUCCEEDED', 'SUCCEEDED']);
      expect(await count(rt, 'select count(*) from part_ibe_04')).toBe(500);
      expect((await names(STAGED)).filter((n) => n.includes('__'))).toEqual([]);
    } finally {
      rt.close();
    }
    // ibe_01a rolled back to 2025-09-30: its ext_ (staged database) points at that snapshot's split output, which only
    // the staged database protects from retention (part_ and bucketed_ point under the bucketed base)
    expect(await runLocal({ home, snapshotDt: '2025-09-30', tables: ['ibe_01a'] })).toBe(0);
    const again = await open(home);
    try {
      const rt = again;
      const kept = await makeRetention(rt.deps)(1, { dryRun: true });
      const extLocation = (await rt.catalog.getTable(STAGED, 'ext_ibe_01a'))!.location;
      const extRun = /^s3:\/\/[^/]+\/(.*\/run_id=[^/]+\/)/.exec(extLocation)![1]!;
      expect(extRun).toContain('snapshot_dt=2025-09-30');
      expect(kept.kept).toContain(extRun);
      // and nothing a live table of either database points at is among what it would delete
      const live: string[] = [];
      for (const database of ['flywheel', STAGED])
        for (const t of await rt.catalog.listTables(database)) {
          live.push(t.location);
          if (t.partitionKeys.length > 0) live.push(...(await rt.catalog.getPartitions(database, t.name)).map((p) => p.location));
        }
      expect(kept.deleted.filter((f) => live.some((l) => l.includes(`/${f}`)))).toEqual([]);
      expect(kept.deleted.length).toBeGreaterThan(0);
    } finally {
      again.close();
    }
  });
  expect((await outbox(home)).filter((m) => /FAILED/.test(m.split('\n')[0]!))).toEqual([]);
});

test('a staged database name that is not a Glue name is refused before anything runs', async () => {
  const home = await sampleHome(50);
  await withEnv('FLYWHEEL_STAGED_DATABASE', 'Staged-DB', async () => {
    await expect(runLocal({ home })).rejects.toThrow(/environment variable FLYWHEEL_STAGED_DATABASE=Staged-DB is not a Glue database name/);
  });
});
