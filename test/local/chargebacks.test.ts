// Chargebacks consolidation, locally: numbers checked against independent counts over the landing files.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  assertScheduleMatches,
  consolidationWindow,
  dayPartition,
  dayPath,
  dedupeSql,
  LANDING_PREFIX,
  landingDayFolders,
  metricsLine,
  qualityLine,
} from '../../shared/domain/chargebacks.js';
import { consolidateDay } from '../../shared/adapters/local/consolidate.js';
import { generateLanding } from '../../shared/local/sample-lake.js';
import { open, outbox } from './harness.js';

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

test("the day's landing folders: year=YYYY/month=MM/day=DD/ and the current system's YYYY/MM/DD/", () => {
  expect(dayPath('2025-11-09')).toBe('2025/11/09/');
  expect(landingDayFolders('2025-11-09')).toEqual(['year=2025/month=11/day=09/', '2025/11/09/']);
  expect(qualityLine({ nullIds: 3, recordsProcessed: 10 })).toBe('DATA QUALITY: null_chargeback_ids=3, records_processed=10');
});

test.each([
  ['2025-11-10T06:30:00Z', 1, 1, '2025-11-09'],
  ['2025-11-10T00:30:00Z', 3, 3, '2025-11-10'],
  ['2025-03-01T18:30:00Z', 1, 1, '2025-02-28'],
])('an explicit EXECUTION_SEQUENCE wins over the time: at %s, sequence %i is number %i and consolidates %s', (at, given, sequence, date) => {
  expect(consolidationWindow(new Date(at), 4, given)).toEqual({ executionSequence: sequence, partitionDate: date });
});

test('an explicit EXECUTION_SEQUENCE outside 1..TOTAL_EXECUTIONS is refused', () => {
  expect(() => consolidationWindow(new Date('2025-11-10T06:30:00Z'), 4, 5)).toThrow('EXECUTION_SEQUENCE must be 1..4 (TOTAL_EXECUTIONS), got 5');
  expect(() => consolidationWindow(new Date('2025-11-10T06:30:00Z'), 4, 0)).toThrow(/EXECUTION_SEQUENCE must be 1\.\.4/);
});

test.each([
  ['cron(30 0,6,12,18 * * ? *)', 4],
  ['cron(30 */6 * * ? *)', 4],
  ['cron(0 1-23/6 * * ? *)', 4],
  ['cron(15 * * * ? *)', 24],
  ['cron(0 0,8,16 * * ? *)', 3],
  ['cron(30 0 * * ? *)', 1],
  ['rate(6 hours)', 4],
])('the schedule %s runs TOTAL_EXECUTIONS=%i times a day, once per window', (expression, total) => {
  expect(assertScheduleMatches(expression, total)).toBe(expression);
});

test.each([
  ['cron(30 0,6,12,18 * * ? *)', 6, /6 run\(s\) a day|4 run\(s\) a day/],
  ['cron(30 0,6,12 * * ? *)', 4, /3 run\(s\) a day at hour\(s\) 0,6,12/],
  ['cron(30 0,3,12,18 * * ? *)', 4, /one in each 6-hour window/],
  ['cron(30 0,6,12,18 ? * MON-FRI *)', 4, /every day/],
  ['cron(0,30 0,6,12,18 * * ? *)', 4, /one minute/],
  ['rate(4 hours)', 4, /every 6 hour/],
  ['cron(30 0,6,12,18 * * ? *)', 5, /must divide 24/],
])('the schedule %s does not agree with TOTAL_EXECUTIONS=%i', (expression, total, why) => {
  expect(() => assertScheduleMatches(expression, total)).toThrow(why);
});

/** Moves a generated day (year=/month=/day=) to the current system's YYYY/MM/DD/ folder. */
function toCurrentLayout(lake: string, date: string): string {
  const from = path.join(lake, 'data', LANDING_PREFIX, dayPartition(date));
  const to = path.join(lake, 'data', LANDING_PREFIX, dayPath(date));
  mkdirSync(path.dirname(to.replace(/\/$/, '')), { recursive: true });
  renameSync(from, to);
  rmSync(path.join(lake, 'data', LANDING_PREFIX, dayPartition(date).split('/')[0]!), { recursive: true }); // the emptied year=YYYY/month=MM/
  return to;
}

