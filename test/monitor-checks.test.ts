import {
  checkBuckets,
  checkCounts,
  checkFileSizes,
  checkFreshness,
  checkPartitions,
  checkSchema,
  checkTrend,
  projectionOf,
  ranges,
} from '../shared/domain/monitor/checks.js';
import { deploymentRefusals, parseMonitorOptions } from '../shared/domain/monitor/options.js';
import { monitorOptionsFromEnv, settingsFromEnv } from '../shared/composition/aws.js';
import { monitorDeploymentFromEnv } from '../shared/composition/aws-monitor.js';
import { LOCAL_MONITOR_DEPLOYMENT, LOCAL_MONITOR_WORKGROUP } from '../shared/composition/local-functions.js';
import { monitorOptionsOf } from '../shared/use-cases/data-monitor/data-monitor.js';
import { CSV_COLUMNS, reportEmail } from '../shared/domain/monitor/report.js';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalDuckDb } from '../shared/adapters/local/duckdb.js';
import { evenRanges } from '../shared/domain/sizing.js';
import { mergeScanRows, parseScanRows, renderAthenaMonitorQuery, scanBounds, scanSql } from '../shared/domain/monitor/queries.js';
import type { TableDef } from '../shared/ports.js';
import { bucketOf } from '../shared/domain/bucket.js';

const def = (over: Partial<TableDef> = {}): TableDef => ({
  name: 'part_t',
  location: 's3://data/part_t/',
  columns: [{ name: 'customer_user_id', type: 'string' }],
  partitionKeys: [{ name: 'id_bucket', type: 'int' }],
  parameters: {},
  ...over,
});
const parquet = {
  tableType: 'EXTERNAL_TABLE',
  inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
  serde: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
};
const options = parseMonitorOptions({ database: 'db', report_bucket: 'analysis' });

test('options: the current monitor defaults, strings from env/flags coerced, bad values named', () => {
  expect(options).toMatchObject({
    table_prefix: 'part_',
    bucket_count: 256,
    report_prefix: 'data-monitor/',
    auto_repair: 'athena',
    strict_snapshot: true,
    freshness_window_days: 45,
    count_tolerance_pct: 0,
    pk_column: 'customer_user_id',
    file_size_min_mb: 64,
    file_size_max_mb: 1024,
    max_tables: 0,
  });
  expect(parseMonitorOptions({ database: 'db', report_bucket: 'a', strict_snapshot: 'false', count_tolerance_pct: '0.5' })).toMatchObject({
    strict_snapshot: false,
    count_tolerance_pct: 0.5,
  });
  expect(() => parseMonitorOptions({ database: 'db', report_bucket: 'a', auto_repair: 'msck' })).toThrow(/--auto_repair/);
  expect(() => parseMonitorOptions({ database: 'Bad DB', report_bucket: 'a' })).toThrow(/--database/);
});

test('ranges compacts bucket lists', () => expect(ranges([5, 1, 2, 3, 9, 10])).toBe('1-3, 5, 9-10'));

test('partitions: missing on S3, missing in the catalog, stale; a missing write batch is named', () => {
  const r = checkPartitions(
    'part_t',
    {
      s3: [...Array(256).keys()].filter((b) => b < 100 || b > 199).filter((b) => b !== 3),
      catalog: [0, 1, 2, 3].map((b) => ({ values: [String(b)], location: '' })),
    },
    256,
    projectionOf(def(), 256),
    100,
  );
  expect(r.missingS3).toHaveLength(101);
  expect(r.stale).toEqual([3]);
  expect(r.missingCatalog).toHaveLength(256 - 101 - 3);
  expect(r.alerts.map((a) => a.code)).toEqual(['PARTITION_MISSING_S3', 'PARTITION_MISSING_CATALOG', 'PARTITION_STALE']);
  expect(r.alerts[0]!.message).toMatch(/: 3, 100-199 — matches the failed write batch part 100-199: re-run that range$/);
});

test("a missing write batch is named by the deployment's partitions per query, and not when one query writes the table", () => {
  const s3 = [...Array(256).keys()].filter((b) => b < 128 || b > 191);
  const message = (writeBatch: number) => checkPartitions('part_t', { s3, catalog: [] }, 256, projectionOf(def(), 256), writeBatch).alerts[0]!.message;
  expect(message(64)).toMatch(/: 128-191 — matches the failed write batch part 128-191: re-run that range$/);
  // 128-191 is not one of the 100-partition ranges (0-99, 100-199, 200-255)
  expect(message(100)).toMatch(/: 128-191$/);
  // local mode writes each table in one query: there is no batch to name
  expect(message(256)).toMatch(/: 128-191$/);
  const whole = checkPartitions('part_t', { s3: [], catalog: [] }, 256, projectionOf(def(), 256), 256).alerts[0]!.message;
  expect(whole).toMatch(/256 of 256 id_bucket partitions have no data on S3: 0-255$/);
});

