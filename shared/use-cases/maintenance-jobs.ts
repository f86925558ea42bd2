/**
 * The two compaction jobs around the pipeline: a dataset's raw-landing compaction (started by the raw
 * ready marker; the job writes the split's ready marker last, so the pipeline follows on its own) and
 * the chargebacks consolidation (started 4×/day). Both start a Glue job (the DuckDB twin locally),
 * remember what each job run was for, and alert when a run does not succeed.
 */
import type { Grant } from '../domain/access.js';
import { consolidationWindow } from '../domain/chargebacks.js';
import { assertCodec, assertFileCount } from '../domain/compaction.js';
import { s3Uri, type DatasetConfig, type PipelineConfig } from '../domain/config.js';
import { isValidSnapshotDt } from '../domain/snapshot.js';
import type { DepsOf } from '../deps.js';
import type { JobState, MaintenanceJob } from '../ports.js';
import { readJson } from './json-document.js';
import { indexReach } from './ledger-store.js';
import type { ChargebacksParams } from '../domain/chargebacks.js';
export type { ChargebacksParams } from '../domain/chargebacks.js';

/** Chargebacks job parameters of a deployment (CHARGEBACKS_* in AWS; fixed locally). */

export interface ChargebacksRequest {
  executionTime?: string;
  partitionDate?: string;
  executionSequence?: number;
  dryRun?: boolean;
}

interface JobRecord {
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

export function makeMaintenanceJobs(deps: MaintenanceJobsDeps) {
  const { config, logger } = deps;
  const recordKey = (jobRunId: string) => `${config.indexPrefix}jobs/${encodeURIComponent(jobRunId)}.json`;

  async function start(job: MaintenanceJob, args: Record<string, string>, subject: string, rerun: JobRecord['rerun']): Promise<JobRecord> {
    let started;
    try {
      started = await deps.jobs.startJob(job, args);
    } catch (err) {
      await alert(`${job} job could not start for ${subject}`, (err as Error).message, 'Check the Glue job exists and the function may start it (glue:StartJobRun); then re-run.', rerun);
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
    await deps.notifier.publish({ subject: `[Flywheel] ${title}`.slice(0, 99), body, attributes: { stage: rerun.fn } }).catch((err: Error) => logger.error('could not deliver the alert', { error: err.message }));
  }

  return {
    /** Starts the compaction of a dataset's raw landing `snapshot_dt=D`. */
    async startCompaction(dataset: DatasetConfig, snapshotDt: string): Promise<JobRecord | undefined> {
      const c = dataset.compaction;
      const rerun = { fn: 'compaction', payload: { dataset: dataset.name, snapshotDt }, local: `npx flywheel compact --dataset ${dataset.name} --snapshot ${snapshotDt}` };
      if (!c) {
        logger.info('compaction is off for this dataset; raw landing ignored', { dataset: dataset.name, snapshotDt });
        return undefined;
      }
      if (!isValidSnapshotDt(snapshotDt)) {
        await alert(`compaction refused ${dataset.name} snapshot_dt=${snapshotDt}`, `snapshot_dt=${snapshotDt} is not a valid YYYY-MM-DD date`, `land the files under ${c.sourcePrefix}snapshot_dt=YYYY-MM-DD/`, rerun);
        return undefined;
      }
      const args = {
        DATASET: dataset.name,
        SNAPSHOT_DT: snapshotDt,
        SOURCE_PATH: s3Uri(config.dataBucket, `${c.sourcePrefix}snapshot_dt=${snapshotDt}/`),
        OUTPUT_PATH: s3Uri(config.dataBucket, `${dataset.rawPrefix}snapshot_dt=${snapshotDt}/`),
        READY_MARKER: dataset.readyMarker,
        TARGET_FILE_MB: String(Math.round(c.targetFileBytes / 1024 / 1024)),
        COMPRESSION_CODEC: c.codec,
      };
      return start('compaction', args, `${dataset.name} snapshot_dt=${snapshotDt}`, rerun);
    },

    /** Starts one chargebacks consolidation: sequence and day from the execution time unless given. */
    async startChargebacks(p: ChargebacksParams, r: ChargebacksRequest): Promise<JobRecord | undefined> {
      const at = r.executionTime ? new Date(r.executionTime) : deps.clock.now();
      const rerunPayload = { ...r, executionTime: at.toISOString() };
      const rerun = { fn: 'chargebacks', payload: rerunPayload, local: `npx flywheel consolidate --date ${r.partitionDate ?? '<day>'}${r.dryRun ? ' --dry-run' : ''}` };
      let window;
      try {
        if (Number.isNaN(at.getTime())) throw new Error(`executionTime ${r.executionTime} is not an ISO date-time`);
        window = consolidationWindow(at, p.totalExecutions);
        if (r.partitionDate !== undefined && !isValidSnapshotDt(r.partitionDate)) throw new Error(`partitionDate ${r.partitionDate} is not a valid YYYY-MM-DD date`);
        assertCodec(p.codec);
        assertFileCount(p.outputFileCount);
      } catch (err) {
        await alert('chargebacks consolidation refused', (err as Error).message, 'correct the request or the CHARGEBACKS_* settings of the function', rerun);
        return undefined;
      }
      const partitionDate = r.partitionDate ?? window.partitionDate;
      rerun.local = `npx flywheel consolidate --date ${partitionDate}${r.dryRun ? ' --dry-run' : ''}`;
      const args = {
        SOURCE_DATABASE: p.sourceDatabase,
        SOURCE_TABLE: p.sourceTable,
        OUTPUT_PATH: p.outputPath,
        OUTPUT_FILE_COUNT: String(p.outputFileCount),
        COMPRESSION_CODEC: p.codec,
        EXECUTION_TIME: at.toISOString(),
        EXECUTION_SEQUENCE: String(r.executionSequence ?? window.executionSequence),
        TOTAL_EXECUTIONS: String(p.totalExecutions),
        ENABLE_PARTITION_FILTER: String(p.partitionFilter),
        PARTITION_DATE: partitionDate,
        DRY_RUN: String(r.dryRun ?? false),
      };
      return start('chargebacks', args, `chargebacks ${partitionDate} (execution ${args.EXECUTION_SEQUENCE} of ${p.totalExecutions})`, rerun);
    },

    /** A job run ended (Glue Job State Change): logged; anything but SUCCEEDED alerts with the re-run. */
    async onJobFinished(e: { jobName: string; jobRunId: string; state: JobState; message?: string }): Promise<JobRecord | undefined> {
      const record = (await readJson<JobRecord>(deps.store, config.dataBucket, recordKey(e.jobRunId)))?.doc;
      if (!record) {
        logger.warn('job run not started by Flywheel; ignored', { ...e });
        return undefined;
      }
      if (e.state === 'SUCCEEDED') {
        logger.info(`${record.job} job succeeded`, { job: record.job, subject: record.subject, jobRunId: e.jobRunId });
      } else {
        await alert(`${record.job} job ${e.state} for ${record.subject}`, e.message ?? `Glue job run ${e.jobRunId} ended ${e.state}`, `read the job run's log (Glue job ${e.jobName}, run ${e.jobRunId}), fix the cause, then re-run`, record.rerun);
      }
      return record;
    },
  };
}
