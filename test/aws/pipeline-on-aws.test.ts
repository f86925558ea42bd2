// The AWS composition end to end: the real Lambda entries (services/*/handler.ts) against in-memory
// S3 and Glue and mocked Athena, EventBridge and SNS. Athena's and the Glue job's side effects are
// simulated the way those services behave (files written, CTAS tables registered); everything
// Flywheel itself does runs for real.
import { AthenaClient, GetQueryExecutionCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DuckDBInstance } from '@duckdb/node-api';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateSampleLake } from '../../shared/local/sample-lake.js';
import type { SplitPlan } from '../../shared/domain/split-plan.js';
import { simulatePartRangeQuery } from './fake-athena.js';
import { fakeGlue } from './fake-glue.js';
import { LAMBDA_ENV, lambdaContext, sample } from './lambda-env.js';
import { fakeS3 } from './fake-s3.js';

const ENV = LAMBDA_ENV;
const context = lambdaContext;
const envelope = (source: string, detailType: string, detail: unknown) => ({
  version: '0',
  id: `e-${Math.random()}`,
  'detail-type': detailType,
  source,
  account: '000000000000',
  time: '2025-10-31T23:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail,
});

const s3 = fakeS3();
const glue = fakeGlue();
const athena = mockClient(AthenaClient);
const events = mockClient(EventBridgeClient);
const sns = mockClient(SNSClient);
type Handler = (event: unknown, ctx: unknown) => Promise<any>;
let trigger: Handler, register: Handler, bucketed: Handler;
const started: Array<{ id: string; sql: string; done: boolean }> = [];
const published = () => events.commandCalls(PutEventsCommand).flatMap((c) => c.args[0].input.Entries!);

beforeAll(async () => {
  Object.assign(process.env, ENV);
  // the lake: the sample generator's parquet files uploaded to the in-memory data bucket
  const lake = mkdtempSync(path.join(os.tmpdir(), 'aws-lake-'));
  await generateSampleLake(lake, { rows: 300, snapshots: ['2025-09-30', '2025-10-31'], addressable: false });
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => (statSync(path.join(dir, f)).isDirectory() ? walk(path.join(dir, f)) : [path.join(dir, f)]));
  for (const file of walk(path.join(lake, 'data'))) s3.put('data', path.relative(path.join(lake, 'data'), file), new Uint8Array(readFileSync(file)));
  athena.on(StartQueryExecutionCommand).callsFake((input) => {
    const id = `q-${started.length + 1}`;
    started.push({ id, sql: input.QueryString, done: false });
    return { QueryExecutionId: id };
  });
  athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
  trigger = (await import('../../services/snapshot-trigger/handler.js')).handler as Handler;
  register = (await import('../../services/register-staged-tables/handler.js')).handler as Handler;
  bucketed = (await import('../../services/bucketed-tables/handler.js')).handler as Handler;
});

/** What the Glue job does with the plan: one parquet file per table (the target columns and id_bucket) and result.json. */
async function simulateSplitJob(planUri: string): Promise<void> {
  const key = planUri.replace('s3://data/', '');
  const plan = JSON.parse(s3.text('data', key)!) as SplitPlan;
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'split-'));
  for (const t of plan.tables) {
    const file = path.join(dir, `${t.target}.parquet`);
    await db.run(`COPY (SELECT ${t.columns.map((c) => `'v' AS ${c.target}`).join(', ')}, 7 AS id_bucket) TO '${file}' (FORMAT parquet)`);
    s3.put('data', `${t.outputUri.replace('s3://data/', '')}part-00000.snappy.parquet`, new Uint8Array(readFileSync(file)));
  }
  db.closeSync();
  s3.put(
    'data',
    key.replace('plan.json', 'result.json'),
    JSON.stringify({ tables: Object.fromEntries(plan.tables.map((t) => [t.target, { rows: 300, files: 1, nullKeys: 1 }])) }),
  );
}

