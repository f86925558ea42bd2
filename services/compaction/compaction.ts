/** compaction handler: a raw landing's ready marker (S3 via EventBridge, or an S3 notification's Records) or a direct invocation starts the job; its Glue state change is followed up. */
import { z } from 'zod';
import { S3EventNotificationEventBridgeSchema, S3Schema } from '@aws-lambda-powertools/parser/schemas';
import type { Deps, ReachInputs } from '../../shared/deps.js';
import { ignore } from '../../shared/events/declined.js';
import { parseEvent } from '../../shared/events/parse-event.js';
import { s3RecordAsObjectCreated } from '../../shared/events/patterns.js';
import { landingMarkerOf } from '../../shared/events/ready-markers.js';
import { GlueJobStateChangeSchema } from '../../shared/events/schemas.js';
import { alertInvalidEvent } from '../../shared/use-cases/alerts.js';
import { compactionReach, makeCompaction, type MarkerCreation } from '../../shared/use-cases/compaction.js';

/** `aws lambda invoke` / `npx flywheel compact`: compact this dataset's raw landing of this snapshot. */
const ManualCompactionSchema = z.object({ dataset: z.string().min(1), snapshotDt: z.string().min(1) }).strict();
const CompactionEventSchema = z.union([S3EventNotificationEventBridgeSchema, S3Schema, GlueJobStateChangeSchema, ManualCompactionSchema]);

/** What this function may do through the ports: its use cases' reach (test/iam proves its role allows it). */
export const reach = (i: ReachInputs) => compactionReach(i.config);

export function makeCompactionHandler(deps: Deps) {
  const jobs = makeCompaction(deps);

  /** The compaction a created object starts: the raw landing's ready marker of a dataset with compaction on, or nothing. */
  async function fromObject(bucket: string, key: string, sequencer?: string) {
    const landing = landingMarkerOf(deps.config, key);
    if (bucket !== deps.config.dataBucket || !landing)
      return ignore(
        deps.logger,
        'info',
        'object is not the ready marker of a raw landing with compaction on (<landing prefix>snapshot_dt=D/<marker>); ignored',
        {
          bucket,
          key,
        },
      );
    const creation: MarkerCreation | undefined = sequencer ? { key, sequencer } : undefined;
    return jobs.startCompaction(landing.ds, landing.snapshotDt, creation);
  }

  return async function compaction(event: unknown): Promise<unknown> {
    const parsed = await parseEvent(deps, 'compaction', CompactionEventSchema, event);
    if (!parsed.ok) return parsed.declined;
    const e = parsed.event;
    if ('Records' in e) {
      // the S3 → Lambda form: one compaction per raw-landing marker among the records (keys URL-encoded), or why not
      const results = [];
      for (const r of e.Records) {
        const created = s3RecordAsObjectCreated(r);
        const result = created
          ? await fromObject(created.detail.bucket.name, created.detail.object.key, r.s3.object.sequencer)
          : ignore(deps.logger, 'info', 'S3 notification record is not an object creation with a readable key; ignored', {
              event_name: r.eventName,
              key: r.s3.object.key,
            });
        if (result) results.push(result);
      }
      return results;
    }
    if ('source' in e && e.source === 'aws.glue') return jobs.onJobFinished((e as z.output<typeof GlueJobStateChangeSchema>).detail);
    if ('source' in e) {
      const { bucket, object } = e.detail as { bucket: { name: string }; object: { key: string; sequencer?: string } };
      return fromObject(bucket.name, object.key, object.sequencer);
    }
    const ds = deps.config.datasets[e.dataset];
    if (!ds)
      return alertInvalidEvent(deps, 'compaction', `dataset: unknown dataset ${e.dataset} (known: ${Object.keys(deps.config.datasets).join(', ')})`, event);
    return jobs.startCompaction(ds, e.snapshotDt);
  };
}
