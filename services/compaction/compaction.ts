/** compaction handler: a raw landing's ready marker (S3 via EventBridge) or a direct invocation starts the job; its Glue state change is followed up. */
import { z } from 'zod';
import { S3EventNotificationEventBridgeSchema } from '@aws-lambda-powertools/parser/schemas';
import { readyMarkerSnapshot } from '../../shared/domain/snapshot.js';
import type { Deps, ReachInputs } from '../../shared/deps.js';
import { parseEvent } from '../../shared/events/parse-event.js';
import { GlueJobStateChangeSchema } from '../../shared/events/schemas.js';
import { maintenanceJobReach, makeMaintenanceJobs } from '../../shared/use-cases/maintenance-jobs.js';

/** `aws lambda invoke` / `npx flywheel compact`: compact this dataset's raw landing of this snapshot. */
const ManualCompactionSchema = z.object({ dataset: z.string().min(1), snapshotDt: z.string().min(1) }).strict();
const CompactionEventSchema = z.union([S3EventNotificationEventBridgeSchema, GlueJobStateChangeSchema, ManualCompactionSchema]);

/** What this function may do through the ports: its use cases' reach (test/iam proves its role allows it). */
export const reach = (i: ReachInputs) => maintenanceJobReach(i.config, 'compaction');

export function makeCompactionHandler(deps: Deps) {
  const jobs = makeMaintenanceJobs(deps);
  return async function compaction(event: unknown): Promise<unknown> {
    const e = await parseEvent(deps, 'compaction', CompactionEventSchema, event);
    if (!e) return undefined;
    if ('source' in e && e.source === 'aws.glue') return jobs.onJobFinished((e as z.output<typeof GlueJobStateChangeSchema>).detail);
    if ('source' in e) {
      const { bucket, object } = e.detail as { bucket: { name: string }; object: { key: string } };
      const landing = Object.values(deps.config.datasets)
        .map((ds) => ({ ds, snapshotDt: ds.compaction && readyMarkerSnapshot(object.key, ds.compaction.sourcePrefix, ds.compaction.readyMarker) }))
        .find((l) => l.snapshotDt !== undefined);
      if (bucket.name !== deps.config.dataBucket || !landing?.snapshotDt) {
        deps.logger.info('object is not the ready marker of a raw landing with compaction on (<landing prefix>snapshot_dt=D/<marker>); ignored', { bucket: bucket.name, key: object.key });
        return undefined;
      }
      return jobs.startCompaction(landing.ds, landing.snapshotDt);
    }
    const ds = deps.config.datasets[e.dataset];
    if (!ds) {
      deps.logger.error('unknown dataset', { dataset: e.dataset });
      return undefined;
    }
    return jobs.startCompaction(ds, e.snapshotDt);
  };
}