test('a day in the current layout (landing/chargebacks/YYYY/MM/DD/) is consolidated exactly: the distinct ids that landed are the ids written', async () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'flywheel-cb-current-'));
  const rt = await open(home);
  try {
    const lake = rt.db.lakeDir;
    await generateLanding(rt.db, lake, '2025-11-09', 12, 250);
    const dir = toCurrentLayout(lake, '2025-11-09');
    expect(existsSync(path.join(lake, 'data', LANDING_PREFIX, 'year=2025'))).toBe(false);
    const landed = `read_parquet('${path.join(dir, '*.parquet')}', hive_partitioning = false)`;
    const l = (
      await rt.db.all(`SELECT count(*) AS n, count(DISTINCT chargeback_id) AS ids, count(*) FILTER (WHERE chargeback_id IS NULL) AS nulls FROM ${landed}`)
    )[0]!;
    expect(Number(l.nulls)).toBeGreaterThan(0);

    // through the CLI's way: the chargebacks function invoked directly, its job's twin on the bus
    rt.bus.invoke('chargebacks', { partitionDate: '2025-11-09' });
    await rt.bus.drain();
    const glue = rt.bus.published.find((e) => e['detail-type'] === 'Glue Job State Change')!;
    expect(glue.detail).toMatchObject({ state: 'SUCCEEDED', message: expect.stringMatching(new RegExp(`^METRICS: records_processed=${l.n}, `)) });
    const out = path.join(lake, 'data/consolidated/chargebacks/year=2025/month=11/day=09/*.parquet');
    const written = `read_parquet('${out}', hive_partitioning = false)`;
    // the distinct ids landed are the ids written, each once; rows without an id are kept as they are, as the Glue job keeps them
    const [diff] = await rt.db.all(`SELECT
        (SELECT count(*) FROM (SELECT DISTINCT chargeback_id FROM ${landed} WHERE chargeback_id IS NOT NULL EXCEPT SELECT chargeback_id FROM ${written})) AS missing,
        (SELECT count(*) FROM (SELECT chargeback_id FROM ${written} WHERE chargeback_id IS NOT NULL EXCEPT SELECT chargeback_id FROM ${landed})) AS extra,
        (SELECT count(*) FROM ${written} WHERE chargeback_id IS NOT NULL) AS id_rows,
        (SELECT count(*) FROM ${written} WHERE chargeback_id IS NULL) AS null_rows`);
    expect(Object.fromEntries(Object.entries(diff!).map(([k, v]) => [k, Number(v)]))).toEqual({
      missing: 0,
      extra: 0,
      id_rows: Number(l.ids),
      null_rows: Number(l.nulls),
    });
    // the null-id count is in the job's log (the local log, as CloudWatch has the Glue job's), beside an unchanged METRICS line
    const log = readFileSync(path.join(home, 'logs', 'flywheel.jsonl'), 'utf8');
    expect(log).toContain(`DATA QUALITY: null_chargeback_ids=${l.nulls}, records_processed=${l.n}`);
  } finally {
    rt.close();
  }
});

test("a day landed in both layouts is read from both (the dedupe keeps each chargeback's latest version); a day in neither is nothing to consolidate", async () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'flywheel-cb-both-'));
  const rt = await open(home);
  try {
    const lake = rt.db.lakeDir;
    await generateLanding(rt.db, lake, '2025-11-09', 6, 200);
    toCurrentLayout(lake, '2025-11-09');
    await generateLanding(rt.db, lake, '2025-11-09', 3, 200); // more files under year=/month=/day=
    const both = landingDayFolders('2025-11-09').map((f) => `'${path.join(lake, 'data', LANDING_PREFIX, f, '*.parquet')}'`);
    const landed = `read_parquet([${both.join(', ')}], hive_partitioning = false)`;
    const l = (
      await rt.db.all(`SELECT count(*) AS n, count(DISTINCT chargeback_id) AS ids, count(*) FILTER (WHERE chargeback_id IS NULL) AS nulls FROM ${landed}`)
    )[0]!;
    expect(Number(l.n)).toBe(9 * 200);
    const r = await consolidateDay(rt.db, lake, { date: '2025-11-09', fileCount: 2, codec: 'snappy', dryRun: false });
    expect(r.landing.map((d) => path.relative(path.join(lake, 'data', LANDING_PREFIX), d))).toEqual(['year=2025/month=11/day=09', '2025/11/09']);
    expect([r.recordsProcessed, r.nullIds, r.outputRows]).toEqual([Number(l.n), Number(l.nulls), Number(l.ids) + Number(l.nulls)]);
    expect(r.log).toEqual([`DATA QUALITY: null_chargeback_ids=${l.nulls}, records_processed=${l.n}`, r.metrics]);
    expect(r.metrics).toMatch(/^METRICS: records_processed=1800, duplicates_removed=\d+, output_files=2, duration_seconds=\d+\.\d\d$/);

    const none = await consolidateDay(rt.db, lake, { date: '2025-11-10', fileCount: 2, codec: 'snappy', dryRun: false });
    expect(none.recordsProcessed).toBe(0);
    expect(none.metrics).toContain('data/landing/chargebacks/year=2025/month=11/day=10/ or data/landing/chargebacks/2025/11/10/');
  } finally {
    rt.close();
  }
});

test('an explicit executionSequence decides the day the job consolidates; one beyond TOTAL_EXECUTIONS is refused with an alert', async () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'flywheel-cb-seq-'));
  const rt = await open(home);
  try {
    await generateLanding(rt.db, rt.db.lakeDir, '2025-11-09', 2, 50);
    // 06:30 is execution 2 by the time (the day itself, 2025-11-10); the explicit 1 makes it the previous day
    rt.bus.invoke('chargebacks', { executionTime: '2025-11-10T06:30:00Z', executionSequence: 1 });
    await rt.bus.drain();
    const record = (await rt.store.list('data', '_runs/index/jobs/')).objects[0]!;
    const args = JSON.parse(Buffer.from((await rt.store.get('data', record.key))!.body).toString()).args;
    expect(args).toMatchObject({ EXECUTION_SEQUENCE: '1', PARTITION_DATE: '2025-11-09', EXECUTION_TIME: '2025-11-10T06:30:00.000Z' });
    expect(rt.bus.published.find((e) => e['detail-type'] === 'Glue Job State Change')!.detail.message).toMatch(/^METRICS: records_processed=100, /);

    rt.bus.invoke('chargebacks', { executionTime: '2025-11-10T06:30:00Z', executionSequence: 5 });
    await rt.bus.drain();
    expect((await outbox(home)).join('\n')).toContain('EXECUTION_SEQUENCE must be 1..4 (TOTAL_EXECUTIONS), got 5');
  } finally {
    rt.close();
  }
});