test('ready marker → split job → ext_ tables → part_ ranges → bucketed_ → live switch → Pipeline Completed', async () => {
  // 1. snapshot-trigger, and a duplicate delivery
  const [first] = await trigger(sample('s3-object-created.eventbridge.json'), context);
  expect(first).toMatchObject({ outcome: 'started', snapshotDt: '2025-10-31', jobRunId: 'jr_0001' });
  const [again] = await trigger(sample('s3-object-created.eventbridge.json'), context);
  expect(again).toMatchObject({ outcome: 'duplicate' });
  expect(glue.calls.filter((c) => c === 'StartJobRun')).toHaveLength(1);
  const ledgerKey = '_runs/infobase/snapshot_dt=2025-10-31/run.json';
  expect(JSON.parse(s3.text('data', ledgerKey)!).stages['split-and-bucket']).toMatchObject({ status: 'RUNNING', jobRunId: 'jr_0001' });
  const { StartJobRunCommand } = await import('@aws-sdk/client-glue');
  const args = glue.mock.commandCalls(StartJobRunCommand)[0]!.args[0].input;
  expect(args.JobName).toBe(ENV.SPLIT_JOB_NAME);
  expect(args.Arguments).toMatchObject({
    '--SNAPSHOT_DT': '2025-10-31',
    '--RUN_ID': first.runId,
    '--PLAN_URI': `s3://data/_runs/infobase/snapshot_dt=2025-10-31/run_id=${first.runId}/plan.json`,
  });

  // 2. the Glue job succeeds → register-staged-tables
  await simulateSplitJob(args.Arguments!['--PLAN_URI']!);
  const glueEvent = sample('glue-job-state-change.succeeded.json');
  glueEvent.detail.jobRunId = 'jr_0001';
  const registered = await register(glueEvent, context);
  expect(registered).toEqual({ outcome: 'registered', tables: ['ibe_01a', 'ibe_01b', 'ibe_04', 'miacs_01', 'miacs_02'] });
  const ext = glue.tables.get('flywheel_dev.ext_ibe_01a')!;
  expect(ext).toMatchObject({
    TableType: 'EXTERNAL_TABLE',
    Description: 'Bucketed table created from snapshot_dt=2025-10-31',
    Parameters: { snapshot_dt: '2025-10-31', run_id: first.runId },
  });
  expect(ext.StorageDescriptor!.Columns!.map((c) => c.Name)).toEqual(['customer_user_id', 'ibe8688_age', 'ibe7602_gender', 'ibe9514_marital', 'id_bucket']);
  const stageCompleted = published().find((e) => e.DetailType === 'Stage Completed')!;
  expect(stageCompleted).toMatchObject({ EventBusName: 'flywheel-dev', Source: 'flywheel.pipeline' });

  // 3. bucketed-tables: each Athena event advances its table by one query; every event delivered twice
  await bucketed(envelope('flywheel.pipeline', 'Stage Completed', JSON.parse(stageCompleted.Detail!)), context);
  for (let guard = 0; guard < 100 && started.some((q) => !q.done); guard++) {
    const q = started.find((x) => !x.done)!;
    simulatePartRangeQuery(q.sql, s3, glue);
    q.done = true;
    const event = envelope('aws.athena', 'Athena Query State Change', {
      currentState: 'SUCCEEDED',
      previousState: 'RUNNING',
      queryExecutionId: q.id,
      workgroupName: 'flywheel-dev',
      sequenceNumber: '3',
      statementType: 'DML',
      versionId: '0',
    });
    await bucketed(event, context);
    await bucketed(event, context);
  }
  expect(started).toHaveLength(5 * 6); // three ranges per table for part_ and part_*_er, no duplicate starts
  expect(
    started.every((q) => !/BETWEEN (\d+) AND (\d+)/.test(q.sql) || Number(/AND (\d+)/.exec(q.sql)![1]) - Number(/BETWEEN (\d+)/.exec(q.sql)![1]) < 100),
  ).toBe(true);

  // 4. live tables, bucketed layout, metadata, Pipeline Completed, no alert
  const part = glue.tables.get('flywheel_dev.part_ibe_04')!;
  expect(part.Parameters).toMatchObject({ snapshot_dt: '2025-10-31', run_id: first.runId });
  expect(glue.partitions('flywheel_dev', 'part_ibe_04')).toHaveLength(256);
  const bucketedTable = glue.tables.get('flywheel_dev.bucketed_ibe_04')!;
  expect(bucketedTable.StorageDescriptor).toMatchObject({ BucketColumns: ['customer_user_id'], NumberOfBuckets: 256 });
  const files = s3.keys('data', bucketedTable.StorageDescriptor!.Location!.replace('s3://data/', ''));
  expect(files).toHaveLength(256);
  expect(
    files.every((k) => /\/(\d{6})_0_20251031_000000_00001_abcde_(\d+)$/.test(k) && Number(/\/(\d{6})_/.exec(k)![1]) === Number(/_(\d+)$/.exec(k)![1])),
  ).toBe(true);
  expect([...glue.tables.keys()].filter((k) => k.includes('__r'))).toEqual([]); // staging definitions dropped
  expect(s3.text('data', 'omc_cleanroom_data/cleanroom_tables/bucketed/metadata/snapshot_dt.txt')).toBe('2025-10-31\n');
  const done = published().filter((e) => e.DetailType === 'Pipeline Completed');
  expect(done).toHaveLength(1);
  expect(JSON.parse(done[0]!.Detail!)).toMatchObject({
    status: 'SUCCEEDED',
    tables: expect.arrayContaining([expect.objectContaining({ table: 'ibe_04', rows: 300 })]),
  });
  expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
});

test('a failed split job alerts over SNS with the put-events replay command', async () => {
  const manual = await trigger({ dataset: 'infobase', snapshotDt: '2025-09-30', rerun: true }, context);
  expect(manual[0]).toMatchObject({ outcome: 'started', snapshotDt: '2025-09-30' });
  const failed = sample('glue-job-state-change.failed.json');
  failed.detail.jobRunId = manual[0].jobRunId;
  expect(await register(failed, context)).toEqual({ outcome: 'failed', tables: [] });
  const mail = sns.commandCalls(PublishCommand).at(-1)!.args[0].input;
  expect(mail.Subject).toBe('[Flywheel] split-and-bucket FAILED infobase snapshot_dt=2025-09-30');
  expect(mail.Message).toMatch(/Cause: +Glue job flywheel-dev-infobase-split-and-bucket run jr_0002 FAILED: AnalysisException/);
  expect(mail.Message).toContain(
    `aws events put-events --entries '[{"EventBusName":"flywheel-dev","Source":"flywheel.ops","DetailType":"Replay Requested","Detail":"{\\"dataset\\":\\"infobase\\",\\"snapshotDt\\":\\"2025-09-30\\",\\"fromStage\\":\\"split-and-bucket\\"`,
  );
  expect(published().some((e) => e.DetailType === 'Stage Failed')).toBe(true);
});
