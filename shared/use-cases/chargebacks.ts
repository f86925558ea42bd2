/**
 * chargebacks: one consolidation of a day's chargebacks landing (4×/day; the sequence from the execution time unless
 * given, the day from the sequence unless given) into N deduplicated files (a Glue job; the DuckDB twin locally).
 */
import { consolidationWindow, type ChargebacksParams, type ConsolidationWindow } from '../domain/chargebacks.js';
import { assertCodec, assertFileCount } from '../domain/compaction.js';
import { isValidSnapshotDt } from '../domain/snapshot.js';
import { makeJobRuns, type JobRecord, type MaintenanceJobsDeps } from './maintenance-jobs.js';

export type { ChargebacksParams } from '../domain/chargebacks.js';
export { maintenanceJobReach } from './maintenance-jobs.js';

/** A direct invocation's (or a schedule's) request; every field optional. */
export interface ChargebacksRequest {
  executionTime?: string;
  partitionDate?: string;
  executionSequence?: number;
  dryRun?: boolean;
}

export function makeChargebacks(deps: MaintenanceJobsDeps) {
  const { start, alert, onJobFinished } = makeJobRuns(deps);
  return {
    /** Starts one chargebacks consolidation: the sequence from the execution time unless given, the day from the sequence unless given. */
    async startChargebacks(p: ChargebacksParams, r: ChargebacksRequest): Promise<JobRecord | undefined> {
      const at = r.executionTime ? new Date(r.executionTime) : deps.clock.now();
      const rerunPayload = { ...r, executionTime: at.toISOString() };
      const rerun = {
        fn: 'chargebacks',
        payload: rerunPayload,
        local: `npx flywheel consolidate --date ${r.partitionDate ?? '<day>'}${r.dryRun ? ' --dry-run' : ''}`,
      };
      let window: ConsolidationWindow;
      try {
        if (Number.isNaN(at.getTime())) throw new Error(`executionTime ${r.executionTime} is not an ISO date-time`);
        // an explicit sequence decides the day as the derived one would (1: the previous day; 2..N: the day itself)
        window = consolidationWindow(at, p.totalExecutions, r.executionSequence);
        if (r.partitionDate !== undefined && !isValidSnapshotDt(r.partitionDate))
          throw new Error(`partitionDate ${r.partitionDate} is not a valid YYYY-MM-DD date`);
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
        EXECUTION_SEQUENCE: String(window.executionSequence),
        TOTAL_EXECUTIONS: String(p.totalExecutions),
        ENABLE_PARTITION_FILTER: String(p.partitionFilter),
        PARTITION_DATE: partitionDate,
        DRY_RUN: String(r.dryRun ?? false),
      };
      return start('chargebacks', args, `chargebacks ${partitionDate} (execution ${args.EXECUTION_SEQUENCE} of ${p.totalExecutions})`, rerun);
    },

    onJobFinished,
  };
}
