/** snapshot-trigger handler: parse (S3 via EventBridge, S3 Records, schedule, direct invoke), call the use case. */
import type { Deps, ReachInputs } from '../../shared/deps.js';
import { ignore, isDeclined, type Declined } from '../../shared/events/declined.js';
import { parseEvent } from '../../shared/events/parse-event.js';
import { s3RecordAsObjectCreated } from '../../shared/events/patterns.js';
import { landingMarkerOf, snapshotMarkerOf } from '../../shared/events/ready-markers.js';
import { SnapshotTriggerEventSchema, type SnapshotTriggerEvent } from '../../shared/events/schemas.js';
import { makeStartSnapshotRun, startSnapshotRunReach, type StartRunInput, type StartRunResult } from '../../shared/use-cases/snapshot-trigger.js';

/** What this function may do through the ports: starting runs, alerting on a rejected event (test/iam proves its role allows it). */
export const reach = (i: ReachInputs) => startSnapshotRunReach(i.config);

export function makeSnapshotTriggerHandler(deps: Deps) {
  const startRun = makeStartSnapshotRun(deps);
  /** One result per run request, or per object it declined; for an invalid event, its rejection alone. */
  return async function snapshotTrigger(event: unknown): Promise<Array<StartRunResult | Declined>> {
    const parsed = await parseEvent(deps, 'snapshot-trigger', SnapshotTriggerEventSchema, event);
    if (!parsed.ok) return [parsed.declined];
    const results: Array<StartRunResult | Declined> = [];
    for (const request of toRequests(parsed.event)) results.push(isDeclined(request) ? request : await startRun(request));
    return results;
  };

  /** One run request per ready marker (S3) or per dataset (schedule, direct invocation); an object that is no ready marker is declined. */
  function toRequests(event: SnapshotTriggerEvent): Array<StartRunInput | Declined> {
    const datasets = deps.config.datasets;
    const fromKey = (bucket: string, key: string, trigger: StartRunInput['trigger']): StartRunInput | Declined => {
      const marked = snapshotMarkerOf(deps.config, key);
      const landing = !marked && landingMarkerOf(deps.config, key)?.ds;
      if (bucket === deps.config.dataBucket && landing) {
        // a misrouted notification: the raw landing's marker is compaction's (rule raw-landing-completed, or an S3 notification to it)
        return ignore(
          deps.logger,
          'warn',
          "a raw landing's ready marker reached snapshot-trigger; the compaction function starts its compaction, not this one: route that prefix's notifications to it; ignored",
          { bucket, key, dataset: landing.name },
        );
      }
      if (bucket !== deps.config.dataBucket || !marked)
        return ignore(deps.logger, 'info', 'object is not a ready marker of a Flywheel dataset (<raw prefix>snapshot_dt=D/<marker>); ignored', { bucket, key });
      return { dataset: marked.ds.name, snapshotDt: marked.snapshotDt, trigger };
    };
    if ('Records' in event) {
      // the S3 → Lambda form: each record as the EventBridge form of the same object (key URL-decoded)
      return event.Records.map((r) => {
        const created = s3RecordAsObjectCreated(r);
        if (!created)
          return ignore(deps.logger, 'info', 'S3 notification record is not an object creation with a readable key; ignored', {
            event_name: r.eventName,
            key: r.s3.object.key,
          });
        return fromKey(created.detail.bucket.name, created.detail.object.key, { kind: 'event', eventId: r.s3.object.sequencer });
      });
    }
    if ('detail-type' in event && event['detail-type'] === 'Object Created') {
      const d = event.detail as { bucket: { name: string }; object: { key: string } };
      return [fromKey(d.bucket.name, d.object.key, { kind: 'event', eventId: event.id, replayName: event['replay-name'] })];
    }
    if ('detail-type' in event) {
      return Object.keys(datasets).map((dataset) => ({ dataset, trigger: { kind: 'schedule', eventId: event.id } }));
    }
    const manual = event as { dataset?: string; snapshotDt?: string; tables?: string[]; rerun?: boolean };
    return [
      { dataset: manual.dataset ?? 'infobase', snapshotDt: manual.snapshotDt, tablesFilter: manual.tables, rerun: manual.rerun, trigger: { kind: 'cli' } },
    ];
  }
}
