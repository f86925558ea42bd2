/** chargebacks handler: the 4×/day schedule (or a direct invocation) starts one consolidation; its Glue state change is followed up. */
import { z } from 'zod';
import type { Deps, ReachInputs } from '../../shared/deps.js';
import { parseEvent } from '../../shared/events/parse-event.js';
import { GlueJobStateChangeSchema, ScheduledEventSchema } from '../../shared/events/schemas.js';
import { maintenanceJobReach, makeChargebacks } from '../../shared/use-cases/chargebacks.js';

/** A direct invocation: re-run a day, or a dry run; every field optional (defaults: from the invocation time). */
const ManualChargebacksSchema = z
  .object({
    executionTime: z.string().optional(),
    partitionDate: z.string().optional(),
    executionSequence: z.number().int().min(1).optional(),
    dryRun: z.boolean().optional(),
  })
  .strict();
const ChargebacksEventSchema = z.union([ScheduledEventSchema, GlueJobStateChangeSchema, ManualChargebacksSchema]);

/** What this function may do through the ports: its use cases' reach (test/iam proves its role allows it). */
export const reach = (i: ReachInputs) => maintenanceJobReach(i.config, 'chargebacks');

export function makeChargebacksHandler(deps: Deps) {
  const jobs = makeChargebacks(deps);
  return async function chargebacks(event: unknown): Promise<unknown> {
    const parsed = await parseEvent(deps, 'chargebacks', ChargebacksEventSchema, event);
    if (!parsed.ok) return parsed.declined;
    const e = parsed.event;
    if ('source' in e && e.source === 'aws.glue') return jobs.onJobFinished(e.detail);
    // a schedule's execution time is the event's (a late or redelivered event still covers its slot)
    if ('source' in e) return jobs.startChargebacks(deps.chargebacks, { executionTime: e.time });
    return jobs.startChargebacks(deps.chargebacks, e);
  };
}
