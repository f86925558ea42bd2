// The data monitor on the local engine, against a lake with injected faults: each reported exactly.
import { existsSync, promises as fs, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { LocalEngineRuntime as LocalRuntime } from '../../shared/composition/local.js';
import type { MonitorReport, TableReport } from '../../shared/domain/monitor/report.js';
import { bucketOf } from '../../shared/domain/bucket.js';
import { lakePath, open, outbox, runPipeline, sampleHome } from './harness.js';
import { makeDataMonitorHandler } from '../../services/data-monitor/data-monitor.js';
import { monitorDeploymentFromEnv } from '../../shared/composition/aws-monitor.js';
import { settingsFromEnv } from '../../shared/composition/aws.js';
import { LOCAL_MONITOR_WORKGROUP } from '../../shared/composition/local-functions.js';

let now = new Date('2025-11-09T06:00:00Z');
const clock = { now: () => now };

async function monitor(rt: LocalRuntime, options: Record<string, unknown> = {}): Promise<MonitorReport> {
  rt.bus.invoke('dataMonitor', { options });
  await rt.bus.drain();
  const done = rt.bus.published.filter((e) => e['detail-type'] === 'Monitor Completed').at(-1);
  if (!done) throw new Error('monitor did not complete');
  const uri = (done.detail as { reportUri: string }).reportUri.replace('s3://', '');
  return JSON.parse(readFileSync(path.join(rt.home, 'lake', uri), 'utf8')) as MonitorReport;
}

/** `1, 3-5` → [1, 3, 4, 5] */
const expand = (ranges: string) =>
  ranges === ''
    ? []
    : ranges.split(', ').flatMap((r) => {
        const [a, b = a] = r.split('-').map(Number);
        return Array.from({ length: b! - a! + 1 }, (_, i) => a! + i);
      });
const row = (r: MonitorReport, t: string) => r.tables.find((x) => x.table === t) as TableReport;
const codes = (r: MonitorReport, t?: string) =>
  r.alert_details
    .filter((a) => a.table === t)
    .map((a) => a.code)
    .sort();

describe('data monitor', () => {
  let home: string;
  let rt: LocalRuntime;
  let clean: MonitorReport;
  let faulty: MonitorReport;

  beforeAll(async () => {
    home = await sampleHome(3000);
    rt = await open(home, { clock, keyedRowsPerQuery: 700 }); // the scans and ER ranges run in bucket sub-ranges
    await runPipeline(rt);
    clean = await monitor(rt);
    now = new Date('2025-11-10T06:00:00Z'); // the next day's run
    await injectFaults(rt);
    faulty = await monitor(rt, { file_size_check: 'true', file_size_min_mb: '0', file_size_max_mb: '0.001' });
  });
  afterAll(() => rt.close());

  test('a clean lake: only the sample NULL keys, exact counts, one scan and one count per table', () => {
    expect(clean.tables.map((t) => t.table)).toEqual(['part_ibe_01a', 'part_ibe_01b', 'part_ibe_04', 'part_miacs_01', 'part_miacs_02']);
    for (const t of clean.tables) {
      expect(t).toMatchObject({
        count_part: 3000,
        count_src: 3000,
        count_diff_pct: '0.000000',
        pk_nulls: 1,
        pk_dupes: 0,
        wrong_bucket_rows: 0,
        table_type_ok: true,
        contract_ok: true,
        raw_input_snapshot_dt: '2025-10-31',
      });
      expect(t.s3_partitions).toBe(t.glue_partitions);
      expect(t.query_ids).toHaveLength(2);
      expect(t.bucket_histogram.reduce((a, b) => a + b, 0)).toBe(3000);
    }
    expect(new Set(clean.alert_details.map((a) => a.code))).toEqual(
      new Set(['PK_NULL', 'PARTITION_MISSING_S3', 'BUCKET_SKEW'].filter((c) => clean.alert_details.some((a) => a.code === c))),
    );
    expect(clean.alerts).toContain('[PK_NULL] part_ibe_01a: customer_user_id NULL rows=1');
  });

  test('missing partition data on S3: missing and stale partitions named, count mismatch with both counts', () => {
    const t = row(faulty, 'part_ibe_01a');
    expect(t.missing_s3_partitions).toContain('5');
    expect(t.stale_partitions).toBe('5');
    expect(faulty.alerts).toContain(`[PARTITION_STALE] part_ibe_01a: 1 catalog partitions have no data on S3 (Clean Rooms fails on them): 5`);
    const lost = row(clean, 'part_ibe_01a').bucket_histogram[5]!;
    expect(t.count_part).toBe(3000 - lost);
    expect(faulty.alerts).toContain(
      `[COUNT_MISMATCH] part_ibe_01a: flywheel.part_ibe_01a=${3000 - lost} vs flywheel.ext_ibe_01a=3000 (Δ=${((lost * 100) / 3000).toFixed(6)}%)`,
    );
  });

  test('a run of missing buckets is listed; no write batch is named, since locally one query writes each table', () => {
    const alert = faulty.alerts.find((a) => a.startsWith('[PARTITION_MISSING_S3] part_miacs_02'))!;
    expect(alert).toMatch(/: 1[0-9]{2} of 256 id_bucket partitions have no data on S3: .*94-199/);
    expect(alert).not.toMatch(/write batch/);
    const missingBefore = expand(row(clean, 'part_miacs_02').missing_s3_partitions);
    const expected = [...new Set([...missingBefore, ...Array.from({ length: 100 }, (_, i) => 100 + i)])].sort((a, b) => a - b);
    expect(expand(row(faulty, 'part_miacs_02').missing_s3_partitions)).toEqual(expected);
  });

  test('partitions missing from the catalog are repaired (athena mode) and the scan sees them', () => {
    const t = row(faulty, 'part_ibe_01b');
    expect(t.missing_glue_count).toBe(3);
    expect(t.repaired).toBe('repaired: 10-12');
    expect(t.glue_partitions).toBe(t.s3_partitions);
    expect(t.count_part).toBe(3000);
    expect(faulty.alerts.find((a) => a.startsWith('[PARTITION_MISSING_CATALOG] part_ibe_01b'))).toMatch(/10-12 — repaired \(athena\)/);
  });

  test('NULL, duplicate and wrong-bucket keys are counted exactly', () => {
    const t = row(faulty, 'part_ibe_04');
    expect(t.pk_nulls).toBe(1 + 2);
    expect(t.pk_dupes).toBe(4 + 3); // cust_00000001: the original and 3 copies; cust_00000002: the original and 2
    expect(t.wrong_bucket_rows).toBe(1);
    // the duplicates' evidence: where they are, and the most repeated value
    const dupBuckets = [bucketOf('cust_00000001'), bucketOf('cust_00000002')].sort((a, b) => a - b);
    expect(dupBuckets).toEqual([109, 110]);
    expect(faulty.alerts).toEqual(
      expect.arrayContaining([
        '[PK_NULL] part_ibe_04: customer_user_id NULL rows=3',
        "[PK_DUPES] part_ibe_04: customer_user_id duplicate rows=7 in 2 buckets (109-110); most repeated 'cust_00000001' (4 rows)",
      ]),
    );
    expect(codes(faulty, 'part_ibe_04')).toEqual(expect.arrayContaining(['COUNT_MISMATCH', 'PK_DUPES', 'PK_NULL', 'WRONG_BUCKET']));
  });

  test('a wrong-type partition key breaks the schema contract', () => {
    const t = row(faulty, 'part_miacs_01');
    expect(t.contract_ok).toBe(false);
    expect(t.table_type_ok).toBe(true);
    expect(faulty.alerts).toContain('[SCHEMA] part_miacs_01: id_bucket partition key is string, expected int');
  });

  test('a stale processed snapshot and a newer raw snapshot raise freshness alerts', () => {
    expect(faulty.alerts).toEqual(
      expect.arrayContaining([
        '[FRESHNESS] processed snapshot too old: snapshot_dt=2025-08-01 is 101 days old (window 45)',
        '[FRESHNESS] processed snapshot_dt=2025-08-01 is behind the newest raw_input snapshot_dt=2025-10-31',
      ]),
    );
  });

  test('file sizes outside the window are sampled (at most 20)', () => {
    const t = row(faulty, 'part_ibe_01a');
    expect(t.file_issues_sample.split('; ').length).toBeLessThanOrEqual(20);
    expect(faulty.alert_details.some((a) => a.code === 'FILE_SIZE' && a.severity === 'Low')).toBe(true);
  });

  test("trend: the previous report's count beside today's; the same snapshot is no volume change", () => {
    const t = row(faulty, 'part_ibe_01a');
    expect(t.trend.map((p) => [p.generated_at.slice(0, 10), p.count_part])).toEqual([
      ['2025-11-09', 3000],
      ['2025-11-10', t.count_part],
    ]);
    expect(faulty.alert_details.filter((a) => a.code === 'VOLUME_CHANGE')).toEqual([]);
  });

  test('reports: JSON, CSV (current columns first) and HTML beside each other; the e-mail lists every alert', async () => {
    const dir = lakePath(home, '').replace(/data\/?$/, 'analysis/data-monitor');
    const files = readdirSync(dir).filter((f) => f.startsWith('omc_monitor_report_'));
    expect(files.sort()).toEqual(['09', '10'].flatMap((d) => ['csv', 'html', 'json'].map((x) => `omc_monitor_report_2025-11-${d}.${x}`)));
    const csv = readFileSync(path.join(dir, 'omc_monitor_report_2025-11-10.csv'), 'utf8').split('\n');
    expect(
      csv[0]!.startsWith(
        'table,location,s3_partitions,glue_partitions,missing_glue_count,table_type_ok,contract_ok,raw_input_snapshot_dt,count_src,count_part,count_diff_pct,pk_nulls,pk_dupes,file_issues_sample,checked_at,',
      ),
    ).toBe(true);
    expect(csv).toHaveLength(faulty.tables.length + 2);
    const mail = (await outbox(home)).at(-1)!;
    expect(mail).toMatch(new RegExp(`^Subject: \\[DATA MONITOR\\] flywheel part_\\* — ${faulty.alerts.length} issue\\(s\\)`));
    for (const a of faulty.alerts) expect(mail).toContain(a);
  });
});

/** Breaks the lake the ways a production lake breaks. */
async function injectFaults(rt: LocalRuntime): Promise<void> {
  const db = 'flywheel';
  const partDir = async (t: string) => rt.db.localPath((await rt.catalog.getTable(db, t))!.location);
  // partition data gone from S3 (catalog still lists it)
  await fs.rm(path.join(await partDir('part_ibe_01a'), 'id_bucket=5'), { recursive: true });
  // a whole 100-partition batch never written (and never registered)
  const miacs02 = await rt.catalog.getTable(db, 'part_miacs_02');
  for (let b = 100; b <= 199; b++) await fs.rm(path.join(await partDir('part_miacs_02'), `id_bucket=${b}`), { recursive: true, force: true });
  await rt.catalog.switchTables(db, [
    {
      table: miacs02!,
      partitions: (await rt.catalog.getPartitions(db, 'part_miacs_02')).filter((p) => Number(p.values[0]) < 100 || Number(p.values[0]) > 199),
    },
  ]);
  // partitions on S3 the catalog lost
  const ibe01b = (await rt.catalog.getTable(db, 'part_ibe_01b'))!;
  await rt.catalog.switchTables(db, [
    { table: ibe01b, partitions: (await rt.catalog.getPartitions(db, 'part_ibe_01b')).filter((p) => !['10', '11', '12'].includes(p.values[0]!)) },
  ]);
  // NULL, duplicate and wrong-bucket keys
  const dir = await partDir('part_ibe_04');
  const k1 = 'cust_00000001';
  const k2 = 'cust_00000002';
  const extra = (key: string | null, n: number) =>
    `SELECT ${key === null ? 'NULL' : `'${key}'`}::VARCHAR AS customer_user_id, 1::BIGINT AS ibe4100_net_worth, 'A' AS ibe4200_credit_band, 1.0::DOUBLE AS ibe4300_score FROM range(${n})`;
  const write = async (sql: string, bucket: number, name: string) => {
    await fs.mkdir(path.join(dir, `id_bucket=${bucket}`), { recursive: true });
    await rt.db.run(`COPY (${sql}) TO '${path.join(dir, `id_bucket=${bucket}`, name)}' (FORMAT parquet)`);
  };
  await write(extra(k1, 3), bucketOf(k1), 'dupes1.parquet');
  await write(extra(k2, 2), bucketOf(k2), 'dupes2.parquet');
  await write(extra(null, 2), 0, 'nulls.parquet');
  await write(extra('abc', 1), 3, 'wrong.parquet'); // bucketOf('abc') = 98
  // a wrong-type partition key
  const miacs01 = (await rt.catalog.getTable(db, 'part_miacs_01'))!;
  await rt.catalog.switchTables(db, [
    { table: { ...miacs01, partitionKeys: [{ name: 'id_bucket', type: 'string' }] }, partitions: await rt.catalog.getPartitions(db, 'part_miacs_01') },
  ]);
  // a stale processed snapshot
  await fs.writeFile(lakePath(rt.home, 'omc_cleanroom_data/cleanroom_tables/bucketed/metadata/snapshot_dt.txt'), '2025-08-01\n');
}

describe('data monitor: repair modes, dry run, one table failing', () => {
  let rt: LocalRuntime;
  const drop = async (table: string, buckets: string[]) => {
    const def = (await rt.catalog.getTable('flywheel', table))!;
    await rt.catalog.switchTables('flywheel', [
      { table: def, partitions: (await rt.catalog.getPartitions('flywheel', table)).filter((p) => !buckets.includes(p.values[0]!)) },
    ]);
  };
  beforeAll(async () => {
    rt = await open(await sampleHome(2000), { clock });
    await runPipeline(rt);
  });
  afterAll(() => rt.close());

  test('dry run and off: repairs planned and reported, nothing registered', async () => {
    await drop('part_ibe_04', ['20', '21']);
    const dry = await monitor(rt, { dry_run: 'true' });
    expect(row(dry, 'part_ibe_04').repaired).toBe('planned (athena (dry run)): 20-21');
    expect(row(dry, 'part_ibe_04').missing_glue_count).toBe(2);
    const off = await monitor(rt, { auto_repair: 'off' });
    expect(row(off, 'part_ibe_04').repaired).toBe('planned (off): 20-21');
    expect((await rt.catalog.getPartitions('flywheel', 'part_ibe_04')).some((p) => p.values[0] === '20')).toBe(false);
  });

  test('glue mode registers exactly the missing partitions', async () => {
    const r = await monitor(rt, { auto_repair: 'glue' });
    expect(row(r, 'part_ibe_04').repaired).toBe('repaired: 20-21');
    expect((await rt.catalog.getPartitions('flywheel', 'part_ibe_04')).filter((p) => ['20', '21'].includes(p.values[0]!))).toHaveLength(2);
    expect(row(await monitor(rt), 'part_ibe_04').missing_glue_count).toBe(0);
  });

  test('a table whose check fails is an alert for that table; the others are checked and the report written', async () => {
    await rt.catalog.deleteTable('flywheel', 'ext_miacs_01');
    const r = await monitor(rt);
    expect(r.alerts.find((a) => a.startsWith('[CHECK_FAILED] part_miacs_01'))).toMatch(/count of ext_miacs_01 failed/);
    expect(row(r, 'part_miacs_01').count_part).toBe(2000);
    expect(row(r, 'part_ibe_01a')).toMatchObject({ count_part: 2000, count_src: 2000 });
  });

  test('max_tables and table_prefix select the tables', async () => {
    expect((await monitor(rt, { max_tables: '2' })).tables.map((t) => t.table)).toEqual(['part_ibe_01a', 'part_ibe_01b']);
    const narrowed = await monitor(rt, { table_prefix: 'part_miacs_' });
    expect(narrowed.tables.map((t) => t.table)).toEqual(['part_miacs_01', 'part_miacs_02']);
    expect(row(narrowed, 'part_miacs_02').count_src).toBe(2000); // still compared with ext_miacs_02
  });

  test('ER tables are checked only when configured, against their part_ table', async () => {
    const r = await monitor(rt, { table_prefix: 'part_ibe_01', include_er_tables: 'true' });
    expect(r.tables.map((t) => t.table)).toEqual(['part_ibe_01a', 'part_ibe_01a_er', 'part_ibe_01b', 'part_ibe_01b_er']);
    expect(row(r, 'part_ibe_01a_er')).toMatchObject({ count_part: 2000, count_src: 2000, contract_ok: true });
  });
});

describe('data monitor options: another database to compare with, options refused before anything runs', () => {
  let home: string;
  let rt: LocalRuntime;
  const runsDir = () => path.join(home, 'lake', 'analysis', 'data-monitor', '_runs');
  const runDocs = () => (existsSync(runsDir()) ? readdirSync(runsDir()).length : 0);
  beforeAll(async () => {
    home = await sampleHome(1000);
    // as `flywheel monitor --compare_database flywheel_staged`: the flag is the local deployment's default
    rt = await open(home, { clock, monitor: { compare_database: 'flywheel_staged' } });
    await runPipeline(rt);
    // the staged database holds the same ext_ tables, but its ext_ibe_04 only the rows of buckets 0-9
    for (const t of await rt.catalog.listTables('flywheel', 'ext_')) await rt.catalog.upsertTable('flywheel_staged', t);
    const part = (await rt.catalog.getTable('flywheel', 'part_ibe_04'))!;
    const partitions = (await rt.catalog.getPartitions('flywheel', 'part_ibe_04')).filter((p) => Number(p.values[0]) < 10);
    await rt.catalog.switchTables('flywheel_staged', [{ table: { ...part, name: 'ext_ibe_04' }, partitions }]);
  });
  afterAll(() => rt.close());

  test('--compare_database: the sources are counted in that database', async () => {
    const r = await monitor(rt);
    expect(row(r, 'part_ibe_01a')).toMatchObject({ count_part: 1000, count_src: 1000 });
    const t = row(r, 'part_ibe_04');
    expect(t.count_part).toBe(1000);
    expect(t.count_src).toBeGreaterThan(0);
    expect(t.count_src).toBeLessThan(1000);
    expect(r.alerts.find((a) => a.startsWith('[COUNT_MISMATCH] part_ibe_04'))).toContain('flywheel_staged.ext_ibe_04');
  });

  test.each([
    ['athena_workgroup', 'primary', 'omit --athena_workgroup or pass flywheel-local-monitor.'],
    ['athena_results', 's3://bucket/query-results/', 'omit --athena_results.'],
    ['sns_topic_arn', 'arn:aws:sns:us-east-1:123456789012:alerts', 'omit --sns_topic_arn.'],
    ['region', 'us-east-1', 'omit --region.'],
  ])('--%s %s is refused: one alert names the option and the fix, nothing runs', async (option, value, fix) => {
    const mails = (await outbox(home)).length;
    const docs = runDocs();
    expect(docs).toBeGreaterThan(0); // the runs so far left their documents: a refused one would add one
    const completed = rt.bus.published.filter((e) => e['detail-type'] === 'Monitor Completed').length;
    rt.bus.invoke('dataMonitor', { options: { [option]: value } });
    await rt.bus.drain();
    const sent = (await outbox(home)).slice(mails);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/data-monitor rejected an invalid event/);
    expect(sent[0]).toContain(`--${option} ${value} cannot be honoured`);
    expect(sent[0]).toContain(`Fix: ${fix}`);
    expect(runDocs()).toBe(docs);
    expect(rt.bus.published.filter((e) => e['detail-type'] === 'Monitor Completed')).toHaveLength(completed);
  });

  test("the local workgroup is honoured when named; the AWS deployment's bindings refuse another workgroup through the same handler", async () => {
    expect(row(await monitor(rt, { athena_workgroup: LOCAL_MONITOR_WORKGROUP }), 'part_ibe_01a').count_src).toBe(1000);
    const env = {
      DATA_BUCKET: 'data',
      ANALYSIS_BUCKET: 'analysis',
      GLUE_DATABASE: 'flywheel',
      SPLIT_JOB_NAME: 'split',
      ADDRESSABLE_JOB_NAME: 'addressable',
      ATHENA_WORKGROUP: 'flywheel-dev',
      MONITOR_WORKGROUP: 'flywheel-dev-monitor',
      EVENT_BUS_NAME: 'flywheel-dev',
      ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:alerts',
    };
    const handler = makeDataMonitorHandler(rt.deps, monitorDeploymentFromEnv(env, settingsFromEnv(env)));
    const mails = (await outbox(home)).length;
    const docs = runDocs();
    expect(await handler({ options: { athena_workgroup: 'primary' } })).toMatchObject({
      declined: 'rejected',
      reason: expect.stringContaining('--athena_workgroup primary cannot be honoured'),
    });
    const sent = (await outbox(home)).slice(mails);
    expect(sent).toEqual([expect.stringContaining('--athena_workgroup primary cannot be honoured')]);
    expect(sent[0]).toContain('Fix: omit --athena_workgroup or pass flywheel-dev-monitor.');
    expect(runDocs()).toBe(docs);
  });
});
