// The data monitor through its Lambda entry against in-memory S3 and Glue and a mocked Athena that
// answers the monitor's two queries per table: one scan of part_<t>, one count of its source.
import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { tableInput } from '../../shared/adapters/aws/glue-catalog.js';
import { fakeGlue } from './fake-glue.js';
import { fakeS3 } from './fake-s3.js';

Object.assign(process.env, {
  DATA_BUCKET: 'data',
  ANALYSIS_BUCKET: 'analysis',
  GLUE_DATABASE: 'flywheel_dev',
  SPLIT_JOB_NAME: 'split',
  ADDRESSABLE_JOB_NAME: 'addressable',
  ATHENA_WORKGROUP: 'flywheel-dev',
  MONITOR_WORKGROUP: 'flywheel-dev-monitor',
  EVENT_BUS_NAME: 'flywheel-dev',
  ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:alerts',
  AWS_REGION: 'us-east-1',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  MONITOR_TREND_REPORTS: '0',
});
const s3 = fakeS3();
const glue = fakeGlue();
const athena = mockClient(AthenaClient);
const events = mockClient(EventBridgeClient);
const sns = mockClient(SNSClient);
const context = { functionName: 'fn', awsRequestId: 'req', getRemainingTimeInMillis: () => 60000 } as never;
const TABLES = ['ibe_01a', 'miacs_01', 'miacs_02'];
const base = (t: string) => `omc_cleanroom_data/cleanroom_tables/bucketed/part_${t}/snapshot_dt=2025-10-31/run_id=r1/`;

beforeAll(() => {
  s3.put(
    'data',
    'omc_cleanroom_data/cleanroom_tables/bucketed/metadata/snapshot_dt.txt',
    `${new Date(Date.now() - 3 * 86400000).toISOString().slice(0, 10)}\n`,
  );
  for (const t of TABLES) {
    const location = `s3://data/${base(t)}`;
    glue.tables.set(
      `flywheel_dev.part_${t}`,
      tableInput({
        name: `part_${t}`,
        location,
        columns: [{ name: 'customer_user_id', type: 'string' }],
        partitionKeys: [{ name: 'id_bucket', type: 'int' }],
        parameters: { snapshot_dt: '2025-10-31' },
      }),
    );
    glue.tables.set(
      `flywheel_dev.ext_${t}`,
      tableInput({
        name: `ext_${t}`,
        location: `s3://data/split/${t}/`,
        columns: [{ name: 'customer_user_id', type: 'string' }],
        partitionKeys: [],
        parameters: {},
      }),
    );
    for (let b = 0; b < 256; b++) {
      if (t === 'miacs_02' && b >= 200) continue; // the last write batch never landed
      s3.put('data', `${base(t)}id_bucket=${b}/part-0`, 'x');
      if (!(t === 'miacs_01' && b === 9)) glue.addPartition('flywheel_dev', `part_${t}`, String(b), `${location}id_bucket=${b}/`);
    }
  }
  const queries = new Map<string, string>();
  athena.on(StartQueryExecutionCommand).callsFake((input) => {
    const id = `q${queries.size + 1}`;
    queries.set(id, input.QueryString);
    return { QueryExecutionId: id };
  });
  athena.on(GetQueryExecutionCommand).callsFake((input) => ({
    QueryExecution: { Status: { State: 'SUCCEEDED' }, Statistics: { DataScannedInBytes: 1000 } },
    QueryExecutionId: input.QueryExecutionId,
  }));
  athena.on(GetQueryResultsCommand).callsFake((input) => {
    const sql = queries.get(input.QueryExecutionId)!;
    const header = (...names: string[]) => ({ Data: names.map((n) => ({ VarCharValue: n })) });
    const row = (...values: Array<string | undefined>) => ({ Data: values.map((v) => (v === undefined ? {} : { VarCharValue: v })) });
    if (sql.startsWith('SELECT count(*)'))
      return { ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'row_count', Type: 'bigint' }] }, Rows: [header('row_count'), row('2560')] } };
    const buckets = sql.includes('part_miacs_02') ? 200 : 256;
    return {
      ResultSet: {
        ResultSetMetadata: { ColumnInfo: ['id_bucket', 'row_count', 'pk_nulls', 'pk_dupes', 'wrong_bucket'].map((Name) => ({ Name, Type: 'bigint' })) },
        Rows: [
          header('id_bucket', 'row_count', 'pk_nulls', 'pk_dupes', 'wrong_bucket'),
          ...Array.from({ length: buckets }, (_, b) => row(String(b), '10', '0', '0', '0')),
          row(undefined, String(buckets * 10), '0', sql.includes('part_ibe_01a') ? '4' : '0', '0'),
        ],
      },
    };
  }) as never;
  events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
});

