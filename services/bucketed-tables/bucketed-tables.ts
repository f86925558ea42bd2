/** bucketed-tables handler: Stage Completed starts the builds; each Athena Query State Change advances one. */
import type { Deps, ReachInputs } from '../../shared/deps.js';
import { parseEvent } from '../../shared/events/parse-event.js';
import { BucketedTablesEventSchema } from '../../shared/events/schemas.js';
import { buildBucketedTablesReach, makeBuildBucketedTables } from '../../shared/use-cases/bucketed-tables.js';

/** What this function may do through the ports: its use cases' reach (test/iam proves its role allows it). */
export const reach = (i: ReachInputs) => buildBucketedTablesReach(i.config);

export function makeBucketedTablesHandler(deps: Deps) {
  const build = makeBuildBucketedTables(deps);
  return async function bucketedTables(event: unknown): Promise<void> {
    const e = await parseEvent(deps, 'bucketed-tables', BucketedTablesEventSchema, event);
    if (!e) return;
    if (e.source === 'flywheel.pipeline') {
      const { dataset, snapshotDt, runId, tables } = e.detail;
      await build.onStagedTablesRegistered({ dataset, snapshotDt, runId }, tables);
    } else if (e.detail.currentState === 'SUCCEEDED' || e.detail.currentState === 'FAILED' || e.detail.currentState === 'CANCELLED') {
      await build.onQueryStateChange(e.detail.queryExecutionId, e.detail.currentState);
    }
  };
}
