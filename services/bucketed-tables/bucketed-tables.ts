/** bucketed-tables handler: Stage Completed starts the builds; each Athena Query State Change advances one. */
import type { Deps } from '../../shared/deps.js';
import { BucketedTablesEventSchema, describeZodError } from '../../shared/events/schemas.js';
import { alertInvalidEvent } from '../../shared/use-cases/alerts.js';
import { makeBuildBucketedTables } from '../../shared/use-cases/build-bucketed-tables.js';

export function makeBucketedTablesHandler(deps: Deps) {
  const build = makeBuildBucketedTables(deps);
  return async function bucketedTables(event: unknown): Promise<void> {
    const parsed = BucketedTablesEventSchema.safeParse(event);
    if (!parsed.success) {
      await alertInvalidEvent(deps, 'bucketed-tables', describeZodError(parsed.error), event);
      return;
    }
    const e = parsed.data;
    if (e.source === 'flywheel.pipeline') {
      const { dataset, snapshotDt, runId, tables } = e.detail;
      await build.onStagedTablesRegistered({ dataset, snapshotDt, runId }, tables);
    } else if (e.detail.currentState === 'SUCCEEDED' || e.detail.currentState === 'FAILED' || e.detail.currentState === 'CANCELLED') {
      await build.onQueryStateChange(e.detail.queryExecutionId, e.detail.currentState);
    }
  };
}
