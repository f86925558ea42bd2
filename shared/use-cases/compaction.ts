/**
 * compaction: a dataset's raw landing (`<compaction.sourcePrefix>snapshot_dt=D/`, many small files) → the split's input
 * under its raw prefix, ready marker last, so the pipeline follows on its own (a Glue job; the DuckDB twin locally).
 */
import { union, type Grant } from '../domain/access.js';
import { ignore, type Declined } from '../events/declined.js';
import { s3Uri, type DatasetConfig, type PipelineConfig } from '../domain/config.js';
import { isValidSnapshotDt } from '../domain/snapshot.js';
import { putIfAbsent } from './json-document.js';
import { indexReach } from './ledger-store.js';
import { maintenanceJobReach, makeJobRuns, type JobRecord, type MaintenanceJobsDeps } from './maintenance-jobs.js';

/** The compaction job and its records, and the claims that start one compaction per marker creation (put once, dropped when the start fails). */
export function compactionReach(config: PipelineConfig): Grant[] {
  return union(maintenanceJobReach(config, 'compaction'), [indexReach(config, 'compactions', ['put', 'delete'])]);
}

/** The creation of a raw landing's ready marker, as S3 reports it: its sequencer tells a repeated delivery from a new upload. */
export interface MarkerCreation {
  key: string;
  sequencer: string;
}

export function makeCompaction(deps: MaintenanceJobsDeps) {
  const { config, logger } = deps;
  const { start, alert, onJobFinished } = makeJobRuns(deps);
  return {
    /**
     * Starts the compaction of a dataset's raw landing `snapshot_dt=D`. Started by a marker's creation, it starts once
     * per creation: S3 and EventBridge deliver at least once, and two runs would write the same split input (a second
     * upload of the marker is a new creation and compacts again; a direct invocation always starts).
     */
    async startCompaction(dataset: DatasetConfig, snapshotDt: string, creation?: MarkerCreation): Promise<JobRecord | Declined | undefined> {
      const c = dataset.compaction;
      const rerun = {
        fn: 'compaction',
        payload: { dataset: dataset.name, snapshotDt },
        local: `npx flywheel compact --dataset ${dataset.name} --snapshot ${snapshotDt}`,
      };
      if (!c) return ignore(logger, 'info', 'compaction is off for this dataset; raw landing ignored', { dataset: dataset.name, snapshotDt });
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
      const claim = creation && `${config.indexPrefix}compactions/${encodeURIComponent(`${creation.key}@${creation.sequencer}`)}.json`;
      if (claim && !(await putIfAbsent(deps.store, config.dataBucket, claim, JSON.stringify({ dataset: dataset.name, snapshotDt, ...creation })))) {
        return ignore(logger, 'info', 'this creation of the marker already started its compaction (a repeated delivery); ignored', {
          dataset: dataset.name,
          snapshotDt,
          ...creation,
        });
      }
      try {
        return await start('compaction', args, `${dataset.name} snapshot_dt=${snapshotDt}`, rerun);
      } catch (err) {
        // not started: a retry of this delivery must start it
        if (claim) await deps.store.delete(config.dataBucket, [claim]).catch(() => undefined);
        throw err;
      }
    },

    onJobFinished,
  };
}
