/** data-monitor handler: a schedule, Pipeline Completed or a direct invocation starts a check; Athena events advance it. */
import { z } from 'zod';
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas';
import type { Deps, ReachInputs } from '../../shared/deps.js';
import type { Declined } from '../../shared/events/declined.js';
import { parseEvent } from '../../shared/events/parse-event.js';
import { AthenaQueryStateChangeSchema, ScheduledEventSchema } from '../../shared/events/schemas.js';
import { alertInvalidEvent } from '../../shared/use-cases/alerts.js';
import {
  dataMonitorReach,
  makeDataMonitor,
  monitorOptionsOf,
  type MonitorDeployment,
  type MonitorRun,
} from '../../shared/use-cases/data-monitor/data-monitor.js';

const PipelineCompletedSchema = EventBridgeSchema.extend({ source: z.literal('flywheel.pipeline'), 'detail-type': z.literal('Pipeline Completed') });
/** A direct invocation may override any option (same names as the CLI flags). */
const ManualMonitorSchema = z.object({ options: z.record(z.string(), z.unknown()).optional() }).strict();
const DataMonitorEventSchema = z.union([AthenaQueryStateChangeSchema, ScheduledEventSchema, PipelineCompletedSchema, ManualMonitorSchema]);

/** For the deployment's monitor options (MONITOR_* / the CLI's flags). */
export const reach = (i: ReachInputs) => dataMonitorReach(i.config, monitorOptionsOf(i.monitorDefaults));

/** `deployment`: what this deployment can honour of the options bound to it (AWS: composition/aws-monitor.ts; local: LOCAL_MONITOR_DEPLOYMENT). */
export function makeDataMonitorHandler(deps: Deps, deployment: MonitorDeployment) {
  const monitor = makeDataMonitor(deps);
  return async function dataMonitor(event: unknown): Promise<MonitorRun | Declined> {
    const parsed = await parseEvent(deps, 'data-monitor', DataMonitorEventSchema, event);
    if (!parsed.ok) return parsed.declined;
    const e = parsed.event;
    if ('source' in e && e.source === 'aws.athena') return monitor.onQueryStateChange(e.detail.queryExecutionId, e.detail.currentState);
    const overrides = 'options' in e ? (e.options ?? {}) : {};
    let options: ReturnType<typeof monitorOptionsOf>;
    try {
      options = monitorOptionsOf(deps.monitorDefaults, overrides, deployment);
    } catch (err) {
      return alertInvalidEvent(deps, 'data-monitor', (err as Error).message, event);
    }
    return monitor.start(options, 'source' in e ? `${e.source} ${e['detail-type']}` : 'invocation');
  };
}
