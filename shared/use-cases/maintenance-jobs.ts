/**
 * What the two maintenance jobs around the pipeline share (compaction.ts: a dataset's raw-landing compaction;
 * chargebacks.ts: the chargebacks consolidation): start a Glue job (the DuckDB twin locally), remember what each
 * job run was for under the job index, and alert, with the re-run, when a run cannot start or does not succeed.
 */
import type { Grant } from '../domain/access.js';
import type { PipelineConfig } from '../domain/config.js';
import type { DepsOf } from '../deps.js';
import { ignore, type Declined } from '../events/declined.js';
import type { JobState, MaintenanceJob } from '../ports.js';
import { readJson } from './json-document.js';
import { indexReach } from './ledger-store.js';

export interface JobRecord {
  job: MaintenanceJob;
  jobName: string;
  jobRunId: string;
  subject: string;
  /** How to start the same work again (a direct invocation of the starting function). */
  rerun: { fn: string; payload: Record<string, unknown>; local: string };
  args: Record<string, string>;
  startedAt: string;
}

/** One maintenance job: starting it, its record under the job index (written at the start, read when it ends), the alert. */
export function maintenanceJobReach(config: PipelineConfig, job: MaintenanceJob): Grant[] {
  return [{ port: 'jobs', methods: ['startJob'], jobs: [job] }, indexReach(config, 'jobs'), { port: 'notifier' }];
}

export type MaintenanceJobsDeps = DepsOf<'config' | 'store' | 'clock' | 'logger' | 'jobs' | 'notifier'>;

export function makeJobRuns(deps: MaintenanceJobsDeps) {
  const { config, logger } = deps;
  const recordKey = (jobRunId: string) => `${config.indexPrefix}jobs/${encodeURIComponent(jobRunId)}.json`;

  async function start(job: MaintenanceJob, args: Record<string, string>, subject: string, rerun: JobRecord['rerun']): Promise<JobRecord> {
    let started: { jobName: string; jobRunId: string };
    try {
      started = await deps.jobs.startJob(job, args);
    } catch (err) {
      await alert(
        `${job} job could not start for ${subject}`,
        (err as Error).message,
        'Check the Glue job exists and the function may start it (glue:StartJobRun); then re-run.',
        rerun,
      );
      throw err;
    }
    const record: JobRecord = { job, ...started, subject, rerun, args, startedAt: deps.clock.now().toISOString() };
    await deps.store.put(config.dataBucket, recordKey(started.jobRunId), JSON.stringify(record, null, 2));
    logger.info(`${job} job started`, { job, subject, jobName: started.jobName, jobRunId: started.jobRunId, arguments: args });
    return record;
  }

  async function alert(title: string, cause: string, fix: string, rerun: JobRecord['rerun']): Promise<void> {
    logger.error(title, { cause, fix });
    const body = [
      `${title}.`,
      `Cause: ${cause}`,
      `Fix:   ${fix}`,
      '',
      'Nothing already published was changed: compaction writes aside and switches only when complete.',
      'Re-run once fixed:',
      `  aws lambda invoke --function-name <service>-<stage>-${rerun.fn} --cli-binary-format raw-in-base64-out --payload '${JSON.stringify(rerun.payload)}' /dev/stdout`,
      `  locally: ${rerun.local}`,
    ].join('\n');
    await deps.notifier
      .publish({ subject: `[Flywheel] ${title}`.slice(0, 99), body, attributes: { stage: rerun.fn } })
      .catch((err: Error) => logger.error('could not deliver the alert', { error: err.message }));
  }

  return {
    start,
    alert,

    /** A job run ended (Glue Job State Change): logged; anything but SUCCEEDED alerts with the re-run. */
    async onJobFinished(e: { jobName: string; jobRunId: string; state: JobState; message?: string }): Promise<JobRecord | Declined> {
      const record = (await readJson<JobRecord>(deps.store, config.dataBucket, recordKey(e.jobRunId)))?.doc;
      if (!record) return ignore(logger, 'warn', 'job run not started by Flywheel; ignored', { ...e });
      if (e.state === 'SUCCEEDED') {
        logger.info(`${record.job} job succeeded`, { job: record.job, subject: record.subject, jobRunId: e.jobRunId });
      } else {
        await alert(
          `${record.job} job ${e.state} for ${record.subject}`,
          e.message ?? `Glue job run ${e.jobRunId} ended ${e.state}`,
          `read the job run's log (Glue job ${e.jobName}, run ${e.jobRunId}), fix the cause, then re-run`,
          record.rerun,
        );
      }
      return record;
    },
  };
}
