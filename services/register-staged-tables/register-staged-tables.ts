/** register-staged-tables handler: parse the Glue Job State Change, call the use case. */
import type { Deps, ReachInputs } from '../../shared/deps.js';
import { parseEvent } from '../../shared/events/parse-event.js';
import { GlueJobStateChangeSchema } from '../../shared/events/schemas.js';
import { makeRegisterStagedTables, registerStagedTablesReach } from '../../shared/use-cases/register-staged-tables.js';

/** What this function may do through the ports: its use cases' reach (test/iam proves its role allows it). */
export const reach = (i: ReachInputs) => registerStagedTablesReach(i.config);

export function makeRegisterStagedTablesHandler(deps: Deps) {
  const register = makeRegisterStagedTables(deps);
  return async function registerStagedTables(event: unknown) {
    const parsed = await parseEvent(deps, 'register-staged-tables', GlueJobStateChangeSchema, event);
    if (!parsed.ok) return parsed.declined;
    return register(parsed.event.detail);
  };
}
