/**
 * compaction: a dataset's raw landing (`<compaction.sourcePrefix>snapshot_dt=D/`, many small files) → the split's input
 * under its raw prefix, ready marker last, so the pipeline follows on its own (a Glue job; the DuckDB twin locally).
 */
import { s3Uri, type DatasetConfig } from '../domain/config.js';
import { isValidSnapshotDt } from '../domain/snapshot.js';
import { makeJobRuns, type JobRecord, type MaintenanceJobsDeps } from './maintenance-jobs.js';

export { maintenanceJobReach } from './maintenance-jobs.js';

export function makeCompaction(deps: MaintenanceJobsDeps) {
  const { config, logger } = deps;
  const { start, alert, onJobFinished } = makeJobRuns(deps);
  return {
    /** Starts the compaction of a dataset's raw landing `snapshot_dt=D`. */
    async startCompaction(dataset: DatasetConfig, snapshotDt: string): Promise<JobRecord | undefined> {
      const c = dataset.compaction;
      const rerun = {
        fn: 'compaction',
        payload: { dataset: dataset.name, snapshotDt },
        local: `npx flywheel compact --dataset ${dataset.name} --snapshot ${snapshotDt}`,
      };
      if (!c) {
        logger.info('compaction is off for this dataset; raw landing ignored', { dataset: dataset.name, snapshotDt });
        return undefined;
      }
      if (!isValidSnapshotDt(snapshotDt)) {
        await alert(
          `compaction refused ${dataset.name} snapshot_dt=${snapshotDt}`,
          `snapshot_dt=${snapshotDt} is not a valid YYYY-MM-DD date`,
          `land the files under ${c.sourcePrefix}snapshot_dt=YYYY-MM-DD/`,
          rerun,
        );
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

    onJobFinished,
  };
}
