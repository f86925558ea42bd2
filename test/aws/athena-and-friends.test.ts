import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetJobRunCommand, GlueClient, StartJobRunCommand } from '@aws-sdk/client-glue';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { AthenaQueryEngine } from '../../shared/adapters/aws/athena-query-engine.js';
import { EventBridgeBus } from '../../shared/adapters/aws/eventbridge-bus.js';
import { GlueJobRunner } from '../../shared/adapters/aws/glue-job-runner.js';
import { SnsNotifier, snsSubject } from '../../shared/adapters/aws/sns-notifier.js';
import { buildStepsFor } from '../../shared/domain/build-steps.js';

const athena = mockClient(AthenaClient);
const glue = mockClient(GlueClient);
const events = mockClient(EventBridgeClient);
const sns = mockClient(SNSClient);
beforeEach(() => [athena, glue, events, sns].forEach((m) => m.reset()));

const [step] = buildStepsFor({
  database: 'flywheel_dev', table: 't', extTable: 'ext_t', partStaging: 'part_t__r1', columns: [{ name: 'customer_user_id', type: 'string' }],
  partLocation: 's3://data/bucketed/part_t/snapshot_dt=2025-10-31/run_id=r1/', bucketCount: 256, partitionsPerQuery: 100,
});

describe('AthenaQueryEngine', () => {
  const engine = new AthenaQueryEngine(new AthenaClient({}), { workgroup: 'flywheel-dev' });

  test('starts the rendered SQL in the workgroup with a stable 64-character token', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
    expect(await engine.start(step!, 'run:t:0')).toBe('q-1');
    await engine.start(step!, 'run:t:0');
    const [a, b] = athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input);
    expect(a).toMatchObject({ WorkGroup: 'flywheel-dev', QueryExecutionContext: { Database: 'flywheel_dev' } });
    expect(a!.QueryString).toMatch(/^CREATE TABLE "flywheel_dev"\."part_t__r1"/);
    expect(a!.ClientRequestToken).toMatch(/^[0-9a-f]{64}$/);
    expect(b!.ClientRequestToken).toBe(a!.ClientRequestToken);
  });

  test('status and results: header row skipped, pages followed, bytes scanned reported', async () => {
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'FAILED', StateChangeReason: 'HIVE_BAD_DATA' }, Statistics: { DataScannedInBytes: 1234 } } });
    athena.on(GetQueryResultsCommand, { NextToken: undefined }).resolves({
      ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'id_bucket', Type: 'integer' }, { Name: 'row_count', Type: 'bigint' }] as never }, Rows: [{ Data: [{ VarCharValue: 'id_bucket' }, { VarCharValue: 'row_count' }] }, { Data: [{ VarCharValue: '0' }, { VarCharValue: '10' }] }] },
      NextToken: 'p2',
    });
    athena.on(GetQueryResultsCommand, { NextToken: 'p2' }).resolves({ ResultSet: { Rows: [{ Data: [{}, { VarCharValue: '20' }] }] } });
    expect(await engine.status('q')).toEqual({ state: 'FAILED', reason: 'HIVE_BAD_DATA' });
    expect(await engine.results('q')).toEqual({ rows: [{ id_bucket: '0', row_count: '10' }, { id_bucket: null, row_count: '20' }], bytesScanned: 1234 });
  });
});

test('GlueJobRunner passes the run arguments; TABLES_FILTER only when given', async () => {
  glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_1' });
  glue.on(GetJobRunCommand).resolves({ JobRun: { JobRunState: 'TIMEOUT', ErrorMessage: 'timed out' } });
  const jobs = new GlueJobRunner(new GlueClient({}), { jobNames: { infobase: 'flywheel-dev-infobase-split-and-bucket', addressable: 'flywheel-dev-addressable-bucket' } });
  expect(await jobs.startSplitJob({ dataset: 'infobase', snapshotDt: '2025-10-31', runId: 'r1', planUri: 's3://data/_runs/plan.json' })).toEqual({ jobName: 'flywheel-dev-infobase-split-and-bucket', jobRunId: 'jr_1' });
  await jobs.startSplitJob({ dataset: 'addressable', snapshotDt: '2025-10-31', runId: 'r1', planUri: 's3://data/_runs/plan.json', tablesFilter: ['a', 'b'] });
  expect(glue.commandCalls(StartJobRunCommand)[1]!.args[0].input.JobName).toBe('flywheel-dev-addressable-bucket');
  await expect(jobs.startSplitJob({ dataset: 'nope', snapshotDt: 'x', runId: 'r', planUri: 'p' })).rejects.toThrow(/no Glue job is configured for dataset nope/);
  const [a, b] = glue.commandCalls(StartJobRunCommand).map((c) => c.args[0].input.Arguments);
  expect(a).toEqual({ '--SNAPSHOT_DT': '2025-10-31', '--RUN_ID': 'r1', '--PLAN_URI': 's3://data/_runs/plan.json' });
  expect(b!['--TABLES_FILTER']).toBe('a,b');
  expect(await jobs.jobRunState('j', 'jr_1')).toEqual({ state: 'TIMEOUT', reason: 'timed out' });
});

test('EventBridgeBus sends batches of 10 to the project bus and fails on failed entries', async () => {
  events.on(PutEventsCommand).resolvesOnce({ FailedEntryCount: 0, Entries: [] }).resolvesOnce({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }] });
  const bus = new EventBridgeBus(new EventBridgeClient({}), { busName: 'flywheel-dev' });
  const e = (i: number) => ({ source: 'flywheel.pipeline', detailType: 'Stage Completed', detail: { i } });
  await expect(bus.put(Array.from({ length: 11 }, (_, i) => e(i)))).rejects.toThrow(/ThrottlingException slow down/);
  const calls = events.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries!);
  expect(calls.map((c) => c.length)).toEqual([10, 1]);
  expect(calls[0]![0]).toEqual({ EventBusName: 'flywheel-dev', Source: 'flywheel.pipeline', DetailType: 'Stage Completed', Detail: '{"i":0}' });
});

test('SnsNotifier: an ASCII one-line subject of at most 100 characters, attributes as strings', async () => {
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
  await new SnsNotifier(new SNSClient({}), { topicArn: 'arn:aws:sns:us-east-1:000000000000:flywheel-dev-alerts' }).publish({ subject: '[DATA MONITOR] db part_* — 3 issue(s)', body: 'b', attributes: { stage: 'x' } });
  expect(sns.commandCalls(PublishCommand)[0]!.args[0].input).toEqual({
    TopicArn: 'arn:aws:sns:us-east-1:000000000000:flywheel-dev-alerts',
    Subject: '[DATA MONITOR] db part_* - 3 issue(s)',
    Message: 'b',
    MessageAttributes: { stage: { DataType: 'String', StringValue: 'x' } },
  });
  expect(snsSubject(`x\n${'é'.repeat(200)}`)).toMatch(/^x \?{95}\.\.\.$/);
});