test('partition projection: validated, registration checks skipped', () => {
  const good = projectionOf(
    def({ parameters: { 'projection.enabled': 'true', 'projection.id_bucket.type': 'integer', 'projection.id_bucket.range': '0,255' } }),
    256,
  );
  expect(good).toEqual({ enabled: true, ok: true, problems: [] });
  const bad = projectionOf(
    def({ parameters: { 'projection.enabled': 'true', 'projection.id_bucket.type': 'enum', 'projection.id_bucket.range': '0,99' } }),
    256,
  );
  const r = checkPartitions('part_t', { s3: [...Array(256).keys()], catalog: [] }, 256, bad, 100);
  expect(r.missingCatalog).toEqual([]);
  expect(r.alerts.map((a) => a.message)).toEqual([
    "partition projection misconfigured: projection.id_bucket.type is enum, expected integer; projection.id_bucket.range is '0,99', expected 0,255",
  ]);
});

test('schema contract', () => {
  expect(checkSchema(def(), parquet, 'customer_user_id')).toEqual({ tableTypeOk: true, contractOk: true, alerts: [] });
  const wrong = checkSchema(
    def({ columns: [{ name: 'id_bucket', type: 'int' }], partitionKeys: [{ name: 'customer_user_id', type: 'string' }] }),
    { ...parquet, tableType: 'MANAGED_TABLE' },
    'customer_user_id',
  );
  expect(wrong.alerts.map((a) => a.message)).toEqual([
    'customer_user_id is a partition key, expected a data column',
    'id_bucket is a data column, expected the partition key',
    'table type is MANAGED_TABLE, expected EXTERNAL_TABLE',
  ]);
  expect(wrong.tableTypeOk).toBe(false);
});

test('freshness: window, strict mode, raw cross-check', () => {
  const now = new Date('2025-12-20T00:00:00Z');
  expect(checkFreshness({ metadata: '2025-11-30\n', newestRaw: '2025-11-30', now, windowDays: 45, strict: true }).alerts).toEqual([]);
  expect(checkFreshness({ metadata: '2025-10-31', now, windowDays: 45, strict: true }).alerts[0]!.message).toBe(
    'processed snapshot too old: snapshot_dt=2025-10-31 is 50 days old (window 45)',
  );
  expect(checkFreshness({ metadata: undefined, now, windowDays: 45, strict: true }).alerts[0]!.message).toMatch(/missing/);
  expect(checkFreshness({ metadata: 'garbage', now, windowDays: 45, strict: true }).alerts[0]!.message).toMatch(/unparseable/);
  expect(checkFreshness({ metadata: 'garbage', now, windowDays: 45, strict: false }).alerts).toEqual([]);
});

test('counts: Δ% against the tolerance', () => {
  expect(checkCounts('part_t', 999950, { count: 1000000, name: 'db.ext_t', partName: 'db.part_t' }, 0).alerts[0]!.message).toBe(
    'db.part_t=999950 vs db.ext_t=1000000 (Δ=0.005000%)',
  );
  expect(checkCounts('part_t', 999950, { count: 1000000, name: 'db.ext_t', partName: 'db.part_t' }, 0.01).alerts).toEqual([]);
});

test('bucket health: empty, low, max/min and CV', () => {
  const perBucket = new Map([...Array(256).keys()].map((b) => [b, b === 7 ? 0 : b === 8 ? 1 : b === 9 ? 500 : 100]));
  const h = checkBuckets('part_t', { perBucket, rows: 0, pkNulls: 0, pkDupes: 0, wrongBucket: 0 }, options);
  expect(h.empty).toEqual([7]);
  expect(h.low).toEqual([8]);
  expect(h.maxMinRatio).toBe(500);
  expect(h.alerts[0]!.message).toMatch(/1 buckets below 10% of the mean \(8\); max\/min ratio 500.00 > 3/);
  const even = checkBuckets(
    'part_t',
    { perBucket: new Map([...Array(256).keys()].map((b) => [b, 100])), rows: 25600, pkNulls: 0, pkDupes: 0, wrongBucket: 0 },
    options,
  );
  expect(even.alerts).toEqual([]);
  expect(even.cv).toBe(0);
});

