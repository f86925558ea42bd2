// Chargebacks consolidation, locally: numbers checked against independent counts over the landing files.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { consolidationWindow, dayPartition, dedupeSql, metricsLine } from '../../shared/domain/chargebacks.js';
import { consolidateDay } from '../../shared/adapters/local/consolidate.js';
import { generateLanding } from '../../shared/local/sample-lake.js';
import { open } from './harness.js';

test.each([
  ['2025-11-10T00:30:00Z', 1, '2025-11-09'],
  ['2025-11-10T06:30:00Z', 2, '2025-11-10'],
  ['2025-11-10T12:30:00Z', 3, '2025-11-10'],
  ['2025-11-10T18:30:00Z', 4, '2025-11-10'],
  ['2025-03-01T01:00:00Z', 1, '2025-02-28'],
])('an execution at %s is number %i and consolidates %s', (at, sequence, date) => {
  expect(consolidationWindow(new Date(at))).toEqual({ executionSequence: sequence, partitionDate: date });
});

test('the metrics line and the day partition are exactly as specified', () => {
  expect(metricsLine({ recordsProcessed: 10, duplicatesRemoved: 2, outputFiles: 4, durationSeconds: 1.5 })).toBe(
    'METRICS: records_processed=10, duplicates_removed=2, output_files=4, duration_seconds=1.50',
  );
  expect(dayPartition('2025-11-09')).toBe('year=2025/month=11/day=09/');
  expect(() => consolidationWindow(new Date(), 5)).toThrow(/divide 24/);
});

test('one day: deduplicated to the latest version of each chargeback, N files, written aside then switched, dry run writes nothing', async () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'flywheel-cb-'));
  const rt = await open(home);
  try {
    const lake = rt.db.lakeDir;
    await generateLanding(rt.db, lake, '2025-11-09', 30, 200);
    const landing = `read_parquet('${path.join(lake, 'data/landing/chargebacks/year=2025/month=11/day=09/*.parquet')}')`;
    const independent = (
      await rt.db.all(`SELECT count(*) AS n, count(DISTINCT chargeback_id) AS ids, count(*) FILTER (WHERE chargeback_id IS NULL) AS nulls FROM ${landing}`)
    )[0]!;

    const dry = await consolidateDay(rt.db, lake, { date: '2025-11-09', fileCount: 3, codec: 'snappy', dryRun: true });
    expect(existsSync(dry.output)).toBe(false);
    expect(dry.metrics).toMatch(/^METRICS: records_processed=6000, duplicates_removed=\d+, output_files=0, duration_seconds=\d+\.\d\d$/);

    const r = await consolidateDay(rt.db, lake, { date: '2025-11-09', fileCount: 3, codec: 'snappy', dryRun: false });
    expect(r.recordsProcessed).toBe(Number(independent.n));
    expect(r.outputRows).toBe(Number(independent.ids) + Number(independent.nulls));
    expect(r.duplicatesRemoved).toBe(r.recordsProcessed - r.outputRows);
    expect(readdirSync(r.output).sort()).toEqual(['part-00000.snappy.parquet', 'part-00001.snappy.parquet', 'part-00002.snappy.parquet']);
    const out = `read_parquet('${path.join(r.output, '*.parquet')}')`;
    expect(Number((await rt.db.all(`SELECT count(*) AS n FROM ${out}`))[0]!.n)).toBe(r.outputRows);
    expect(
      Number(
        (await rt.db.all(`SELECT count(*) AS n FROM (SELECT chargeback_id FROM ${out} WHERE chargeback_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1)`))[0]!.n,
      ),
    ).toBe(0);
    // every kept row is the latest version by coalesce(updated_at, event_timestamp), computed independently
    const wrong = await rt.db.all(
      `SELECT count(*) AS n FROM ${out} o JOIN (SELECT chargeback_id, max(coalesce(updated_at, event_timestamp)) AS latest FROM ${landing} WHERE chargeback_id IS NOT NULL GROUP BY 1) l USING (chargeback_id) WHERE coalesce(o.updated_at, o.event_timestamp) <> l.latest`,
    );
    expect(Number(wrong[0]!.n)).toBe(0);
    // re-running (any execution order) rewrites the same complete day
    const again = await consolidateDay(rt.db, lake, { date: '2025-11-09', fileCount: 3, codec: 'snappy', dryRun: false });
    expect(again.outputRows).toBe(r.outputRows);
    expect(readdirSync(path.dirname(r.output.replace(/\/$/, ''))).filter((f) => f.startsWith('.tmp'))).toEqual([]);
    // a day with no landing consolidates nothing and says so, as the Glue job does (the day's output is left as it was)
    const nothing = await consolidateDay(rt.db, lake, { date: '2025-11-08', fileCount: 3, codec: 'snappy', dryRun: false });
    expect(nothing).toMatchObject({ recordsProcessed: 0, outputFiles: 0 });
    expect(nothing.metrics).toMatch(
      /^NOTHING TO CONSOLIDATE: no landing rows for 2025-11-08 .*\nMETRICS: records_processed=0, duplicates_removed=0, output_files=0,/,
    );
    expect(existsSync(path.join(lake, 'data/consolidated/chargebacks/year=2025/month=11/day=08'))).toBe(false);
    expect(dedupeSql('src', ['a'])).toContain('ORDER BY coalesce(updated_at, event_timestamp) DESC NULLS LAST');
  } finally {
    rt.close();
  }
});
