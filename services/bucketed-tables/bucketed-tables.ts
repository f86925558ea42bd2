/** bucketed-tables handler: Stage Completed starts the builds; each Athena Query State Change advances one. */
import type { Deps, ReachInputs } from '../../shared/deps.js';
import type { Declined } from '../../shared/events/declined.js';
import { parseEvent } from '../../shared/events/parse-event.js';
import { BucketedTablesEventSchema } from '../../shared/events/schemas.js';
import { buildBucketedTablesReach, makeBuildBucketedTables } from '../../shared/use-cases/bucketed-tables.js';

/** What this function may do through the ports: its use cases' reach (test/iam proves its role allows it). */
export const reach = (i: ReachInputs) => buildBucketedTablesReach(i.config);

export function makeBucketedTablesHandler(deps: Deps) {
  const build = makeBuildBucketedTables(deps);
  /** Nothing when it acted on the event; what it declined, and why, otherwise. */
  return async function bucketedTables(event: unknown): Promise<Declined | undefined> {
    const parsed = await parseEvent(deps, 'bucketed-tables', BucketedTablesEventSchema, event);
    if (!parsed.ok) return parsed.declined;
    const e = parsed.event;
    if (e.source === 'flywheel.pipeline') {
      const { dataset, snapshotDt, runId, tables } = e.detail;
      return build.onStagedTablesRegistered({ dataset, snapshotDt, runId }, tables);
    }
    if (e.detail.currentState === 'SUCCEEDED' || e.detail.currentState === 'FAILED' || e.detail.currentState === 'CANCELLED') {
      return build.onQueryStateChange(e.detail.queryExecutionId, e.detail.currentState);
    }
    return undefined;
  };
}
