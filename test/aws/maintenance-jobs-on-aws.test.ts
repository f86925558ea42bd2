// The compaction and chargebacks Lambda entries (services/*/handler.ts) on events/*.json against
// in-memory S3, a mocked Glue and SNS: the job each starts, its arguments, and the alert when it fails.
import { StartJobRunCommand } from '@aws-sdk/client-glue';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { fakeGlue } from './fake-glue.js';
import { LAMBDA_ENV, lambdaContext, sample } from './lambda-env.js';
import { fakeS3 } from './fake-s3.js';

const ENV = {
  ...LAMBDA_ENV,
  COMPACTION_JOB_NAME: 'flywheel-dev-compaction',
  CHARGEBACKS_JOB_NAME: 'flywheel-dev-chargebacks-consolidation',
  COMPACTION_DATASETS: 'infobase,addressable',
  CHARGEBACKS_SOURCE_TABLE: 'landing_chargebacks',
  CHARGEBACKS_OUTPUT_PATH: 's3://data/consolidated/chargebacks/',
  CHARGEBACKS_OUTPUT_FILE_COUNT: '8',
};
const context = lambdaContext;
type Handler = (event: unknown, ctx: unknown) => Promise<any>;

const s3 = fakeS3();
const glue = fakeGlue();
const sns = mockClient(SNSClient);
let compaction: Handler, chargebacks: Handler;

beforeAll(async () => {
  Object.assign(process.env, ENV);
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
  compaction = (await import('../../services/compaction/handler.js')).handler as Handler;
  chargebacks = (await import('../../services/chargebacks/handler.js')).handler as Handler;
});

const starts = () => glue.mock.commandCalls(StartJobRunCommand).map((c) => c.args[0].input);
const mails = () => sns.commandCalls(PublishCommand).map((c) => `${c.args[0].input.Subject}\n${c.args[0].input.Message}`);

test('a raw landing marker starts the compaction job with its source, output and marker; its failure alerts with the re-run', async () => {
  const record = await compaction(sample('s3-object-created.raw-landing.json'), context);
  expect(starts().at(-1)).toEqual({
    JobName: 'flywheel-dev-compaction',
    Arguments: {
      '--DATASET': 'addressable',
      '--SNAPSHOT_DT': '2025-10-31',
      '--SOURCE_PATH': 's3://data/opus/addressable_ids/raw_input/snapshot_dt=2025-10-31/',
      '--OUTPUT_PATH': 's3://data/omc_cleanroom_data/addressable/addressable_ids_compaction_cr/snapshot_dt=2025-10-31/',
      '--READY_MARKER': '_SUCCESS',
      '--TARGET_FILE_MB': '256',
      '--COMPRESSION_CODEC': 'snappy',
    },
  });
  expect(s3.text('data', `_runs/index/jobs/${record.jobRunId}.json`)).toContain('"job": "compaction"');

  // the sample failure is of a run this stack did not start: logged, no alert
  expect(await compaction(sample('glue-job-state-change.compaction-failed.json'), context)).toMatchObject({
    declined: 'ignored',
    reason: 'job run not started by Flywheel',
  });
  expect(mails()).toEqual([]);
  const failed = sample('glue-job-state-change.compaction-failed.json');
  await compaction({ ...failed, detail: { ...failed.detail, jobRunId: record.jobRunId } }, context);
  const [mail] = mails();
  expect(mail).toContain('compaction job FAILED for addressable snapshot_dt=2025-10-31');
  expect(mail).toContain('--function-name <service>-<stage>-compaction');
  expect(mail).toContain('{"dataset":"addressable","snapshotDt":"2025-10-31"}');
  sns.resetHistory();
});

test('the chargebacks schedule computes EXECUTION_SEQUENCE and PARTITION_DATE from its time and passes every job argument', async () => {
  const record = await chargebacks(sample('scheduled-event.chargebacks.json'), context);
  expect(starts().at(-1)).toEqual({
    JobName: 'flywheel-dev-chargebacks-consolidation',
    Arguments: {
      '--SOURCE_DATABASE': 'flywheel_dev',
      '--SOURCE_TABLE': 'landing_chargebacks',
      '--OUTPUT_PATH': 's3://data/consolidated/chargebacks/',
      '--OUTPUT_FILE_COUNT': '8',
      '--COMPRESSION_CODEC': 'snappy',
      '--EXECUTION_TIME': '2025-11-10T06:30:00.000Z',
      '--EXECUTION_SEQUENCE': '2',
      '--TOTAL_EXECUTIONS': '4',
      '--ENABLE_PARTITION_FILTER': 'true',
      '--PARTITION_DATE': '2025-11-10',
      '--DRY_RUN': 'false',
    },
  });
  const midnight = sample('scheduled-event.chargebacks.json');
  await chargebacks({ ...midnight, time: '2025-03-01T00:30:00Z' }, context);
  expect(starts().at(-1)!.Arguments).toMatchObject({ '--EXECUTION_SEQUENCE': '1', '--PARTITION_DATE': '2025-02-28' });

  const failed = sample('glue-job-state-change.chargebacks-failed.json');
  await chargebacks({ ...failed, detail: { ...failed.detail, jobRunId: record.jobRunId } }, context);
  const [mail] = mails();
  expect(mail).toContain('chargebacks job FAILED for chargebacks 2025-11-10 (execution 2 of 4)');
  expect(mail).toContain('Table or view not found: flywheel_dev.landing_chargebacks');
  expect(mail).toContain('npx flywheel consolidate --date 2025-11-10');
});
