/** reconciler handler: on its schedule (or a direct invocation), advance runs whose events were lost. */
import { z } from 'zod';
import type { Deps, ReachInputs } from '../../shared/deps.js';
import type { Declined } from '../../shared/events/declined.js';
import { parseEvent } from '../../shared/events/parse-event.js';
import { ScheduledEventSchema } from '../../shared/events/schemas.js';
import { makeReconcile, reconcileReach, type ReconcileReport } from '../../shared/use-cases/reconciler.js';

const ReconcilerEventSchema = z.union([ScheduledEventSchema, z.object({}).strict()]);

/** What this function may do through the ports: its use cases' reach (test/iam proves its role allows it). */
export const reach = (i: ReachInputs) => reconcileReach(i.config);

export function makeReconcilerHandler(deps: Deps) {
  const reconcile = makeReconcile(deps);
  return async function reconciler(event: unknown): Promise<ReconcileReport | Declined> {
    const parsed = await parseEvent(deps, 'reconciler', ReconcilerEventSchema, event);
    if (!parsed.ok) return parsed.declined;
    return reconcile();
  };
}
