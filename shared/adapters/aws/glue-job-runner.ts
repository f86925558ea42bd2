/** The Glue split job: StartJobRun with the run's arguments; GetJobRun for the reconciler. */
import { GetJobRunCommand, StartJobRunCommand, type GlueClient } from '@aws-sdk/client-glue';
import type { JobRunner, JobState, SplitJobArgs } from '../../ports.js';

export class GlueJobRunner implements JobRunner {
  constructor(private readonly client: GlueClient, private readonly options: { jobNames: Record<string, string> }) {}

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

  async jobRunState(jobName: string, jobRunId: string): Promise<{ state: JobState; reason?: string }> {
    const res = await this.client.send(new GetJobRunCommand({ JobName: jobName, RunId: jobRunId }));
    return { state: (res.JobRun?.JobRunState ?? 'ERROR') as JobState, reason: res.JobRun?.ErrorMessage };
  }
}