test('trend: a volume change against the previous snapshot, not against the same one', () => {
  const history = [
    { generatedAt: '2025-10-01', snapshotDt: '2025-09-30', countPart: 1000 },
    { generatedAt: '2025-11-01', snapshotDt: '2025-10-31', countPart: 1300 },
  ];
  expect(checkTrend('part_t', 1300, '2025-10-31', history, 20).alerts[0]!.message).toBe(
    'rows 1000 → 1300 (+30.00%) since snapshot_dt=2025-09-30 (threshold 20%)',
  );
  expect(checkTrend('part_t', 1100, '2025-10-31', history, 20).alerts).toEqual([]);
});

test('file sizes: at most 20 offenders', () => {
  const files = Array.from({ length: 30 }, (_, i) => ({ key: `p/id_bucket=${i}/f`, size: 1024 * 1024 }));
  const r = checkFileSizes('part_t', files, 64, 1024);
  expect(r.issues).toHaveLength(20);
  expect(r.alerts[0]!.severity).toBe('Low');
});

test('scan SQL: one statement, GROUPING SETS, Trino bucket expression; rows parsed', () => {
  const sql = renderAthenaMonitorQuery({ kind: 'monitor-scan', database: 'db', table: 'part_t', pkColumn: 'customer_user_id', bucketCount: 256 });
  expect(sql).toMatch(/^WITH keys AS \(SELECT "id_bucket" AS b, "customer_user_id" AS k, count\(\*\) AS c FROM "db"\."part_t" GROUP BY/);
  expect(sql).toContain('GROUP BY GROUPING SETS ((b), ())');
  expect(sql).toContain('codepoint(CAST(c AS varchar(1)))');
  expect(
    renderAthenaMonitorQuery({
      kind: 'repair-partitions',
      database: 'db',
      table: 'part_t',
      partitions: [{ values: ['9'], location: 's3://data/part_t/id_bucket=9/' }],
    }),
  ).toBe(
    // Hive DDL (Athena runs DDL through Hive): backticks, not Trino's double quotes
    `ALTER TABLE \`db\`.\`part_t\` ADD IF NOT EXISTS PARTITION (id_bucket = 9) LOCATION 's3://data/part_t/id_bucket=9/'`,
  );
  expect(() => renderAthenaMonitorQuery({ kind: 'monitor-count', database: 'db', table: 'x"; DROP TABLE y; --' })).toThrow(/unsafe/);
  const parsed = parseScanRows([
    { id_bucket: '0', row_count: '5' },
    { id_bucket: null, row_count: '5', pk_nulls: '1', pk_dupes: '2', wrong_bucket: '0' },
  ]);
  expect(parsed).toMatchObject({ rows: 5, pkNulls: 1, pkDupes: 2, wrongBucket: 0 });
  expect(parsed.perBucket.get(0)).toBe(5);
});

test('scan in id_bucket ranges, merged, equals the one scan (DuckDB): counts, NULL keys, duplicates, wrong buckets', async () => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'flywheel-scan-'));
  try {
    const db = await LocalDuckDb.open(path.join(home, 'c.duckdb'), home);
    // 3,000 keys in their buckets, 40 of them twice, 7 NULL keys in bucket 0, 5 rows filed in a wrong
    // bucket, 2 in a stray partition id_bucket=300
    await db.run(`CREATE SCHEMA db; CREATE TABLE db.part_t AS
      SELECT k AS customer_user_id, ${db.bucketSql('k')} AS id_bucket FROM (SELECT 'c' || i AS k FROM range(3000) t(i) UNION ALL SELECT 'c' || i FROM range(40) t(i))
      UNION ALL SELECT NULL, 0 FROM range(7)
      UNION ALL SELECT 'w' || i, (${db.bucketSql("'w' || i")} + 1) % 256 FROM range(5) t(i)
      UNION ALL SELECT 's' || i, 300 FROM range(2) t(i)`);
    const scan = (buckets?: { from?: number; to?: number }) => db.all(scanSql('db', 'part_t', 'customer_user_id', (c) => db.bucketSql(c), buckets));
    const asStrings = (rows: Array<Record<string, unknown>>) =>
      rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? null : String(v)])));
    const whole = parseScanRows(asStrings(await scan()));
    expect(whole).toMatchObject({ rows: 3054, pkNulls: 7, pkDupes: 80, wrongBucket: 7 });
    expect(whole.perBucket.get(300)).toBe(2);
    // 3,007 distinct keys; 40 keys share the most rows (2): the tie goes to the largest value, in every range cut as in the one scan
    expect(whole.keys).toMatchObject({ distinct: 3007, top: { rows: 2, key: 'c9' } });
    expect(whole.keys!.tops.get(bucketOf('c9'))).toEqual({ rows: 2, key: 'c9' });
    for (const n of [1, 3, 7, 256]) {
      const ranges: Array<Array<Record<string, string | null>>> = [];
      for (const buckets of scanBounds(evenRanges(0, 255, n))) ranges.push(asStrings(await scan(buckets)));
      expect(parseScanRows(mergeScanRows(ranges))).toEqual(whole);
    }
    expect(scanSql('db', 't', 'k', (c) => c, { from: 0, to: 9 })).toContain('WHERE "id_bucket" >= 0 AND "id_bucket" <= 9 GROUP BY');
    expect(() => scanSql('db', 't', 'k', (c) => c, { from: -1 })).toThrow(/non-negative integer/);
    // a range without rows has a NULL totals row; the merge counts it as 0
    expect(
      mergeScanRows([
        [{ id_bucket: null, row_count: null, pk_nulls: null, pk_dupes: null, wrong_bucket: null, distinct_keys: '0', top_key_rows: null, top_key: null }],
      ]),
    ).toEqual([{ id_bucket: null, row_count: '0', pk_nulls: '0', pk_dupes: '0', wrong_bucket: '0', distinct_keys: '0', top_key_rows: null, top_key: null }]);
    db.connection.closeSync();
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
});

