/** register-staged-tables handler: parse the Glue Job State Change, call the use case. */
import type { Deps } from '../../shared/deps.js';
import { parseEvent } from '../../shared/events/parse-event.js';
import { GlueJobStateChangeSchema } from '../../shared/events/schemas.js';
import { makeRegisterStagedTables } from '../../shared/use-cases/register-staged-tables.js';

export function makeRegisterStagedTablesHandler(deps: Deps) {
  const register = makeRegisterStagedTables(deps);
  return async function registerStagedTables(event: unknown) {
    const parsed = await parseEvent(deps, 'register-staged-tables', GlueJobStateChangeSchema, event);
    if (!parsed) return { outcome: 'rejected' as const, tables: [] };
    return register(parsed.detail);
  };
}
