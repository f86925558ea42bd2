/** The Glue split job: StartJobRun with the run's arguments; GetJobRun for the reconciler. */
import { GetJobRunCommand, StartJobRunCommand, type GlueClient } from '@aws-sdk/client-glue';
import type { JobMethod } from '../../domain/access.js';
import type { JobRunner, JobState, MaintenanceJob, SplitJobArgs } from '../../ports.js';

/** The Glue action behind each method (on the job). */
export const GLUE_JOB_ACTIONS: Record<JobMethod, string[]> = {
  startSplitJob: ['glue:StartJobRun'],
  startJob: ['glue:StartJobRun'],
  jobRunState: ['glue:GetJobRun'],
};

/** JobRunner over Glue; each dataset has its own split job (`jobNames[dataset]`), each maintenance job its own (`maintenanceJobNames`). */
export class GlueJobRunner implements JobRunner {
  constructor(
    private readonly client: GlueClient,
    private readonly options: { jobNames: Record<string, string>; maintenanceJobNames?: Partial<Record<MaintenanceJob, string>> },
  ) {}

  /** StartJobRun of a maintenance job; each argument is passed as `--NAME`. */
  async startJob(job: MaintenanceJob, args: Record<string, string>): Promise<{ jobName: string; jobRunId: string }> {
    const jobName = this.options.maintenanceJobNames?.[job];
    if (!jobName) throw new Error(`no Glue job is configured for ${job} (set ${job.toUpperCase()}_JOB_NAME)`);
    const res = await this.client.send(
      new StartJobRunCommand({ JobName: jobName, Arguments: Object.fromEntries(Object.entries(args).map(([k, v]) => [`--${k}`, v])) }),
    );
    if (!res.JobRunId) throw new Error(`Glue StartJobRun of ${jobName} returned no JobRunId`);
    return { jobName, jobRunId: res.JobRunId };
  }

  /** StartJobRun with the run's arguments; `--TABLES_FILTER` (comma-joined) only when tables are given. */
  async startSplitJob(args: SplitJobArgs): Promise<{ jobName: string; jobRunId: string }> {
    const jobName = this.options.jobNames[args.dataset];
    if (!jobName) throw new Error(`no Glue job is configured for dataset ${args.dataset}`);
    const res = await this.client.send(
      new StartJobRunCommand({
        JobName: jobName,
        Arguments: {
          '--SNAPSHOT_DT': args.snapshotDt,
          '--RUN_ID': args.runId,
          '--PLAN_URI': args.planUri,
          ...(args.tablesFilter?.length ? { '--TABLES_FILTER': args.tablesFilter.join(',') } : {}),
        },
      }),
    );
    if (!res.JobRunId) throw new Error(`Glue StartJobRun of ${jobName} returned no JobRunId`);
    return { jobName, jobRunId: res.JobRunId };
  }

  /** The run's state and, when it failed, Glue's error message. */
  async jobRunState(jobName: string, jobRunId: string): Promise<{ state: JobState; reason?: string }> {
    const res = await this.client.send(new GetJobRunCommand({ JobName: jobName, RunId: jobRunId }));
    const state = res.JobRun?.JobRunState;
    if (!state) return { state: 'ERROR', reason: `Glue returned no state for ${jobName} run ${jobRunId}` };
    // EXPIRED (a queued run that never started in time) is not a port state: it ended without running, like a timeout
    if (state === 'EXPIRED') return { state: 'TIMEOUT', reason: res.JobRun?.ErrorMessage ?? 'job run EXPIRED before it started' };
    return { state, reason: res.JobRun?.ErrorMessage };
  }
}

/**
 * What a job's Spark script does on S3 and in the catalog with the job's role (shared/domain/job-reach.ts
 * says where): reads list and get (and decrypt); writes also put, delete (the committer's temporary
 * files, the staging folder, the objects a switch replaces) and abort multipart uploads; catalog reads
 * are what Glue's catalog reader calls for create_dynamic_frame.from_catalog.
 */
export const GLUE_JOB_SCRIPT_ACTIONS = {
  read: { bucket: ['s3:ListBucket'], objects: ['s3:GetObject'], key: ['kms:Decrypt'] },
  write: {
    bucket: ['s3:ListBucket'],
    objects: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
    key: ['kms:GenerateDataKey', 'kms:Decrypt'],
  },
  put: { bucket: [] as string[], objects: ['s3:PutObject'], key: ['kms:GenerateDataKey'] },
  catalog: { database: ['glue:GetDatabase'], table: ['glue:GetTable', 'glue:GetPartitions'] },
};