test('one scan per part_ table and one source count, ≤2 LISTs per table, report and e-mail', async () => {
  const { handler } = await import('../../services/data-monitor/handler.js');
  const listsBefore = s3.stats.lists;
  const run = (await handler({ options: { auto_repair: 'glue' } }, context)) as { runId: string };
  const starts = athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input);
  expect(starts).toHaveLength(TABLES.length * 2);
  expect(starts.every((s) => s.WorkGroup === 'flywheel-dev-monitor')).toBe(true);
  for (const t of TABLES) {
    expect(starts.filter((s) => s.QueryString!.includes(`"part_${t}"`) && s.QueryString!.includes('GROUPING SETS'))).toHaveLength(1);
    expect(starts.filter((s) => s.QueryString === `SELECT count(*) AS row_count FROM "flywheel_dev"."ext_${t}"`)).toHaveLength(1);
  }
  const tableLists = s3.stats.lists - listsBefore - 2; // minus the raw_input listing and the report history
  expect(tableLists).toBeLessThanOrEqual(2 * TABLES.length);
  // the glue-mode repair registered exactly the missing partition
  expect(glue.partitions('flywheel_dev', 'part_miacs_01').some((p) => p.Values![0] === '9')).toBe(true);

  for (const i of starts.keys()) {
    await handler(
      {
        version: '0',
        id: `e${i}`,
        'detail-type': 'Athena Query State Change',
        source: 'aws.athena',
        account: '0',
        time: '2025-11-01T00:00:00Z',
        region: 'us-east-1',
        resources: [],
        detail: { currentState: 'SUCCEEDED', queryExecutionId: `q${i + 1}`, workgroupName: 'flywheel-dev-monitor' },
      },
      context,
    );
  }
  const date = new Date().toISOString().slice(0, 10);
  const report = JSON.parse(s3.text('analysis', `data-monitor/omc_monitor_report_${date}.json`)!);
  expect(report.run_id).toBe(run.runId);
  expect(report.tables.map((t: any) => [t.table, t.count_part, t.count_src, t.s3_partitions, t.bytes_scanned])).toEqual([
    ['part_ibe_01a', 2560, 2560, 256, 2000],
    ['part_miacs_01', 2560, 2560, 256, 2000],
    ['part_miacs_02', 2000, 2560, 200, 2000],
  ]);
  expect(report.alerts).toEqual(
    expect.arrayContaining([
      '[PK_DUPES] part_ibe_01a: customer_user_id duplicate rows=4',
      expect.stringMatching(/^\[PARTITION_MISSING_CATALOG\] part_miacs_01: catalog missing 1 partitions that exist on S3: 9 — repaired \(glue\)$/),
      expect.stringMatching(/^\[PARTITION_MISSING_S3\] part_miacs_02: 56 of 256 .*200-255 — matches the failed write batch part 200-255/),
      '[COUNT_MISMATCH] part_miacs_02: flywheel_dev.part_miacs_02=2000 vs flywheel_dev.ext_miacs_02=2560 (Δ=21.875000%)',
    ]),
  );
  expect(s3.keys('analysis', 'data-monitor/omc_monitor_report_').sort()).toEqual(
    ['csv', 'html', 'json'].map((x) => `data-monitor/omc_monitor_report_${date}.${x}`),
  );
  const mail = sns.commandCalls(PublishCommand).at(-1)!.args[0].input;
  expect(mail.Subject).toBe(`[DATA MONITOR] flywheel_dev part_* - ${report.alerts.length} issue(s)`);
  expect(mail.Message).toContain(`Report: s3://analysis/data-monitor/omc_monitor_report_${date}.json`);
});
