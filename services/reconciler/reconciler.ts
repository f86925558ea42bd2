/** reconciler handler: on its schedule (or a direct invocation), advance runs whose events were lost. */
import { z } from 'zod';
import type { Deps } from '../../shared/deps.js';
import { describeZodError, ScheduledEventSchema } from '../../shared/events/schemas.js';
import { alertInvalidEvent } from '../../shared/use-cases/alerts.js';
import { makeReconcile, type ReconcileReport } from '../../shared/use-cases/reconcile.js';

const ReconcilerEventSchema = z.union([ScheduledEventSchema, z.object({}).strict()]);

export function makeReconcilerHandler(deps: Deps) {
  const reconcile = makeReconcile(deps);
  return async function reconciler(event: unknown): Promise<ReconcileReport | undefined> {
    const parsed = ReconcilerEventSchema.safeParse(event);
    if (!parsed.success) {
      await alertInvalidEvent(deps, 'reconciler', describeZodError(parsed.error), event);
      return undefined;
    }
    return reconcile();
  };
}
