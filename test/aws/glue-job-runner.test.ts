// GlueJobRunner against a mocked Glue client: the job per dataset, its arguments, the run state.
import { GetJobRunCommand, GlueClient, StartJobRunCommand } from '@aws-sdk/client-glue';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { GlueJobRunner } from '../../shared/adapters/aws/glue-job-runner.js';

const glue = mockClient(GlueClient);
const jobs = new GlueJobRunner(new GlueClient({ region: 'us-east-1' }), {
  jobNames: { infobase: 'flywheel-dev-infobase-split-and-bucket', addressable: 'flywheel-dev-addressable-bucket' },
});
beforeEach(() => glue.reset());

test('starts the dataset job with SNAPSHOT_DT, RUN_ID and PLAN_URI, and no TABLES_FILTER when no tables are given', async () => {
  glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_0123456789abcdef' });
  expect(
    await jobs.startSplitJob({
      dataset: 'infobase',
      snapshotDt: '2025-10-31',
      runId: 'r1',
      planUri: 's3://data/_runs/infobase/snapshot_dt=2025-10-31/plan.json',
    }),
  ).toEqual({ jobName: 'flywheel-dev-infobase-split-and-bucket', jobRunId: 'jr_0123456789abcdef' });
  await jobs.startSplitJob({ dataset: 'infobase', snapshotDt: '2025-10-31', runId: 'r2', planUri: 'p', tablesFilter: [] });
  const [a, b] = glue.commandCalls(StartJobRunCommand).map((c) => c.args[0].input);
  expect(a).toEqual({
    JobName: 'flywheel-dev-infobase-split-and-bucket',
    Arguments: { '--SNAPSHOT_DT': '2025-10-31', '--RUN_ID': 'r1', '--PLAN_URI': 's3://data/_runs/infobase/snapshot_dt=2025-10-31/plan.json' },
  });
  expect(b!.Arguments).not.toHaveProperty('--TABLES_FILTER');
});

test('TABLES_FILTER is the comma-joined table list; each dataset has its own job', async () => {
  glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_2' });
  await jobs.startSplitJob({ dataset: 'addressable', snapshotDt: '2025-10-31', runId: 'r1', planUri: 'p', tablesFilter: ['ibe_01a', 'ibe_02'] });
  expect(glue).toHaveReceivedCommandWith(StartJobRunCommand, {
    JobName: 'flywheel-dev-addressable-bucket',
    Arguments: expect.objectContaining({ '--TABLES_FILTER': 'ibe_01a,ibe_02' }),
  });
});

test('an unknown dataset or a missing JobRunId is an error, not a silent start', async () => {
  glue.on(StartJobRunCommand).resolves({});
  await expect(jobs.startSplitJob({ dataset: 'nope', snapshotDt: 'x', runId: 'r', planUri: 'p' })).rejects.toThrow(
    'no Glue job is configured for dataset nope',
  );
  expect(glue).not.toHaveReceivedCommand(StartJobRunCommand);
  await expect(jobs.startSplitJob({ dataset: 'infobase', snapshotDt: 'x', runId: 'r', planUri: 'p' })).rejects.toThrow(/returned no JobRunId/);
});

test('jobRunState is JobRun.JobRunState with ErrorMessage; EXPIRED reads as TIMEOUT', async () => {
  glue
    .on(GetJobRunCommand, { RunId: 'jr_1' })
    .resolves({ JobRun: { Id: 'jr_1', JobName: 'j', JobRunState: 'FAILED', ErrorMessage: 'AnalysisException: column x not found' } });
  glue.on(GetJobRunCommand, { RunId: 'jr_2' }).resolves({ JobRun: { Id: 'jr_2', JobName: 'j', JobRunState: 'EXPIRED' } });
  glue.on(GetJobRunCommand, { RunId: 'jr_3' }).resolves({ JobRun: { Id: 'jr_3', JobName: 'j', JobRunState: 'RUNNING' } });
  expect(await jobs.jobRunState('j', 'jr_1')).toEqual({ state: 'FAILED', reason: 'AnalysisException: column x not found' });
  expect(await jobs.jobRunState('j', 'jr_2')).toEqual({ state: 'TIMEOUT', reason: expect.stringMatching(/EXPIRED/) });
  expect(await jobs.jobRunState('j', 'jr_3')).toEqual({ state: 'RUNNING', reason: undefined });
  expect(glue).toHaveReceivedCommandWith(GetJobRunCommand, { JobName: 'j', RunId: 'jr_1' });
});

test('a maintenance job starts with each argument as --NAME; an unconfigured one is an error naming the variable', async () => {
  glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_9' });
  const withJobs = new GlueJobRunner(new GlueClient({ region: 'us-east-1' }), {
    jobNames: {},
    maintenanceJobNames: { chargebacks: 'flywheel-dev-chargebacks-consolidation' },
  });
  expect(await withJobs.startJob('chargebacks', { PARTITION_DATE: '2025-11-10', DRY_RUN: 'false' })).toEqual({
    jobName: 'flywheel-dev-chargebacks-consolidation',
    jobRunId: 'jr_9',
  });
  expect(glue).toHaveReceivedCommandWith(StartJobRunCommand, {
    JobName: 'flywheel-dev-chargebacks-consolidation',
    Arguments: { '--PARTITION_DATE': '2025-11-10', '--DRY_RUN': 'false' },
  });
  await expect(withJobs.startJob('compaction', {})).rejects.toThrow('no Glue job is configured for compaction (set COMPACTION_JOB_NAME)');
});