test('report: CSV columns of the current monitor first, e-mail subject within 100 characters', () => {
  expect(CSV_COLUMNS.slice(0, 15)).toEqual([
    'table',
    'location',
    's3_partitions',
    'glue_partitions',
    'missing_glue_count',
    'table_type_ok',
    'contract_ok',
    'raw_input_snapshot_dt',
    'count_src',
    'count_part',
    'count_diff_pct',
    'pk_nulls',
    'pk_dupes',
    'file_issues_sample',
    'checked_at',
  ]);
  const mail = reportEmail(
    {
      database: 'd'.repeat(120),
      prefix: 'part_',
      alerts: ['[PK_NULL] t: x'],
      alert_details: [{ code: 'PK_NULL', severity: 'High', table: 't', message: 'x' }],
    } as never,
    's3://analysis/r.json',
  );
  expect(mail.subject.length).toBeLessThanOrEqual(100);
  expect(mail.body).toContain('High   [PK_NULL] t: x');
});

describe('options bound to the deployment: honoured, or refused naming the option and the fix', () => {
  const env: NodeJS.ProcessEnv = {
    DATA_BUCKET: 'flywheel-dev-data-us-east-1',
    ANALYSIS_BUCKET: 'flywheel-dev-analysis',
    GLUE_DATABASE: 'flywheel_dev',
    SPLIT_JOB_NAME: 'split',
    ADDRESSABLE_JOB_NAME: 'addressable',
    ATHENA_WORKGROUP: 'flywheel-dev',
    MONITOR_WORKGROUP: 'flywheel-dev-monitor',
    MONITOR_WORKGROUP_RESULTS: 's3://flywheel-dev-analysis/athena-results/monitor/',
    EVENT_BUS_NAME: 'flywheel-dev',
    ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:flywheel-dev-alerts',
    AWS_REGION: 'us-east-1',
    MONITOR_AUTO_REPAIR: 'glue',
    MONITOR_COMPARE_DATABASE: 'omc_flywheel_staged',
    MONITOR_REPORT_PREFIX: 'data-monitor/',
  };
  const run = (overrides: Record<string, unknown> = {}, e: NodeJS.ProcessEnv = env) => {
    const s = settingsFromEnv(e);
    return monitorOptionsOf(monitorOptionsFromEnv(e, s), overrides, monitorDeploymentFromEnv(e, s));
  };
  const refusal = (overrides: Record<string, unknown>, e?: NodeJS.ProcessEnv) => {
    try {
      run(overrides, e);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error(`${JSON.stringify(overrides)} was not refused`);
  };

  test("AWS: the deployment's own values are the defaults, and passing them again is honoured", () => {
    expect(run()).toMatchObject({
      database: 'flywheel_dev',
      athena_workgroup: 'flywheel-dev-monitor',
      athena_results: 's3://flywheel-dev-analysis/athena-results/monitor/',
      sns_topic_arn: 'arn:aws:sns:us-east-1:123456789012:flywheel-dev-alerts',
      region: 'us-east-1',
      compare_database: 'omc_flywheel_staged',
      auto_repair: 'glue',
    });
    expect(
      run({
        athena_workgroup: 'flywheel-dev-monitor',
        athena_results: 's3://flywheel-dev-analysis/athena-results/monitor',
        sns_topic_arn: 'arn:aws:sns:us-east-1:123456789012:flywheel-dev-alerts',
        region: 'us-east-1',
        compare_database: 'flywheel_dev',
        report_prefix: 'data-monitor/adhoc/',
        table_prefix: 'part_ibe_',
      }),
    ).toMatchObject({ compare_database: 'flywheel_dev', report_prefix: 'data-monitor/adhoc/', table_prefix: 'part_ibe_' });
  });

  test.each([
    ['athena_workgroup', 'primary', /workgroup flywheel-dev-monitor.*Fix: omit --athena_workgroup or pass flywheel-dev-monitor\./],
    [
      'athena_results',
      's3://elsewhere/results/',
      /enforces its own result location s3:\/\/flywheel-dev-analysis\/athena-results\/monitor\/.*Fix: omit --athena_results/,
    ],
    ['sns_topic_arn', 'arn:aws:sns:us-east-1:123456789012:other', /alert topic .*flywheel-dev-alerts.*alertEmails.*Fix: omit --sns_topic_arn/],
    ['region', 'eu-west-1', /region it runs in \(us-east-1\).*Fix: omit --region or pass us-east-1\./],
    [
      'compare_database',
      'other_db',
      /reads source tables in flywheel_dev and omc_flywheel_staged only; deploy the stack with --param="monitorCompareDatabase=…"/,
    ],
    ['database', 'other_db', /catalog and data of flywheel_dev alone/],
    ['report_bucket', 'other-bucket', /analysis bucket flywheel-dev-analysis alone/],
    ['report_prefix', 'elsewhere/', /Fix: omit --report_prefix or pass data-monitor\/…\./],
    ['table_prefix', 'ext_', /part_\* tables alone/],
  ])('AWS: --%s %s is refused with the reason and the fix', (option, value, reason) => {
    const message = refusal({ [option]: value });
    expect(message).toContain(`--${option} ${value} cannot be honoured:`);
    expect(message).toMatch(reason);
  });

  test('AWS: a MONITOR_ variable the deployment cannot honour, or one naming no option, refuses every run', () => {
    expect(refusal({}, { ...env, MONITOR_ATHENA_WORKGROUP: 'primary' })).toMatch(/--athena_workgroup primary cannot be honoured/);
    expect(refusal({}, { ...env, MONITOR_ATHENA_WORKGRUOP: 'primary' })).toMatch(/--athena_workgruop: not a monitor option/);
    // an empty variable is unset (monitorCompareDatabase '' = none): the sources are in the deployment's database
    const none = { ...env, MONITOR_COMPARE_DATABASE: '' };
    expect(run({}, none).compare_database).toBeUndefined();
    expect(refusal({ compare_database: 'omc_flywheel_staged' }, none)).toMatch(/reads source tables in flywheel_dev only/);
  });

  test('every refusal is listed at once; an unknown option is named', () => {
    const message = refusal({ athena_workgroup: 'primary', region: 'eu-west-1' });
    expect(message).toMatch(/--athena_workgroup primary cannot be honoured[\s\S]*--region eu-west-1 cannot be honoured/);
    expect(() => parseMonitorOptions({ database: 'db', report_bucket: 'a', athena_workgroupp: 'x' })).toThrow(/--athena_workgroupp: not a monitor option/);
  });

  test('local: the local workgroup is honoured; results, topic and region have no local meaning and are refused', () => {
    const local = (o: Record<string, unknown>) =>
      deploymentRefusals(parseMonitorOptions({ database: 'flywheel', report_bucket: 'analysis', ...o }), LOCAL_MONITOR_DEPLOYMENT);
    expect(local({ athena_workgroup: LOCAL_MONITOR_WORKGROUP, compare_database: 'any_db', database: 'other' })).toEqual([]);
    expect(local({ athena_workgroup: 'primary' })).toEqual([expect.stringMatching(/DuckDB.*Fix: omit --athena_workgroup or pass flywheel-local-monitor\./)]);
    expect(local({ athena_results: 's3://b/r/' })).toEqual([expect.stringMatching(/no query result files.*Fix: omit --athena_results\.$/)]);
    expect(local({ sns_topic_arn: 'arn:aws:sns:us-east-1:1:t' })).toEqual([expect.stringMatching(/outbox.*Fix: omit --sns_topic_arn\.$/)]);
    expect(local({ region: 'us-east-1' })).toEqual([expect.stringMatching(/no AWS region.*Fix: omit --region\.$/)]);
  });
});
