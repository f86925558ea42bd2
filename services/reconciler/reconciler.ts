/** reconciler handler: on its schedule (or a direct invocation), advance runs whose events were lost. */
import { z } from 'zod';
import type { Deps } from '../../shared/deps.js';
import { parseEvent } from '../../shared/events/parse-event.js';
import { ScheduledEventSchema } from '../../shared/events/schemas.js';
import { makeReconcile, type ReconcileReport } from '../../shared/use-cases/reconcile.js';

const ReconcilerEventSchema = z.union([ScheduledEventSchema, z.object({}).strict()]);

export function makeReconcilerHandler(deps: Deps) {
  const reconcile = makeReconcile(deps);
  return async function reconciler(event: unknown): Promise<ReconcileReport | undefined> {
    if (!(await parseEvent(deps, 'reconciler', ReconcilerEventSchema, event))) return undefined;
    return reconcile();
  };
}
