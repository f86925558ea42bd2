// Issue 18 point 7: the bucket count is configuration (FLYWHEEL_BUCKET_COUNT locally, the stage parameter bucketCount
// on AWS). A deployment that changes it re-buckets every table at its next snapshot: part_ has exactly N id_bucket
// partitions (the old snapshot's other partitions leave the catalog with the switch), bucketed_ is a Hive table of N
// buckets whose file for bucket b holds exactly the ids of bucket b, and the monitor checks against N with no alert.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { bucketOf, duckdbBucketSql } from '../../shared/domain/bucket.js';
import { INFOBASE } from '../../shared/domain/config.js';
import { runLocal } from '../../shared/local/run-local.js';
import { count, lakePath, ledger, open, outbox, sampleHome, withEnv } from './harness.js';

const withBucketCount = <T>(value: string | undefined, body: () => Promise<T>) => withEnv('FLYWHEEL_BUCKET_COUNT', value, body);

test('a snapshot run with 16 buckets after one with 256: every table re-bucketed to 16, the monitor clean', async () => {
  const home = await sampleHome(600, true);
  // 2025-09-30 with the default 256 buckets, then the deployment moves to 16 and the next snapshot runs
  expect(await withBucketCount(undefined, () => runLocal({ home, snapshotDt: '2025-09-30' }))).toBe(0);
  expect(await withBucketCount('16', () => runLocal({ home }))).toBe(0);

  await withBucketCount('16', async () => {
    const rt = await open(home);
    try {
      expect(rt.deps.config.bucketCount).toBe(16);
      expect((await ledger(rt, '2025-10-31'))!.status).toBe('SUCCEEDED');
      for (const t of ['ibe_01a', 'miacs_02', 'addressable_ids']) {
        // id_bucket is the bucket function among 16 (the pure-SQL form checks the extension's), over every bucket 0..15
        expect([t, await count(rt, `select count(*) from part_${t} where id_bucket <> ${duckdbBucketSql('customer_user_id', 16)}`)]).toEqual([t, 0]);
        const buckets = await rt.db.all(`SELECT DISTINCT id_bucket AS b FROM flywheel.part_${t} ORDER BY b`);
        expect([t, buckets.map((r) => Number(r.b))]).toEqual([t, Array.from({ length: 16 }, (_, b) => b)]);
        // the catalog holds the 16 partitions of this snapshot and none of the 256 of the last one
        const partitions = await rt.catalog.getPartitions('flywheel', `part_${t}`);
        expect([t, partitions.length, partitions.every((p) => p.location.includes('snapshot_dt=2025-10-31'))]).toEqual([t, 16, true]);
        // bucketed_: a Hive table of 16 buckets; the file of bucket b (0000bb_…) holds only ids of bucket b
        const def = (await rt.catalog.getTable('flywheel', `bucketed_${t}`))!;
        expect([t, def.bucketing]).toEqual([t, { columns: ['customer_user_id'], count: 16 }]);
        const dir = rt.db.localPath(def.location);
        const files = readdirSync(dir).filter((f) => f.endsWith('.parquet') || /^\d{6}_/.test(f));
        expect(new Set(files.map((f) => Number(f.slice(0, 6)))).size).toBe(16);
        for (const f of files) {
          const ids = await rt.db.all(`SELECT DISTINCT customer_user_id AS id FROM read_parquet('${path.join(dir, f)}') WHERE customer_user_id IS NOT NULL`);
          const wrong = ids.filter((r) => bucketOf(String(r.id), 16) !== Number(f.slice(0, 6)));
          expect([t, f, wrong]).toEqual([t, f, []]);
        }
      }
      // the monitor checks 16 buckets: no partition, schema, count or bucket alert, and its report says 16
      rt.bus.invoke('dataMonitor', { options: { freshness_window_days: 100_000 } }); // the sample snapshots are a year old
      await rt.bus.drain();
      const done = rt.bus.published.find((e) => e['detail-type'] === 'Monitor Completed')!;
      const uri = String((done.detail as { reportUri: string }).reportUri).replace(/^s3:\/\//, '');
      const report = JSON.parse(readFileSync(path.join(home, 'lake', uri), 'utf8')) as {
        bucket_count: number;
        alert_details: Array<{ code: string; table?: string; message?: string }>;
      };
      expect(report.bucket_count).toBe(16);
      // (PK_NULL: the sample lake writes one NULL key per table on purpose)
      expect(report.alert_details.filter((a) => a.code !== 'PK_NULL')).toEqual([]);
      expect(report.alert_details.length).toBeGreaterThan(0);
    } finally {
      rt.close();
    }
  });
  // no run failed on the way (only the monitor's own mails)
  expect((await outbox(home)).filter((m) => /FAILED/.test(m.split('\n')[0]!))).toEqual([]);
  expect(readFileSync(lakePath(home, `${INFOBASE.bucketedPrefix}metadata/snapshot_dt.txt`), 'utf8').trim()).toBe('2025-10-31');
});

test('a bucket count other than a power of two from 2 to 256 is refused before anything runs, naming the variable', async () => {
  const home = await sampleHome(50);
  await withBucketCount('100', async () => {
    await expect(runLocal({ home })).rejects.toThrow(/environment variable FLYWHEEL_BUCKET_COUNT must be a power of two from 2 to 256/);
  });
  expect(readdirSync(path.join(home, 'lake'))).not.toContain('analysis');
});
